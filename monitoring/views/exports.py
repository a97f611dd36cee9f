"""Exports and prints: the registry summary and CSV, the FHIR bundle, the shift handover.

Exports read from the read replica when there is one (``replica_reads``: a copy a second old
is still a true export); the handover reads the primary. Everything that leaves the building —
a CSV, a FHIR bundle, a printed handover — is written to the audit log with who, what and which
patients. Access goes through ``monitoring.access``: the role first (403), then the user's
units (another unit's patient is a 404, like a missing one).
"""

from __future__ import annotations

import csv
import json
import uuid
from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from cartmonitor.db_router import replica_reads
from monitoring import fhir, registry, services
from monitoring.access import (
    get_course_for,
    requires,
    selected_unit,
    visible_courses,
    visible_units,
)
from monitoring.handover import handover_blocks
from monitoring.models import AuditEvent, User


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"  # patient data: no copy in shared browser caches
    return response


# --- Registry summary page ------------------------------------------------------------------


@requires(User.can_export)
@require_GET
@replica_reads()
def patient_summary(request, public_id):
    """The registry summary of the patient's course (what CIBMTR/EBMT forms ask)."""
    course = get_course_for(request.user, public_id)
    return render(
        request,
        "monitoring/exports/summary.html",
        {
            "course": course,
            "patient": course.patient,
            "summary": registry.summary_for(course),
        },
    )


# --- Registry CSV ---------------------------------------------------------------------------


class RegistryExportForm(forms.Form):
    """Courses by local infusion date (inclusive range); the unit is checked by the view."""

    infused_from = forms.DateField(
        label=_("Infused from"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    infused_to = forms.DateField(
        label=_("Infused to"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    # CAR-T products were first approved in 2017; the bounds also keep date arithmetic (the day
    # after the end date) away from year 9999.
    EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)

    def clean(self):
        cleaned = super().clean()
        for name in ("infused_from", "infused_to"):
            day = cleaned.get(name)
            if day and not self.EARLIEST <= day <= self.LATEST:
                self.add_error(name, f"Give a date between {self.EARLIEST} and {self.LATEST}.")
                cleaned.pop(name, None)
        start, end = cleaned.get("infused_from"), cleaned.get("infused_to")
        if start and end and start > end:
            raise ValidationError(gettext("The start date must not be after the end date."))
        return cleaned


def _local_midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


@requires(User.can_export)
@require_GET
@replica_reads()
def registry_form(request):
    """Pick the infusion dates and unit of the registry CSV."""
    return render(
        request,
        "monitoring/exports/registry.html",
        {
            "form": RegistryExportForm(),
            "units": visible_units(request.user),
        },
    )


@requires(User.can_export)
@require_GET
@replica_reads()
def registry_csv(request):
    """One row per course infused in the date range, on the user's units (UTF-8 with BOM)."""
    units = visible_units(request.user)
    unit = selected_unit(request.GET.getlist("unit"), units)
    form = RegistryExportForm(request.GET)
    if not form.is_valid():
        return render(
            request,
            "monitoring/exports/registry.html",
            {"form": form, "units": units, "selected_unit": unit},
            status=400,
        )
    start, end = form.cleaned_data["infused_from"], form.cleaned_data["infused_to"]
    courses = visible_courses(request.user)
    if unit is not None:
        courses = courses.filter(unit=unit)
    if start:
        courses = courses.filter(infused_at__gte=_local_midnight(start))
    if end:
        courses = courses.filter(infused_at__lt=_local_midnight(end + timedelta(days=1)))
    course_list = list(
        courses.select_related("patient", "unit", "product").order_by("infused_at", "pk")
    )
    now = timezone.now()
    summaries = registry.summaries_for(course_list, ids=courses.values("pk"), now=now)

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="cartmonitor-registry-{timezone.localdate(now):%Y%m%d}.csv"'
    )
    response.write("\ufeff")  # the BOM makes Excel read UTF-8 (names with accents, µg, °C)
    writer = csv.writer(response)
    writer.writerow(registry.CSV_COLUMNS)
    for course in course_list:
        row = registry.csv_row(course, summaries[course.pk])
        writer.writerow([registry.spreadsheet_safe(value) for value in row])

    filters = {
        "infused_from": start.isoformat() if start else None,
        "infused_to": end.isoformat() if end else None,
        "unit": unit.pk if unit else None,
    }
    _audit_export(request.user, course_list, fmt="registry_csv", filters=filters, now=now)
    return _no_store(response)


def _audit_export(user, courses, *, fmt: str, filters: dict, now) -> None:
    """One audit line per exported course (so each patient's log shows it), in one query."""
    export_id = str(uuid.uuid4())
    summary = (
        f"Registry CSV exported ({len(courses)} course{'s' if len(courses) != 1 else ''}"
        f"; infused {filters['infused_from'] or 'any'} to {filters['infused_to'] or 'any'}"
        f"{'; unit ' + str(filters['unit']) if filters['unit'] else ''})"
    )
    details = {"format": fmt, "export": export_id, "courses": len(courses), **filters}
    events = [
        AuditEvent(
            at=now,
            user=user,
            action=AuditEvent.Action.EXPORTED,
            course=course,
            patient=course.patient,
            summary=summary,
            details=details,
        )
        for course in courses
    ]
    if not events:  # an empty export was still asked for
        events = [
            AuditEvent(
                at=now,
                user=user,
                action=AuditEvent.Action.EXPORTED,
                summary=summary,
                details=details,
            )
        ]
    AuditEvent.objects.bulk_create(events)


# --- FHIR -----------------------------------------------------------------------------------


@requires(User.can_export)
@require_GET
@replica_reads()
def fhir_bundle(request, public_id):
    """The course as a FHIR R4 Bundle (collection) of Patient, Observations and medications."""
    course = get_course_for(request.user, public_id)
    bundle = fhir.course_bundle(course)
    counts: dict[str, int] = {}
    for entry in bundle["entry"]:
        kind = entry["resource"]["resourceType"]
        counts[kind] = counts.get(kind, 0) + 1
    services.audit(
        request.user,
        AuditEvent.Action.EXPORTED,
        course=course,
        summary=f"FHIR R4 Bundle exported ({len(bundle['entry'])} resources)",
        details={"format": "fhir_r4_bundle", "bundle": bundle["id"], "resources": counts},
    )
    response = HttpResponse(
        json.dumps(bundle, ensure_ascii=False), content_type="application/fhir+json; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="cartmonitor-{course.patient.public_id}.fhir.json"'
    )
    return _no_store(response)


# --- Shift handover -------------------------------------------------------------------------


@requires(User.can_view_patients)
@require_GET
def handover(request):
    """A printable sheet of the user's units' patients under monitoring; every render is audited
    as a print (the page exists to be printed). Read on the primary, not the replica: the next
    shift acts on it."""
    units = visible_units(request.user)
    unit = selected_unit(request.GET.getlist("unit"), units)
    courses = visible_courses(request.user).under_monitoring()
    if unit is not None:
        courses = courses.filter(unit=unit)
    courses = list(
        courses.select_related("patient", "unit", "status_row")
        # A unit's patients share a few protocol versions and products: each read once.
        .prefetch_related("protocol_version__schedules", "product")
        .order_by(
            "unit__name",
            Greatest(
                Coalesce("status_row__crs_grade", 0), Coalesce("status_row__icans_grade", 0)
            ).desc(),
            F("status_row__worst_open_severity").desc(nulls_last=True),
            "patient__family_name",
            "pk",
        )
    )
    now = timezone.now()
    blocks = handover_blocks(courses, now=now)
    shown_units = [unit] if unit else units
    services.audit(
        request.user,
        AuditEvent.Action.HANDOVER_PRINTED,
        summary=f"Handover printed for {unit or 'all their units'}: {len(blocks)} patient"
        f"{'s' if len(blocks) != 1 else ''}",
        details={
            "unit": unit.pk if unit else None,
            "units": [u.pk for u in shown_units],
            "patients": len(blocks),
            "courses": [str(course.public_id) for course in courses],
        },
    )
    return _no_store(
        render(
            request,
            "monitoring/exports/handover.html",
            {
                "blocks": blocks,
                "units": units,
                "selected_unit": unit,
                "now": now,
            },
        )
    )


class HandoverNoteForm(forms.Form):
    text = forms.CharField(label=_("Watch for"), max_length=1000, strip=True)
    unit = forms.CharField(required=False)  # where to go back to; validated like ?unit=


@requires(User.can_record_checks)
@require_POST
def handover_note(request, public_id):
    """Save the nurse's "watch for" note for the next shift, then back to the handover."""
    course = get_course_for(request.user, public_id, monitoring_only=True)
    form = HandoverNoteForm(request.POST)
    back = reverse("monitoring:handover")
    if form.is_valid():
        unit = selected_unit([form.cleaned_data["unit"]], visible_units(request.user))
        if unit is not None:
            back += f"?unit={unit.pk}"
        try:
            services.write_handover_note(
                course=course, text=form.cleaned_data["text"], by=request.user
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, gettext("Note saved for %(name)s.") % {"name": course.patient.full_name}
            )
    else:
        messages.error(
            request,
            "The note was not saved: "
            + " ".join(message for errors in form.errors.values() for message in errors),
        )
    return redirect(f"{back}#patient-{course.patient.public_id}")

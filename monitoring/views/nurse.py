"""The nurse's pages: worklist, bedside check, result."""

import re
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from monitoring import flag_rules, schedule, services
from monitoring.access import (
    ALL_ROLES,
    CLINICAL_ROLES,
    can_manage_courses,
    get_course_for,
    role_required,
    visible_courses,
)
from monitoring.forms.nurse import CheckPage
from monitoring.models import BedsideCheck, Flag, Unit, VitalSigns
from monitoring.views.corrections import check_record_prefetches

WORKLIST_PAGE_SIZE = 100


@role_required(*ALL_ROLES)
def worklist(request):
    """The user's units' patients under monitoring: overdue checks first, then the sickest.

    Order: patients with an overdue check come first — the sickest of them (higher of CRS and
    ICANS grade, then worst open flag) before the rest, then the longest overdue; then everyone
    else, the sickest first, then the soonest due. A nurse sees overdue checks at the top, and
    among them the patient it matters most for. Due times are computed on read (schedule.py),
    so the sort is in Python over the units' monitored courses (tens per unit), paged after.
    """
    courses = visible_courses(request.user).under_monitoring()
    units = Unit.objects.all() if request.user.sees_all_units else request.user.units.all()
    unit_id = request.GET.get("unit", "")
    selected_unit = None
    if unit_id:
        if not re.fullmatch(r"[0-9]{1,18}", unit_id):  # ASCII digits that fit a key
            messages.error(request, "Unknown unit: showing all your units.")
        else:
            selected_unit = get_object_or_404(units, pk=int(unit_id))
            courses = courses.filter(unit=selected_unit)
    now = timezone.now()
    # Rank every course from lean rows (schedule.due_by_course), then load only the page.
    ranked, versions = schedule.due_by_course(courses, now=now, extra=WORKLIST_SORT_FIELDS)
    ranked.sort(key=_worklist_order)
    page = Paginator([pk for pk, _, _ in ranked], WORKLIST_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    loaded = courses.filter(pk__in=page.object_list).select_related("patient", "unit", "status_row")
    by_pk = {course.pk: course for course in loaded}
    page.object_list = []
    for pk, due, _ in ranked[page.start_index() - 1 : page.end_index()]:
        course = by_pk[pk]
        if course.protocol_version_id is not None:  # shared instances, schedules prefetched
            course.protocol_version = versions[course.protocol_version_id]
        page.object_list.append(_worklist_row(course, due, now))
    return render(
        request,
        "monitoring/nurse/worklist.html",
        {
            "page": page,
            "units": units,
            "selected_unit": selected_unit,
            "now": now,
            "can_manage": can_manage_courses(request.user),
        },
    )


def _worklist_row(course, due, now):
    """The course with its due checks: ``overdue`` (longest first), ``deferred`` (not done and
    not yet due again), ``next_due`` (the soonest check not yet due)."""
    course.overdue = sorted((d for d in due if d.is_overdue), key=lambda d: -d.overdue_by)
    waiting = [d for d in due if not d.is_overdue]
    course.deferred = [d for d in waiting if d.deferred_reason]
    course.next_due = next((d for d in waiting if not d.deferred_reason), None)
    version = course.protocol_version
    course.window_over = bool(version) and now >= schedule.add_interval(
        course.infused_at, timedelta(days=version.monitoring_window_days)
    )
    return course


WORKLIST_SORT_FIELDS = (
    "status_row__crs_grade",
    "status_row__icans_grade",
    "status_row__worst_open_severity",
    "patient__family_name",
)


def _worklist_order(row):
    pk, due, (crs, icans, severity, family_name) = row
    grade = max(crs or 0, icans or 0)
    overdue = [d for d in due if d.is_overdue]
    if overdue:
        urgency = (0, -max(d.overdue_by for d in overdue).total_seconds())
    else:
        waiting = [d for d in due if not d.is_overdue]
        soonest = min((d.next_due for d in waiting), default=None)
        urgency = (1, soonest.timestamp() if soonest else float("inf"))
    return (urgency[0], -grade, -(severity or 0), urgency[1], family_name, pk)


@role_required(*CLINICAL_ROLES)
def record_check(request, public_id):
    """One page to record any of vitals, symptoms, neuro, labs and treatment at one time."""
    course = get_course_for(request.user, public_id, monitoring_only=True)
    patient = course.patient
    last_vitals = (
        # Only current records carry forward: never a value entered in error or superseded.
        VitalSigns.objects.current()
        .filter(check_entry__course=course)
        .order_by("-check_entry__observed_at", "-pk")
        .first()
    )
    capd = patient.uses_capd_on(timezone.localdate())
    page = CheckPage(request.POST or None, course=course, capd=capd, carried_forward=last_vitals)
    if request.method == "POST" and page.is_valid():
        try:
            check = services.record_check(
                course=course,
                by=request.user,
                observed_at=page.time.cleaned_data["observed_at"],
                **page.values(),
            )
        except ValidationError as error:
            page.add_error(error)
        else:
            messages.success(request, "Check saved.")
            return redirect(
                "monitoring:nurse-check-result",
                public_id=patient.public_id,
                check_id=check.public_id,
            )
    return render(
        request,
        "monitoring/nurse/check_form.html",
        {
            "course": course,
            "patient": patient,
            "page": page,
            "capd": capd,
            "last_vitals": last_vitals,
        },
        status=400 if request.method == "POST" else 200,
    )


@role_required(*ALL_ROLES)
def check_result(request, public_id, check_id):
    """What was recorded, the grades with their reasons, the flags raised and what to do."""
    course = get_course_for(request.user, public_id)
    check = get_object_or_404(
        BedsideCheck.objects.select_related("recorded_by", "snapshot").prefetch_related(
            *check_record_prefetches()
        ),
        course=course,
        public_id=check_id,
    )
    snapshot = getattr(check, "snapshot", None)
    flags = Flag.objects.filter(snapshot=snapshot).order_by("-severity") if snapshot else []
    version = course.protocol_version
    advice = flag_rules.escalation_advice(
        snapshot.crs_effective if snapshot else None,
        snapshot.icans_effective if snapshot else None,
        text_for=version.escalation_text if version else None,
    )
    return render(
        request,
        "monitoring/nurse/check_result.html",
        {
            "course": course,
            "patient": course.patient,
            "check": check,
            "snapshot": snapshot,
            "flags": flags,
            "advice": advice,
        },
    )

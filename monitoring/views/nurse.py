"""The nurse's pages: worklist, bedside check, result."""

import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import F
from django.db.models.functions import Coalesce, Greatest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from monitoring import flag_rules, services
from monitoring.access import (
    ALL_ROLES,
    CLINICAL_ROLES,
    get_course_for,
    role_required,
    visible_courses,
)
from monitoring.forms import CheckPage
from monitoring.models import BedsideCheck, Flag, Unit, VitalSigns

WORKLIST_PAGE_SIZE = 100


@role_required(*ALL_ROLES)
def worklist(request):
    """The user's units' patients under monitoring, the sickest first."""
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
    courses = courses.select_related("patient", "unit", "current").order_by(
        Greatest(Coalesce("current__crs_grade", 0), Coalesce("current__icans_grade", 0)).desc(),
        F("current__worst_open_severity").desc(nulls_last=True),
        "patient__family_name",
        "pk",
    )
    page = Paginator(courses, WORKLIST_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "monitoring/nurse/worklist.html", {
        "page": page, "units": units, "selected_unit": selected_unit, "now": timezone.now(),
    })


@role_required(*CLINICAL_ROLES)
def record_check(request, public_id):
    """One page to record any of vitals, symptoms, neuro, labs and treatment at one time."""
    course = get_course_for(request.user, public_id, monitoring_only=True)
    patient = course.patient
    last_vitals = (
        VitalSigns.objects.filter(check_entry__course=course)
        .order_by("-check_entry__observed_at", "-pk").first()
    )
    capd = patient.uses_capd_on(timezone.localdate())
    page = CheckPage(request.POST or None, course=course, capd=capd, carried_forward=last_vitals)
    if request.method == "POST" and page.is_valid():
        try:
            check = services.record_check(
                course=course, by=request.user,
                observed_at=page.time.cleaned_data["observed_at"], **page.values(),
            )
        except ValidationError as error:
            page.add_error(error)
        else:
            messages.success(request, "Check saved.")
            return redirect("monitoring:nurse-check-result", public_id=patient.public_id,
                            check_id=check.public_id)
    return render(request, "monitoring/nurse/check_form.html", {
        "course": course, "patient": patient, "page": page, "capd": capd,
        "last_vitals": last_vitals,
    }, status=400 if request.method == "POST" else 200)


@role_required(*ALL_ROLES)
def check_result(request, public_id, check_id):
    """What was recorded, the grades with their reasons, the flags raised and what to do."""
    course = get_course_for(request.user, public_id)
    check = get_object_or_404(
        BedsideCheck.objects.select_related("recorded_by", "snapshot").prefetch_related(
            "vitalsigns_set", "symptomcheck_set", "neuroassessment_set", "labresult_set",
            "treatment_set",
        ),
        course=course, public_id=check_id,
    )
    snapshot = getattr(check, "snapshot", None)
    flags = Flag.objects.filter(snapshot=snapshot).order_by("-severity") if snapshot else []
    advice = flag_rules.escalation_advice(
        snapshot.crs_grade if snapshot else None, snapshot.icans_grade if snapshot else None
    )
    return render(request, "monitoring/nurse/check_result.html", {
        "course": course, "patient": course.patient, "check": check, "snapshot": snapshot,
        "flags": flags, "advice": advice,
    })

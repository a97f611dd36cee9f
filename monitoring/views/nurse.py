"""The nurse's pages: worklist, bedside check, result."""

import uuid
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import (
    Case,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce, Greatest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from monitoring import flag_messages, flag_rules, schedule, services
from monitoring.access import (
    get_course_for,
    requires,
    selected_unit,
    visible_courses,
    visible_units,
)
from monitoring.forms.common import ObservationTimeForm
from monitoring.forms.nurse import CheckPage
from monitoring.models import BedsideCheck, Flag, GradeSnapshot, User, VitalSigns
from monitoring.views.corrections import check_record_prefetches

WORKLIST_PAGE_SIZE = 50  # rows a page: bounded work whatever the hospital's size (issue 16)


@requires(User.can_view_patients)
def worklist(request):
    """The user's units' patients under monitoring: overdue checks first, then the sickest.

    Order: patients with an overdue check come first — the sickest of them (higher of CRS and
    ICANS grade, then worst open flag) before the rest, then the longest overdue; then everyone
    else, the sickest first, then the soonest due. A nurse sees overdue checks at the top, and
    among them the patient it matters most for. The database ranks and pages (each course's
    earliest due time is kept on its status row: ``schedule.with_earliest_due``); the order is
    total (ties broken by family name, then id), so a page holds the same patients from one
    request to the next while nothing changes. Only the page's 50 courses are loaded, and
    their due checks computed (``schedule.due_checks``) and rendered, whatever the hospital's
    size. ``unit`` (one of the user's units, checked by access.selected_unit: anything else is
    a 404) and ``list=clinic`` filter; page links and the 30-second refresh keep both and the
    page number.
    """
    courses = visible_courses(request.user).under_monitoring()
    units = visible_units(request.user)
    unit = selected_unit(request.GET.getlist("unit"), units)
    if unit is not None:
        courses = courses.filter(unit=unit)
    # Today's clinic list: outpatients with a check due (or overdue) before midnight.
    clinic = request.GET.get("list") == "clinic"
    if clinic:
        courses = courses.outpatient()
    now = timezone.now()
    courses = schedule.with_earliest_due(courses, now=now)
    if clinic:
        courses = courses.filter(due_at__lt=schedule.end_of_day(now))
    order = worklist_order(now)
    # The database ranks every listed course on narrow rows (ids), and the page's 50 are then
    # read whole in one query, the ranked slice its subquery: sorting whole rows (patient,
    # unit, status, product, protocol version) took half the care team's worklist's time at
    # 10,000 patients.
    page = Paginator(courses.order_by(*order).values_list("pk", flat=True), WORKLIST_PAGE_SIZE)
    page = page.get_page(request.GET.get("page"))
    rows = list(
        courses.filter(pk__in=page.object_list)
        .order_by(*order)
        .select_related(
            "patient",
            "unit",
            "status_row",
            "product",
            "protocol_version",  # its schedules prefetched below (due checks)
        )
        # "Last check": marked Home when the latest was a check-in from home (issue 15 §3):
        # the one value, not three more model instances a row (the snapshot's JSON decoded).
        .annotate(
            home_by=Subquery(
                GradeSnapshot.objects.filter(pk=OuterRef("status_row__latest_snapshot_id")).values(
                    "check_entry__home_checkin__entered_by_kind"
                )[:1]
            )
        )
    )
    prefetch_related_objects(rows, "protocol_version__schedules")
    page.object_list = [_worklist_row(course, now) for course in rows]
    filters = {"unit": unit.pk} if unit is not None else {}
    if clinic:
        filters["list"] = "clinic"
    # The table alone for the page's 30-second refresh (htmx polling, _poll.html).
    template = "_worklist.html" if request.htmx else "worklist.html"
    response = render(
        request,
        f"monitoring/nurse/{template}",
        {
            "page": page,
            "units": units,
            "selected_unit": unit,
            "now": now,
            "clinic": clinic,
            "page_query": urlencode(filters),
            "page_range": page.paginator.get_elided_page_range(
                page.number, on_each_side=1, on_ends=1
            ),
        },
    )
    patch_vary_headers(response, ["HX-Request"])  # the partial and the page share the URL
    return response


def _worklist_row(course, now):
    """The course with its due checks: ``overdue`` (longest first), ``deferred`` (not done and
    not yet due again), ``next_due`` (the soonest check not yet due)."""
    due = schedule.due_checks(course, getattr(course, "status_row", None), now=now)
    course.overdue = sorted((d for d in due if d.is_overdue), key=lambda d: -d.overdue_by)
    waiting = [d for d in due if not d.is_overdue]
    course.deferred = [d for d in waiting if d.deferred_reason]
    course.next_due = next((d for d in waiting if not d.deferred_reason), None)
    version = course.protocol_version
    course.window_over = bool(version) and now >= schedule.add_interval(
        course.infused_at, timedelta(days=version.monitoring_window_days)
    )
    return course


def worklist_order(now):
    """The worklist's order (see ``worklist``) of courses from ``schedule.with_earliest_due``."""
    return (
        Case(When(due_at__lt=now, then=Value(0)), default=Value(1)),  # overdue first
        Greatest(
            Coalesce("status_row__crs_grade", Value(0)),
            Coalesce("status_row__icans_grade", Value(0)),
        ).desc(),
        Coalesce("status_row__worst_open_severity", Value(0)).desc(),
        F("due_at").asc(nulls_last=True),  # the longest overdue, or the soonest due, first
        "patient__family_name",
        "pk",
    )


def _page_at(request, course, data=None) -> CheckPage:
    """The check page as it stands at the time the nurse entered (now, until she sets one).

    Oxygen and vasopressors carry forward from the latest current vital signs at or before
    that time, never from a later record, and ICE or CAPD follows the patient's age on that
    day (reference §2.3): a late entry is recorded as it was at its own time.
    """
    params = data if data is not None else request.GET
    at = ObservationTimeForm.entered_time(params, course=course)
    at = at or ObservationTimeForm.default_time()
    carried = VitalSigns.objects.latest_at(course, at)
    return CheckPage(
        data,
        course=course,
        capd=course.patient.uses_capd_on(timezone.localdate(at)),
        carried_forward=carried,
        shown_forward=_shown_forward(data, course, carried),
    )


def _shown_forward(data, course, carried):
    """The vital signs whose support a posted page showed (its ``carried_from``), if another
    than ``carried``; ``carried`` when the post does not say or names nothing of this course."""
    claim = data.get("carried_from") if data else None
    current = str(carried.check_entry.public_id) if carried else "none"
    if claim is None or claim == current:
        return carried
    if claim == "none":
        return None
    try:
        check_id = uuid.UUID(claim)
    except ValueError:
        return carried
    shown = VitalSigns.objects.current().filter(
        check_entry__course=course, check_entry__public_id=check_id
    )
    return shown.select_related("check_entry").first() or carried


@requires(User.can_record_checks)
def record_check(request, public_id):
    """One page to record any of vitals, symptoms, neuro, labs and treatment at one time."""
    course = get_course_for(request.user, public_id, monitoring_only=True)
    patient = course.patient
    page = _page_at(request, course, request.POST or None)
    capd = page.capd
    pending = []  # tocilizumab dose warnings held for the clinician's decision
    if request.method == "POST" and page.is_valid():
        try:
            check = services.record_check(
                course=course,
                by=request.user,
                observed_at=page.time.cleaned_data["observed_at"],
                accepted_warnings=page.dose_decision.accepted_warnings(),
                setting=page.setting.value(),
                **page.values(),
            )
        except services.DoseWarningsPending as held:
            pending = held.warnings
        except ValidationError as error:
            page.add_error(error)
        else:
            messages.success(request, gettext("Check saved."))
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
            "pending": pending,
        },
        status=400 if request.method == "POST" and not pending else 200,
    )


@require_GET
@requires(User.can_record_checks)
def check_support(request, public_id):
    """htmx: the check page's carried oxygen and vasopressors at the time the nurse entered,
    and the ICE or CAPD screen if the patient's age on that day calls for the other one."""
    course = get_course_for(request.user, public_id, monitoring_only=True)
    page = _page_at(request, course)
    tool = "capd" if page.capd else "ice"
    return render(
        request,
        "monitoring/nurse/_check_support_swap.html",
        {
            "course": course,
            "page": page,
            "capd": page.capd,
            "swap_screen": request.GET.get("neuro_tool", tool) != tool,
        },
    )


@requires(User.can_view_patients)
def check_result(request, public_id, check_id):
    """What was recorded, the grades with their reasons, the flags raised and what to do."""
    course = get_course_for(request.user, public_id)
    check = get_object_or_404(
        BedsideCheck.objects.select_related(
            "recorded_by", "snapshot", "home_checkin__neuro_screen"
        ).prefetch_related(*check_record_prefetches()),
        course=course,
        public_id=check_id,
    )
    snapshot = getattr(check, "snapshot", None)
    # A late entry regrades the moments after it: say which were revised since it was saved.
    revised_later = []
    if snapshot is not None:
        revised_later = list(
            GradeSnapshot.objects.filter(
                course=course,
                observed_at__gt=check.observed_at,
                revised_at__gte=check.recorded_at,
            ).order_by("observed_at")
        )
    # One query: the flags this check raised or updated, and every open flag of the course
    # (what to do now is never "routine" while an urgent one is open, whichever check raised it).
    course_flags = list(
        Flag.objects.filter(course=course)
        .filter(Q(snapshot=snapshot) | ~Q(status=Flag.Status.RESOLVED))
        .order_by("-severity", "pk")
    )
    flags = [f for f in course_flags if snapshot is not None and f.snapshot_id == snapshot.pk]
    open_flags = [(f.kind, f.severity) for f in course_flags if f.status != Flag.Status.RESOLVED]
    version = course.protocol_version
    crs = snapshot.crs_effective if snapshot else None
    icans = snapshot.icans_effective if snapshot else None
    review = snapshot.open_review_reasons if snapshot else []
    advice = flag_rules.escalation_advice(
        crs,
        icans,
        text_for=version.escalation_text if version else None,
        open_flags=open_flags,
        review_reasons=review,
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
            "advice": [flag_messages.localize_advice(text) for text in advice],
            "revised_later": revised_later,
            "advice_severity": flag_rules.advice_severity(
                snapshot.alert_severity if snapshot else None, open_flags, review
            ),
        },
    )

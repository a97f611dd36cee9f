"""The care team's pages: the flag board, the patient's course with its charts, grade
confirmation and treatments given.

Reads cost a constant number of queries: the board reads one page of flags and the courses under
monitoring (overdue checks are computed on read by ``schedule``); the course page reads the
course's checks with their snapshots, its current records once per kind for the charts, the
day-by-day grid and the treatments, and every record (any status) of the checks it lists.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, Q, Value, When, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from monitoring import grading, services
from monitoring.access import (
    ALL_ROLES,
    CLINICAL_ROLES,
    can_manage_courses,
    get_course_for,
    role_required,
    visible_courses,
)
from monitoring.course_page import (
    CoursePage,
    age_label,
    current_records,
    tocilizumab_summary,
)
from monitoring.forms.care_team import (
    FlagAcknowledgeForm,
    FlagResolveForm,
    GradeConfirmationForm,
    TreatmentGivenForm,
)
from monitoring.models import (
    BedsideCheck,
    CourseStatus,
    Flag,
    GradeConfirmation,
    ProtocolVersion,
    Unit,
    User,
)
from monitoring.schedule import human_duration, most_overdue
from monitoring.views.corrections import check_record_prefetches

BOARD_PAGE_SIZE = 50
# The course page lists the latest checks in full; "show all" lists every one. The charts and
# the grid always use every current record, so a long course costs little more than a short one.
CHECKS_SHOWN = 40
OVERDUE_SHOWN = 50
# Query parameters are ASCII digits only: int() and str.isdigit() also accept "١٢" or "²".
ASCII_ID = re.compile(r"[0-9]{1,18}")


def _is_care_team(user) -> bool:
    """What role_required(CARE_TEAM) lets through, for showing or hiding the forms."""
    return user.role == User.Role.CARE_TEAM


# ---------------------------------------------------------------------------------------------
# The flag board
# ---------------------------------------------------------------------------------------------


@role_required(*ALL_ROLES)
def flag_board(request):
    """Unresolved flags on the user's units, open ones first, most severe then oldest; and the
    overdue checks. Nurses see it read-only: acknowledging and resolving is the care team's."""
    units = list(Unit.objects.all() if request.user.sees_all_units else request.user.units.all())
    problems = []
    selected_unit = None
    unit_param = request.GET.get("unit", "")
    if unit_param:
        if not ASCII_ID.fullmatch(unit_param):
            problems.append("Unknown unit: showing all your units.")
        else:
            selected_unit = next((u for u in units if u.pk == int(unit_param)), None)
            if selected_unit is None:
                raise Http404("Not one of your units.")
    min_severity = None
    severity_param = request.GET.get("severity", "")
    if severity_param:
        if ASCII_ID.fullmatch(severity_param) and int(severity_param) in Flag.Severity.values:
            min_severity = int(severity_param)
        else:
            problems.append("Unknown severity: showing every severity.")

    courses = visible_courses(request.user)
    if selected_unit is not None:
        courses = courses.filter(unit=selected_unit)
    flags = Flag.objects.unresolved().filter(course__in=courses)
    if min_severity is not None:
        flags = flags.filter(severity__gte=min_severity)
    flags = flags.select_related("course__patient", "course__unit", "acknowledged_by").order_by(
        # Open (never acknowledged, or re-opened by an escalation) above acknowledged ones.
        Case(When(status=Flag.Status.OPEN, then=Value(0)), default=Value(1)),
        "-severity",
        "raised_at",
        "pk",
    )
    page = Paginator(flags, BOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [_board_row(flag, now) for flag in page.object_list]
    overdue, overdue_more = _overdue_checks(courses.under_monitoring(), now)

    filters = {"unit": selected_unit.pk if selected_unit else "", "severity": min_severity or ""}
    context = {
        "page": page,
        "rows": rows,
        "units": units,
        "selected_unit": selected_unit,
        "min_severity": min_severity,
        "severities": [c for c in Flag.Severity.choices[::-1] if c[0] > Flag.Severity.INFO],
        "problems": problems,
        "overdue": overdue,
        "overdue_more": overdue_more,
        "now": now,
        "can_act": _is_care_team(request.user),
        "filter_query": "&".join(f"{k}={v}" for k, v in filters.items() if v),
    }
    template = "_board.html" if request.htmx else "flag_board.html"
    response = render(request, f"monitoring/care_team/{template}", context)
    patch_vary_headers(response, ["HX-Request"])  # the partial and the page share the URL
    return response


def _board_row(flag: Flag, now: datetime) -> Flag:
    """The flag with how long it has waited and whether it must stand out."""
    flag.reopened = flag.status == Flag.Status.OPEN and flag.acknowledged_at is not None
    # An escalation re-opens an acknowledged flag (services.FlagBook) without a time of its own:
    # counting from the acknowledgement overstates the wait rather than hiding it.
    since = flag.acknowledged_at if flag.reopened else flag.raised_at
    flag.waiting = human_duration(max(now - since, timedelta(0)))
    flag.stands_out = flag.status == Flag.Status.OPEN and flag.severity >= Flag.Severity.URGENT
    return flag


def _overdue_checks(courses, now: datetime) -> tuple[list, int]:
    """((course, Due) for the longest-overdue courses shown, how many more) — 3 queries.

    The status row keeps each course's earliest next due time (schedule.due_marks), so a
    whole hospital's overdue courses are one indexed range query, longest waiting first; the
    exact overdue checks of the few shown are then computed on read.
    """
    # A course started outside services.start_course may have no status row yet: nothing
    # was done, so everything is due from day 0.
    overdue = (
        courses.annotate(due_at=Coalesce("status_row__next_due_at", "infused_at"))
        .filter(
            Q(status_row__isnull=True) | Q(status_row__monitoring_ends_at__gt=now),
            due_at__lt=now,
        )
        .order_by("due_at", "pk")
    )
    total = overdue.count()
    shown = list(
        overdue.select_related(
            "patient", "unit", "status_row", "protocol_version"
        ).prefetch_related("protocol_version__schedules")[:OVERDUE_SHOWN]
    )
    rows = [
        (
            course,
            most_overdue(
                course, getattr(course, "status_row", None) or CourseStatus(course=course), now=now
            ),
        )
        for course in shown
    ]
    return [(course, due) for course, due in rows if due is not None], total - len(shown)


def _flag_for(user, flag_id: int) -> Flag:
    """The flag if its course is on the user's units; 404 otherwise (no existence leak)."""
    return get_object_or_404(
        Flag.objects.filter(course__in=visible_courses(user)).select_related(
            "course__patient", "course__unit", "acknowledged_by"
        ),
        pk=flag_id,
    )


def _next_url(request, default: str) -> str:
    """Where to go after an action: a same-site path from ``next``, else ``default``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@role_required(User.Role.CARE_TEAM)
@require_POST
def flag_acknowledge(request, flag_id: int):
    """Someone has seen the flag and owns it (who, when and the note are kept, audited)."""
    flag = _flag_for(request.user, flag_id)
    form = FlagAcknowledgeForm(request.POST)
    if form.is_valid():
        try:
            form.check_seen(flag)
            services.acknowledge_flag(flag=flag, by=request.user, note=form.cleaned_data["note"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Flag acknowledged: {flag.message}")
            return redirect(_next_url(request, reverse("monitoring:care-flags")))
    return _flag_action_page(request, flag, form, "acknowledge")


@role_required(User.Role.CARE_TEAM)
@require_POST
def flag_resolve(request, flag_id: int):
    """Close the flag with a reason; the same condition later raises a new one."""
    flag = _flag_for(request.user, flag_id)
    form = FlagResolveForm(request.POST)
    if form.is_valid():
        try:
            form.check_seen(flag)
            services.resolve_flag(flag=flag, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Flag resolved: {flag.message}")
            return redirect(_next_url(request, reverse("monitoring:care-flags")))
    return _flag_action_page(request, flag, form, "resolve")


def _flag_action_page(request, flag: Flag, form, action: str):
    """The action again, with the flag as it is now, what was typed and what is wrong; nothing
    was changed (409 when the flag changed since it was seen, 400 for bad input)."""
    changed = any(e.code == "changed" for e in form.errors.as_data().get("__all__", []))
    if changed:
        flag.refresh_from_db()
    return render(
        request,
        "monitoring/care_team/flag_action.html",
        {
            "flag": flag,
            "course": flag.course,
            "patient": flag.course.patient,
            "form": form,
            "action": action,
            "next": _next_url(request, reverse("monitoring:care-flags")),
        },
        status=409 if changed else 400,
    )


# ---------------------------------------------------------------------------------------------
# The patient's course: header, charts, day-by-day grid, treatments, flags and checks
# ---------------------------------------------------------------------------------------------


def course_page(request, course, *, confirm_form=None, status: int = 200):
    """Render the course page (also with a bound confirmation form that has errors)."""
    now = timezone.now()
    checks = list(
        BedsideCheck.objects.filter(course=course)
        .select_related("recorded_by", "snapshot")
        .order_by("-observed_at", "-pk")
    )
    show_all = request.GET.get("checks") == "all"
    shown = checks if show_all else checks[:CHECKS_SHOWN]
    # Every record of the listed checks, superseded and entered-in-error ones too (shown struck
    # through, with who and why).
    prefetch_related_objects(shown, *check_record_prefetches())
    confirmations = list(
        GradeConfirmation.objects.filter(snapshot__course=course).select_related("confirmed_by")
    )
    flags = list(
        Flag.objects.filter(course=course)
        .select_related("acknowledged_by", "resolved_by")
        .order_by(
            Case(When(status=Flag.Status.RESOLVED, then=Value(1)), default=Value(0)),
            "-raised_at",
            "-pk",
        )
    )
    if course.protocol_version_id:  # the version and its protocol in one query
        course.protocol_version = ProtocolVersion.objects.select_related("protocol").get(
            pk=course.protocol_version_id
        )
    record = CoursePage(
        course,
        snapshots=[c.snapshot for c in checks if getattr(c, "snapshot", None)],
        records=current_records(course),
        confirmations=confirmations,
        now=now,
    )
    patient = course.patient
    version = course.protocol_version
    age_years = patient.age_on(timezone.localdate(now))
    sbp_threshold = (
        version.sbp_low_mmhg
        if version and version.sbp_low_mmhg
        else grading.hypotension_threshold_mmhg(age_years)
    )
    charts = record.charts(sbp_threshold=sbp_threshold)
    can_confirm = _is_care_team(request.user)
    if can_confirm and confirm_form is None:
        initial = {}
        wanted = request.GET.get("confirm", "")
        if ASCII_ID.fullmatch(wanted):
            initial["snapshot"] = int(wanted)
        confirm_form = GradeConfirmationForm(
            course=course, initial=initial, snapshots=reversed(record.snapshots)
        )
    return render(
        request,
        "monitoring/common/course.html",
        {
            "course": course,
            "patient": patient,
            "status": getattr(course, "status_row", None),
            "version": version,
            "age": age_label(patient, timezone.localdate(now)),
            "latest": record.latest_snapshot,
            "flags": flags,
            "checks": shown,
            "checks_total": len(checks),
            "checks_hidden": len(checks) - len(shown),
            # JSON in a data- attribute (autoescaped), read by static/js/course_charts.js: the
            # CSP scanner in tests/web/test_security.py refuses any <script> without src,
            # json_script's application/json block included.
            "charts": charts["charts"],
            "chart_data": json.dumps(charts, separators=(",", ":")),
            "days": record.days(),
            "treatments": record.treatments(),
            "tocilizumab": tocilizumab_summary(course, record.tocilizumab_times(), now),
            "confirm_form": confirm_form,
            "can_confirm": can_confirm,
            "can_act": _is_care_team(request.user),
            "can_treat": request.user.role in CLINICAL_ROLES,
            "can_manage": can_manage_courses(request.user),
            "now": now,
        },
        status=status,
    )


@role_required(User.Role.CARE_TEAM)
@require_POST
def confirm_grade(request, public_id):
    """Confirm or override the computed grade of one moment, with a reason (audited)."""
    course = get_course_for(request.user, public_id)
    form = GradeConfirmationForm(
        request.POST, course=course, snapshots=course.snapshots.order_by("-observed_at", "-pk")
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.confirm_grade(
                snapshot=data["snapshot"],
                domain=data["domain"],
                grade=data["grade"],
                reason=data["reason"],
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            snapshot = data["snapshot"]
            verb = (
                "confirmed"
                if data["grade"] == getattr(snapshot, f"{data['domain']}_grade")
                else "overridden"
            )
            at = timezone.localtime(snapshot.observed_at)
            messages.success(
                request,
                f"{data['domain'].upper()} grade {data['grade']} {verb} for {at:%Y-%m-%d %H:%M}.",
            )
            url = reverse("monitoring:patient-course", args=[course.patient.public_id])
            return redirect(f"{url}#grades")
    messages.error(request, "The grade was not confirmed: correct what is marked below.")
    return course_page(request, course, confirm_form=form, status=400)


# ---------------------------------------------------------------------------------------------
# Treatments given
# ---------------------------------------------------------------------------------------------


@role_required(*CLINICAL_ROLES)
def treatments(request, public_id):
    """Record a treatment given; tocilizumab shows its usual dose and warns on its limits
    before anything is saved (the clinician may still give it, explicitly)."""
    course = get_course_for(request.user, public_id, monitoring_only=True)
    form = TreatmentGivenForm(request.POST or None, course=course)
    pending = []
    if request.method == "POST" and form.is_valid():
        try:
            check = services.record_treatment(
                course=course,
                by=request.user,
                observed_at=form.cleaned_data["observed_at"],
                treatment=form.treatment_values(),
                accepted_warnings=form.accepted_warnings(),
            )
        except services.DoseWarningsPending as exc:
            pending = exc.warnings
        except ValidationError as error:
            form.add_error(None, error)
        else:
            treatment = check.treatment_set.get()
            snapshot = check.snapshot
            messages.success(
                request,
                f"{treatment} recorded at "
                f"{timezone.localtime(check.observed_at):%Y-%m-%d %H:%M}. Grades at that moment: "
                f"{services.grades_text(snapshot)}.",
            )
            return redirect("monitoring:patient-treatments", public_id=course.patient.public_id)
    record = CoursePage(
        course,
        snapshots=[],
        now=timezone.now(),
        records=current_records(course, kinds=["treatment"]),
    )
    status = 400 if request.method == "POST" and not pending else 200
    return render(
        request,
        "monitoring/care_team/treatments.html",
        {
            "course": course,
            "patient": course.patient,
            "form": form,
            "pending": pending,
            "treatments": record.treatments(),
            "tocilizumab": tocilizumab_summary(course, record.tocilizumab_times(), record.now),
        },
        status=status,
    )

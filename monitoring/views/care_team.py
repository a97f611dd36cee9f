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
from django.db.models import Case, Prefetch, Q, Value, When, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from monitoring import services
from monitoring.access import (
    get_course_for,
    requires,
    selected_unit,
    visible_courses,
    visible_units,
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
    FlagAcknowledgement,
    GradeConfirmation,
    ProtocolVersion,
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


# ---------------------------------------------------------------------------------------------
# The flag board
# ---------------------------------------------------------------------------------------------


@requires(User.can_view_patients)
def flag_board(request):
    """Unresolved flags on the user's units, open ones first, most severe then oldest; and the
    overdue checks. Nurses see it read-only: acknowledging and resolving is the care team's."""
    units = visible_units(request.user)
    unit = selected_unit(request.GET.getlist("unit"), units)
    problems = []
    min_severity = None
    severity_param = request.GET.get("severity", "")
    if severity_param:
        if ASCII_ID.fullmatch(severity_param) and int(severity_param) in Flag.Severity.values:
            min_severity = int(severity_param)
        else:
            problems.append("Unknown severity: showing every severity.")

    courses = visible_courses(request.user)
    if unit is not None:
        courses = courses.filter(unit=unit)
    flags = Flag.objects.unresolved().filter(course__in=courses)
    if min_severity is not None:
        flags = flags.filter(severity__gte=min_severity)
    flags = flags.select_related("course__patient", "course__unit", "acknowledged_by").order_by(
        # Open (never acknowledged, or re-opened by an escalation) above acknowledged ones.
        Case(When(status=Flag.Status.OPEN, then=Value(0)), default=Value(1)),
        "-severity",
        # Longest waiting first: since it was raised, or since it last got worse.
        Coalesce("worsened_at", "raised_at"),
        "pk",
    )
    page = Paginator(flags, BOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = with_acknowledgements([_board_row(flag, now) for flag in page.object_list])
    overdue, overdue_more = _overdue_checks(courses.under_monitoring(), now)

    filters = {"unit": unit.pk if unit else "", "severity": min_severity or ""}
    context = {
        "page": page,
        "rows": rows,
        "units": units,
        "selected_unit": unit,
        "min_severity": min_severity,
        "severities": [c for c in Flag.Severity.choices[::-1] if c[0] > Flag.Severity.INFO],
        "problems": problems,
        "overdue": overdue,
        "overdue_more": overdue_more,
        "now": now,
        "filter_query": "&".join(f"{k}={v}" for k, v in filters.items() if v),
    }
    template = "_board.html" if request.htmx else "flag_board.html"
    response = render(request, f"monitoring/care_team/{template}", context)
    patch_vary_headers(response, ["HX-Request"])  # the partial and the page share the URL
    return response


def _board_row(flag: Flag, now: datetime) -> Flag:
    """The flag with how long it has waited and whether it must stand out."""
    flag.reopened = flag.status == Flag.Status.OPEN and flag.acknowledged_at is not None
    # The wait counts from when the flag was raised or last got worse (an escalation re-opens
    # an acknowledged flag and records when: engine.FlagBook); flags from before that was
    # recorded count from the acknowledgement, which overstates the wait rather than hides it.
    since = flag.waiting_since
    if flag.reopened and flag.worsened_at is None:
        since = flag.acknowledged_at
    flag.waiting = human_duration(max(now - since, timedelta(0)))
    return flag


def with_acknowledgements(flags: list[Flag]) -> list[Flag]:
    """Each flag with ``acknowledgement_history``: every acknowledgement, oldest first, with
    who gave it (one query for all the flags). A flag acknowledged before acknowledgements
    were kept one by one shows the one on the flag itself (``from_flag``)."""
    prefetch_related_objects(
        flags,
        Prefetch(
            "acknowledgements",
            queryset=FlagAcknowledgement.objects.select_related("acknowledged_by"),
        ),
    )
    for flag in flags:
        history = list(flag.acknowledgements.all())
        if not history and flag.acknowledged_at is not None:
            history = [
                FlagAcknowledgement(
                    acknowledged_at=flag.acknowledged_at,
                    acknowledged_by=flag.acknowledged_by,
                    note=flag.acknowledge_note,
                    severity=flag.severity,
                    message=flag.message,
                )
            ]
        flag.acknowledgement_history = history
    return flags


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


@requires(User.can_act_on_flags)
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


@requires(User.can_act_on_flags)
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
    flags = with_acknowledgements(
        list(
            Flag.objects.filter(course=course)
            .select_related("acknowledged_by", "resolved_by")
            .order_by(
                Case(When(status=Flag.Status.RESOLVED, then=Value(1)), default=Value(0)),
                "-raised_at",
                "-pk",
            )
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
    charts = record.charts(sbp_threshold=course.hypotension_threshold_mmhg(timezone.localdate(now)))
    if request.user.can_confirm_grades and confirm_form is None:
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
            "now": now,
        },
        status=status,
    )


@requires(User.can_confirm_grades)
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
                confirm_lower=data["confirm_lower"],
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


@requires(User.can_record_checks)
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

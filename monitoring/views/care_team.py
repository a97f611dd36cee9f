"""The care team's pages: the board (one row per patient, its flags and actions), the patient's
course with its charts, grade confirmation and treatments given.

Reads cost a constant number of queries: the board reads one page of patients, their flags and
their latest failed delivery (``monitoring.board``; overdue checks are computed on read by
``schedule``); the course page reads the course's checks as plain values for the day lines,
the grade now, and its current records once per kind for the state now, which charts have
anything to draw and the treatments. It lists no check and draws no point: a day's checks,
with every record of any status, load on demand (``course_day``), the charts' points once as
JSON that the browser keeps until the next save (``course_charts``), and each chart's table
of values when it is opened (``course_chart_table``).
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_GET, require_POST

from monitoring import board, handwriting, infection_page, journey, services
from monitoring.access import (
    get_course_for,
    requires,
    selected_unit,
    visible_courses,
    visible_units,
)
from monitoring.course_page import (
    CHARTED,
    SNAPSHOT_DETAIL,
    CoursePage,
    DayRow,
    age_label,
    chart_outline,
    chart_table,
    charts_etag,
    check_lines,
    current_records,
    day_bounds,
    tocilizumab_summary,
)
from monitoring.forms.care_team import (
    CourseAcknowledgeForm,
    FlagAcknowledgeForm,
    FlagResolveForm,
    GradeConfirmationForm,
    TreatmentGivenForm,
)
from monitoring.models import (
    BedsideCheck,
    Flag,
    FlagAcknowledgement,
    GradeConfirmation,
    GradeSnapshot,
    ProtocolVersion,
    User,
)
from monitoring.schedule import due_checks
from monitoring.views.corrections import check_record_prefetches

BOARD_PAGE_SIZE = 50
OVERDUE_SHOWN = 50
# Query parameters are ASCII digits only: int() and str.isdigit() also accept "١٢" or "²".
ASCII_ID = re.compile(r"[0-9]{1,18}")


# ---------------------------------------------------------------------------------------------
# The board: one row per patient (monitoring.board)
# ---------------------------------------------------------------------------------------------


@requires(User.can_view_patients)
def flag_board(request):
    """Patients of the user's units with an unresolved flag or an overdue check, the one who most
    needs someone first (monitoring.board). Nurses see it read-only: acknowledging and
    resolving is the care team's.

    The page re-fetches its rows every 30 s (htmx polling, templates/monitoring/_partials/
    _poll.html); a refresh does not count as a look at the board (the "new" marks stay those
    of the last full load) nor as activity (cartmonitor.middleware.IdleSessionMiddleware).
    """
    user = request.user
    units = visible_units(user)
    unit = selected_unit(request.GET.getlist("unit"), units)
    problems = []
    min_severity = None
    severity_param = request.GET.get("severity", "")
    if severity_param:
        if ASCII_ID.fullmatch(severity_param) and int(severity_param) in Flag.Severity.values:
            min_severity = int(severity_param)
        else:
            problems.append(gettext("Unknown severity: showing every severity."))
    mine = request.GET.get("mine", "")
    if mine not in ("", "1"):
        problems.append(gettext("Unknown “mine” value: showing every patient of your units."))
        mine = ""

    now = timezone.now()
    courses = visible_courses(user)
    if unit is not None:
        courses = courses.filter(unit=unit)
    on_call = []
    if mine:
        on_call = board.on_call_units(user, now)
        courses = courses.filter(unit__in=[u.pk for u in on_call])
    page = Paginator(
        board.board_courses(courses, now=now, min_severity=min_severity), board.PAGE_SIZE
    ).get_page(request.GET.get("page"))
    # A full load is a look at the board; the refresh keeps the marks of the last look.
    new_after = (
        board.seen_before(user) if request.htmx else services.note_board_visit(user, now=now)
    )
    filters = {"unit": unit.pk if unit else "", "severity": min_severity or "", "mine": mine}
    context = {
        "page": page,
        "rows": board.rows(
            board.page_of(page.object_list, min_severity=min_severity),
            now=now,
            min_severity=min_severity,
            new_after=new_after,
        ),
        "units": units,
        "selected_unit": unit,
        "min_severity": min_severity,
        "severities": [c for c in Flag.Severity.choices[::-1] if c[0] > Flag.Severity.INFO],
        "mine": bool(mine),
        "on_call": on_call,
        "problems": problems,
        "new_after": new_after,
        "worker_delay": board.worker_delay_text(now),
        "now": now,
        "filter_query": "&".join(f"{k}={v}" for k, v in filters.items() if v),
    }
    template = "_board.html" if request.htmx else "flag_board.html"
    response = render(request, f"monitoring/care_team/{template}", context)
    patch_vary_headers(response, ["HX-Request"])  # the partial and the page share the URL
    return response


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


def _patient_row(request, course, *, status: int = 200, **extra):
    """The patient's board row as it is now, its flags shown (after an action, or to show one
    that failed: ``failed``, ``ack_form``); without htmx, on a page of its own."""
    now = timezone.now()
    [row] = board.rows(
        board.one_course(course), now=now, new_after=board.seen_before(request.user), detail=True
    )
    with_acknowledgements(row.flags)
    template = "_patient_row_swap.html" if request.htmx else "patient_action.html"
    context = {"row": row, "now": now, "expanded": True, **extra}
    return render(request, f"monitoring/care_team/{template}", context, status=status)


@requires(User.can_view_patients)
@require_GET
def patient_flags(request, public_id):
    """A board row's flags, each with its acknowledgements and (for the care team) its own
    acknowledge and resolve forms: what the row shows when expanded."""
    course = get_course_for(request.user, public_id)
    if not request.htmx:  # the whole story, with every flag, is the course page's
        response = redirect("monitoring:patient-course", public_id=public_id)
    else:
        now = timezone.now()
        [row] = board.rows(board.one_course(course), now=now, failures=False, detail=True)
        with_acknowledgements(row.flags)
        response = render(
            request, "monitoring/care_team/_patient_flags.html", {"row": row, "now": now}
        )
    patch_vary_headers(response, ["HX-Request"])
    return response


@requires(User.can_act_on_flags)
@require_POST
def patient_acknowledge(request, public_id):
    """Acknowledge all the patient's unacknowledged flags with one note (each kept, audited and
    its ladder stopped: services.acknowledge_course_flags). Refused, changing nothing, when
    the flags changed since the row was drawn (409) or the note is too long (400)."""
    course = get_course_for(request.user, public_id)
    form = CourseAcknowledgeForm(request.POST)
    if form.is_valid():
        try:
            flags = services.acknowledge_course_flags(
                course=course,
                by=request.user,
                note=form.cleaned_data["note"],
                seen=form.cleaned_data["seen"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            done = (
                f"{len(flags)} flag{pluralize(len(flags))} acknowledged for "
                f"{course.patient.full_name}."
            )
            return _done(request, course, done)
    changed = any(e.code == "changed" for e in form.errors.as_data().get("__all__", []))
    return _patient_row(request, course, status=409 if changed else 400, ack_form=form)


def _done(request, course, done: str):
    """After an action: the patient's row re-drawn (htmx), or back to the board with a message."""
    if request.htmx:
        return _patient_row(request, course, done=done)
    messages.success(request, done)
    return redirect(_next_url(request, reverse("monitoring:care-flags")))


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
            return _done(
                request,
                flag.course,
                gettext("Flag acknowledged: %(message)s") % {"message": flag.display_message},
            )
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
            return _done(
                request,
                flag.course,
                gettext("Flag resolved: %(message)s") % {"message": flag.display_message},
            )
    return _flag_action_page(request, flag, form, "resolve")


def _flag_action_page(request, flag: Flag, form, action: str):
    """The action again, with the flag as it is now, what was typed and what is wrong; nothing
    was changed (409 when the flag changed since it was seen, 400 for bad input). With htmx,
    in the patient's board row."""
    changed = any(e.code == "changed" for e in form.errors.as_data().get("__all__", []))
    if changed:
        flag.refresh_from_db()
    status = 409 if changed else 400
    if request.htmx:
        failed = {"flag": flag, "form": form, "action": action}
        return _patient_row(request, flag.course, status=status, failed=failed)
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
        status=status,
    )


# ---------------------------------------------------------------------------------------------
# The patient's course: header, charts, day-by-day grid, treatments, flags and checks
# ---------------------------------------------------------------------------------------------


def course_page(request, course, *, confirm_form=None, status: int = 200):
    """Render the course page (also with a bound confirmation form that has errors): the state
    now, the charts, then one line per day; a day's checks load on demand (``course_day``),
    and so do the charts' points (``course_charts``) and their tables (``course_chart_table``).
    """
    now = timezone.now()
    status_row = getattr(course, "status_row", None)
    checks = check_lines(course)  # plain values: the day lines count them
    # The grade now in full (its reasons, what a clinician confirmed): the status row's latest
    # snapshot, else the last one.
    wanted = status_row.latest_snapshot_id if status_row else None
    snapshots = GradeSnapshot.objects.filter(course=course)
    latest = snapshots.filter(pk=wanted) if wanted else snapshots.order_by("-observed_at", "-pk")
    latest = latest.first()
    confirmations = list(
        GradeConfirmation.objects.filter(snapshot=latest).select_related("confirmed_by")
    )
    flags = with_acknowledgements(
        list(Flag.objects.filter(course=course).select_related("acknowledged_by", "resolved_by"))
    )
    # Most severe first, then the newest (raised, or got worse, last).
    flags.sort(key=lambda f: (f.severity, f.worsened_at or f.raised_at, f.pk), reverse=True)
    if course.protocol_version_id:  # the version, its protocol and schedules (due checks)
        course.protocol_version = (
            ProtocolVersion.objects.select_related("protocol")
            .prefetch_related("schedules")
            .get(pk=course.protocol_version_id)
        )
    record = CoursePage(
        course,
        snapshots=[latest] if latest else [],
        records=current_records(course),
        confirmations=confirmations,
        now=now,
    )
    patient = course.patient
    today = timezone.localdate(now)
    if request.user.can_confirm_grades and confirm_form is None:
        initial = {}
        chosen = request.GET.get("confirm", "")
        if ASCII_ID.fullmatch(chosen):
            initial["snapshot"] = int(chosen)
        # Every moment of the course, newest first, by its grades (one query, for those who
        # may confirm a grade).
        confirm_form = GradeConfirmationForm(
            course=course,
            initial=initial,
            snapshots=snapshots.defer(*SNAPSHOT_DETAIL).order_by("-observed_at", "-pk"),
        )
    latest_values = record.latest_values()
    # The charts are named here, with whether each has anything to draw; their points come
    # from course_charts (static/js/course_charts.js fetches them).
    charts = chart_outline(
        record.chart_specs(sbp_threshold=course.hypotension_threshold_mmhg(today), points=False)
    )
    infection_charts = chart_outline(
        infection_page.charts(record, course.protocol_version, points=False)
    )
    return render(
        request,
        "monitoring/common/course.html",
        {
            "course": course,
            "patient": patient,
            "status": status_row,
            "version": course.protocol_version,
            "age": age_label(patient, today),
            "latest": latest,
            "grade_age": record.age(latest.observed_at) if latest else "",
            "latest_moment": record.moment_label(latest.observed_at) if latest else "",
            "open_flags": [f for f in flags if f.status != Flag.Status.RESOLVED],
            "resolved_flags": [f for f in flags if f.status == Flag.Status.RESOLVED],
            "due": due_checks(course, status_row, now=now) if course.is_under_monitoring else [],
            "latest_values": latest_values,
            "bedside_values": [v for v in latest_values if not v.marker],
            "marker_values": [v for v in latest_values if v.marker],
            "drug_totals": record.treatment_totals(),
            "charts": charts,
            # Where now is on the charts' time axis (the series leave it out, so that the
            # browser can keep them until the next save).
            "now_position": record.now_position(),
            # Infection prevention (three queries); its charts are drawn with the others.
            "infection": infection_page.section(course, today=today),
            "infection_charts": [(chart, None) for chart in infection_charts],
            "days": record.day_lines(checks=checks, flags=flags),
            "checks_total": len(checks),
            "treatments": record.treatments(),
            "tocilizumab": tocilizumab_summary(course, record.tocilizumab_times(), now),
            "confirm_form": confirm_form,
            "now": now,
            "journey": journey.journey(course, today=today),
            "handwriting": handwriting.section(course),  # two queries, no pictures
        },
        status=status,
    )


def _chart_record(course, now) -> CoursePage:
    """The course read for its charts: the snapshots' grades (the bands) and the current
    vital signs, neuro assessments and labs (four queries; no treatment is charted)."""
    snapshots = list(course.snapshots.defer(*SNAPSHOT_DETAIL).order_by("observed_at", "pk"))
    records = current_records(course, kinds=("vitals", "neuro", "labs"))
    return CoursePage(course, snapshots=snapshots, records=records, now=now)


def _chart_specs(course, record: CoursePage, today) -> list[dict]:
    """Every chart of the course page: its own, then infection prevention's."""
    return [
        *record.chart_specs(sbp_threshold=course.hypotension_threshold_mmhg(today)),
        *infection_page.charts(record, course.protocol_version),
    ]


@requires(User.can_view_patients)
@require_GET
def course_charts(request, public_id):
    """The course page's charts as JSON, for static/js/course_charts.js: the time axis, the
    grade bands and every chart's points, nothing that moves with the clock (the page says
    where now is).

    The browser keeps the answer and asks again each time the page opens (``no-cache``), with
    the ETag it has (``course_page.charts_etag``, read from the course without a query): until
    a save changes the charts the answer is a 304, built from nothing but the course. Access as
    the course page (``access.get_course_for``).
    """
    course = get_course_for(request.user, public_id)
    now = timezone.now()
    today = timezone.localdate(now)
    etag = charts_etag(course, language=get_language(), today=today)
    response = get_conditional_response(request, etag=etag)
    if response is None:
        record = _chart_record(course, now)
        data = record.charts(_chart_specs(course, record, today))
        # json.dumps never localizes: a German decimal comma could not be parsed.
        response = JsonResponse(data, json_dumps_params={"separators": (",", ":")})
    response["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    return response


@requires(User.can_view_patients)
@require_GET
def course_chart_table(request, public_id, chart: str):
    """One chart's values as a table, newest first: for screen readers and anyone who wants
    the numbers. The course page loads it into the chart's "Values as a table" when it is
    opened (htmx); without JavaScript its link opens it as a page of its own. Access as the
    course page (``access.get_course_for``)."""
    course = get_course_for(request.user, public_id)
    now = timezone.now()
    record = _chart_record(course, now)
    specs = _chart_specs(course, record, timezone.localdate(now))
    spec = next((s for s in specs if s["id"] == f"chart-{chart}"), None)
    if spec is None:
        raise Http404("No such chart.")
    context = {
        "course": course,
        "patient": course.patient,
        "spec": spec,
        "table": chart_table(spec),
    }
    template = "_chart_values.html" if request.htmx else "chart_table.html"
    response = render(request, f"monitoring/common/{template}", context)
    patch_vary_headers(response, ["HX-Request"])  # the partial and the page share the URL
    return response


@requires(User.can_view_patients)
@require_GET
def course_day(request, public_id, day: int):
    """One day of the course (D+day): its summary, the flags raised that day and every check
    with every record (superseded and entered-in-error ones struck through, with who and why).

    The course page loads it into the day's line with htmx; without JavaScript the day's link
    opens it as a page of its own. Access as the course page (``access.get_course_for``).
    """
    course = get_course_for(request.user, public_id)
    # Four digits at most (urls.DayConverter) from a plausible day 0 (a database constraint):
    # always a real date.
    start, end = day_bounds(course, day)
    now = timezone.now()
    checks = list(
        BedsideCheck.objects.filter(course=course, observed_at__gte=start, observed_at__lt=end)
        .select_related("recorded_by", "snapshot", "home_checkin__neuro_screen")
        .prefetch_related(*check_record_prefetches())
        .order_by("-observed_at", "-pk")
    )
    snapshots = [c.snapshot for c in checks if getattr(c, "snapshot", None)]
    confirmations = list(
        GradeConfirmation.objects.filter(snapshot__in=[s.pk for s in snapshots]).select_related(
            "confirmed_by"
        )
    )
    flags = list(
        Flag.objects.filter(course=course, raised_at__gte=start, raised_at__lt=end).order_by(
            "-severity", "-raised_at", "-pk"
        )
    )
    # The day's summary from its current records, as the charts read them.
    current = {kind: [] for kind in CHARTED}
    for check in reversed(checks):  # oldest first
        for kind, model in CHARTED.items():
            for item in getattr(check, f"{model._meta.model_name}_set").all():
                if item.is_current:
                    item.observed_at = check.observed_at
                    current[kind].append(item)
    record = CoursePage(
        course, snapshots=snapshots, records=current, confirmations=confirmations, now=now
    )
    summary = record.day_rows().get(day) or DayRow(day, course.infusion_date + timedelta(days=day))
    context = {
        "course": course,
        "patient": course.patient,
        "day": summary,
        "checks": checks,
        "flags": flags,
        # Back to day 0 (an earlier baseline day is reached from the course page's lines).
        "previous_day": day - 1 if day > 0 else None,
        "next_day": day + 1 if day < course.day_number(now) else None,
    }
    template = "_course_day.html" if request.htmx else "course_day.html"
    response = render(request, f"monitoring/common/{template}", context)
    patch_vary_headers(response, ["HX-Request"])  # the partial and the page share the URL
    return response


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
            confirmed = data["grade"] == getattr(snapshot, f"{data['domain']}_grade")
            text = (
                gettext("%(domain)s grade %(grade)s confirmed for %(at)s.")
                if confirmed
                else gettext("%(domain)s grade %(grade)s overridden for %(at)s.")
            )
            messages.success(
                request,
                text
                % {
                    "domain": data["domain"].upper(),
                    "grade": data["grade"],
                    "at": date_format(
                        timezone.localtime(snapshot.observed_at), "SHORT_DATETIME_FORMAT"
                    ),
                },
            )
            url = reverse("monitoring:patient-course", args=[course.patient.public_id])
            return redirect(f"{url}#grades")
    messages.error(request, gettext("The grade was not confirmed: correct what is marked below."))
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
                gettext("%(treatment)s recorded at %(at)s. Grades at that moment: %(grades)s.")
                % {
                    "treatment": treatment,
                    "at": date_format(
                        timezone.localtime(check.observed_at), "SHORT_DATETIME_FORMAT"
                    ),
                    "grades": services.grades_text(snapshot),
                },
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

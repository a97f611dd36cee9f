"""The treatment journey's pages: register a patient for therapy, move a planned day 0, record
the phases, baseline and follow-up visits (done or missed) of a course, start monitoring at the
infusion, end the journey; the program page (patients by phase); a protocol version's journey
settings. Each action calls one service of monitoring/journey.py; access by role and unit
through monitoring/access.py."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy

from cartmonitor.db_router import replica_reads
from monitoring import journey, journey_rules, services
from monitoring.access import (
    get_course_for,
    requires,
    selected_unit,
    units_for,
    visible_courses,
    visible_units,
)
from monitoring.forms.courses import PatientForm
from monitoring.forms.journey import (
    BaselineForm,
    EndJourneyForm,
    InfusionForm,
    JourneySettingsForm,
    MissedVisitForm,
    MovePlannedInfusionForm,
    PhaseForm,
    PlannedCourseForm,
    VisitForm,
)
from monitoring.models import (
    BaselineItem,
    CoursePhase,
    FollowUpVisit,
    Phase,
    ProtocolVersion,
    TreatmentCourse,
    User,
)
from monitoring.views.courses import _action_page, _known_patient, _show_errors, _shown

PROGRAM_GROUP_SIZE = 50  # rows per group on the program page; more on the group's own pages
# Completed courses stay on the program page while a follow-up visit may still be due.
FOLLOW_UP_HORIZON_DAYS = journey_rules.VISIT_DAY_RANGE[1] + journey_rules.VISIT_WINDOW_RANGE[1]


@requires(User.can_manage_journey)
def register(request):
    """Register a patient for therapy at referral (a new MRN, or a patient on file): a planned
    course with its planned day 0, on one of the user's units."""
    known = _known_patient(request.user, request.GET.get("patient", ""))
    data = request.POST if request.method == "POST" else None
    patient_form = None if known else PatientForm(data, prefix="patient")
    course_form = PlannedCourseForm(data, units=units_for(request.user), prefix="course")
    forms = [f for f in (patient_form, course_form) if f is not None]
    if data is not None and all([f.is_valid() for f in forms]):
        try:
            with transaction.atomic():  # no patient left behind by a course refused
                patient = known or services.admit_patient(**patient_form.values(), by=request.user)
                course = TreatmentCourse(patient=patient, **course_form.values())
                journey.register_course(
                    course=course,
                    referred_on=course_form.cleaned_data["referred_on"],
                    by=request.user,
                )
        except ValidationError as error:
            _show_errors(error, forms)
        else:
            messages.success(
                request,
                gettext("%(patient)s registered for %(product)s, planned day 0 %(day0)s.")
                % {
                    "patient": patient.full_name,
                    "product": course.product_label,
                    "day0": _shown(timezone.localtime(course.infused_at)),
                },
            )
            return redirect(course.get_absolute_url())
    return render(
        request,
        "monitoring/journey/register.html",
        {"known": known, "patient_form": patient_form, "course_form": course_form},
        status=400 if data is not None else 200,
    )


def _planned_course(request, public_id):
    course = get_course_for(request.user, public_id)
    if not course.is_planned:
        messages.info(
            request,
            gettext("This course is not planned any more (%(status)s).")
            % {"status": course.get_status_display()},
        )
    return course


def _dates(dates) -> str:
    start, end = dates
    shown = date_format(start, "SHORT_DATE_FORMAT")
    return f"{shown} – {date_format(end, 'SHORT_DATE_FORMAT')}" if end else shown


def _moved_text(moved: journey.PlannedMove) -> str:
    """What moving the planned day 0 did, for the message back on the course page."""
    text = [
        gettext("Planned day 0 moved %(old)s → %(new)s.")
        % {
            "old": _shown(timezone.localtime(moved.old)),
            "new": _shown(timezone.localtime(moved.new)),
        }
    ]
    phases = [m for m in moved.moved if m.key in journey_rules.PHASES]
    visits = [m for m in moved.moved if m.key not in journey_rules.PHASES]
    for m in phases:
        text.append(
            gettext("%(phase)s now planned %(dates)s.") % {"phase": m.label, "dates": _dates(m.new)}
        )
    if visits:
        text.append(
            gettext("Follow-up visits move with it (%(first)s: %(date)s).")
            % {"first": visits[0].key, "date": _dates(visits[0].new)}
        )
    if moved.kept:
        text.append(
            gettext("Kept as recorded: %(phases)s.")
            % {"phases": ", ".join(str(row.label) for row in moved.kept)}
        )
    if moved.stale:
        text.append(
            gettext("Baseline to repeat (more than 7 days before the new day 0): %(items)s.")
            % {"items": ", ".join(str(row.label) for row in moved.stale)}
        )
    return " ".join(text)


@requires(User.can_manage_courses)
def move_planned_infusion(request, public_id):
    """Move a planned course's day 0 (manufacturing slipped, the slot moved), with a reason:
    the page says what moves with it and which recorded phases keep their dates. Once
    monitoring has started, day 0 is corrected on the course's Correct infusion time page."""
    course = get_course_for(request.user, public_id)
    if course.status == TreatmentCourse.Status.MONITORING:
        messages.info(
            request,
            gettext("Monitoring has started: day 0 is the infusion given. Correct it here."),
        )
        return redirect("monitoring:course-infusion", public_id=course.patient.public_id)
    if not course.is_planned:
        messages.info(
            request,
            gettext("This course is not planned any more (%(status)s).")
            % {"status": course.get_status_display()},
        )
        return redirect(course.get_absolute_url())
    found = journey.journey(course, today=timezone.localdate())
    on_file = timezone.localtime(course.infused_at)

    def save(values):
        return _moved_text(journey.move_planned_infusion(course=course, by=request.user, **values))

    moves = [
        {"label": journey.DateMove(key, dates, dates).label, "start": dates[0], "end": dates[1]}
        for key, dates in journey.counted_from_day0(found).items()
    ]
    return _action_page(
        request,
        course,
        MovePlannedInfusionForm(request.POST or None, initial={"infused_at": on_file}),
        save=save,
        page={
            "title": gettext("Move the planned infusion (day 0)"),
            "intro": gettext(
                "Planned day 0: %(day0)s. Manufacturing late, a slot moved: the dates counted "
                "from day 0 move with it. Phases already recorded keep their dates, and a "
                "baseline taken more than 7 days before the new day 0 must be repeated."
            )
            % {"day0": _shown(on_file)},
            "submit": gettext("Move day 0"),
            "moves": moves,
            "kept": journey.kept_as_recorded(found),
            "baseline_done": [row for row in found.baseline if row.state == "done"],
        },
        template="monitoring/journey/move_day0.html",
    )


@requires(User.can_manage_journey)
def record_phase(request, public_id):
    course = get_course_for(request.user, public_id)
    version = course.protocol_version
    initial = {
        "phase": request.GET.get("phase", "collection"),
        "started_on": timezone.localdate(),
        "regimen": version.conditioning_regimen if version else "",
    }

    def save(values):
        journey.record_phase(course=course, by=request.user, **values)
        return gettext("%(phase)s recorded.") % {"phase": Phase(values["phase"]).label}

    return _action_page(
        request,
        course,
        PhaseForm(request.POST or None, initial=initial),
        save=save,
        page={
            "title": gettext("Record a phase"),
            "intro": gettext(
                "Referral, collection, manufacturing, bridging and conditioning, with their "
                "dates. Recording a phase again completes or corrects it; the earlier record "
                "is kept."
            ),
            "submit": gettext("Save the phase"),
        },
    )


@requires(User.can_manage_journey)
def record_baseline(request, public_id):
    course = _planned_course(request, public_id)
    if not course.is_planned:
        return redirect(course.get_absolute_url())

    def save(values):
        journey.record_baseline(course=course, by=request.user, **values)
        return gettext("Baseline recorded.")

    form = BaselineForm(
        request.POST or None, course=course, initial={"item": request.GET.get("item", "ice")}
    )
    return _action_page(
        request,
        course,
        form,
        save=save,
        page={
            "title": gettext("Record a pre-infusion baseline"),
            "intro": gettext(
                "The baseline ICE score, a handwriting sample if the protocol asks, the weight "
                "(it becomes the weight on file) and the labs the protocol asks for."
            ),
            "submit": gettext("Save the baseline"),
        },
    )


@requires(User.can_manage_journey)
def start_monitoring(request, public_id):
    course = _planned_course(request, public_id)
    if not course.is_planned:
        return redirect(course.get_absolute_url())
    missing = [
        row.label
        for row in journey.baseline_checklist(course, today=timezone.localdate())
        if row.state != "done"
    ]

    def save(values):
        journey.start_monitoring(course=course, by=request.user, **values)
        return gettext("Monitoring started: day 0 %(day0)s. Checks are due from now.") % {
            "day0": _shown(timezone.localtime(values["infused_at"]))
        }

    intro = gettext(
        "The course goes on the worklist and the board, and its checks are due from day 0."
    )
    if missing:
        intro += " " + gettext("Baseline missing or stale: %(items)s.") % {
            "items": ", ".join(str(m) for m in missing)
        }
    return _action_page(
        request,
        course,
        InfusionForm(request.POST or None),
        save=save,
        page={
            "title": gettext("Infusion given: start monitoring"),
            "intro": intro,
            "submit": gettext("Start monitoring"),
        },
    )


def _visit_row(course, day: int):
    """The course's follow-up visit on ``day`` as the course page shows it, or None."""
    return next(
        (v for v in journey.visits(course, today=timezone.localdate()) if v.day == day), None
    )


@requires(User.can_manage_journey)
def record_visit(request, public_id, day: int):
    course = get_course_for(request.user, public_id)
    visit = _visit_row(course, day)

    def save(values):
        journey.record_visit(course=course, day=day, by=request.user, **values)
        return gettext("Follow-up visit D+%(day)s recorded.") % {"day": day}

    if visit is None:
        intro = gettext("This day is not one of the protocol's visit days.")
    else:
        intro = gettext("The protocol asks: %(asks)s") % {"asks": visit.asks}
        if visit.state == "missed":
            intro += " " + gettext(
                "Recorded missed: %(why)s. Recorded done now, it is a late visit; the missed "
                "record is kept."
            ) % {"why": visit.record.missed_reason}
    return _action_page(
        request,
        course,
        VisitForm(request.POST or None),
        save=save,
        page={
            "title": gettext("Follow-up visit D+%(day)s") % {"day": day},
            "intro": intro,
            "submit": gettext("Save the visit"),
        },
    )


@requires(User.can_manage_journey)
def record_missed_visit(request, public_id, day: int):
    """A follow-up visit missed (the patient did not come, the visit was not possible), with
    why: it is no longer overdue; seen later, it is recorded done (a late visit)."""
    course = get_course_for(request.user, public_id)
    visit = _visit_row(course, day)

    def save(values):
        journey.record_missed_visit(course=course, day=day, by=request.user, **values)
        return gettext("Follow-up visit D+%(day)s recorded missed.") % {"day": day}

    if visit is None:
        intro = gettext("This day is not one of the protocol's visit days.")
    else:
        intro = gettext(
            "Due %(date)s ±%(window)s days: %(asks)s. A missed visit is no longer overdue on the "
            "program page; if the patient is seen later, record the visit done."
        ) % {
            "date": date_format(visit.due_on, "SHORT_DATE_FORMAT"),
            "window": visit.window_days,
            "asks": visit.asks,
        }
    return _action_page(
        request,
        course,
        MissedVisitForm(request.POST or None),
        save=save,
        page={
            "title": gettext("Follow-up visit D+%(day)s missed") % {"day": day},
            "intro": intro,
            "submit": gettext("Record as missed"),
        },
    )


@requires(User.can_manage_journey)
def end_journey(request, public_id):
    course = get_course_for(request.user, public_id)

    def save(values):
        values.setdefault("outcome", "")
        journey.end_journey(course=course, by=request.user, **values)
        return gettext("The journey ended.")

    return _action_page(
        request,
        course,
        EndJourneyForm(request.POST or None, planned=course.is_planned),
        save=save,
        page={
            "title": gettext("End the journey"),
            "intro": gettext(
                "A planned course that will not be infused, or the end of a completed course's "
                "follow-up. A course under monitoring ends its monitoring first."
            ),
            "submit": gettext("End the journey"),
            "danger": True,
        },
    )


# ---------------------------------------------------------------------------------------------
# The program page
# ---------------------------------------------------------------------------------------------


@dataclass
class Group:
    key: str
    title: str
    rows: list
    visits: bool = False  # rows are follow-up visits, not courses

    @property
    def count(self) -> int:
        return len(self.rows)


GROUP_TITLES = {
    "due_infusion": gettext_lazy("Due for infusion within a week"),
    "due_conditioning": gettext_lazy("Due for conditioning within a week"),
    **{phase: Phase(phase).label for phase in journey_rules.RECORDED_PHASES},
    "acute_monitoring": Phase.ACUTE_MONITORING.label,
    "visits": gettext_lazy("Follow-up visits due or overdue"),
    "missed": gettext_lazy("Follow-up visits missed"),
    "follow_up": Phase.FOLLOW_UP.label,
}


def program_groups(courses, *, today) -> list[Group]:
    """The courses' journeys grouped for the program page, in a constant number of queries:
    the courses (with patient, unit, version), then their phases, baseline items and visits."""
    courses = list(courses.select_related("patient", "unit", "protocol_version", "product"))
    ids = [c.pk for c in courses]
    phases, items, done = {}, {}, {}
    for row in CoursePhase.objects.current().filter(course_id__in=ids):
        phases.setdefault(row.course_id, []).append(row)
    planned_ids = [c.pk for c in courses if c.is_planned]
    for row in BaselineItem.objects.current().filter(course_id__in=planned_ids):
        items.setdefault(row.course_id, []).append(row)
    for row in FollowUpVisit.objects.current().filter(course_id__in=ids):
        done.setdefault(row.course_id, []).append(row)
    groups = {key: Group(key, title, []) for key, title in GROUP_TITLES.items()}
    groups["visits"].visits = groups["missed"].visits = True
    week = today + timezone.timedelta(days=7)
    for course in courses:
        found = journey.journey(
            course,
            today=today,
            phases=phases.get(course.pk, []),
            items=items.get(course.pk, []),
            done=done.get(course.pk, []),
        )
        if found.phase == Phase.ENDED:
            continue
        groups[found.phase].rows.append(found)
        if course.is_planned:
            if course.infusion_date <= week:
                groups["due_infusion"].rows.append(found)
            conditioning = found.planned_conditioning
            if conditioning and conditioning[0] <= week:
                groups["due_conditioning"].rows.append(found)
        groups["visits"].rows += [v for v in found.visits if v.state in ("due", "overdue")]
        groups["missed"].rows += [v for v in found.visits if v.state == "missed"]
    for group in groups.values():
        if group.visits:
            group.rows.sort(key=lambda v: (v.state != "overdue", v.due_on))
        else:
            group.rows.sort(key=lambda j: (j.course.infused_at, j.course.pk))
    return list(groups.values())


@requires(User.can_view_program)
@replica_reads()
def program(request):
    """Patients by phase of their journey on the user's units: who is in manufacturing, due
    for conditioning or infusion this week, under acute monitoring, due a follow-up visit.
    ``?group=<key>`` pages through one group, PROGRAM_GROUP_SIZE rows a page."""
    units = visible_units(request.user)
    unit = selected_unit(request.GET.getlist("unit"), units)
    now = timezone.now()
    courses = visible_courses(request.user).filter(
        Q(status__in=TreatmentCourse.ACTIVE_STATUSES)
        | Q(
            status=TreatmentCourse.Status.COMPLETED,
            infused_at__gte=now - timezone.timedelta(days=FOLLOW_UP_HORIZON_DAYS),
        )
    )
    if unit is not None:
        courses = courses.filter(unit=unit)
    groups = program_groups(courses, today=timezone.localdate(now))
    wanted = request.GET.get("group", "")
    shown = [g for g in groups if g.key == wanted] or groups
    for group in shown:
        number = request.GET.get("page") if group.key == wanted else 1
        group.page = Paginator(group.rows, PROGRAM_GROUP_SIZE).get_page(number)
    return render(
        request,
        "monitoring/journey/program.html",
        {
            "groups": groups,
            "shown": shown,
            "one_group": len(shown) == 1,
            "units": units,
            "selected_unit": unit,
            "today": timezone.localdate(now),
        },
    )


# ---------------------------------------------------------------------------------------------
# A protocol version's journey settings (admins)
# ---------------------------------------------------------------------------------------------


@requires(User.can_manage_protocols)
def journey_settings(request, pk: int):
    """Edit a version's journey settings through services.revise_protocol: in place while no
    course uses the version, else as a new version (courses keep theirs)."""
    version = get_object_or_404(ProtocolVersion.objects.select_related("protocol"), pk=pk)
    form = JourneySettingsForm(
        request.POST or None, initial=JourneySettingsForm.initial_for(version)
    )
    if request.method == "POST" and form.is_valid():
        try:
            target = services.revise_protocol(
                version=version,
                changes=form.changes(),
                schedules={},
                note=form.cleaned_data["change_note"],
                by=request.user,
            )
        except ValidationError as error:
            _show_errors(error, [form])
        else:
            messages.success(
                request, gettext("Journey settings saved on %(version)s.") % {"version": target}
            )
            return redirect("monitoring:admin-protocol-version", pk=target.pk)
    return render(
        request,
        "monitoring/journey/settings.html",
        {"version": version, "form": form},
        status=400 if request.method == "POST" else 200,
    )

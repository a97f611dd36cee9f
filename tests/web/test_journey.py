"""The treatment journey's services (monitoring/journey.py): register at referral, phases,
baseline, start of monitoring at the infusion, follow-up visits, end. Rules are table-driven and
cite their source (docs/clinical-rules.md, "Treatment journey")."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from monitoring import journey, journey_rules, services
from monitoring.models import (
    AuditEvent,
    BaselineItem,
    CoursePhase,
    FollowUpVisit,
    Phase,
    RecordStatus,
    TreatmentCourse,
)
from tests.factories import CourseFactory, PatientFactory

pytestmark = pytest.mark.django_db


def register(unit, by, *, patient=None, day0_in=timedelta(days=40), referred_ago=10, **extra):
    course = TreatmentCourse(
        patient=patient or PatientFactory(),
        unit=unit,
        product_id=extra.pop("product", "axi-cel"),
        indication="Relapsed large B-cell lymphoma",
        infused_at=timezone.now() + day0_in,
        **extra,
    )
    return journey.register_course(
        course=course,
        referred_on=timezone.localdate() - timedelta(days=referred_ago),
        by=by,
    )


# --- Pure rules (journey_rules) ----------------------------------------------------------------

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("due_on", "window", "done", "state"),
    [
        # Visit days and windows: protocol data, defaults in journey_rules.DEFAULT_VISITS.
        (TODAY + timedelta(days=3), 2, False, "upcoming"),  # before its window
        (TODAY + timedelta(days=2), 2, False, "due"),  # window opens
        (TODAY, 2, False, "due"),
        (TODAY - timedelta(days=2), 2, False, "due"),  # window's last day
        (TODAY - timedelta(days=3), 2, False, "overdue"),
        (TODAY - timedelta(days=30), 2, True, "done"),
        (TODAY, 0, False, "due"),
        (TODAY - timedelta(days=1), 0, False, "overdue"),
    ],
)
def test_visit_state(due_on, window, done, state):
    assert journey_rules.visit_state(due_on, window, TODAY, done=done) == state


@pytest.mark.parametrize(
    ("taken_days_before_day0", "state"),
    [(None, "missing"), (0, "done"), (7, "done"), (8, "stale"), (30, "stale")],
)
def test_baseline_counts_for_a_week_before_day0(taken_days_before_day0, state):
    """A baseline more than 7 days before day 0 is repeated (services.EARLIEST_BEFORE_INFUSION:
    a course's baseline check is at most a week before the infusion)."""
    taken = None if taken_days_before_day0 is None else TODAY - timedelta(taken_days_before_day0)
    assert journey_rules.baseline_state(taken, TODAY) == state


@pytest.mark.parametrize(
    ("status", "recorded", "ended", "phase"),
    [
        ("planned", [], False, "referral"),
        ("planned", ["referral", "collection"], False, "collection"),
        ("planned", ["referral", "collection", "manufacturing"], False, "manufacturing"),
        ("planned", ["referral", "manufacturing", "conditioning"], False, "conditioning"),
        ("monitoring", ["referral", "conditioning"], False, "acute_monitoring"),
        ("completed", [], False, "follow_up"),
        ("completed", ["ended"], True, "ended"),
        ("died", [], False, "ended"),
        ("discontinued", [], False, "ended"),
    ],
)
def test_current_phase(status, recorded, ended, phase):
    assert journey_rules.current_phase(status, recorded, follow_up_ended=ended) == phase


def test_defaults_match_the_sources():
    # Manufacturing 2-4 weeks (issue 14's documents); conditioning D-5 to D-3 (labels' usual
    # fludarabine/cyclophosphamide); visits at 2 weeks (reference §6.2), 1, 3 and 6 months
    # (reference §4.5, §6.1) and a year (§4.6: prophylaxis ≥ 1 year).
    assert journey_rules.DEFAULT_PHASE_DAYS["manufacturing"] == (14, 28)
    assert journey_rules.DEFAULT_CONDITIONING_DAYS == (-5, -3)
    assert [v["day"] for v in journey_rules.default_visits()] == [14, 28, 90, 180, 365]


# --- Registration ------------------------------------------------------------------------------


def test_register_makes_a_planned_course_with_its_referral(ward_a, nurse):
    course = register(ward_a, nurse)

    course.refresh_from_db()
    assert course.status == TreatmentCourse.Status.PLANNED
    assert course.protocol_version is not None
    [referral] = CoursePhase.objects.filter(course=course)
    assert referral.phase == Phase.REFERRAL
    assert referral.started_on == timezone.localdate() - timedelta(days=10)
    event = AuditEvent.objects.get(action=AuditEvent.Action.COURSE_REGISTERED)
    assert "Registered for therapy" in event.summary
    assert "planned day 0" in event.summary
    assert not TreatmentCourse.objects.under_monitoring().exists()  # not on worklist/board


@pytest.mark.parametrize(
    ("day0_in", "ok"),
    [
        (timedelta(days=1), True),
        (timedelta(days=179), True),
        (timedelta(days=181), False),  # journey_rules.PLANNED_AHEAD_DAYS
        (-timedelta(hours=1), False),  # a planned infusion is ahead
    ],
)
def test_planned_day0_up_to_180_days_ahead(ward_a, nurse, day0_in, ok):
    if ok:
        register(ward_a, nurse, day0_in=day0_in)
    else:
        with pytest.raises(ValidationError, match="between now and 180 days ahead"):
            register(ward_a, nurse, day0_in=day0_in)


def test_monitoring_courses_keep_the_week_ahead_limit(ward_a, nurse):
    course = CourseFactory.build(unit=ward_a, patient=PatientFactory())
    course.infused_at = timezone.now() + timedelta(days=30)
    with pytest.raises(ValidationError, match="at most a week"):
        services.start_course(course=course, by=nurse)


def test_one_planned_or_monitored_course_per_patient(ward_a, nurse):
    course = register(ward_a, nurse)
    with pytest.raises(ValidationError, match="already has a planned course"):
        register(ward_a, nurse, patient=course.patient)
    other = CourseFactory.build(unit=ward_a, patient=course.patient)
    with pytest.raises(ValidationError, match="already has a planned course"):
        services.start_course(course=other, by=nurse)
    monitored = CourseFactory(unit=ward_a)
    with pytest.raises(ValidationError, match="already under monitoring"):
        register(ward_a, nurse, patient=monitored.patient)


def test_the_database_refuses_a_second_active_course(ward_a, nurse):
    course = register(ward_a, nurse)
    with pytest.raises(IntegrityError), transaction.atomic():
        CourseFactory(unit=ward_a, patient=course.patient)


# --- Phases ------------------------------------------------------------------------------------


def test_phases_are_recorded_and_corrected_as_amendments(ward_a, nurse):
    course = register(ward_a, nurse)
    today = timezone.localdate()
    first = journey.record_phase(
        course=course, phase="collection", started_on=today - timedelta(days=8), by=nurse
    )
    # Completing it (its end) needs no reason; the first record stays, superseded.
    done = journey.record_phase(
        course=course,
        phase="collection",
        started_on=today - timedelta(days=8),
        ended_on=today - timedelta(days=8),
        by=nurse,
    )
    first.refresh_from_db()
    assert first.status == RecordStatus.AMENDED
    assert done.supersedes == first
    # Changing a recorded date is a correction: a reason, else refused.
    with pytest.raises(ValidationError, match="say why it is corrected"):
        journey.record_phase(
            course=course, phase="collection", started_on=today - timedelta(days=9), by=nurse
        )
    fixed = journey.record_phase(
        course=course,
        phase="collection",
        started_on=today - timedelta(days=9),
        ended_on=today - timedelta(days=9),
        reason="Apheresis was the day before",
        by=nurse,
    )
    assert fixed.reason == "Apheresis was the day before"
    assert CoursePhase.objects.filter(course=course, phase="collection").count() == 3
    assert CoursePhase.objects.current().filter(course=course, phase="collection").get() == fixed
    summaries = list(
        AuditEvent.objects.filter(action=AuditEvent.Action.PHASE_RECORDED).values_list(
            "summary", flat=True
        )
    )
    assert any("corrected" in s and "→" in s and "Apheresis" in s for s in summaries)
    assert journey.phase_of(course) == Phase.COLLECTION


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"phase": "infusion"}, "Choose a phase before the infusion"),
        ({"started_on": date(1999, 1, 1)}, "within the last year"),
        ({"started_on": "tomorrow"}, "within the last year"),
        ({"ended_on": "before"}, "cannot end before it started"),
        ({"phase": "conditioning", "regimen": ""}, "Name the conditioning regimen"),
    ],
)
def test_phase_refusals(ward_a, nurse, values, message):
    course = register(ward_a, nurse)
    today = timezone.localdate()
    args = {"phase": "manufacturing", "started_on": today - timedelta(days=3)}
    args.update(values)
    if args["started_on"] == "tomorrow":
        args["started_on"] = today + timedelta(days=1)
    if args.get("ended_on") == "before":
        args["ended_on"] = args["started_on"] - timedelta(days=1)
    with pytest.raises(ValidationError, match=message):
        journey.record_phase(course=course, by=nurse, **args)
    assert not CoursePhase.objects.filter(course=course).exclude(phase="referral").exists()


def test_manufacturing_longer_than_expected_is_shown(ward_a, nurse):
    course = register(ward_a, nurse)
    journey.record_phase(
        course=course,
        phase="manufacturing",
        started_on=timezone.localdate() - timedelta(days=29),
        by=nurse,
    )
    rows = {r.phase: r for r in journey.journey(course, today=timezone.localdate()).phases}
    assert rows["manufacturing"].expected == (14, 28)
    assert rows["manufacturing"].overrun
    # The conditioning default is planned from day 0: D-5 to D-3.
    day0 = timezone.localdate(course.infused_at)
    assert rows["conditioning"].planned
    assert rows["conditioning"].started_on == day0 - timedelta(days=5)
    assert rows["conditioning"].ended_on == day0 - timedelta(days=3)


# --- Baseline and the start of monitoring ------------------------------------------------------


def test_baseline_checklist_and_start_of_monitoring(ward_a, nurse):
    course = register(ward_a, nurse, day0_in=timedelta(days=2))
    version = course.protocol_version
    version.baseline_handwriting = True
    version.save()
    now = timezone.now()
    journey.record_baseline(course=course, item="ice", ice_score=10, taken_at=now, by=nurse)
    journey.record_baseline(course=course, item="handwriting", taken_at=now, by=nurse)
    journey.record_baseline(course=course, item="weight", weight_kg=72.5, taken_at=now, by=nurse)
    journey.record_baseline(
        course=course, item="lab", lab="crp_mg_l", result="4 mg/L", taken_at=now, by=nurse
    )
    course.patient.refresh_from_db()
    assert course.patient.weight_kg == 72.5  # the baseline weight is the weight on file
    rows = {r.key: r.state for r in journey.baseline_checklist(course, today=now.date())}
    assert rows == {
        "ice:": "done",
        "weight:": "done",
        "handwriting:": "done",
        "lab:crp_mg_l": "done",
        "lab:ferritin_ng_ml": "missing",
        "lab:anc_10e9_l": "missing",
        "lab:platelets_10e9_l": "missing",
    }
    # Again: a reason, the earlier kept.
    with pytest.raises(ValidationError, match="say why"):
        journey.record_baseline(course=course, item="ice", ice_score=9, taken_at=now, by=nurse)
    journey.record_baseline(
        course=course, item="ice", ice_score=9, taken_at=now, reason="Repeated", by=nurse
    )
    assert BaselineItem.objects.filter(course=course, item="ice").count() == 2

    infused = timezone.now() - timedelta(minutes=5)
    journey.start_monitoring(course=course, infused_at=infused, by=nurse)

    course.refresh_from_db()
    assert course.status == TreatmentCourse.Status.MONITORING
    assert course.infused_at == infused
    assert course.status_row.next_due_at is not None  # checks due from day 0
    event = AuditEvent.objects.get(action=AuditEvent.Action.MONITORING_STARTED)
    assert "planned → under monitoring" in event.summary
    assert "ferritin" in event.summary  # what was missing is on the record
    with pytest.raises(ValidationError, match="Only a planned course"):
        journey.start_monitoring(course=course, infused_at=infused, by=nurse)
    with pytest.raises(ValidationError, match="while the course is planned"):
        journey.record_baseline(course=course, item="ice", ice_score=10, taken_at=now, by=nurse)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"item": "ice", "ice_score": 11}, "ICE score is 0–10"),
        ({"item": "ice"}, "ICE score is 0–10"),
        ({"item": "weight", "weight_kg": 0}, "between 1 and 350"),
        ({"item": "lab", "lab": "il6_pg_ml", "result": "3"}, "protocol's pre-infusion labs"),
        ({"item": "lab", "lab": "crp_mg_l"}, "Give the result"),
        ({"item": "x"}, "Choose a baseline item"),
    ],
)
def test_baseline_refusals(ward_a, nurse, values, message):
    course = register(ward_a, nurse)
    with pytest.raises(ValidationError, match=message):
        journey.record_baseline(course=course, taken_at=timezone.now(), by=nurse, **values)
    assert not BaselineItem.objects.exists()


def test_infusion_is_not_in_the_future(ward_a, nurse):
    course = register(ward_a, nurse)
    with pytest.raises(ValidationError, match="not in the future"):
        journey.start_monitoring(
            course=course, infused_at=timezone.now() + timedelta(hours=2), by=nurse
        )
    course.refresh_from_db()
    assert course.status == TreatmentCourse.Status.PLANNED


# --- Follow-up visits and the end --------------------------------------------------------------


def test_visits_due_overdue_done(ward_a, nurse):
    course = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=30))
    today = timezone.localdate()
    states = {v.day: v.state for v in journey.visits(course, today=today)}
    # D+14 ±2 passed: overdue; D+28 ±3 is now: due; later ones upcoming.
    assert states == {14: "overdue", 28: "due", 90: "upcoming", 180: "upcoming", 365: "upcoming"}
    journey.record_visit(
        course=course,
        day=14,
        done_at=course.infused_at + timedelta(days=15),
        notes="ICE 10",
        by=nurse,
    )
    states = {v.day: v.state for v in journey.visits(course, today=today)}
    assert states[14] == "done"
    with pytest.raises(ValidationError, match="visit days"):
        journey.record_visit(course=course, day=15, done_at=timezone.now(), by=nurse)
    with pytest.raises(ValidationError, match="already recorded"):
        journey.record_visit(course=course, day=14, done_at=timezone.now(), by=nurse)
    assert FollowUpVisit.objects.current().get(course=course).notes == "ICE 10"


def test_visits_follow_the_protocol_version(ward_a, nurse, admin_user):
    course = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=3))
    version = course.protocol_version
    new = services.revise_protocol(
        version=version,
        changes={"follow_up_visits": [{"day": 7, "window_days": 1, "asks": "Clinic"}]},
        schedules={},
        note="Weekly clinic",
        by=admin_user,
    )
    assert new.pk != version.pk  # the version was in use: a new version, the course keeps its own
    assert [v.day for v in journey.visits(course, today=timezone.localdate())] == [
        14,
        28,
        90,
        180,
        365,
    ]
    assert new.follow_up_visits == [{"day": 7, "window_days": 1, "asks": "Clinic"}]
    assert new.conditioning_start_day == version.conditioning_start_day  # copied


def test_end_a_planned_course_and_a_follow_up(ward_a, nurse, care_team_member):
    course = register(ward_a, nurse)
    with pytest.raises(ValidationError, match="Choose how the planned course ended"):
        journey.end_journey(
            course=course,
            outcome="completed",
            ended_on=timezone.localdate(),
            reason="x",
            by=nurse,
        )
    journey.end_journey(
        course=course,
        outcome="discontinued",
        ended_on=timezone.localdate(),
        reason="Manufacturing failed",
        by=nurse,
    )
    course.refresh_from_db()
    assert course.status == "discontinued"
    assert course.end_reason == "Manufacturing failed"
    assert journey.phase_of(course) == Phase.ENDED

    done = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=20))
    with pytest.raises(ValidationError, match="end its monitoring first"):
        journey.end_journey(
            course=done, outcome="", ended_on=timezone.localdate(), reason="x", by=nurse
        )
    services.end_monitoring(
        course=done,
        outcome="completed",
        ended_at=timezone.now(),
        reason="Window over",
        by=care_team_member,
    )
    assert journey.phase_of(done) == Phase.FOLLOW_UP
    journey.end_journey(
        course=done, outcome="", ended_on=timezone.localdate(), reason="Lost to follow-up", by=nurse
    )
    assert journey.phase_of(done) == Phase.ENDED
    assert (
        "follow-up → ended"
        in AuditEvent.objects.filter(action=AuditEvent.Action.JOURNEY_ENDED).first().summary
    )


def test_a_planned_course_ended_before_day0_never_reached_the_infusion(ward_a, nurse):
    course = register(ward_a, nurse)
    journey.end_journey(
        course=course,
        outcome="discontinued",
        ended_on=timezone.localdate(),
        reason="Manufacturing failed",
        by=nurse,
    )

    rows = journey.journey(course, today=timezone.localdate()).phases

    # Its day 0 stays the planned one, after the end: no infusion, no acute monitoring.
    assert journey.reached_day0(course) is False
    assert [(r.phase, r.planned) for r in rows] == [("referral", False), ("ended", False)]
    assert rows[-1].detail == "Monitoring discontinued: Manufacturing failed"

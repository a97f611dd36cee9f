"""The journey's gaps a coordinator hits first (monitoring/journey.py): a planned day 0 moved
when manufacturing slips, with the planned conditioning and the follow-up visits moving with it;
follow-up visits missed, no longer overdue, and done late. Rules are table-driven and cite
docs/clinical-rules.md ("Treatment journey")."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from monitoring import journey, journey_rules, services
from monitoring.models import AuditEvent, FollowUpVisit, RecordStatus, TreatmentCourse
from tests.factories import CourseFactory, PatientFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 10)


def register(unit, by, *, day0_in=timedelta(days=20)):
    course = TreatmentCourse(
        patient=PatientFactory(),
        unit=unit,
        product_id="axi-cel",
        indication="Relapsed large B-cell lymphoma",
        infused_at=timezone.now() + day0_in,
    )
    return journey.register_course(
        course=course, referred_on=timezone.localdate() - timedelta(days=30), by=by
    )


def move(course, by, **values):
    args = {"infused_at": course.infused_at + timedelta(days=14), "reason": "Manufacturing late"}
    args.update(values)
    return journey.move_planned_infusion(course=course, by=by, **args)


# --- The rules (journey_rules), ours [M]: docs/clinical-rules.md "Treatment journey" ------------


@pytest.mark.parametrize(
    ("due_on", "window", "done", "missed", "state"),
    [
        (TODAY - timedelta(days=3), 2, False, False, "overdue"),
        (TODAY - timedelta(days=3), 2, False, True, "missed"),  # missed: no longer overdue
        (TODAY, 2, False, True, "missed"),
        (TODAY - timedelta(days=30), 2, True, False, "done"),  # done late undoes missed
    ],
)
def test_a_missed_visit_is_not_overdue(due_on, window, done, missed, state):
    assert journey_rules.visit_state(due_on, window, TODAY, done=done, missed=missed) == state


@pytest.mark.parametrize(
    ("due_on", "window", "can_be_missed"),
    [
        (TODAY + timedelta(days=3), 2, False),  # not due yet: nobody misses it
        (TODAY + timedelta(days=2), 2, True),  # its window opens today
        (TODAY - timedelta(days=10), 2, True),  # overdue
    ],
)
def test_a_visit_is_missed_once_its_window_opens(due_on, window, can_be_missed):
    assert journey_rules.window_opened(due_on, window, TODAY) is can_be_missed


@pytest.mark.parametrize(
    ("done_on", "late"),
    [(TODAY + timedelta(days=2), False), (TODAY + timedelta(days=3), True)],
)
def test_a_visit_done_after_its_window_is_late(done_on, late):
    assert journey_rules.done_late(TODAY, 2, done_on) is late


# --- Moving a planned day 0 --------------------------------------------------------------------


def test_moving_a_planned_day0_moves_conditioning_and_visits(ward_a, nurse, care_team_member):
    course = register(ward_a, nurse)
    old = course.infused_at
    new = old + timedelta(days=14)

    moved = move(course, care_team_member, infused_at=new)

    course.refresh_from_db()
    assert course.infused_at == new
    assert course.status == TreatmentCourse.Status.PLANNED
    found = journey.journey(course, today=timezone.localdate())
    day0 = timezone.localdate(new)
    conditioning = next(r for r in found.phases if r.phase == "conditioning")
    assert conditioning.planned
    assert (conditioning.started_on, conditioning.ended_on) == (
        day0 - timedelta(days=5),  # the protocol's D-5 to D-3 (journey_rules defaults)
        day0 - timedelta(days=3),
    )
    assert [(v.label, v.due_on, v.state) for v in found.visits][:2] == [
        ("D+14", day0 + timedelta(days=14), "planned"),
        ("D+28", day0 + timedelta(days=28), "planned"),
    ]
    assert moved.shift_days == 14
    assert {m.key for m in moved.moved} == {
        "conditioning",
        "D+14",
        "D+28",
        "D+90",
        "D+180",
        "D+365",
    }
    event = AuditEvent.objects.get(action=AuditEvent.Action.PLANNED_DAY0_MOVED)
    assert event.user == care_team_member
    assert "Manufacturing late" in event.summary
    assert "move by +14 day(s)" in event.summary
    old_day0 = timezone.localdate(old)
    assert (
        f"Conditioning {old_day0 - timedelta(days=5)} to {old_day0 - timedelta(days=3)} → "
        f"{day0 - timedelta(days=5)} to {day0 - timedelta(days=3)}" in event.summary
    )
    assert event.details["infused_at"] == [old.isoformat(), new.isoformat()]
    assert event.details["moved"]["D+14"] == [
        [str(old_day0 + timedelta(days=14))],
        [str(day0 + timedelta(days=14))],
    ]


def test_a_recorded_conditioning_keeps_its_dates_and_the_baseline_may_need_repeating(
    ward_a, nurse, care_team_member
):
    course = register(ward_a, nurse, day0_in=timedelta(days=3))
    started = timezone.localdate() - timedelta(days=1)
    journey.record_phase(
        course=course,
        phase="conditioning",
        started_on=started,
        regimen="Fludarabine/cyclophosphamide",
        by=nurse,
    )
    journey.record_baseline(
        course=course, item="ice", ice_score=10, taken_at=timezone.now(), by=nurse
    )

    moved = move(course, care_team_member, infused_at=course.infused_at + timedelta(days=21))

    assert [row.phase for row in moved.kept] == ["conditioning"]
    assert "conditioning" not in {m.key for m in moved.moved}
    rows = {r.phase: r for r in journey.journey(course, today=timezone.localdate()).phases}
    assert (rows["conditioning"].started_on, rows["conditioning"].planned) == (started, False)
    # The baseline ICE was taken today: 24 days before the new day 0 it no longer counts
    # (journey_rules.BASELINE_VALID_DAYS, 7).
    assert [row.key for row in moved.stale] == ["ice:"]
    summary = AuditEvent.objects.get(action=AuditEvent.Action.PLANNED_DAY0_MOVED).summary
    assert f"kept as recorded: Conditioning from {started}" in summary
    assert "baseline to repeat (more than 7 days before day 0): Baseline ICE score" in summary


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"reason": "  "}, "Say why the planned infusion moves"),
        ({"infused_at": "past"}, "between now and 180 days ahead"),
        ({"infused_at": "181 days"}, "between now and 180 days ahead"),
        ({"infused_at": "same"}, "already"),
        ({"infused_at": "before birth"}, "before the patient.s date of birth"),
    ],
)
def test_moving_day0_refusals_change_nothing(ward_a, nurse, care_team_member, values, message):
    course = register(ward_a, nurse)
    on_file = course.infused_at
    wanted = {
        "past": timezone.now() - timedelta(hours=1),
        "181 days": timezone.now() + timedelta(days=181),
        "same": on_file,
    }
    if values.get("infused_at") == "before birth":
        course.patient.date_of_birth = timezone.localdate() + timedelta(days=40)
        course.patient.save(update_fields=["date_of_birth"])
        values["infused_at"] = timezone.now() + timedelta(days=30)
    elif "infused_at" in values:
        values["infused_at"] = wanted[values["infused_at"]]

    with pytest.raises(ValidationError, match=message):
        move(course, care_team_member, **values)

    course.refresh_from_db()
    assert course.infused_at == on_file
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PLANNED_DAY0_MOVED).exists()


def test_under_monitoring_day0_is_corrected_not_moved(ward_a, nurse, care_team_member):
    monitored = CourseFactory(unit=ward_a)
    with pytest.raises(ValidationError, match="Correct infusion time"):
        move(monitored, care_team_member, infused_at=timezone.now() + timedelta(days=3))
    planned = register(ward_a, nurse)
    journey.end_journey(
        course=planned,
        outcome="discontinued",
        ended_on=timezone.localdate(),
        reason="Manufacturing failed",
        by=nurse,
    )
    with pytest.raises(ValidationError, match="not planned any more"):
        move(planned, care_team_member)
    # And the correction of day 0 leaves a planned course to the move: one path each.
    other = register(ward_a, nurse)
    with pytest.raises(ValidationError, match="Move planned day 0"):
        services.correct_infusion_time(
            course=other,
            infused_at=timezone.now() + timedelta(days=2),
            reason="x",
            by=care_team_member,
        )


# --- Missed follow-up visits -------------------------------------------------------------------


def followed(ward_a, days=30):
    """A course infused ``days`` ago: at 30 days D+14 ±2 is overdue and D+28 ±3 due."""
    return CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=days))


def test_a_missed_visit_is_recorded_with_why_and_done_later_is_late(ward_a, nurse):
    course = followed(ward_a)
    today = timezone.localdate()

    missed = journey.record_missed_visit(
        course=course, day=14, reason="Did not come: no transport", by=nurse
    )

    states = {v.day: v.state for v in journey.visits(course, today=today)}
    assert states[14] == "missed"  # no longer overdue
    assert states[28] == "due"
    event = AuditEvent.objects.get(action=AuditEvent.Action.VISIT_MISSED)
    assert "D+14" in event.summary
    assert "missed: Did not come: no transport" in event.summary
    assert event.user == nurse

    # Seen later: recorded done (no reason asked), a late visit; the missed record is kept.
    done = journey.record_visit(
        course=course, day=14, done_at=timezone.now() - timedelta(days=1), by=nurse
    )
    missed.refresh_from_db()
    assert missed.status == RecordStatus.AMENDED
    assert done.supersedes == missed
    visit = next(v for v in journey.visits(course, today=today) if v.day == 14)
    assert (visit.state, visit.late) == ("done", True)
    summary = AuditEvent.objects.filter(action=AuditEvent.Action.VISIT_RECORDED).get().summary
    assert "was missed: Did not come: no transport" in summary


@pytest.mark.parametrize(
    ("day", "before", "message"),
    [
        (90, None, "not due yet"),  # D+90 ±14 opens at D+76
        (15, None, "visit days"),
        (14, "done", "recorded done"),
        (14, "missed", "already recorded missed"),
        (14, "no reason", "Say why the visit was missed"),
    ],
)
def test_missed_visit_refusals(ward_a, nurse, day, before, message):
    course = followed(ward_a)
    if before == "done":
        journey.record_visit(course=course, day=14, done_at=timezone.now(), by=nurse)
    elif before == "missed":
        journey.record_missed_visit(course=course, day=14, reason="Did not come", by=nurse)
    count = FollowUpVisit.objects.count()

    with pytest.raises(ValidationError, match=message):
        journey.record_missed_visit(
            course=course, day=day, reason="" if before == "no reason" else "Admitted", by=nurse
        )

    assert FollowUpVisit.objects.count() == count


def test_a_planned_course_has_no_visit_to_miss(ward_a, nurse):
    course = register(ward_a, nurse)
    with pytest.raises(ValidationError, match="start after the infusion"):
        journey.record_missed_visit(course=course, day=14, reason="x", by=nurse)

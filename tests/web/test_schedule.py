"""Due and overdue checks: protocol intervals from the last check, tightened when sick,
deferred by a check not done — across midnight and daylight-saving changes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from monitoring import services
from monitoring.models import CourseStatus
from monitoring.schedule import add_interval, due_checks, human_duration
from tests.factories import ROOM_AIR

PARIS = ZoneInfo("Europe/Paris")


def due_by_type(course, now):
    status = CourseStatus.objects.get(course=course)
    return {due.check_type: due for due in due_checks(course, status, now=now)}


@pytest.fixture
def protocol_course(course):
    course.protocol_version = services.protocol_version_for(course.product_id)
    course.save()
    return course


def test_the_default_protocol_is_a_marked_template_with_four_schedules(protocol_course):
    version = protocol_course.protocol_version
    assert version.is_template
    intervals = {s.check_type: s.interval_minutes for s in version.schedules.all()}
    assert intervals == {"vitals": 240, "symptoms": 240, "neuro": 480, "labs": 1440}


def test_vital_signs_are_due_four_hours_after_the_last_and_overdue_after(protocol_course, nurse):
    done = timezone.now() - timedelta(hours=5)
    services.record_check(
        course=protocol_course, by=nurse, observed_at=done, vitals={"temp_c": 37.0, **ROOM_AIR}
    )

    due = due_by_type(protocol_course, now=done + timedelta(hours=5))["vitals"]

    assert due.next_due == done + timedelta(hours=4)
    assert due.overdue_by == timedelta(hours=1)
    assert human_duration(due.overdue_by) == "1 h 00 min"


def test_vital_signs_tighten_to_hourly_at_crs_grade_2(protocol_course, nurse):
    done = timezone.now() - timedelta(minutes=90)
    services.record_check(
        course=protocol_course,
        by=nurse,
        observed_at=done,
        vitals={**ROOM_AIR, "temp_c": 38.6, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )

    due = due_by_type(protocol_course, now=timezone.now())["vitals"]

    assert due.interval == timedelta(hours=1)
    assert due.is_overdue


def test_ice_tightens_to_two_hourly_once_a_point_is_lost(protocol_course, nurse):
    ice_9 = {
        "ice_orientation": 3,
        "ice_naming": 3,
        "ice_commands": 1,
        "ice_writing": 1,
        "ice_attention": 1,
        "consciousness": "alert",
    }
    services.record_check(course=protocol_course, by=nurse, observed_at=timezone.now(), neuro=ice_9)

    assert due_by_type(protocol_course, timezone.now())["neuro"].interval == timedelta(hours=2)


def test_a_check_not_done_because_off_the_unit_is_retried_in_an_hour(protocol_course, nurse):
    done = timezone.now() - timedelta(hours=5)
    services.record_check(
        course=protocol_course, by=nurse, observed_at=done, vitals={"temp_c": 37.0, **ROOM_AIR}
    )
    attempted = timezone.now() - timedelta(minutes=10)
    services.record_check_not_done(
        course=protocol_course,
        check_type="vitals",
        reason="off_unit",
        note="CT scan",
        observed_at=attempted,
        by=nurse,
    )

    due = due_by_type(protocol_course, now=timezone.now())["vitals"]

    assert due.next_due == attempted + timedelta(hours=1)
    assert not due.is_overdue
    assert "Off the unit" in due.deferred_reason


def test_asleep_per_order_defers_a_full_interval(protocol_course, nurse):
    attempted = timezone.now() - timedelta(minutes=10)
    services.record_check_not_done(
        course=protocol_course,
        check_type="neuro",
        reason="asleep_per_order",
        observed_at=attempted,
        by=nurse,
    )

    due = due_by_type(protocol_course, now=timezone.now())["neuro"]

    assert due.next_due == attempted + timedelta(hours=8)


def test_a_check_never_done_is_due_from_day_0(protocol_course):
    CourseStatus.objects.create(course=protocol_course)

    due = due_by_type(protocol_course, now=timezone.now())["labs"]

    assert due.next_due == protocol_course.infused_at
    assert due.is_overdue


@pytest.mark.parametrize(
    ("start", "interval", "local_due", "real_hours"),
    [
        # Across midnight: four hours are four hours.
        (
            datetime(2026, 3, 1, 22, 30, tzinfo=PARIS),
            timedelta(hours=4),
            datetime(2026, 3, 2, 2, 30, tzinfo=PARIS),
            4,
        ),
        # Clocks go from 02:00 to 03:00 on 29 March 2026 in Paris: four real hours.
        (
            datetime(2026, 3, 29, 0, 0, tzinfo=PARIS),
            timedelta(hours=4),
            datetime(2026, 3, 29, 5, 0, tzinfo=PARIS),
            4,
        ),
        # Clocks go back from 03:00 to 02:00 on 25 October 2026: daily labs keep their local
        # time, and that day lasts 25 hours.
        (
            datetime(2026, 10, 24, 6, 0, tzinfo=PARIS),
            timedelta(days=1),
            datetime(2026, 10, 25, 6, 0, tzinfo=PARIS),
            25,
        ),
    ],
    ids=["midnight", "spring-dst", "autumn-dst-daily"],
)
def test_intervals_across_midnight_and_dst(settings, start, interval, local_due, real_hours):
    settings.TIME_ZONE = "Europe/Paris"
    with timezone.override(PARIS):
        due = add_interval(start, interval)
        assert due == local_due  # the same local wall-clock time in Paris
        assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=real_hours)


def test_nothing_is_due_after_the_monitoring_window(protocol_course):
    CourseStatus.objects.create(course=protocol_course)
    after_window = protocol_course.infused_at + timedelta(days=15)

    assert due_by_type(protocol_course, now=after_window) == {}


def test_the_status_row_keeps_the_earliest_due_time_that_boards_search(protocol_course, nurse):
    done = timezone.now() - timedelta(hours=5)
    services.record_check(
        course=protocol_course,
        by=nurse,
        observed_at=done,
        vitals={"temp_c": 37.0, **ROOM_AIR},
        symptoms={"fatigue": True},
    )
    services.record_check_not_done(
        course=protocol_course, check_type="vitals", reason="off_unit", by=nurse
    )
    status = CourseStatus.objects.get(course=protocol_course)

    on_read = due_checks(protocol_course, status, now=timezone.now())

    assert status.next_due_at == min(due.next_due for due in on_read)
    assert status.monitoring_ends_at == protocol_course.infused_at + timedelta(days=14)

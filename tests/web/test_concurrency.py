"""Two nurses save checks for the same course at the same moment: both checks persist and the
course's status row agrees with them.

Real threads, each with its own database connection, so the test needs committed data
(``transaction=True``). On SQLite the writers queue on BEGIN IMMEDIATE and busy_timeout; on
PostgreSQL they queue on the course's status row (services._lock_status, SELECT ... FOR
UPDATE). Run it on both:
DATABASE_URL=postgres://postgres@127.0.0.1:5432/cartmonitor pytest tests/web/test_concurrency.py
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitoring import services
from monitoring.models import BedsideCheck, CourseStatus, Flag, GradeSnapshot, TreatmentCourse
from tests.factories import ROOM_AIR, CourseFactory

pytestmark = pytest.mark.django_db(transaction=True)

# Both febrile, so both want the course's one open CRS flag: a lost lock shows up as a
# duplicate flag (refused by the database) or a count that is off.
FEVER_ON_OXYGEN = {**ROOM_AIR, "temp_c": 38.6, "oxygen_support": "low_flow", "oxygen_flow_l_min": 4}
FEVER_ON_ROOM_AIR = {**ROOM_AIR, "temp_c": 38.9}
CONFUSED = {"confusion": True}


def save_together(saves: list[tuple[int, dict]]) -> list[Exception]:
    """services.record_check once per (course id, arguments), all released at one instant."""
    barrier = threading.Barrier(len(saves))
    errors: list[Exception] = []

    def save(course_id, kwargs):
        try:
            # Each thread loads its own course: model instances are not shared across threads.
            course = TreatmentCourse.objects.select_related("patient").get(pk=course_id)
            barrier.wait(timeout=10)
            services.record_check(course=course, **kwargs)
        except Exception as error:  # noqa: BLE001 — reported by the test, with its type
            errors.append(error)
        finally:
            connection.close()  # this thread's connection; the test database is dropped later

    threads = [threading.Thread(target=save, args=save_args) for save_args in saves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a save never finished (deadlock?)"
    return errors


def assert_status_agrees_with_the_records(course) -> None:
    status = CourseStatus.objects.get(course=course)
    latest = GradeSnapshot.objects.filter(course=course).order_by("-observed_at", "-pk").first()
    unresolved = Flag.objects.unresolved().filter(course=course)

    assert status.latest_snapshot_id == latest.pk
    assert status.last_check_at == latest.observed_at
    assert status.crs_grade == latest.crs_grade
    assert status.icans_grade == latest.icans_grade
    assert status.open_flag_count == unresolved.count()
    assert status.worst_open_severity == max(
        unresolved.values_list("severity", flat=True), default=0
    )
    # One unresolved flag per kind (the database's rule): never two from two writers.
    kinds = list(unresolved.values_list("kind", flat=True))
    assert len(kinds) == len(set(kinds))


def graded_history(course) -> list[tuple]:
    """(CRS, ICANS) of each check in clinical order, and the unresolved flags by severity.

    Not which snapshot a flag points at: an open flag follows the check that last touched it,
    so that depends on the order of entry by design, concurrent or not.
    """
    grades = GradeSnapshot.objects.filter(course=course).order_by("observed_at", "pk")
    flags = Flag.objects.unresolved().filter(course=course).order_by("kind")
    return [
        *grades.values_list("crs_grade", "icans_grade"),
        *flags.values_list("kind", "severity"),
    ]


@pytest.mark.parametrize("history", [False, True], ids=["first-checks", "with-history"])
def test_two_nurses_saving_at_once_both_persist_and_the_status_row_agrees(
    nurse, care_team_member, course, ward_a, history
):
    # A twin course gets the same checks one after the other: concurrency must not change
    # any grade, whichever transaction commits first.
    twin = CourseFactory(unit=ward_a, infused_at=course.infused_at)
    now = timezone.now()
    earlier = {"by": nurse, "observed_at": now - timedelta(minutes=10), "vitals": FEVER_ON_OXYGEN}
    later = {
        "by": care_team_member,
        "observed_at": now - timedelta(minutes=5),
        "vitals": FEVER_ON_ROOM_AIR,
        "symptoms": CONFUSED,
    }
    for target in (course, twin):
        if history:
            # A status row exists: the writers queue on it. Without history, both also race
            # to create the row (get_or_create) before locking it.
            services.record_check(
                course=target,
                by=nurse,
                observed_at=now - timedelta(hours=2),
                vitals={**ROOM_AIR, "temp_c": 37.0},
            )
    before = BedsideCheck.objects.filter(course=course).count()

    errors = save_together([(course.pk, earlier), (course.pk, later)])
    for save in (earlier, later):
        services.record_check(course=twin, **save)

    assert errors == []
    assert BedsideCheck.objects.filter(course=course).count() == before + 2
    assert GradeSnapshot.objects.filter(course=course).count() == before + 2
    assert_status_agrees_with_the_records(course)
    assert graded_history(course) == graded_history(twin)


def test_two_checks_in_the_same_minute_both_persist_and_the_later_saved_one_is_current(
    nurse, care_team_member, course
):
    # The form has minute resolution, so two nurses at one bedside often share a time.
    same_minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=1)

    errors = save_together(
        [
            (course.pk, {"by": nurse, "observed_at": same_minute, "vitals": FEVER_ON_OXYGEN}),
            (
                course.pk,
                {"by": care_team_member, "observed_at": same_minute, "vitals": FEVER_ON_ROOM_AIR},
            ),
        ]
    )

    assert errors == []
    assert BedsideCheck.objects.filter(course=course).count() == 2
    assert_status_agrees_with_the_records(course)


def test_many_nurses_at_once_on_several_courses_all_persist(nurse, ward_a):
    # Four writers on two courses: writers of different courses must not block each other
    # into a timeout, and each course's row must still agree with its own records.
    courses = [CourseFactory(unit=ward_a), CourseFactory(unit=ward_a)]
    now = timezone.now()
    saves = [
        (
            course.pk,
            {
                "by": nurse,
                "observed_at": now - timedelta(minutes=minutes),
                "vitals": FEVER_ON_ROOM_AIR,
            },
        )
        for course in courses
        for minutes in (3, 4)
    ]

    errors = save_together(saves)

    assert errors == []
    for course in courses:
        assert BedsideCheck.objects.filter(course=course).count() == 2
        assert_status_agrees_with_the_records(course)


ON_POSTGRESQL = connection.vendor == "postgresql"


def test_an_acknowledgement_made_while_a_check_is_saving_is_kept(
    nurse, care_team_member, course, monkeypatch
):
    now = timezone.now()
    services.record_check(
        course=course, by=nurse, observed_at=now - timedelta(hours=1), vitals=FEVER_ON_ROOM_AIR
    )
    flag = Flag.objects.get(course=course, kind=Flag.Kind.CRS)
    # Hold the saving check just before it writes its flags, until the acknowledgement is in
    # (at most a second: on SQLite the acknowledgement waits for the check instead).
    saving, acknowledged = threading.Event(), threading.Event()
    save_flags = services._save_flags

    def held_save(engine):
        saving.set()
        acknowledged.wait(timeout=1)
        save_flags(engine)

    monkeypatch.setattr(services, "_save_flags", held_save)
    errors: list[Exception] = []

    def record():
        try:
            fresh = TreatmentCourse.objects.select_related("patient").get(pk=course.pk)
            services.record_check(
                course=fresh,
                by=nurse,
                observed_at=now - timedelta(minutes=5),
                vitals=FEVER_ON_ROOM_AIR,
            )
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            saving.set()  # never leave the main thread waiting, even on an error
            connection.close()

    def acknowledge():
        try:
            services.acknowledge_flag(flag=flag, by=care_team_member, note="Seen, on my way")
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            acknowledged.set()
            connection.close()

    recorder = threading.Thread(target=record)
    recorder.start()
    assert saving.wait(timeout=10)
    acknowledger = threading.Thread(target=acknowledge)
    acknowledger.start()
    recorder.join(timeout=30)
    acknowledger.join(timeout=30)

    assert errors == []
    flag.refresh_from_db()
    # Same severity as before: the new check must not undo the nurse's acknowledgement.
    assert flag.status == Flag.Status.ACKNOWLEDGED
    assert flag.acknowledged_by == care_team_member
    assert flag.acknowledge_note == "Seen, on my way"

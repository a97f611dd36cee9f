"""The demo hospital: realistic, idempotent, identical to what the live write path produces."""

from datetime import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from monitoring import services
from monitoring.demo.engagers import ENGAGER_COURSES
from monitoring.models import (
    BedsideCheck,
    CourseStatus,
    Flag,
    GradeSnapshot,
    NeuroAssessment,
    Treatment,
    TreatmentCourse,
    Unit,
    User,
    VitalSigns,
)


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=StringIO())


def test_the_default_demo_is_a_small_realistic_hospital(demo):
    assert Unit.objects.count() >= 2
    courses = TreatmentCourse.objects.under_monitoring().select_related("patient")
    assert courses.count() == 12 + ENGAGER_COURSES  # CAR-T patients, then the engagers
    assert len({c.day_number() for c in courses}) >= 8  # patients at different days
    # Every clinical situation the worklist and grading must show is there.
    assert VitalSigns.objects.filter(temp_c__gte=38).exists()  # fever
    assert VitalSigns.objects.filter(sbp_mmhg__lt=90).exists()  # hypotension
    assert VitalSigns.objects.filter(vasopressors_count__gte=1).exists()
    devices = set(VitalSigns.objects.values_list("oxygen_support", flat=True))
    assert {"low_flow", "high_flow", "facemask"} <= devices
    assert NeuroAssessment.objects.filter(ice_total__lt=10).exists()  # ICE drop
    assert NeuroAssessment.objects.filter(capd_total__isnull=False).exists()  # a child, CAPD
    assert any(c.patient.uses_capd_on(timezone.localdate()) for c in courses)
    drugs = set(Treatment.objects.values_list("drug", flat=True))
    assert {"tocilizumab", "dexamethasone"} <= drugs
    assert not BedsideCheck.objects.filter(observed_at__gt=timezone.now()).exists()
    assert CourseStatus.objects.filter(course__status="monitoring").count() == 12 + ENGAGER_COURSES


def test_the_demo_has_patients_in_every_phase_of_the_journey(demo):
    from monitoring import journey
    from monitoring.models import Phase

    today = timezone.localdate()
    phases = set()
    states = set()
    for course in TreatmentCourse.objects.all():
        found = journey.journey(course, today=today)
        phases.add(found.phase)
        states |= {v.state for v in found.visits}
    assert phases == set(Phase.values) - {"infusion"}  # day 0 is a moment, not a stay
    assert {"done", "due", "overdue"} <= states


def test_the_demo_has_an_outpatient_teclistamab_course_with_clinic_and_phone_checks(demo):
    from monitoring.models import AuditEvent, CourseDose

    outpatient = TreatmentCourse.objects.get(patient__mrn="DEMO-TEC-02")
    assert outpatient.product_id == "teclistamab"
    assert outpatient.is_outpatient
    assert outpatient.is_under_monitoring
    # The step-up schedule on the ward (the label's 48 h after each dose), then discharged.
    assert set(outpatient.doses.values_list("status", flat=True)) == {CourseDose.Status.GIVEN}
    settings = set(outpatient.checks.values_list("setting", flat=True))
    assert settings == {"ward", "clinic", "phone"}
    discharged = AuditEvent.objects.get(
        course=outpatient, action=AuditEvent.Action.CARE_SETTING_CHANGED
    )
    assert "inpatient → outpatient" in discharged.summary
    # The engager whose next dose waits on a gate is still there.
    assert _epcoritamab_gate() == ["crs_recent"]


def _epcoritamab_gate() -> list[str]:
    from monitoring import dosing

    epcoritamab = TreatmentCourse.objects.get(patient__mrn="DEMO-EPC-01")
    doses = list(dosing._doses(epcoritamab))
    gate = dosing.gate_now(
        epcoritamab,
        dosing.next_dose(doses),
        doses=doses,
        points=dosing.grade_points(epcoritamab),
        steps=dosing.steps_of(epcoritamab),
    )
    return [p.code for p in gate.problems]


@pytest.mark.parametrize("clock", ["00:20", "09:00", "21:30", "23:50"])
def test_the_gated_engager_dose_is_due_today_at_any_hour_of_seeding(db, clock):
    # CI seeded the demo after 21:00 and dose 2 (day 8, calendar days) fell on tomorrow: the
    # gate said "too soon" besides the CRS it is there to show.
    from monitoring.demo.seeding import seed

    hours, minutes = map(int, clock.split(":"))
    moment = datetime(2026, 11, 20, hours, minutes, tzinfo=timezone.get_current_timezone())
    with time_machine.travel(moment, tick=True):
        seed(patients=2, units=1)
        assert _epcoritamab_gate() == ["crs_recent"]


def test_demo_users_have_their_roles_and_units(demo):
    nurse = User.objects.get(username="demo-nurse")
    care = User.objects.get(username="demo-care")
    admin = User.objects.get(username="demo-admin")
    assert (nurse.role, nurse.units.count()) == (User.Role.NURSE, 1)
    assert (care.role, care.units.count()) == (User.Role.CARE_TEAM, Unit.objects.count())
    assert admin.role == User.Role.ADMIN
    assert admin.is_staff
    for user in (nurse, care, admin):
        assert user.check_password("cartmonitor-demo")


def test_seeding_twice_adds_nothing(demo):
    counts = [m.objects.count() for m in (Unit, User, TreatmentCourse, BedsideCheck, Flag)]

    call_command("seed_demo", stdout=StringIO())

    assert [m.objects.count() for m in (Unit, User, TreatmentCourse, BedsideCheck, Flag)] == counts


def test_demo_grades_are_what_the_live_write_path_computes(demo):
    for course in TreatmentCourse.objects.select_related("patient"):
        timeline = services.load_timeline(course)
        for snapshot in GradeSnapshot.objects.filter(course=course).order_by("-observed_at")[:5]:
            recomputed = timeline.grade_at(snapshot.observed_at).snapshot_fields()
            assert (snapshot.crs_grade, snapshot.icans_grade, snapshot.crs_reasons) == (
                recomputed["crs_grade"],
                recomputed["icans_grade"],
                recomputed["crs_reasons"],
            )
        status = course.status_row
        assert status.open_flag_count == Flag.objects.unresolved().filter(course=course).count()


def test_at_least_one_demo_check_is_overdue(demo):
    # Vital signs are due every 4 h (reference §6.1); the demo shows a patient past due.
    overdue = CourseStatus.objects.filter(
        last_check_at__lt=timezone.now() - timezone.timedelta(hours=6)
    )
    assert overdue.exists()


@pytest.mark.slow
def test_a_large_hospital_spreads_its_patients_over_every_unit(db):
    # Three patients a unit on fifty units: the shape `make bench` seeds at 1,000 patients
    # (scripts/bench.py), at a size the suite can afford twice per CI run (seeding a thousand
    # took 9 of CI's 24 minutes). The bench itself exercises the thousand.
    patients = 150
    call_command("seed_demo", patients=patients, units=50, days=2, stdout=StringIO())

    # The simulated courses and the engagers; the journeys' few (monitoring/demo/journey.py)
    # come on top.
    simulated = TreatmentCourse.objects.filter(patient__mrn__startswith="DEMO-")
    assert simulated.count() == patients + ENGAGER_COURSES
    assert Unit.objects.count() == 50
    assert CourseStatus.objects.filter(course__in=simulated).count() == patients + ENGAGER_COURSES
    assert GradeSnapshot.objects.count() == BedsideCheck.objects.count()
    per_unit = TreatmentCourse.objects.values("unit").distinct().count()
    assert per_unit == 50
    assert not BedsideCheck.objects.filter(observed_at__gt=timezone.now()).exists()


def test_the_demo_has_an_outpatient_with_a_caregiver_who_signs_in_from_home(db):
    """Issue 15: `make run` prints how to sign in as the caregiver; the code comes by e-mail
    (the console backend in the demo) and opens that course's home page."""
    import re

    from django.core import mail
    from django.test import Client

    from monitoring.demo.home import CAREGIVER_EMAIL
    from monitoring.models import HomeAccess
    from tests.home_helpers import send_queued_codes

    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)  # again: the same one caregiver

    access = HomeAccess.objects.select_related("course__unit", "user").get()
    assert (access.kind, access.course.care_setting) == ("caregiver", "outpatient")
    assert access.course.unit.contact_phone
    assert access.user.email == CAREGIVER_EMAIL
    assert f"enter {CAREGIVER_EMAIL}" in out.getvalue()
    assert "/home/login/" in out.getvalue()
    phone = Client(REMOTE_ADDR="203.0.113.99")
    phone.post("/home/login/", {"action": "email", "email-email": CAREGIVER_EMAIL})
    send_queued_codes()  # the job worker's part
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    assert phone.post("/home/login/code/", {"code": code}).url == "/home/"
    home_page = phone.get("/home/").content.decode()
    assert "for the monitoring of" in home_page
    # Two check-ins from home, graded like any check; the latest (1 h ago, in °F) is listed.
    checkins = list(access.course.home_checkins.select_related("check_entry__snapshot"))
    assert len(checkins) == 2
    assert all(c.check_entry.setting == "home" and c.check_entry.snapshot for c in checkins)
    latest = max(checkins, key=lambda c: c.entered_at)
    if timezone.localdate(latest.entered_at) == timezone.localdate():  # not just after midnight
        assert "99.1 °F" in home_page
    # Issue 15 §2: a baseline handwriting sample, and one the caregiver sent from home, which
    # waits as a flag for the team to compare them (once, however often the demo is seeded).
    samples = access.course.handwriting_samples.order_by("taken_at")
    assert [(s.kind, s.recorded_by.username) for s in samples] == [
        ("baseline", "demo-care"),
        ("home", "demo-caregiver"),
    ]
    assert access.course.flags.filter(kind="handwriting", status="open").count() == 1


def test_every_seeded_grade_is_what_the_engine_gives_when_the_course_is_replayed(demo):
    # The demo is simulated in memory and written in bulk (COPY on PostgreSQL): every moment
    # of every course, loaded back from the database and graded again by the live engine, must
    # show the nurse exactly what was stored — grades, reasons, review calls, NEWS2, inputs.
    graded = ("crs_grade", "icans_grade", "crs_reasons", "icans_reasons", "review_reasons")
    graded += ("crs_needs_review", "icans_needs_review", "news2_total", "news2_risk", "inputs")
    simulated = TreatmentCourse.objects.filter(patient__mrn__regex=r"^DEMO-\d+$")
    moments = 0
    for course in simulated.select_related("patient", "status_row"):
        engine, snapshots = services.load_engine(course)
        checks = set(course.checks.values_list("pk", flat=True))
        assert {s.check_entry_id for s in snapshots} <= checks  # each on its own check
        for snapshot in snapshots:
            recomputed = engine.grade(snapshot.observed_at).snapshot_fields()
            stored = {name: getattr(snapshot, name) for name in graded}
            assert stored == {name: recomputed[name] for name in graded}, snapshot.observed_at
            moments += 1
        latest = max(snapshots, key=lambda s: (s.observed_at, s.pk))
        assert course.status_row.latest_snapshot_id == latest.pk
        assert course.status_row.crs_grade == latest.crs_effective
        flags = Flag.objects.filter(course=course)
        flags = flags.filter(snapshot__isnull=False).select_related("snapshot")
        assert all(f.snapshot.course_id == course.pk for f in flags)
    assert moments > 12 * 20  # every moment of the twelve courses, not a sample


def test_worker_processes_simulate_exactly_the_rows_one_process_does(db):
    # seed_demo --workers 2 (the default for a large hospital) must write the same hospital
    # as one process: same checks, values, grades, flags and status rows, in the same order.
    import copy
    from datetime import UTC, datetime

    from monitoring.demo import seeding

    now = datetime(2026, 12, 4, 15, 37, tzinfo=UTC)
    units = seeding._ensure_units(2)
    seeding._ensure_demo_users(units[:1], units)
    nurses = seeding._ensure_unit_nurses(units)
    jobs = seeding.course_jobs(patients=6, units=units, nurses=nurses, days=4, seed=7, now=now)

    alone = list(seeding._simulated(copy.deepcopy(jobs), workers=0))
    side_by_side = list(seeding._simulated(copy.deepcopy(jobs), workers=2))

    assert [_rows(course) for course in side_by_side] == [_rows(course) for course in alone]
    assert sum(len(course.snapshots) for course in alone) > 6 * 5  # several checks a course
    # Records were once stamped with the clock of the process that simulated them, so the
    # rows differed and the course page said a day-3 value was typed on the day of seeding.
    for course in alone:
        for record in [r for records in course.records.values() for r in records]:
            typed = (record.check_entry.recorded_at, record.check_entry.recorded_by)
            assert (record.recorded_at, record.recorded_by) == typed
            assert record.recorded_at <= now


def _rows(course) -> list:
    """Every column of every row a simulated course writes (a check's random public id
    aside), by model, in order."""
    rows = [*course.checks]
    rows += [r for model in sorted(course.records, key=str) for r in course.records[model]]
    rows += [*course.snapshots, *course.flags, course.status]
    return [
        (
            type(row).__name__,
            {
                field.attname: getattr(row, field.attname)
                for field in row._meta.concrete_fields
                if field.name != "public_id"
            },
        )
        for row in rows
    ]

"""The shipped default protocol follows the clinical reference §6.1 (issue 10 §7): vital signs
every 2 h with fever (hourly from CRS 2, as before), neuro checks closer once CRS or ICANS is
present — and a course keeps the protocol version it started on."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from monitoring import schedule, services
from monitoring.models import (
    AuditEvent,
    CheckSchedule,
    CourseStatus,
    Protocol,
    ProtocolVersion,
)
from tests.factories import ICE_10, ROOM_AIR, CourseFactory
from tests.web.test_protocol_pages import edit_url, form_data

MIGRATION = importlib.import_module("monitoring.migrations.0007_acknowledgements_febrile_schedule")
H = 60  # minutes


def due_by_type(course):
    status = CourseStatus.objects.get(course=course)
    return {due.check_type: due for due in schedule.due_checks(course, status)}


# State of the patient (what the nurse records) -> interval of each check on the default protocol.
STATES = {
    "well": {"vitals": {**ROOM_AIR, "temp_c": 37.0}, "neuro": ICE_10},
    # ASTCT CRS 1: fever ≥ 38.0 °C (reference §1.1) — "with fever" (§6.1)
    "fever": {"vitals": {**ROOM_AIR, "temp_c": 38.4, "heart_rate_bpm": 118}, "neuro": ICE_10},
    # CRS 2: fever + low-flow oxygen (§1.1)
    "crs 2": {
        "vitals": {
            **ROOM_AIR,
            "temp_c": 38.6,
            "oxygen_support": "low_flow",
            "oxygen_flow_l_min": 3,
        },
        "neuro": ICE_10,
    },
    # ICANS 1 without CRS: ICE 8/10 (§2.2) — "when ICANS ... is present" (§6.1)
    "icans 1": {
        "vitals": {**ROOM_AIR, "temp_c": 37.0},
        "neuro": {**ICE_10, "ice_orientation": 2},
    },
}


@pytest.mark.parametrize(
    ("state", "vitals", "symptoms", "neuro", "labs"),
    [
        # §6.1: vital signs at least every 4 h; ICE at least twice a day (ASH-SAP q8h)
        ("well", 4 * H, 4 * H, 8 * H, 24 * H),
        # §6.1: vital signs every 2 h with fever (and tachycardia); ICE more often with CRS
        ("fever", 2 * H, 2 * H, 2 * H, 24 * H),
        # ASCO: continuous monitoring from CRS 2 (§6.1 telemetry row): hourly, as before
        ("crs 2", 1 * H, 1 * H, 2 * H, 24 * H),
        # §6.1: ICE more often when ICANS is present; vital signs as usual
        ("icans 1", 4 * H, 4 * H, 2 * H, 24 * H),
    ],
)
def test_the_default_protocol_tightens_as_the_reference_says(
    course, nurse, state, vitals, symptoms, neuro, labs
):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(minutes=10),
        symptoms={"fatigue": True},
        labs={"crp_mg_l": 20},
        **STATES[state],
    )

    due = due_by_type(course)

    assert {kind: due[kind].interval for kind in due} == {
        "vitals": timedelta(minutes=vitals),
        "symptoms": timedelta(minutes=symptoms),
        "neuro": timedelta(minutes=neuro),
        "labs": timedelta(minutes=labs),
    }


def test_fever_masked_by_tocilizumab_keeps_the_two_hourly_vitals(course, nurse):
    """Masked fever is still fever for ASTCT (reference §1.2.2), so still 'with fever'."""
    now = timezone.now()
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=3),
        vitals={**ROOM_AIR, "temp_c": 38.8},
    )
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=2),
        treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"},
    )
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(minutes=30),
        vitals={**ROOM_AIR, "temp_c": 37.2},
    )
    assert CourseStatus.objects.get(course=course).crs_grade == 1

    assert due_by_type(course)["vitals"].interval == timedelta(hours=2)


@pytest.mark.parametrize(
    ("crs_grade", "icans_grade", "neuro_changed", "expected"),
    [
        (None, None, False, 240),
        (0, 0, False, 240),
        (1, 0, False, 120),  # febrile tier
        (2, 0, False, 60),  # tightened tier is shorter: the shortest applies
        (4, 3, True, 60),
    ],
)
def test_the_shortest_interval_that_applies_is_used(
    crs_grade, icans_grade, neuro_changed, expected
):
    vitals = CheckSchedule(
        check_type="vitals",
        interval_minutes=240,
        tightened_interval_minutes=60,
        tighten_at_crs_grade=2,
        febrile_interval_minutes=120,
    )

    interval = vitals.interval(
        crs_grade=crs_grade,
        icans_grade=icans_grade,
        neuro_changed=neuro_changed,
        febrile=schedule.is_febrile(crs_grade),
    )

    assert interval == timedelta(minutes=expected)


# --- The migration: courses keep their version ----------------------------------------------------


def shipped_template() -> ProtocolVersion:
    """The default protocol as migration 0002 shipped it, before this change."""
    version = ProtocolVersion.objects.get(protocol__name=MIGRATION.DEFAULT_PROTOCOL, number=1)
    for check in version.schedules.all():
        for name, value in zip(MIGRATION.FIELDS, MIGRATION.SHIPPED[check.check_type], strict=True):
            setattr(check, name, value)
        check.save()
    return version


def schedules_of(version) -> dict:
    return {
        s.check_type: tuple(getattr(s, f) for f in MIGRATION.FIELDS)
        for s in version.schedules.all()
    }


def test_a_fresh_install_gets_the_template_that_follows_the_reference(db):
    version = ProtocolVersion.objects.get(protocol__name=MIGRATION.DEFAULT_PROTOCOL)

    assert schedules_of(version) == MIGRATION.FOLLOWING_THE_REFERENCE
    assert "Follows reference §6.1" in version.change_note
    assert version.is_template


def test_courses_on_the_shipped_version_keep_it_and_new_courses_get_the_new_one(ward_a):
    old = shipped_template()
    running = CourseFactory(unit=ward_a, protocol_version=old)

    MIGRATION.follow_the_reference(apps, None)

    running.refresh_from_db()
    old.refresh_from_db()
    new = ProtocolVersion.objects.get(protocol=old.protocol, number=2)
    assert running.protocol_version == old  # courses keep their version
    assert schedules_of(old) == MIGRATION.SHIPPED
    assert schedules_of(new) == MIGRATION.FOLLOWING_THE_REFERENCE
    assert not old.is_active
    assert (new.is_active, new.is_template, new.escalation) == (True, True, old.escalation)
    assert services.protocol_version_for("axi-cel") == new
    assert AuditEvent.objects.get(action="protocol_changed").summary.startswith(
        "Default CAR-T monitoring (template) v2 created from v1"
    )


def test_a_template_the_centre_already_edited_is_left_as_it_is(ward_a):
    old = shipped_template()
    vitals = old.schedules.get(check_type="vitals")
    vitals.interval_minutes = 180  # the centre's own q3h
    vitals.save()
    CourseFactory(unit=ward_a, protocol_version=old)

    MIGRATION.follow_the_reference(apps, None)

    assert ProtocolVersion.objects.filter(protocol=old.protocol).count() == 1
    assert old.schedules.get(check_type="vitals").interval_minutes == 180


def test_no_default_protocol_nothing_to_do(db):
    ProtocolVersion.objects.all().delete()
    Protocol.objects.all().delete()

    MIGRATION.follow_the_reference(apps, None)

    assert not ProtocolVersion.objects.exists()


# --- Admins edit the febrile tier like the other intervals -----------------------------------


def template():
    return ProtocolVersion.objects.get(protocol__name=MIGRATION.DEFAULT_PROTOCOL, number=1)


def test_an_admin_sets_the_febrile_interval(admin_client_, db):
    version = template()

    response = admin_client_.post(
        edit_url(version),
        {**form_data(version, schedules={"vitals": {"febrile_interval_minutes": 90}}), "save": "1"},
    )

    assert response.status_code == 302
    assert version.schedules.get(check_type="vitals").febrile_interval_minutes == 90


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("240", "Must be shorter than the usual interval (240 min), or left blank."),
        ("2", "between 5 and 10080 min"),
    ],
)
def test_a_febrile_interval_not_shorter_than_the_usual_one_is_refused(
    admin_client_, db, value, message
):
    version = template()

    response = admin_client_.post(
        edit_url(version),
        form_data(version, schedules={"vitals": {"febrile_interval_minutes": value}}),
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    assert version.schedules.get(check_type="vitals").febrile_interval_minutes == 120

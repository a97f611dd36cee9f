"""Infection prevention through the write path (issue 14 §3): neutropenic fever beside the CRS
grade, prophylaxis due and lapsed, IgG below the protocol's threshold until a replacement is
planned. Sources: reference §4.6 (ASCO 2021, S3; Stanford, S14a; EHA/EBMT, S10d), §4.2 (ICAHT
ANC ≤ 500/µL, S10b); docs/clinical-rules.md "Infection prevention and follow-up"."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from monitoring import infection, services, worker
from monitoring.models import AuditEvent, Flag, ProphylaxisCourse
from tests.factories import ROOM_AIR, CourseFactory

pytestmark = pytest.mark.django_db


def at(course, day, hour):
    """A moment of the course: D+day at hour:00 local time."""
    local = timezone.localtime(course.infused_at).replace(hour=hour, minute=0, second=0)
    return local + timedelta(days=day - course.day_number(course.infused_at))


def open_flag(course, kind):
    return Flag.objects.unresolved().filter(course=course, kind=kind).first()


@pytest.fixture
def febrile_course(ward_a):
    """Infused six days ago at 08:00, so D+0 … D+5 all lie in the past at any hour of today."""
    infused = timezone.localtime(timezone.now() - timedelta(days=6)).replace(hour=8, minute=0)
    return CourseFactory(unit=ward_a, infused_at=infused)


# --- Neutropenic fever ------------------------------------------------------------------------


def test_fever_with_a_low_anc_the_same_morning_raises_neutropenic_fever_beside_crs(
    febrile_course, nurse
):
    course = febrile_course
    for day, anc in ((1, "2.1"), (2, "0.9"), (3, "0.3")):  # daily 06:00 counts, falling
        services.record_check(
            course=course, by=nurse, observed_at=at(course, day, 6), labs={"anc_10e9_l": anc}
        )
    assert open_flag(course, "neutro_fever") is None  # no fever yet
    check = services.record_check(
        course=course, by=nurse, observed_at=at(course, 3, 14), vitals={**ROOM_AIR, "temp_c": 38.6}
    )
    flag = open_flag(course, "neutro_fever")
    assert flag is not None
    assert flag.severity == Flag.Severity.URGENT
    assert "not only CRS" in flag.message
    assert "0.3" in flag.message
    assert "neutropenic-fever pathway" in flag.display_message
    # The CRS grade is fever alone, grade 1, as without the count.
    assert check.snapshot.crs_grade == 1
    assert open_flag(course, "crs").severity == Flag.Severity.WARNING


def test_the_same_fever_with_a_normal_anc_raises_no_neutropenic_fever(febrile_course, nurse):
    course = febrile_course
    services.record_check(
        course=course, by=nurse, observed_at=at(course, 2, 6), labs={"anc_10e9_l": "1.8"}
    )
    check = services.record_check(
        course=course, by=nurse, observed_at=at(course, 2, 14), vitals={**ROOM_AIR, "temp_c": 38.6}
    )
    assert check.snapshot.crs_grade == 1
    assert open_flag(course, "neutro_fever") is None


def test_an_anc_older_than_the_protocols_window_does_not_count(febrile_course, nurse):
    course = febrile_course  # default window 36 h
    services.record_check(
        course=course, by=nurse, observed_at=at(course, 1, 6), labs={"anc_10e9_l": "0.2"}
    )
    services.record_check(
        course=course, by=nurse, observed_at=at(course, 2, 20), vitals={**ROOM_AIR, "temp_c": 38.9}
    )  # 38 h after the count
    assert open_flag(course, "neutro_fever") is None


def test_a_low_anc_resulting_after_a_fever_raises_it_too(febrile_course, nurse):
    course = febrile_course
    services.record_check(
        course=course, by=nurse, observed_at=at(course, 2, 6), vitals={**ROOM_AIR, "temp_c": 38.4}
    )
    services.record_check(
        course=course, by=nurse, observed_at=at(course, 2, 7), labs={"anc_10e9_l": "0.4"}
    )
    assert open_flag(course, "neutro_fever") is not None


def test_the_protocols_anc_threshold_decides(febrile_course, nurse):
    course = febrile_course
    version = course.protocol_version
    version.neutropenia_anc_10e9_l = Decimal("1.0")
    version.save()
    services.record_check(
        course=course, by=nurse, observed_at=at(course, 2, 6), labs={"anc_10e9_l": "0.8"}
    )
    services.record_check(
        course=course, by=nurse, observed_at=at(course, 2, 9), vitals={**ROOM_AIR, "temp_c": 38.1}
    )
    assert "below 1" in open_flag(course, "neutro_fever").message


# --- Prophylaxis ------------------------------------------------------------------------------


def test_a_prophylaxis_due_and_not_started_is_flagged_and_starting_it_resolves_the_flag(
    febrile_course, care_team_member
):
    course = febrile_course  # D+5: antiviral due since D-5; PJP from D+14 not yet
    assert worker.sweep_infection(now=timezone.now() + timedelta(hours=1)) >= 0
    infection.sweep()
    flag = open_flag(course, "prophylaxis")
    assert flag is not None
    assert flag.severity == Flag.Severity.WARNING
    assert "Antiviral (HSV/VZV) due since D-5" in flag.message
    assert "PJP" not in flag.message

    infection.start_prophylaxis(
        course=course,
        item="antiviral",
        drug="aciclovir 800 mg BID",
        started_on=course.infusion_date - timedelta(days=5),
        by=care_team_member,
    )
    flag.refresh_from_db()
    assert flag.status == Flag.Status.RESOLVED
    assert "no longer due" in flag.resolve_reason
    assert infection.sweep() == 0  # nothing left to change


def test_stopping_before_the_planned_end_without_a_reason_is_a_lapse(
    febrile_course, care_team_member
):
    course = febrile_course
    record = infection.start_prophylaxis(
        course=course,
        item="antiviral",
        drug="valaciclovir 500 mg BID",
        started_on=course.infusion_date,
        by=care_team_member,
    )
    assert open_flag(course, "prophylaxis") is None
    infection.stop_prophylaxis(
        record=record, stopped_on=course.infusion_date + timedelta(days=3), by=care_team_member
    )
    flag = open_flag(course, "prophylaxis")
    assert "stopped D+3, before its planned end (D+365), no reason" in flag.message
    audit = AuditEvent.objects.filter(action="infection_care").first()
    assert "stopped on — →" in audit.summary

    # A stop with a reason is not a lapse: correcting the record (an amendment) clears it.
    amendment = infection.amend(
        record=record,
        values={"stop_reason": "aciclovir-induced renal injury; switched per ID"},
        reason="reason was not typed",
        by=care_team_member,
    )
    record.refresh_from_db()
    assert record.status == "amended"
    assert amendment.amends == record
    assert open_flag(course, "prophylaxis") is None
    assert ProphylaxisCourse.objects.count() == 2  # nothing overwritten


def test_prophylaxis_refuses_an_item_not_on_the_checklist_and_a_future_date(
    febrile_course, care_team_member
):
    with pytest.raises(ValidationError, match="checklist"):
        infection.start_prophylaxis(
            course=febrile_course,
            item="antibacterial",
            drug="levofloxacin",
            started_on=febrile_course.infusion_date,
            by=care_team_member,
        )
    with pytest.raises(ValidationError, match="cannot be after"):
        infection.start_prophylaxis(
            course=febrile_course,
            item="pjp",
            drug="co-trimoxazole",
            started_on=timezone.localdate() + timedelta(days=2),
            by=care_team_member,
        )
    assert not ProphylaxisCourse.objects.exists()


# --- IgG --------------------------------------------------------------------------------------


def test_a_low_igg_is_flagged_until_a_replacement_is_planned(
    febrile_course, nurse, care_team_member
):
    course = febrile_course
    services.record_check(
        course=course, by=nurse, observed_at=at(course, 4, 6), labs={"igg_mg_dl": 520}
    )
    assert open_flag(course, "igg_low") is None
    services.record_check(
        course=course, by=nurse, observed_at=at(course, 5, 6), labs={"igg_mg_dl": 310}
    )
    flag = open_flag(course, "igg_low")
    assert "IgG 310 mg/dL on D+5 is below 400 mg/dL" in flag.message

    infection.plan_immunoglobulin(
        course=course,
        product="ivig",
        dose_g=35,
        planned_for=timezone.localdate() + timedelta(days=1),
        by=care_team_member,
    )
    flag.refresh_from_db()
    assert flag.status == Flag.Status.RESOLVED

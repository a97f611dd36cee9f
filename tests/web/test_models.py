"""The database itself refuses impossible values, whatever path writes them."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from monitoring.models import BedsideCheck, Flag, NeuroAssessment, Patient, VitalSigns
from tests.factories import CourseFactory, PatientFactory


@pytest.fixture
def check(course, nurse):
    return BedsideCheck.objects.create(course=course, observed_at=timezone.now(), recorded_by=nurse)


@pytest.mark.parametrize(
    "values",
    [
        {"temp_c": 50},  # above 45 °C
        {"temp_c": 25},  # below 30 °C
        {"spo2_pct": 101},
        {"oxygen_flow_l_min": 90},
        {"sbp_mmhg": 120, "dbp_mmhg": 130},  # diastolic above systolic
        {"oxygen_support": "room_air", "oxygen_flow_l_min": 2},  # flow on room air
        {"vasopressors_count": 9},
    ],
    ids=["hot", "cold", "spo2", "flow", "dbp>sbp", "flow-on-air", "pressors"],
)
def test_the_database_refuses_impossible_vital_signs(check, values):
    with pytest.raises(IntegrityError), transaction.atomic():
        VitalSigns.objects.create(check_entry=check, **values)


def test_the_database_refuses_ice_and_capd_in_one_assessment(check):
    ice = {
        "ice_orientation": 4,
        "ice_naming": 3,
        "ice_commands": 1,
        "ice_writing": 1,
        "ice_attention": 1,
        "ice_total": 10,
    }
    capd = {**{f"capd_item_{n}": 0 for n in range(1, 9)}, "capd_total": 0}
    with pytest.raises(IntegrityError), transaction.atomic():
        NeuroAssessment.objects.create(check_entry=check, consciousness="alert", **ice, **capd)


def test_the_database_refuses_a_neuro_assessment_without_score_or_reason(check):
    with pytest.raises(IntegrityError), transaction.atomic():
        NeuroAssessment.objects.create(check_entry=check, consciousness="alert")


@pytest.mark.parametrize(
    "support",
    ["room_air", "low_flow", "high_flow", "facemask", "nonrebreather", "venturi", "blow_by"],
)
def test_the_database_refuses_airway_protection_without_positive_pressure(check, support):
    # Only CPAP, BiPAP or ventilation can be "for airway protection only" (reference §1.2.8).
    with pytest.raises(IntegrityError), transaction.atomic():
        VitalSigns.objects.create(
            check_entry=check, oxygen_support=support, oxygen_for_airway_protection=True
        )
    VitalSigns.objects.create(
        check_entry=check, oxygen_support="bipap", oxygen_for_airway_protection=True
    )


SEDATED = {
    "consciousness": "unarousable",
    "unable_to_assess_reason": "Sedated",
    "consciousness_attributable_to": "sedation",
}


@pytest.mark.parametrize(
    "values",
    [
        {**SEDATED, "consciousness_attributable_to": "other"},  # other without its cause
        {**SEDATED, "consciousness_other_cause": "propofol"},  # a cause text without "other"
        {**SEDATED, "consciousness": "alert"},  # nothing to attribute
        {**SEDATED, "capd_total": 0, **{f"capd_item_{n}": 0 for n in range(1, 9)}},  # a score
    ],
    ids=["other-unnamed", "text-without-other", "alert", "with-score"],
)
def test_the_database_refuses_an_attribution_that_cannot_be_true(check, values):
    # Reference §2.2 †: a depressed consciousness with another cause is not ICANS.
    with pytest.raises(IntegrityError), transaction.atomic():
        NeuroAssessment.objects.create(check_entry=check, **values)
    NeuroAssessment.objects.create(
        check_entry=check,
        **{**SEDATED, "consciousness_attributable_to": "other"},
        consciousness_other_cause="Hypoglycaemia",
    )


def test_a_patient_has_one_course_under_monitoring_at_a_time(course):
    with pytest.raises(IntegrityError), transaction.atomic():
        CourseFactory(patient=course.patient, unit=course.unit)


def test_one_unresolved_flag_per_kind_per_course(course):
    Flag.objects.create(course=course, kind="crs", severity=2, message="CRS grade 1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.create(course=course, kind="crs", severity=3, message="CRS grade 2")
    Flag.objects.filter(course=course).update(status="resolved")
    Flag.objects.create(course=course, kind="crs", severity=3, message="CRS grade 2")


def test_the_mrn_is_unique(db):
    PatientFactory(mrn="A1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientFactory(mrn="A1")


@pytest.mark.parametrize(
    ("born", "on", "years"),
    [
        (date(2014, 6, 1), date(2026, 5, 31), 11),  # the day before the 12th birthday: CAPD
        (date(2014, 6, 1), date(2026, 6, 1), 12),  # the 12th birthday: ICE (ASTCT/ASCO §2.3)
        (date(2012, 2, 29), date(2026, 2, 28), 13),  # born on 29 February: 14 on 1 March
        (date(2012, 2, 29), date(2026, 3, 1), 14),
    ],
)
def test_age_in_whole_years_decides_ice_or_capd(born, on, years):
    patient = Patient(date_of_birth=born)

    assert int(patient.age_on(on)) == years
    assert patient.uses_capd_on(on) is (years < 12)


def test_day_numbers_count_calendar_days_in_the_configured_zone(settings, course):
    settings.TIME_ZONE = "Europe/Paris"
    paris = ZoneInfo("Europe/Paris")
    # Infused at 23:30 Paris time; 00:30 the next day in Paris is already D+1.
    course.infused_at = datetime(2026, 3, 28, 23, 30, tzinfo=paris)

    with timezone.override(paris):
        assert course.day_number(datetime(2026, 3, 29, 0, 30, tzinfo=paris)) == 1
        assert course.day_number(datetime(2026, 3, 28, 23, 59, tzinfo=paris)) == 0

"""The write path grades the course's state at the observation time, not the one form."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from monitoring import services
from monitoring.models import BedsideCheck, CourseStatus, Flag, GradeSnapshot
from tests.factories import ICE_10, ROOM_AIR


@pytest.fixture
def record(course, nurse):
    """record(hours_ago, vitals=..., ...) -> the saved check's snapshot."""
    now = timezone.now()

    def _record(hours_ago: float, **sections):
        check = services.record_check(
            course=course, by=nurse, observed_at=now - timedelta(hours=hours_ago), **sections
        )
        return GradeSnapshot.objects.get(check_entry=check)

    return _record


def vitals(temp=None, **support):
    return {"temp_c": temp, **ROOM_AIR, **support}


def test_fever_is_required_so_an_afebrile_hypoxic_patient_has_no_crs(record):
    # ASTCT: fever >= 38.0 °C is required (reference §1.2.1).
    snapshot = record(1, vitals=vitals(37.2, oxygen_support="low_flow", oxygen_flow_l_min=3))

    assert snapshot.crs_grade == 0


def test_fever_on_low_flow_oxygen_is_crs_grade_2_with_the_reason(record):
    snapshot = record(1, vitals=vitals(38.6, oxygen_support="low_flow", oxygen_flow_l_min=4))

    assert snapshot.crs_grade == 2
    assert "4 L/min" in snapshot.crs_reasons_text[0]
    assert snapshot.inputs["crs"]["oxygen"] == "low_flow"


def test_fever_masked_by_tocilizumab_still_grades_hypoxia(record):
    """ASTCT: after antipyretic/anti-cytokine therapy fever is no longer required (§1.2.2)."""
    record(6, vitals=vitals(38.9))
    record(5, treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"})
    snapshot = record(1, vitals=vitals(36.9, oxygen_support="low_flow", oxygen_flow_l_min=5))

    assert snapshot.crs_grade == 2
    assert snapshot.inputs["crs"]["fever_earlier"] is True
    assert snapshot.inputs["crs"]["fever_masking_therapy"]


def test_without_masking_therapy_an_afebrile_patient_after_fever_needs_review(record):
    record(6, vitals=vitals(38.9))
    snapshot = record(1, vitals=vitals(37.0, oxygen_support="low_flow", oxygen_flow_l_min=5))

    # Spontaneous defervescence is not settled by ASTCT (reference §1.5.2).
    assert snapshot.crs_grade == 0
    assert snapshot.crs_needs_review
    assert Flag.objects.filter(kind="needs_review").exists()


def test_a_stopped_vasopressor_lowers_the_grade(record):
    on_pressor = record(4, vitals=vitals(38.5, vasopressors_count=1))
    stopped = record(1, vitals=vitals(38.2))

    assert on_pressor.crs_grade == 3
    assert stopped.crs_grade == 1
    assert CourseStatus.objects.get().crs_grade == 1
    assert CourseStatus.objects.get().max_crs_grade == 3


def test_a_late_entry_is_graded_at_its_own_time_and_regrades_later_snapshots(record, course):
    later = record(1, vitals=vitals(37.1, oxygen_support="low_flow", oxygen_flow_l_min=2))
    assert later.crs_grade == 0

    # The night nurse types up a fever charted three hours ago, before the later check.
    late = record(3, vitals=vitals(38.4))
    late.refresh_from_db()
    later.refresh_from_db()

    assert late.crs_grade == 1
    # The later moment is unchanged by rule: no masking therapy, so no CRS, but it now needs
    # review (afebrile after documented fever while hypoxic).
    assert later.crs_needs_review
    assert later.inputs["crs"]["fever_earlier"] is True


def test_a_late_tocilizumab_dose_regrades_later_moments_as_masked_fever(record):
    record(8, vitals=vitals(39.0))
    later = record(1, vitals=vitals(37.0, oxygen_support="high_flow", oxygen_flow_l_min=30))
    assert later.crs_grade == 0

    record(6, treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"})
    later.refresh_from_db()

    assert later.crs_grade == 3
    assert CourseStatus.objects.get().crs_grade == 3


def test_the_same_condition_updates_its_open_flag_and_a_worse_one_escalates_it(record, course):
    record(3, vitals=vitals(38.3))
    flag = Flag.objects.get(course=course, kind="crs")
    assert flag.severity == Flag.Severity.WARNING
    flag.status = Flag.Status.ACKNOWLEDGED
    flag.save()

    record(2, vitals=vitals(38.6))
    assert Flag.objects.filter(course=course, kind="crs").count() == 1
    flag.refresh_from_db()
    assert flag.status == Flag.Status.ACKNOWLEDGED  # same grade: stays acknowledged

    record(1, vitals=vitals(38.8, oxygen_support="facemask"))
    flag.refresh_from_db()
    assert Flag.objects.filter(course=course, kind="crs").count() == 1
    assert flag.severity == Flag.Severity.CRITICAL
    assert flag.status == Flag.Status.OPEN  # worse: needs fresh eyes
    assert "grade 3" in flag.message


def test_icans_is_graded_from_the_latest_neuro_assessment(record):
    snapshot = record(2, neuro={**ICE_10, "ice_orientation": 2, "ice_writing": 0})

    assert snapshot.icans_grade == 1  # ICE 7 -> grade 1
    assert Flag.objects.get(kind="icans").severity == Flag.Severity.URGENT


def test_tremor_and_headache_flag_as_information_but_never_change_a_grade(record):
    snapshot = record(
        1, vitals=vitals(37.0), neuro=ICE_10, symptoms={"tremor": True, "headache": True}
    )

    assert (snapshot.crs_grade, snapshot.icans_grade) == (0, 0)
    flag = Flag.objects.get(kind="neuro_symptom")
    assert flag.severity == Flag.Severity.INFO


def test_a_vital_sign_outside_thresholds_raises_a_flag(record):
    record(1, vitals={**vitals(37.0), "heart_rate_bpm": 140, "spo2_pct": 89})

    message = Flag.objects.get(kind="vital_sign").message
    assert "heart rate 140" in message
    assert "SpO" in message


def test_a_ferritin_doubling_within_24_hours_raises_a_marker_flag(record):
    record(20, labs={"ferritin_ng_ml": 1200, "crp_mg_l": 40})
    record(2, labs={"ferritin_ng_ml": 2900, "crp_mg_l": 60})

    assert "ferritin" in Flag.objects.get(kind="marker").message


def test_news2_of_7_or_more_raises_a_critical_flag(record):
    record(
        1,
        vitals={
            "temp_c": 39.3,
            "heart_rate_bpm": 135,
            "resp_rate_per_min": 26,
            "sbp_mmhg": 95,
            "dbp_mmhg": 55,
            "spo2_pct": 92,
            "oxygen_support": "low_flow",
            "oxygen_flow_l_min": 3,
            "vasopressors_count": 0,
            "vasopressin": False,
        },
    )

    flag = Flag.objects.get(kind="news2")
    assert flag.severity == Flag.Severity.CRITICAL


def test_ice_and_capd_for_the_same_patient_are_refused(course, nurse):
    capd = {f"capd_item_{n}": 0 for n in range(1, 9)}
    with pytest.raises(ValidationError, match="not both"):
        services.record_check(
            course=course, by=nurse, observed_at=timezone.now(), neuro={**ICE_10, **capd}
        )
    assert not BedsideCheck.objects.exists()


def test_nothing_of_an_invalid_check_is_saved(course, nurse):
    with pytest.raises(ValidationError):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=timezone.now(),
            vitals=vitals(38.5),
            labs={"crp_mg_l": 5000},
        )
    assert not BedsideCheck.objects.exists()
    assert not GradeSnapshot.objects.exists()
    assert not Flag.objects.exists()


def test_a_check_in_the_future_is_refused(course, nurse):
    with pytest.raises(ValidationError, match="future"):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=timezone.now() + timedelta(hours=1),
            vitals=vitals(37),
        )


def test_a_crs_episode_ends_after_24_hours_without_findings_so_fever_is_no_longer_masked(record):
    """One paracetamol dose must not mask fever for the rest of the course (§1.2.2, §1.5.4)."""
    record(60, vitals=vitals(38.7))
    record(59, treatment={"drug": "antipyretic", "dose": 1000, "dose_unit": "mg", "route": "po"})
    record(30, vitals=vitals(36.8))
    snapshot = record(1, vitals=vitals(36.9))

    assert snapshot.crs_grade == 0
    assert not snapshot.crs_needs_review
    assert snapshot.inputs["crs"]["episode_start"] is None


def test_within_an_episode_masked_fever_with_no_findings_is_grade_1_for_review(record):
    record(10, vitals=vitals(38.7))
    record(9, treatment={"drug": "antipyretic", "dose": 1000, "dose_unit": "mg", "route": "po"})
    snapshot = record(1, vitals=vitals(36.9))

    # Whether CRS is still ongoing is a clinical call (reference §1.5.4).
    assert snapshot.crs_grade == 1
    assert snapshot.crs_needs_review


def test_two_checks_at_the_same_minute_are_graded_together(record, course, nurse):
    first = record(1, vitals=vitals(38.4))
    services.record_check(
        course=course,
        by=nurse,
        observed_at=first.observed_at,
        vitals=vitals(38.4, oxygen_support="facemask"),
    )
    first.refresh_from_db()

    assert first.crs_grade == 3


def test_a_milder_grade_keeps_the_worst_message_on_the_open_flag(record, course):
    record(3, vitals=vitals(38.8, oxygen_support="facemask"))
    record(1, vitals=vitals(38.2))

    flag = Flag.objects.get(course=course, kind="crs")
    assert flag.severity == Flag.Severity.CRITICAL
    assert "grade 3" in flag.message


def test_course_status_is_what_the_caller_sees_after_the_first_check(course, nurse):
    services.record_check(course=course, by=nurse, observed_at=timezone.now(), vitals=vitals(38.5))

    assert course.status_row.crs_grade == 1
    assert course.status_row.open_flag_count >= 1


def test_baseline_checks_before_the_infusion_are_not_graded(course, nurse):
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=course.infused_at - timedelta(hours=20),
        vitals=vitals(38.3),
    )
    snapshot = GradeSnapshot.objects.get(check_entry=check)

    # CRS is a toxicity of the infused cells: a fever the day before is not CRS grade 1.
    assert snapshot.crs_grade is None
    assert snapshot.inputs["baseline"] is True
    assert CourseStatus.objects.get().max_crs_grade is None


def test_a_late_entry_that_changes_a_confirmed_grade_asks_for_a_second_look(record, nurse):
    later = record(1, vitals=vitals(37.0, oxygen_support="facemask"))
    assert later.crs_grade == 0  # hypoxic but afebrile: no CRS by ASTCT
    services.confirm_grade(snapshot=later, domain="crs", grade=0, reason="Agree", by=nurse)

    # The fever and the tocilizumab that masked it are charted late.
    record(4, vitals=vitals(38.9, oxygen_support="facemask"))
    record(3, treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"})
    later.refresh_from_db()

    assert later.crs_grade == 3
    assert later.crs_confirmed_grade == 0  # the clinician's call is never dropped silently
    flag = Flag.objects.get(kind="needs_review")
    assert "needs a clinician's second look" in flag.message


def test_confirming_the_grade_resolves_the_flag_that_asked_for_it(record, nurse, course):
    snapshot = record(1, vitals=vitals(38.5, vasopressin=True))  # vasopressin alone: review
    assert Flag.objects.get(kind="needs_review").status == Flag.Status.OPEN

    services.confirm_grade(snapshot=snapshot, domain="crs", grade=3, reason="Agree", by=nurse)

    flag = Flag.objects.get(kind="needs_review")
    assert flag.status == Flag.Status.RESOLVED
    assert flag.resolve_reason == "Grade confirmed: Agree"
    assert CourseStatus.objects.get(course=course).needs_review is False


def test_news2_from_an_incomplete_set_still_flags_and_says_it_is_a_lower_bound(record):
    """A partial NEWS2 can only rise when the rest is measured (RCP 2017): 5 from three
    parameters flags as urgent, and the flag names what was not recorded."""
    record(1, vitals={"sbp_mmhg": 88, "dbp_mmhg": 50, "resp_rate_per_min": 22, "temp_c": 37})

    flag = Flag.objects.get(kind="news2")
    assert flag.severity == Flag.Severity.URGENT
    assert flag.message.startswith("NEWS2 at least 5 from an incomplete set (SpO₂, pulse")

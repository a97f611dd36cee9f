"""Course-level scenarios: timed sequences of checks, treatments and corrections over days,
entered through the write path, with the grade the ASTCT consensus gives (Lee et al. 2019,
reference §1-§2) and the course rules of docs/clinical-rules.md ("Time and validity").

Each scenario is one a CAR-T unit meets weekly and that was graded wrongly before the engine
gave every value an age (issue 10).
"""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import flag_rules, registry, services
from monitoring.models import AuditEvent, Flag, GradeSnapshot
from tests.factories import ICE_10, ROOM_AIR, CourseFactory

ICE = ICE_10
ICE_9 = {**ICE, "ice_writing": 0}


def ice(total_lost: int = 0, **other):
    """An ICE screen with ``total_lost`` orientation points lost."""
    return {**ICE, "ice_orientation": 4 - total_lost, **other}


@pytest.fixture
def course(ward_a):
    """Infused at 10:00 local time six days ago: D+0 .. D+6 all lie in the past."""
    day0 = timezone.localtime() - timedelta(days=6)
    return CourseFactory(unit=ward_a, infused_at=day0.replace(hour=10, minute=0, second=0))


@pytest.fixture
def at(course):
    """at(day, "HH:MM") -> that local time on D+day."""

    def _at(day: int, hhmm: str):
        hour, minute = map(int, hhmm.split(":"))
        start = timezone.localtime(course.infused_at).replace(hour=0, minute=0)
        return start + timedelta(days=day, hours=hour, minutes=minute)

    return _at


@pytest.fixture
def record(course, nurse, at):
    """record(day, "HH:MM", vitals=..., ...) -> the snapshot the nurse is shown."""

    def _record(day, hhmm, **sections):
        check = services.record_check(
            course=course, by=nurse, observed_at=at(day, hhmm), **sections
        )
        return GradeSnapshot.objects.get(check_entry=check)

    return _record


def snapshot_at(course, when):
    return GradeSnapshot.objects.get(course=course, observed_at=when)


# --- 1. Every value has an age ---------------------------------------------------------------


def test_a_fever_three_days_old_with_low_pressure_now_is_not_crs_2(record):
    # Before: the latest temperature however old + SBP now → CRS 2. ASTCT needs fever now or
    # earlier in the episode (§1.2.1-2); a three-day-old fever is neither.
    record(1, "10:00", vitals={**ROOM_AIR, "temp_c": 38.5, "sbp_mmhg": 120})
    now = record(4, "10:00", vitals={**ROOM_AIR, "sbp_mmhg": 84})

    assert now.crs_grade == 0
    assert any("temperature not measured since D+1 10:00" in r for r in now.crs_reasons_text)
    assert now.crs_needs_review  # hypotensive without a current temperature: a clinician looks


def test_a_blood_pressure_four_days_old_is_not_graded_as_hypotension_now(record):
    record(0, "12:00", vitals={**ROOM_AIR, "temp_c": 37.0, "sbp_mmhg": 84})
    now = record(4, "12:00", vitals={**ROOM_AIR, "temp_c": 38.5})

    assert now.crs_grade == 1  # fever alone (§1.2.4), not 2
    assert "blood pressure not measured since D+0 12:00 (4 d) — hypotension not assessed" in (
        now.crs_reasons_text
    )


def test_a_pressure_within_the_window_grades_and_its_time_is_in_the_reason(record):
    record(3, "12:00", vitals={**ROOM_AIR, "sbp_mmhg": 84})
    now = record(3, "14:00", vitals={**ROOM_AIR, "temp_c": 38.4})

    assert now.crs_grade == 2
    assert now.crs_reasons_text[0] == (
        "hypotension not requiring vasopressors (SBP 84 mmHg at D+3 12:00, 2 h old) → grade 2"
    )


@pytest.mark.parametrize(
    ("minutes_later", "grade"),
    [(300, 2), (301, 1)],  # default window: the 4-hourly round + 1 h grace (ref §6.1)
)
def test_the_validity_window_edge(record, minutes_later, grade):
    record(3, "08:00", vitals={**ROOM_AIR, "sbp_mmhg": 84})
    h, m = divmod(8 * 60 + minutes_later, 60)
    assert record(3, f"{h:02d}:{m:02d}", vitals={**ROOM_AIR, "temp_c": 38.4}).crs_grade == grade


def test_the_protocol_version_sets_the_window(record, course):
    version = course.protocol_version
    version.point_valid_minutes = 60
    version.save()
    record(3, "08:00", vitals={**ROOM_AIR, "sbp_mmhg": 84})

    assert record(3, "09:30", vitals={**ROOM_AIR, "temp_c": 38.4}).crs_grade == 1


def test_a_baseline_fever_is_never_current_after_the_infusion(record, course):
    # 38.1 °C an hour before infusion, then neuro-only checks: not CRS, and the registry
    # reports no CRS from D0.
    record(0, "09:00", vitals={**ROOM_AIR, "temp_c": 38.1}, neuro=ICE)
    after = record(0, "14:00", neuro=ICE)

    assert after.crs_grade is None
    assert registry.summary_for(course).crs.onset_at is None  # no CRS "from D0"


def test_a_baseline_ice_of_9_is_never_carried_into_later_checks(record):
    record(0, "09:00", vitals=ROOM_AIR, neuro=ICE_9)
    after = record(0, "14:00", vitals={**ROOM_AIR, "temp_c": 37.0})

    assert after.icans_grade is None


def test_oxygen_carries_forward_and_past_its_window_asks_to_be_re_confirmed(record):
    record(
        2,
        "08:00",
        vitals={**ROOM_AIR, "temp_c": 38.5, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )
    soon = record(2, "10:00", vitals={"temp_c": 38.4})  # a caller that did not say
    late = record(2, "16:00", vitals={"temp_c": 38.3})

    assert soon.crs_grade == late.crs_grade == 2
    assert not soon.crs_needs_review
    assert late.crs_needs_review
    assert any("last confirmed D+2 08:00" in r for r in late.review_reasons_text)


def test_vitals_without_an_oxygen_field_say_oxygen_not_recorded_never_room_air(record):
    snapshot = record(1, "10:00", vitals={"temp_c": 38.2})

    assert snapshot.crs_grade == 1
    assert "oxygen support not recorded since day 0 — hypoxia not assessed" in (
        snapshot.crs_reasons_text
    )
    assert snapshot.inputs["crs"]["oxygen"] is None


def test_the_neuro_assessment_shows_its_age_and_is_marked_stale(record):
    record(2, "06:00", vitals=ROOM_AIR, neuro=ICE_9)
    fresh = record(2, "13:00", vitals=ROOM_AIR)
    stale = record(2, "16:00", vitals=ROOM_AIR)

    assert fresh.icans_grade == stale.icans_grade == 1  # the last known state still grades
    assert fresh.icans_reasons_text[-1] == "neuro assessment at D+2 06:00, 7 h old"
    assert stale.icans_reasons_text[-1].endswith(
        "stale: older than the protocol's neuro interval; reassess"
    )
    assert stale.inputs["icans"]["stale"] is True


# --- 4. Masked fever does not silently expire ------------------------------------------------


def test_new_hypoxia_26_h_after_tocilizumab_is_graded_as_crs_with_review(record):
    record(
        1,
        "10:00",
        vitals={**ROOM_AIR, "temp_c": 38.9, "oxygen_support": "low_flow", "oxygen_flow_l_min": 2},
    )
    record(1, "11:00", treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg"})
    for hhmm in ("14:00", "18:00", "22:00"):
        record(1, hhmm, vitals={**ROOM_AIR, "temp_c": 37.0})
    for hhmm in ("02:00", "06:00", "10:00"):
        record(2, hhmm, vitals={**ROOM_AIR, "temp_c": 36.9})
    hypoxic = record(
        2,
        "13:00",
        vitals={**ROOM_AIR, "temp_c": 37.1, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )

    assert hypoxic.crs_grade == 2  # never a silent 0 (ASTCT masked fever, §1.2.2)
    assert hypoxic.crs_needs_review
    assert any("after tocilizumab" in r for r in hypoxic.review_reasons_text)
    review = Flag.objects.get(course=hypoxic.course, kind=Flag.Kind.NEEDS_REVIEW)
    assert "after tocilizumab" in review.message  # it reaches a clinician


def test_outside_the_masked_fever_window_the_rule_no_longer_applies(record, course):
    version = course.protocol_version
    version.masked_fever_window_hours = 24
    version.save()
    record(1, "10:00", vitals={**ROOM_AIR, "temp_c": 38.9})
    record(1, "11:00", treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg"})
    for day, hhmm in ((1, "14:00"), (1, "22:00"), (2, "06:00"), (2, "10:00")):
        record(day, hhmm, vitals={**ROOM_AIR, "temp_c": 37.0})
    hypoxic = record(
        2,
        "13:00",
        vitals={**ROOM_AIR, "temp_c": 37.1, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )

    assert hypoxic.crs_grade == 0


# --- 5. Deterioration is never "continue routine monitoring" ---------------------------------


def test_room_air_to_high_flow_on_steroids_without_fever_raises_its_own_flag(record, course):
    record(2, "08:00", treatment={"drug": "dexamethasone", "dose": 10, "dose_unit": "mg"})
    record(2, "10:00", vitals={**ROOM_AIR, "temp_c": 36.8})
    worse = record(
        2,
        "14:00",
        vitals={**ROOM_AIR, "temp_c": 37.0, "oxygen_support": "high_flow", "oxygen_flow_l_min": 30},
    )

    flag = Flag.objects.get(course=course, kind=Flag.Kind.OXYGEN_NEED)
    assert flag.severity == Flag.Severity.URGENT
    assert flag.message == "New oxygen need: Room air → High-flow nasal cannula 30 L/min"
    assert worse.crs_grade == 0
    assert worse.crs_needs_review
    open_flags = list(
        Flag.objects.unresolved().filter(course=course).values_list("kind", "severity")
    )
    advice = flag_rules.escalation_advice(
        0, None, open_flags=open_flags, review_reasons=worse.review_reasons_text
    )
    assert not any("routine" in a for a in advice)
    assert any(a.startswith("New or escalating oxygen need") for a in advice)
    assert (
        flag_rules.advice_severity(None, open_flags, worse.review_reasons_text)
        == Flag.Severity.URGENT
    )


@pytest.mark.parametrize(
    ("before", "after", "kind", "severity"),
    [
        ({"sbp_mmhg": 118}, {"sbp_mmhg": 82}, "hypotension", Flag.Severity.URGENT),
        ({}, {"vasopressors_count": 1}, "vasopressor", Flag.Severity.CRITICAL),
        (
            {"vasopressors_count": 1},
            {"vasopressors_count": 1, "vasopressin": True},
            "vasopressor",
            Flag.Severity.CRITICAL,
        ),
        (
            {"oxygen_support": "low_flow", "oxygen_flow_l_min": 2},
            {"oxygen_support": "low_flow", "oxygen_flow_l_min": 5},
            "oxygen_need",
            Flag.Severity.URGENT,
        ),
    ],
)
def test_vital_sign_deterioration_flags(record, course, before, after, kind, severity):
    record(2, "08:00", vitals={**ROOM_AIR, "temp_c": 36.9, **before})
    record(2, "12:00", vitals={**ROOM_AIR, "temp_c": 36.9, **after})

    assert Flag.objects.get(course=course, kind=kind).severity == severity


def test_no_deterioration_flag_when_nothing_got_worse(record, course):
    first = record(
        2,
        "08:00",
        vitals={**ROOM_AIR, "sbp_mmhg": 84, "oxygen_support": "low_flow", "oxygen_flow_l_min": 4},
    )
    record(
        2,
        "12:00",
        vitals={**ROOM_AIR, "sbp_mmhg": 86, "oxygen_support": "low_flow", "oxygen_flow_l_min": 2},
    )
    kinds = set(Flag.objects.filter(course=course).values_list("kind", flat=True))
    assert "vasopressor" not in kinds
    # The 12:00 check (less oxygen, still low pressure) touched neither deterioration flag:
    # both still point at the 08:00 moment that raised them.
    for kind in ("oxygen_need", "hypotension"):
        assert Flag.objects.get(course=course, kind=kind).snapshot_id == first.pk


def test_a_fall_in_ice_and_a_seizure_raise_flags_whatever_the_grade(record, course):
    record(2, "06:00", neuro=ICE)
    record(2, "14:00", neuro=ice(1))
    record(2, "22:00", neuro=ice(1, seizure="resolved_rapidly"))

    decline = Flag.objects.get(course=course, kind=Flag.Kind.NEURO_DECLINE)
    assert decline.message == "ICE worse: 10 → 9 /10"
    assert Flag.objects.get(course=course, kind=Flag.Kind.SEIZURE).severity == 4


def test_the_protocol_sets_the_severity_of_deterioration_flags(record, course):
    version = course.protocol_version
    version.deterioration_severity = {"hypotension": Flag.Severity.CRITICAL}
    version.save()
    record(2, "08:00", vitals={**ROOM_AIR, "sbp_mmhg": 118})
    record(2, "12:00", vitals={**ROOM_AIR, "sbp_mmhg": 82})

    assert Flag.objects.get(course=course, kind="hypotension").severity == 4


# --- 6. A flag that gets worse says when -----------------------------------------------------


def test_a_flag_that_gets_worse_keeps_what_it_was_raised_as_and_when_it_got_worse(
    record, course, at
):
    record(3, "08:00", vitals={**ROOM_AIR, "temp_c": 38.4})
    record(
        3,
        "11:00",
        vitals={**ROOM_AIR, "temp_c": 38.6, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )

    flag = Flag.objects.get(course=course, kind=Flag.Kind.CRS)
    assert flag.raised_message.startswith("CRS grade 1: fever 38.4 °C")
    assert flag.message.startswith("CRS grade 2: hypoxia on low-flow oxygen 3 L/min")
    assert flag.worsened_at is not None
    assert flag.waiting_since == flag.worsened_at


# --- 7. A confirmation carries while the findings stay the same ------------------------------


def test_a_confirmation_carries_to_a_neuro_only_check_on_the_same_findings(
    record, course, care_team_member, nurse_client
):
    # Vasopressin alone: ASTCT does not settle it (§1.5.1), so the grade needs review.
    first = record(3, "14:00", vitals={**ROOM_AIR, "temp_c": 38.5, "vasopressin": True})
    assert first.crs_grade == 3
    assert first.needs_review
    services.confirm_grade(
        snapshot=first,
        domain="crs",
        grade=2,
        reason="Low-dose vasopressin",
        confirm_lower=True,
        by=care_team_member,
    )
    neuro_only = record(3, "14:20", neuro=ICE)

    assert neuro_only.crs_confirmed_grade == 2
    assert neuro_only.confirmation_carried["crs"]["label"] == "D+3 14:00"
    assert not neuro_only.needs_review
    # The flags follow the clinician's grade: the review they answered is not asked again.
    assert not Flag.objects.unresolved().filter(course=course, kind="needs_review").exists()
    page = nurse_client.get(
        reverse(
            "monitoring:nurse-check-result",
            args=[course.patient.public_id, neuro_only.check_entry.public_id],
        )
    ).content.decode()
    assert "carried: same findings since" in page  # the nurse sees the clinician's grade
    assert "CRS grade 2: notify the CAR-T physician now" in page
    course.status_row.refresh_from_db()
    assert course.status_row.crs_grade == 2
    assert course.status_row.max_crs_grade == 2  # not 3: the registry maximum follows it

    new_vitals = record(3, "18:00", vitals={**ROOM_AIR, "temp_c": 38.5, "vasopressin": True})
    assert new_vitals.crs_confirmed_grade is None  # a new finding: a clinician looks again
    assert new_vitals.needs_review


def test_a_confirmation_given_later_carries_to_moments_already_recorded(
    record, course, care_team_member
):
    first = record(3, "14:00", vitals={**ROOM_AIR, "temp_c": 38.5, "vasopressin": True})
    record(3, "14:20", neuro=ICE)
    services.confirm_grade(
        snapshot=first,
        domain="crs",
        grade=3,
        reason="Vasopressin is a pressor",
        by=care_team_member,
    )

    latest = GradeSnapshot.objects.filter(course=course).order_by("-observed_at").first()
    assert latest.crs_confirmed_grade == 3
    assert not Flag.objects.unresolved().filter(course=course, kind="needs_review").exists()


# --- Issue 11 §2: a regrade never erases what a nurse was shown ------------------------------


def test_a_correction_keeps_the_grade_the_nurse_was_shown_and_says_why(record, course, nurse):
    shown = record(
        3, "08:00", vitals={**ROOM_AIR, "temp_c": 38.5, "sbp_mmhg": 110, "oxygen_support": "bipap"}
    )
    assert shown.crs_grade == 4
    later = record(3, "08:30", neuro=ICE)
    assert later.crs_grade == 4
    # The 08:00 BiPAP was a typing slip: amended to room air.
    vitals = shown.check_entry.vitalsigns_set.get()
    services.amend_record(
        record=vitals, values={"oxygen_support": "room_air"}, reason="Typed BiPAP", by=nurse
    )

    shown.refresh_from_db()
    later.refresh_from_db()
    assert shown.crs_grade == later.crs_grade == 1
    history = list(later.history.order_by("history_date").values_list("crs_grade", flat=True))
    assert history[0] == 4
    assert history[-1] == 1
    assert later.revised_at is not None
    assert "was CRS 4" in later.revision_note
    line = AuditEvent.objects.filter(action=AuditEvent.Action.GRADES_REVISED).latest("at")
    assert "CRS 4 → 1" in line.summary
    assert "at D+3 08:30" in line.summary


def test_late_vitals_entered_after_later_checks_regrade_them_with_an_audit_line(
    record, course, at, nurse_client
):
    record(3, "07:00", neuro=ICE)
    record(3, "08:00", neuro=ICE)
    assert snapshot_at(course, at(3, "08:00")).crs_grade is None
    record(3, "06:00", vitals={**ROOM_AIR, "temp_c": 38.5, "sbp_mmhg": 84})

    revised = snapshot_at(course, at(3, "08:00"))
    assert revised.crs_grade == 2
    assert revised.revised_at is not None
    assert revised.history.count() == 2
    late = GradeSnapshot.objects.get(course=course, observed_at=at(3, "06:00"))
    page = nurse_client.get(
        reverse(
            "monitoring:nurse-check-result",
            args=[course.patient.public_id, late.check_entry.public_id],
        )
    ).content.decode()
    assert "their grades were recalculated" in page  # the nurse who typed it is told
    assert "now CRS 2" in page
    line = AuditEvent.objects.filter(action=AuditEvent.Action.GRADES_REVISED).latest("at")
    assert line.summary.startswith("late vitals at D+3 06:00 entered ")
    assert "at D+3 07:00: CRS — → 2; at D+3 08:00: CRS — → 2" in line.summary


def test_news2_of_7_asks_for_the_emergency_response_not_only_urgent_review():
    # RCP 2017 Chart 4 (reference §8.2): 5-6 urgent, 7 or more emergency.
    advice = flag_rules.escalation_advice(0, None, open_flags=[("news2", Flag.Severity.CRITICAL)])
    assert any(a.startswith("NEWS2 7 or more: emergency response") for a in advice)
    urgent = flag_rules.escalation_advice(0, None, open_flags=[("news2", Flag.Severity.URGENT)])
    assert any(a.startswith("NEWS2 at the urgent threshold") for a in urgent)


def test_with_nothing_current_crs_is_not_assessed_rather_than_0(record):
    # Issue 10 §1: a neuro-only check long after the last vital signs has no temperature, no
    # pressure and no support to grade: "CRS 0" would grade stale values as current.
    record(1, "10:00", vitals={**ROOM_AIR, "temp_c": 37.0, "sbp_mmhg": 120})
    later = record(2, "10:00", neuro=ICE)

    assert later.crs_grade is None
    assert later.crs_reasons_text[0].startswith(
        "no temperature or blood pressure within the protocol's window — CRS not assessed"
    )
    assert later.inputs["crs"]["not_assessed"] is True
    soon = record(1, "12:00", neuro=ICE)  # within the window the last values still grade
    assert soon.crs_grade == 0


def test_an_ice_left_on_file_for_a_child_after_a_birth_date_correction_asks_for_review(
    record, course, care_team_member
):
    # Reference §2.3: CAPD under 12, ICE from the 12th birthday. A date of birth corrected
    # after an ICE was recorded can make that patient a child on that day.
    ice_check = record(2, "10:00", neuro=ICE)
    assert not ice_check.needs_review
    five = timezone.localdate() - timedelta(days=5 * 365 + 30)
    services.correct_patient_details(
        patient=course.patient, date_of_birth=five, reason="Wrong chart", by=care_team_member
    )

    ice_check.refresh_from_db()
    assert ice_check.icans_needs_review
    assert any("calls for the CAPD" in r for r in ice_check.review_reasons_text)

"""Depressed consciousness from sedation or another cause is not ICANS (reference §2.2 †), and
positive pressure only for airway protection is not CRS hypoxia (reference §1.2.8, §1.5.6):
through the write path (services.record_check, amend_record) and through the check page."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import BedsideCheck, Flag, GradeSnapshot, NeuroAssessment
from tests.factories import full_check

SEDATED = {
    "consciousness": "unarousable",
    "unable_to_assess_reason": "Intubated, propofol infusion",
    "consciousness_attributable_to": "sedation",
}


def record(course, nurse, *, minutes_ago=10, **sections):
    return services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(minutes=minutes_ago),
        **sections,
    )


def snapshot_of(check) -> GradeSnapshot:
    return GradeSnapshot.objects.get(check_entry=check)


# --- Depressed consciousness with another cause, through the service ----------------------


@pytest.mark.parametrize(
    ("neuro", "grade", "needs_review"),
    [
        # ref §2.2 †: sedated and intubated, ICE not possible: not ICANS 4, ICANS 0 for review.
        (SEDATED, 0, True),
        # ref §2.2 ICE row: unarousable WITHOUT another cause stays grade 4, no review.
        (
            {"consciousness": "unarousable", "unable_to_assess_reason": "Does not rouse"},
            4,
            False,
        ),
        # ref §2.2: the other domains still grade. Post-ictal after a seizure that resolved: 3.
        (
            {
                "consciousness": "awakens_to_touch",
                "consciousness_attributable_to": "post_ictal",
                "seizure": "resolved_rapidly",
                "unable_to_assess_reason": "Post-ictal",
            },
            3,
            True,
        ),
        # ref §2.2 motor row: sedated with a new hemiparesis is still grade 4.
        ({**SEDATED, "motor_weakness": "deep_focal"}, 4, True),
        (
            {
                "consciousness": "awakens_to_voice",
                "consciousness_attributable_to": "other",
                "consciousness_other_cause": "Hypoglycaemia 1.8 mmol/L",
                "unable_to_assess_reason": "Drowsy with hypoglycaemia",
            },
            0,
            True,
        ),
    ],
    ids=["sedated", "unarousable-no-cause", "post-ictal-seizure", "sedated-hemiparesis", "other"],
)
def test_consciousness_with_another_cause_is_graded_by_the_other_domains_for_review(
    course, nurse, neuro, grade, needs_review
):
    check = record(course, nurse, neuro=neuro)

    snapshot = snapshot_of(check)
    assert snapshot.icans_grade == grade
    assert snapshot.icans_needs_review is needs_review
    review_flag = Flag.objects.filter(course=course, kind="needs_review").first()
    if needs_review:
        assert "ref §2.2 †" in " ".join(snapshot.review_reasons_text)
        assert "attributed to" in review_flag.message
    else:
        assert review_flag is None
    assert Flag.objects.filter(course=course, kind="icans").exists() is (grade > 0)


def test_the_snapshot_keeps_the_attribution_it_was_graded_on(course, nurse):
    check = record(
        course,
        nurse,
        neuro={
            "consciousness": "unarousable",
            "consciousness_attributable_to": "other",
            "consciousness_other_cause": "  Hepatic encephalopathy ",
            "unable_to_assess_reason": "Not rousable",
        },
    )

    snapshot = snapshot_of(check)
    assert snapshot.inputs["icans"]["consciousness_attributable_to"] == "other"
    assert snapshot.inputs["icans"]["consciousness_other_cause"] == "Hepatic encephalopathy"
    assert "attributed to another cause: Hepatic encephalopathy" in snapshot.review_reasons_text[0]


def test_without_a_typed_reason_the_record_says_why_the_screen_was_not_done(course, nurse):
    check = record(
        course,
        nurse,
        neuro={"consciousness": "awakens_to_touch", "consciousness_attributable_to": "sedation"},
    )

    assessment = NeuroAssessment.objects.get(check_entry=check)
    assert assessment.unable_to_assess_reason == "depressed consciousness attributed to sedation"
    assert assessment.score_label == "not assessable"
    assert assessment.consciousness_label == "Awakens only to touch, attributed to sedation"


@pytest.mark.parametrize(
    ("neuro", "message"),
    [
        (
            {"consciousness": "unarousable", "consciousness_attributable_to": "other"},
            "Name the other cause",
        ),
        (
            {
                "consciousness": "unarousable",
                "consciousness_attributable_to": "other",
                "consciousness_other_cause": "   ",
            },
            "Name the other cause",
        ),
        (
            {**SEDATED, "consciousness_other_cause": "propofol"},
            "only with 'Other cause",
        ),
        (
            {"consciousness": "alert", "consciousness_attributable_to": "sedation"},
            "An alert patient has no depressed consciousness",
        ),
        (
            {
                "consciousness": "awakens_to_voice",
                "consciousness_attributable_to": "sedation",
                "ice_orientation": 4,
                "ice_naming": 3,
                "ice_commands": 1,
                "ice_writing": 1,
                "ice_attention": 0,
            },
            "the ICE/CAPD is not assessable",
        ),
    ],
    ids=["other-without-text", "other-blank", "text-without-other", "alert", "with-ice-score"],
)
def test_an_attribution_that_cannot_be_true_saves_nothing(course, nurse, neuro, message):
    with pytest.raises(ValidationError, match=message):
        record(course, nurse, neuro=neuro)

    assert not BedsideCheck.objects.exists()
    assert not NeuroAssessment.objects.exists()


def test_an_amendment_that_adds_the_cause_regrades_the_moment(course, nurse):
    check = record(
        course, nurse, neuro={"consciousness": "unarousable", "unable_to_assess_reason": "Sedated"}
    )
    assert snapshot_of(check).icans_grade == 4

    services.amend_record(
        record=NeuroAssessment.objects.get(check_entry=check),
        values={"consciousness_attributable_to": "sedation"},
        reason="Unarousable on the propofol infusion, not from ICANS",
        by=nurse,
    )

    snapshot = snapshot_of(check)
    assert (snapshot.icans_grade, snapshot.icans_needs_review) == (0, True)


# --- Positive pressure for airway protection only, through the service --------------------

VENTILATED = {
    "temp_c": 38.5,
    "oxygen_support": "mechanical_ventilation",
    "vasopressors_count": 0,
}


@pytest.mark.parametrize(
    ("vitals", "grade", "needs_review"),
    [
        # ref §1.1: positive pressure is CRS grade 4 hypoxia.
        (VENTILATED, 4, False),
        # ref §1.2.8 [M], §1.5.6: for airway protection only it is not hypoxia; fever alone
        # is grade 1, and a clinician confirms.
        ({**VENTILATED, "oxygen_for_airway_protection": True}, 1, True),
        # ref §1.2.3: the hypotension domain still decides.
        ({**VENTILATED, "oxygen_for_airway_protection": True, "vasopressors_count": 1}, 3, True),
        ({**VENTILATED, "oxygen_support": "bipap", "oxygen_for_airway_protection": True}, 1, True),
    ],
    ids=["ventilated-hypoxia", "airway-only", "airway-only-vasopressor", "bipap-airway-only"],
)
def test_positive_pressure_for_airway_protection_is_graded_as_the_rule_says(
    course, nurse, vitals, grade, needs_review
):
    check = record(course, nurse, vitals=vitals)

    snapshot = snapshot_of(check)
    assert snapshot.crs_grade == grade
    assert snapshot.crs_needs_review is needs_review
    assert snapshot.inputs["crs"]["airway_protection_only"] is vitals.get(
        "oxygen_for_airway_protection", False
    )
    if needs_review:
        assert "(ref §1.2.8, §1.5.6)" in snapshot.review_reasons_text[-1]


def test_airway_protection_without_positive_pressure_saves_nothing(course, nurse):
    with pytest.raises(ValidationError, match="only applies to CPAP, BiPAP or mechanical"):
        record(
            course,
            nurse,
            vitals={
                "temp_c": 38.5,
                "oxygen_support": "facemask",
                "oxygen_for_airway_protection": True,
            },
        )

    assert not BedsideCheck.objects.exists()


def test_an_amendment_that_takes_the_patient_off_positive_pressure_must_clear_the_purpose(
    course, nurse
):
    check = record(course, nurse, vitals={**VENTILATED, "oxygen_for_airway_protection": True})
    vitals = check.vitalsigns_set.get()

    with pytest.raises(ValidationError, match="only applies to CPAP"):
        services.amend_record(
            record=vitals,
            values={"oxygen_support": "room_air"},
            reason="Was extubated before this reading",
            by=nurse,
        )
    vitals.refresh_from_db()
    assert vitals.is_current


# --- Through the check page -------------------------------------------------------------------


def check_url(course):
    return reverse("monitoring:nurse-check", args=[course.patient.public_id])


NO_ICE = {
    f"neuro-ice_{n}": "" for n in ("orientation", "naming", "commands", "writing", "attention")
}


def test_the_check_page_asks_for_the_cause_and_the_purpose_of_positive_pressure(
    nurse_client, course
):
    page = nurse_client.get(check_url(course)).content.decode()

    assert "Depressed consciousness due to another cause?" in page
    assert 'name="neuro-consciousness_attributable_to"' in page
    assert '<option value="" selected>No</option>' in page
    assert 'name="neuro-consciousness_other_cause"' in page
    assert 'name="vitals-oxygen_for_airway_protection"' in page
    assert "For airway protection only, not hypoxia" in page


def test_a_sedated_patient_recorded_on_the_page_is_not_icans_4_and_goes_for_review(
    nurse_client, course
):
    response = nurse_client.post(
        check_url(course),
        full_check(
            **NO_ICE,
            **{
                "neuro-consciousness": "unarousable",
                "neuro-consciousness_attributable_to": "sedation",
            },
        ),
        follow=True,
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "ICANS 0?" in page  # the badge: grade 0, a clinician must confirm
    assert "Unarousable / stupor / coma, attributed to sedation" in page
    assert "A clinician must confirm this grade" in page
    assert "not graded and the ICE/CAPD is not assessable" in page
    assessment = NeuroAssessment.objects.get()
    assert assessment.consciousness_attributable_to == "sedation"
    assert assessment.ice_total is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"neuro-consciousness": "unarousable", "neuro-consciousness_attributable_to": "other"},
            "Name the other cause.",
        ),
        (
            {"neuro-consciousness": "alert", "neuro-consciousness_attributable_to": "sedation"},
            "The patient is alert: there is no depressed consciousness to attribute.",
        ),
        (
            {"neuro-consciousness": "unarousable", "neuro-consciousness_other_cause": "Opioids"},
            "Give an other cause only with",
        ),
    ],
    ids=["other-without-text", "alert", "text-without-other"],
)
def test_an_impossible_attribution_on_the_page_saves_nothing_and_keeps_the_rest(
    nurse_client, course, fields, message
):
    response = nurse_client.post(check_url(course), full_check(**NO_ICE, **fields))

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert not BedsideCheck.objects.exists()
    assert response.context["page"].labs["ferritin_ng_ml"].value() == "1450"


def test_ice_items_with_a_cause_are_refused_on_the_page(nurse_client, course):
    response = nurse_client.post(
        check_url(course),
        full_check(
            **{
                "neuro-consciousness": "awakens_to_voice",
                "neuro-consciousness_attributable_to": "sedation",
            }
        ),
    )

    assert response.status_code == 400
    assert "the ICE is not assessable, so clear its items" in response.content.decode()
    assert not BedsideCheck.objects.exists()


def test_ventilation_for_airway_protection_on_the_page_grades_crs_1_for_review(
    nurse_client, course
):
    response = nurse_client.post(
        check_url(course),
        full_check(
            **{
                "vitals-oxygen_support": "mechanical_ventilation",
                "vitals-oxygen_flow_l_min": "",
                "vitals-oxygen_for_airway_protection": "on",
            }
        ),
        follow=True,
    )

    page = response.content.decode()
    assert "CRS 1?" in page
    assert "Mechanical ventilation (airway protection only)" in page
    assert "for airway protection or a procedure only, not counted as hypoxia" in page


def test_airway_protection_on_a_nasal_cannula_is_refused_on_the_page(nurse_client, course):
    response = nurse_client.post(
        check_url(course), full_check(**{"vitals-oxygen_for_airway_protection": "on"})
    )

    assert response.status_code == 400
    assert "Only CPAP, BiPAP or mechanical ventilation can be for airway protection" in (
        response.content.decode()
    )
    assert not BedsideCheck.objects.exists()


def test_the_purpose_of_positive_pressure_carries_forward_with_the_device(
    nurse_client, nurse, course
):
    record(
        course,
        nurse,
        minutes_ago=60,
        vitals={**VENTILATED, "oxygen_for_airway_protection": True},
    )

    vitals_form = nurse_client.get(check_url(course)).context["page"].vitals

    assert vitals_form["oxygen_support"].value() == "mechanical_ventilation"
    assert vitals_form["oxygen_for_airway_protection"].value() is True

"""Confirming or overriding a computed grade (issue 10 §6): the form starts at the computed
grade, never at 0, and a grade LOWER than the computed one needs an explicit second
confirmation and a reason — in the service as well as on the page. Lowering a grade lowers what
the nurse is told to do (ASCO 2021, reference §7), so it must never come from a slip."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.forms.care_team import GradeConfirmationForm
from monitoring.models import AuditEvent, GradeConfirmation, GradeSnapshot

ROOM_AIR = {"oxygen_support": "room_air", "vasopressors_count": 0, "vasopressin": False}
# ASTCT CRS (reference §1.1): fever alone 1; + low-flow ≤ 6 L/min 2; + one vasopressor 3.
CRS_VITALS = {
    1: {**ROOM_AIR, "temp_c": 38.4},
    2: {**ROOM_AIR, "temp_c": 38.6, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    3: {**ROOM_AIR, "temp_c": 38.9, "sbp_mmhg": 82, "dbp_mmhg": 45, "vasopressors_count": 1},
}
ICE_8 = {  # ICE 8/10 → ICANS 1 (reference §2.2)
    "ice_orientation": 3,
    "ice_naming": 2,
    "ice_commands": 1,
    "ice_writing": 1,
    "ice_attention": 1,
    "consciousness": "alert",
}


def course_url(course, **query) -> str:
    url = reverse("monitoring:patient-course", args=[course.patient.public_id])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def confirm_url(course) -> str:
    return reverse("monitoring:care-grade-confirm", args=[course.patient.public_id])


def chart(course, nurse, crs: int, minutes_ago: int = 30, **sections) -> GradeSnapshot:
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(minutes=minutes_ago),
        vitals=CRS_VITALS[crs],
        **sections,
    )
    snapshot = GradeSnapshot.objects.get(check_entry=check)
    assert snapshot.crs_grade == crs
    return snapshot


def selected(page: str, name: str) -> str | None:
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S).group()
    option = re.search(r'<option value="([^"]*)"[^>]*selected', select)
    return option.group(1) if option else None


# --- The form starts at the computed grade ------------------------------------------------------


@pytest.mark.parametrize("crs", [1, 2, 3])
def test_the_form_starts_at_the_computed_grade_of_the_latest_moment(
    care_client, course, nurse, crs
):
    chart(course, nurse, crs)

    page = care_client.get(course_url(course)).content.decode()

    assert selected(page, "domain") == "crs"
    assert selected(page, "grade") == str(crs)


def test_the_confirm_link_starts_at_that_moments_grade(care_client, course, nurse):
    earlier = chart(course, nurse, 1, minutes_ago=120)
    chart(course, nurse, 3, minutes_ago=10)

    page = care_client.get(course_url(course, confirm=earlier.pk)).content.decode()

    assert selected(page, "snapshot") == str(earlier.pk)
    assert selected(page, "grade") == "1"


def test_a_moment_whose_icans_waits_for_review_starts_on_icans(care_client, course, nurse):
    # ICE not possible (sedated) and not unarousable: ICANS graded by the other domains and
    # marked for review (docs/clinical-rules.md, ICANS).
    snapshot = chart(
        course,
        nurse,
        1,
        neuro={"consciousness": "awakens_to_voice", "unable_to_assess_reason": "sedated"},
    )
    assert snapshot.icans_needs_review
    assert not snapshot.crs_needs_review

    page = care_client.get(course_url(course, confirm=snapshot.pk)).content.decode()

    assert selected(page, "domain") == "icans"
    assert selected(page, "grade") == str(snapshot.icans_grade)


def test_a_domain_not_graded_starts_empty_never_at_0(course, nurse):
    snapshot = chart(course, nurse, 2)  # vital signs only: ICANS not graded
    assert snapshot.icans_grade is None

    form = GradeConfirmationForm(
        course=course, snapshots=[snapshot], initial={"snapshot": snapshot.pk, "domain": "icans"}
    )

    assert form.initial["grade"] is None
    assert '<option value="" selected>—</option>' in str(form["grade"])


def test_every_moment_carries_its_computed_grades_for_the_script(care_client, course, nurse):
    snapshot = chart(course, nurse, 2, neuro=ICE_8)

    page = care_client.get(course_url(course)).content.decode()

    option = re.search(rf'<option value="{snapshot.pk}"[^>]*>', page).group()
    assert 'data-crs="2"' in option
    assert 'data-icans="1"' in option
    assert "js/confirm_grade.js" in page


# --- A lower grade needs a second confirmation, in the service ---------------------------------


@pytest.mark.parametrize(
    ("computed", "chosen", "confirm_lower", "saved"),
    [
        (2, 2, False, True),  # confirming the computed grade
        (2, 3, False, True),  # a higher grade: no second confirmation
        (2, 1, False, False),  # lower: refused without the second confirmation
        (2, 1, True, True),
        (3, 0, False, False),
        (3, 0, True, True),
        (1, 0, False, False),
    ],
)
def test_the_service_refuses_a_lower_grade_without_the_second_confirmation(
    course, nurse, care_team_member, computed, chosen, confirm_lower, saved
):
    snapshot = chart(course, nurse, computed)

    def confirm():
        return services.confirm_grade(
            snapshot=snapshot,
            domain="crs",
            grade=chosen,
            reason="examined at the bedside",
            by=care_team_member,
            confirm_lower=confirm_lower,
        )

    if saved:
        confirm()
    else:
        with pytest.raises(ValidationError) as refused:
            confirm()
        assert refused.value.message_dict["confirm_lower"] == [
            f"Grade {chosen} is lower than the computed grade {computed}: tick "
            "“I confirm the lower grade” and give the reason."
        ]
    snapshot.refresh_from_db()
    assert GradeConfirmation.objects.exists() is saved
    assert snapshot.crs_confirmed_grade == (chosen if saved else None)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.GRADE_CONFIRMED).exists() is saved


def test_a_lower_grade_still_needs_a_reason(course, nurse, care_team_member):
    snapshot = chart(course, nurse, 2)

    with pytest.raises(ValidationError) as refused:
        services.confirm_grade(
            snapshot=snapshot,
            domain="crs",
            grade=1,
            reason="  ",
            by=care_team_member,
            confirm_lower=True,
        )

    assert "reason" in refused.value.message_dict
    assert not GradeConfirmation.objects.exists()


# --- ... and on the page -----------------------------------------------------------------------


def test_the_page_asks_for_the_second_confirmation_keeps_what_was_typed_then_saves(
    care_client, course, nurse, care_team_member
):
    snapshot = chart(course, nurse, 2)
    data = {
        "snapshot": snapshot.pk,
        "domain": "crs",
        "grade": 1,
        "reason": "oxygen was for comfort; SpO2 98 % on room air",
    }

    first = care_client.post(confirm_url(course), data)

    assert first.status_code == 400
    page = first.content.decode()
    assert "Grade 1 is lower than the computed grade 2" in page
    assert 'id="confirm-lower"' in page
    assert re.search(r'class="col-12" id="confirm-lower"', page)  # shown, not d-none
    assert "I confirm the lower grade" in page
    assert "oxygen was for comfort; SpO2 98 % on room air" in page
    assert selected(page, "grade") == "1"
    assert not GradeConfirmation.objects.exists()

    second = care_client.post(confirm_url(course), {**data, "confirm_lower": "on"})

    assert second.status_code == 302
    confirmation = GradeConfirmation.objects.get()
    assert (confirmation.computed_grade, confirmation.confirmed_grade) == (2, 1)
    assert confirmation.confirmed_by == care_team_member


def test_the_second_confirmation_is_hidden_until_a_lower_grade_is_chosen(
    care_client, course, nurse
):
    chart(course, nurse, 2)

    page = care_client.get(course_url(course)).content.decode()

    assert re.search(r'class="col-12 d-none" id="confirm-lower"', page)


def test_a_grade_must_be_chosen(care_client, course, nurse):
    snapshot = chart(course, nurse, 2)

    response = care_client.post(
        confirm_url(course),
        {"snapshot": snapshot.pk, "domain": "crs", "grade": "", "reason": "x"},
    )

    assert response.status_code == 400
    assert "Choose the grade you confirm." in response.content.decode()
    assert not GradeConfirmation.objects.exists()

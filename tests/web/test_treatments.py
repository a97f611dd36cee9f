"""Treatments given, recorded by nurses and the care team: saved through services.record_check
(so they feed the grading at once), listed with doses and times; tocilizumab shows its usual
dose from the weight and warns on its limits before saving (reference §7.1), never blocking
a physician's decision silently."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import (
    AuditEvent,
    BedsideCheck,
    GradeSnapshot,
    Treatment,
    TreatmentCourse,
    User,
)
from tests.factories import ROOM_AIR, CourseFactory, UserFactory
from tests.web.test_security import csp_violations


def url(course) -> str:
    return reverse("monitoring:patient-treatments", args=[course.patient.public_id])


def form(hours_ago: float = 0.1, **fields) -> dict:
    at = timezone.localtime() - timedelta(hours=hours_ago)
    return {
        "drug": "tocilizumab",
        "dose": "560",
        "dose_unit": "mg",
        "route": "iv",
        "observed_at": at.strftime("%Y-%m-%dT%H:%M"),
        **fields,
    }


def give(course, by, drug, hours_ago, dose=560):
    services.record_check(
        course=course,
        by=by,
        observed_at=timezone.now() - timedelta(hours=hours_ago),
        treatment={"drug": drug, "dose": dose, "dose_unit": "mg", "route": "iv"},
    )


def toci_doses(course) -> int:
    return (
        Treatment.objects.current().filter(check_entry__course=course, drug="tocilizumab").count()
    )


# --- Recording a treatment ----------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["nurse_client", "care_client"])
def test_nurses_and_the_care_team_record_a_steroid_dose(request, actor, course):
    client = request.getfixturevalue(actor)

    response = client.post(url(course), form(drug="dexamethasone", dose="10", hours_ago=1))

    assert response.status_code == 302
    treatment = Treatment.objects.get()
    assert (treatment.drug, treatment.dose, treatment.route) == ("dexamethasone", 10, "iv")
    assert treatment.recorded_by.username in ("nina", "carl")
    assert GradeSnapshot.objects.filter(check_entry=treatment.check_entry).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TREATMENT_RECORDED).exists()
    page = client.get(response.url).content.decode()
    assert "Dexamethasone 10 mg IV recorded at" in page
    assert "Dexamethasone" in page[page.index('id="treatments-given"') :]


def test_a_treatment_recorded_here_feeds_the_grade_at_once(care_client, nurse, course):
    """ASTCT: after anti-cytokine therapy fever is no longer required (reference §1.2.2)."""
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=3),
        vitals={**ROOM_AIR, "temp_c": 38.9},
    )
    care_client.post(url(course), form(hours_ago=2))
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(minutes=5),
        vitals={**ROOM_AIR, "temp_c": 36.9, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )

    snapshot = GradeSnapshot.objects.get(check_entry=check)
    assert snapshot.crs_grade == 2
    assert snapshot.inputs["crs"]["fever_masking_therapy"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"drug": ""}, "This field is required."),
        ({"dose": ""}, "This field is required."),
        ({"dose": "0"}, "The dose must be more than 0."),
        ({"dose": "-10"}, "The dose must be more than 0."),
        ({"dose": "12345678"}, "Ensure that there are no more than 7 digits in total."),
        ({"dose": "NaN"}, "Enter a number."),
        ({"drug": "other", "drug_other": ""}, "Name the drug."),
        ({"route": "intraosseous"}, "Select a valid choice."),
        ({"observed_at": "tomorrow"}, "Enter a valid date/time."),
        ({"hours_ago": -3}, "cannot be in the future"),
        ({"hours_ago": 24 * 11}, "more than 7 days before the infusion"),
    ],
)
def test_bad_input_re_renders_with_a_message_and_saves_nothing(
    care_client, course, fields, message
):
    data = form(hours_ago=fields.pop("hours_ago", 0.1), **fields)

    response = care_client.post(url(course), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved." in page
    assert message in page
    assert not BedsideCheck.objects.exists()


def test_the_page_is_clean_under_the_content_security_policy(care_client, course):
    assert csp_violations(care_client.get(url(course)).content.decode()) == []


# --- Tocilizumab decision support (reference §7.1) ----------------------------------------------


@pytest.mark.parametrize(
    ("weight_kg", "shown"),
    [
        (70, "usual dose <strong>560 mg</strong> (8 mg/kg × 70.0 kg)"),
        (24, "usual dose <strong>288 mg</strong> (12 mg/kg × 24.0 kg)"),  # under 30 kg
        (120, "usual dose <strong>800 mg</strong> (8 mg/kg × 120.0 kg, capped at 800 mg)"),
    ],
)
def test_the_usual_dose_comes_from_the_weight(care_client, ward_a, weight_kg, shown):
    course = CourseFactory(unit=ward_a, patient__weight_kg=weight_kg)

    page = care_client.get(url(course)).content.decode()

    assert shown in page


def test_a_fourth_dose_in_24_hours_warns_before_saving_and_saves_only_on_decision(
    care_client, care_team_member, nurse, course
):
    for hours_ago in (20, 12, 4):
        give(course, nurse, "tocilizumab", hours_ago)
    page = care_client.get(url(course)).content.decode()
    assert "Given so far: <strong>3 of 4</strong> · 3 in the last 24 hours." in page
    assert "A dose now: This would be dose 4 within 24 hours" in page

    first = care_client.post(url(course), form())

    assert first.status_code == 200
    warning = "This would be dose 4 within 24 hours: the maximum is 3 doses in 24 h"
    assert warning in first.content.decode()
    assert "Give anyway — clinician&#x27;s decision" in first.content.decode()
    assert toci_doses(course) == 3  # nothing saved yet
    shown = [w.message for w in first.context["pending"]]

    # Saving again without ticking the box saves nothing either.
    assert care_client.post(url(course), form(shown_warnings=shown)).status_code == 200
    assert toci_doses(course) == 3

    second = care_client.post(url(course), form(give_anyway="on", shown_warnings=shown))

    assert second.status_code == 302
    assert toci_doses(course) == 4
    override = AuditEvent.objects.get(summary__startswith="Given despite dose warnings")
    assert override.user == care_team_member
    assert override.details["warnings"] == ["per_24h", "interval"]  # 4 h after the last


def test_a_fifth_dose_of_the_course_warns(care_client, nurse, course):
    for hours_ago in (70, 60, 50, 40):
        give(course, nurse, "tocilizumab", hours_ago)

    response = care_client.post(url(course), form())

    assert "This would be dose 5 of the course: the maximum is 4 doses in total" in (
        response.content.decode()
    )
    assert toci_doses(course) == 4


def test_a_dose_above_800_mg_warns(care_client, course):
    response = care_client.post(url(course), form(dose="1000"))

    assert "1000 mg is above the maximum of 800 mg per dose" in response.content.decode()
    assert toci_doses(course) == 0


def test_warnings_that_changed_since_they_were_shown_must_be_seen_again(care_client, nurse, course):
    for hours_ago in (20, 12):
        give(course, nurse, "tocilizumab", hours_ago)
    first = care_client.post(url(course), form(dose="1000"))  # above 800 mg only
    shown = [w.message for w in first.context["pending"]]
    give(course, nurse, "tocilizumab", 4)  # meanwhile, a colleague records a third dose

    second = care_client.post(
        url(course), form(dose="1000", give_anyway="on", shown_warnings=shown)
    )

    assert second.status_code == 200
    assert "This would be dose 4 within 24 hours" in second.content.decode()
    assert toci_doses(course) == 3


def test_other_drugs_never_warn(care_client, nurse, course):
    for hours_ago in (20, 12, 4, 2):
        give(course, nurse, "dexamethasone", hours_ago, dose=10)

    response = care_client.post(url(course), form(drug="dexamethasone", dose="10"))

    assert response.status_code == 302


# --- Who may record ---------------------------------------------------------------------------


def test_roles_units_and_finished_courses(
    admin_client_, outsider_client, care_client, course, ward_a
):
    assert admin_client_.get(url(course)).status_code == 403
    assert outsider_client.get(url(course)).status_code == 404
    assert outsider_client.post(url(course), form()).status_code == 404
    finished = CourseFactory(unit=ward_a, status=TreatmentCourse.Status.COMPLETED)
    assert care_client.get(url(finished)).status_code == 404
    assert not BedsideCheck.objects.exists()


def test_a_care_team_member_of_another_unit_cannot_record(course, ward_b):
    client = Client()
    client.force_login(UserFactory(role=User.Role.CARE_TEAM, units=[ward_b]))

    assert client.post(url(course), form()).status_code == 404
    assert not BedsideCheck.objects.exists()

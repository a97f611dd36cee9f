"""A symptom review that found nothing (issue 10 §6): "No symptoms" saves a symptom check with
every item negative, and it counts as the review the protocol asks for — a well patient's
symptom review no longer stays overdue. Ticking it together with a symptom is refused."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import BedsideCheck, CourseStatus, SymptomCheck
from monitoring.schedule import due_checks
from tests.factories import local_input

# What the browser posts for the sections the nurse did not touch.
UNTOUCHED = {
    "vitals-temperature_unit": "C",
    "vitals-oxygen_support": "room_air",
    "vitals-vasopressors_count": "0",
}


def check_url(course):
    return reverse("monitoring:nurse-check", args=[course.patient.public_id])


def post(client, course, minutes_ago=5, **fields):
    data = {
        "observed_at": local_input(timezone.now() - timedelta(minutes=minutes_ago)),
        **UNTOUCHED,
    }
    data.update({f"symptoms-{name}": value for name, value in fields.items()})
    return client.post(check_url(course), data)


def symptoms_due(course):
    status = CourseStatus.objects.get(course=course)
    return next(d for d in due_checks(course, status) if d.check_type == "symptoms")


def test_no_symptoms_is_saved_as_a_review_with_every_item_negative(nurse_client, course):
    response = post(nurse_client, course, no_symptoms="on")

    assert response.status_code == 302
    review = SymptomCheck.objects.get()
    assert review.crs_symptoms == []
    assert review.neuro_symptoms == []
    assert review.other == ""
    page = nurse_client.get(response.url).content.decode()
    assert "none of the listed symptoms" in page


def test_the_review_satisfies_the_schedule(nurse_client, course):
    # Nothing done since day 0 (three days ago): the symptom review is overdue.
    CourseStatus.objects.get_or_create(course=course)
    assert symptoms_due(course).is_overdue

    post(nurse_client, course, minutes_ago=5, no_symptoms="on")

    due = symptoms_due(course)
    assert not due.is_overdue
    # Default protocol: symptom review every 4 h while well (migration 0002).
    assert due.next_due == BedsideCheck.objects.get().observed_at + timedelta(hours=4)


def test_an_empty_symptom_section_still_saves_nothing(nurse_client, course):
    response = post(nurse_client, course)

    assert response.status_code == 400
    assert "Nothing to save" in response.content.decode()
    assert not SymptomCheck.objects.exists()


@pytest.mark.parametrize(
    ("ticked", "named"),
    [
        ({"fever": "on"}, "fever"),
        ({"confusion": "on", "tremor": "on"}, "confusion, tremor"),
        ({"other": "nausea"}, "other symptoms"),
    ],
)
def test_no_symptoms_with_a_symptom_is_refused_and_keeps_what_was_ticked(
    nurse_client, course, ticked, named
):
    response = post(nurse_client, course, no_symptoms="on", **ticked)

    assert response.status_code == 400
    page = response.content.decode()
    assert f"“No symptoms” is ticked together with {named}" in page
    assert "untick “No symptoms”, or clear the symptoms." in page
    assert not BedsideCheck.objects.exists()
    for name in ticked:
        assert f'name="symptoms-{name}"' in page
    if "fever" in ticked:
        box = page[page.index('name="symptoms-fever"') :]
        assert "checked" in box[: box.index(">")]


def test_a_no_symptoms_review_is_corrected_by_amendment(nurse_client, nurse, course):
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=1),
        symptoms={"fever": False},
    )
    review = check.symptomcheck_set.get()
    amend = reverse("monitoring:record-amend", args=["symptoms", review.pk])

    page = nurse_client.get(amend).content.decode()
    box = page[page.index('name="symptoms-no_symptoms"') :]
    assert "checked" in box[: box.index(">")]

    both = nurse_client.post(
        amend, {"symptoms-no_symptoms": "on", "symptoms-fever": "on", "reason": "had fever"}
    )
    assert both.status_code == 400
    assert "“No symptoms” is ticked together with fever" in both.content.decode()

    fixed = nurse_client.post(amend, {"symptoms-fever": "on", "reason": "had fever"})

    assert fixed.status_code == 302
    assert SymptomCheck.objects.current().get().fever is True

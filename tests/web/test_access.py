"""Every page needs a login; every view checks role and unit; another unit's patient is a 404."""

import pytest
from django.test import Client
from django.urls import reverse

from monitoring import services
from monitoring.models import BedsideCheck
from tests.factories import CourseFactory


@pytest.fixture
def saved_check(course, nurse):
    from django.utils import timezone

    return services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now(),
        vitals={
            "temp_c": 37,
            "oxygen_support": "room_air",
            "vasopressors_count": 0,
            "vasopressin": False,
        },
    )


def patient_pages(course, check: BedsideCheck | None = None):
    pid = course.patient.public_id
    pages = [
        reverse("monitoring:patient-course", args=[pid]),
        reverse("monitoring:nurse-check", args=[pid]),
        reverse("monitoring:nurse-check-support", args=[pid]),
    ]
    if check:
        pages.append(reverse("monitoring:nurse-check-result", args=[pid, check.public_id]))
    return pages


def test_anonymous_users_are_sent_to_login_from_every_page(course, saved_check):
    client = Client()
    for url in ["/", reverse("monitoring:nurse-worklist"), *patient_pages(course, saved_check)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url


def test_the_health_check_needs_no_login_and_no_data(db):
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_login_page_is_public(db):
    assert Client().get(reverse("login")).status_code == 200


@pytest.mark.parametrize(
    ("actor", "home"),
    [
        ("nurse_client", "/worklist/"),
        ("care_client", "/flags/"),  # the care team lands on the flag board
        ("admin_client_", "/worklist/"),
    ],
)
def test_each_role_lands_on_its_home(request, actor, home):
    response = request.getfixturevalue(actor).get("/")

    assert response.status_code == 302
    assert response.url == home


def test_a_nurse_of_another_unit_gets_404_on_every_patient_page(
    outsider_client, course, saved_check
):
    for url in patient_pages(course, saved_check):
        assert outsider_client.get(url).status_code == 404, url


def test_a_nurse_of_another_unit_cannot_post_a_check(outsider_client, course):
    response = outsider_client.post(
        reverse("monitoring:nurse-check", args=[course.patient.public_id]),
        {
            "vitals-temperature": "39",
            "vitals-temperature_unit": "C",
            "vitals-oxygen_support": "room_air",
            "vitals-vasopressors_count": "0",
        },
    )

    assert response.status_code == 404
    assert not BedsideCheck.objects.exists()


def test_a_nurse_sees_her_own_units_patient(nurse_client, course, saved_check):
    for url in patient_pages(course, saved_check):
        assert nurse_client.get(url).status_code == 200, url


def test_the_worklist_hides_other_units_patients(outsider_client, nurse_client, course):
    assert course.patient.mrn in nurse_client.get("/worklist/").content.decode()
    assert course.patient.mrn not in outsider_client.get("/worklist/").content.decode()


def test_an_admin_sees_every_unit_but_does_not_record_checks(admin_client_, course, saved_check):
    assert course.patient.mrn in admin_client_.get("/worklist/").content.decode()
    pid = course.patient.public_id
    assert admin_client_.get(reverse("monitoring:patient-course", args=[pid])).status_code == 200
    assert admin_client_.get(reverse("monitoring:nurse-check", args=[pid])).status_code == 403


def test_a_check_result_of_another_course_is_404_even_with_a_visible_patient(
    nurse_client, course, saved_check, ward_b, outsider
):
    """The check id must belong to the patient in the URL: no reading across courses."""
    other = CourseFactory(unit=ward_b)
    url = reverse(
        "monitoring:nurse-check-result", args=[other.patient.public_id, saved_check.public_id]
    )
    assert nurse_client.get(url).status_code == 404
    url = reverse(
        "monitoring:nurse-check-result", args=[course.patient.public_id, saved_check.public_id]
    )
    assert nurse_client.get(url).status_code == 200


def test_the_worklist_refuses_a_unit_that_is_not_yours(nurse_client, ward_b, course):
    assert nurse_client.get(f"/worklist/?unit={ward_b.pk}").status_code == 404
    response = nurse_client.get("/worklist/?unit=abc", follow=True)
    assert response.status_code == 200
    assert "Unknown unit" in response.content.decode()

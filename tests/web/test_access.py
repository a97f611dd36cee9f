"""Every page needs a login; every view checks role and unit; another unit's patient is a 404."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import AuditEvent, BedsideCheck
from tests.factories import ROOM_AIR, CourseFactory
from tests.routes import HOME_PUBLIC_PAGES, PUBLIC_PAGES, monitoring_routes, route_sample, url_of


@pytest.fixture
def saved_check(course, nurse):
    return services.record_check(
        course=course, by=nurse, observed_at=timezone.now(), vitals={"temp_c": 37, **ROOM_AIR}
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


def test_only_the_health_check_the_push_worker_and_home_sign_in_are_open_without_a_login():
    routes = monitoring_routes()
    public = {r.name for r in routes if getattr(r.callback, "login_required", True) is False}

    assert {"healthz", "service-worker"} == PUBLIC_PAGES
    assert public == PUBLIC_PAGES | HOME_PUBLIC_PAGES


def test_anonymous_users_are_sent_to_login_from_every_page(course, nurse):
    """Every URL pattern of the app, GET and POST, with real objects in its arguments; a home
    page sends to the home sign-in page, every other page to the staff login."""
    sample = route_sample(course, nurse)
    client = Client()
    for route in monitoring_routes():
        if route.name in PUBLIC_PAGES | HOME_PUBLIC_PAGES:
            continue
        url = url_of(route, sample)
        home = getattr(route.callback, "login_url", None) == "monitoring:home-login"
        login = reverse("monitoring:home-login" if home else "login")
        for response in (client.get(url), client.post(url)):
            assert response.status_code == 302, url
            assert response.url.startswith(login), url


def test_the_health_check_needs_no_login_and_no_data(db):
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "workers": "delayed",
        "escalations": "escalations delayed: no job worker has run yet",
    }


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


# --- The unit filter: one policy on every page that has one (monitoring.access) -------------

UNIT_FILTERED_PAGES = [
    "monitoring:nurse-worklist",
    "monitoring:care-flags",
    "monitoring:handover",
    "monitoring:exports-registry-csv",
]


@pytest.mark.parametrize("page", UNIT_FILTERED_PAGES)
def test_a_unit_filter_shows_only_that_unit(care_client, course, page):
    """The care-team member's own unit, or none (all their units), opens the page."""
    url = reverse(page)

    assert care_client.get(url, {"unit": str(course.unit_id)}).status_code == 200
    assert care_client.get(url, {"unit": ""}).status_code == 200
    assert care_client.get(url).status_code == 200


@pytest.mark.parametrize("page", UNIT_FILTERED_PAGES)
@pytest.mark.parametrize(
    "value",
    ["another unit", "999999999", "abc", "1.0", "-1", " 1", "\u0661", "²", "\uff11", "9" * 19],
)
def test_a_unit_that_is_not_one_of_yours_is_a_404_and_records_nothing(
    care_client, course, ward_b, page, value
):
    """Malformed, unknown and another unit's id alike: 404, never "all units" instead of the
    one asked for, never a hint that the unit exists; nothing exported or printed."""
    unit = str(ward_b.pk) if value == "another unit" else value

    assert care_client.get(reverse(page), {"unit": unit}).status_code == 404
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("page", UNIT_FILTERED_PAGES)
def test_two_units_at_once_are_a_404(care_client, course, page):
    unit = str(course.unit_id)

    assert care_client.get(reverse(page), {"unit": [unit, unit]}).status_code == 404

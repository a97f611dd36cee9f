"""403, 404 and 500 are pages of the app: the navigation, what happened, a way back and a way
home; a 500 is never Django's bare "Server Error" (cartmonitor/errors.py). DEBUG is off, as in
production (with DEBUG on Django shows its technical pages instead)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, override_settings
from django.urls import path, reverse

from cartmonitor import urls as project_urls

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("a bug in a view")


def forbidden(request):
    raise PermissionDenied


# The project's pages plus one that fails, with the project's error handlers.
urlpatterns = [*project_urls.urlpatterns, path("boom/", boom), path("forbidden/", forbidden)]
handler403 = project_urls.handler403
handler404 = project_urls.handler404
handler500 = project_urls.handler500

WITH_A_FAILING_PAGE = override_settings(DEBUG=False, ROOT_URLCONF=__name__)


def assert_app_page_with_navigation(response, status: int, heading: str):
    page = response.content.decode()
    assert response.status_code == status
    assert heading in page
    assert 'class="navbar' in page  # the app's navigation…
    assert f'href="{reverse("monitoring:nurse-worklist")}"' in page  # …with the user's pages
    assert "Log out" in page
    assert "Go to your start page" in page
    assert f'href="{reverse("monitoring:home")}"' in page


@override_settings(DEBUG=False)
def test_a_page_that_does_not_exist_is_a_404_page_with_the_navigation(nurse_client):
    response = nurse_client.get("/no-such-page/")

    assert_app_page_with_navigation(response, 404, "Page not found")


@override_settings(DEBUG=False)
def test_another_units_patient_is_the_same_404_page_and_names_nothing(outsider_client, course):
    response = outsider_client.get(
        reverse("monitoring:patient-course", args=[course.patient.public_id])
    )

    assert_app_page_with_navigation(response, 404, "Page not found")
    page = response.content.decode()
    assert course.patient.family_name not in page
    assert "matches the given query" not in page  # Django's internal message is not shown


@override_settings(DEBUG=False)
def test_a_page_the_role_cannot_open_is_a_403_page_with_the_navigation_and_the_reason(
    nurse_client,
):
    response = nurse_client.get(reverse("monitoring:admin-protocols"))

    assert_app_page_with_navigation(response, 403, "You cannot open this page")
    assert "Your role cannot open this page." in response.content.decode()


@override_settings(DEBUG=False)
def test_the_error_page_links_back_to_the_page_the_user_came_from(nurse_client):
    came_from = "http://testserver/worklist/?unit=3"
    response = nurse_client.get("/no-such-page/", headers={"referer": came_from})

    assert f'href="{came_from}"' in response.content.decode()
    assert "Back to the previous page" in response.content.decode()


@override_settings(DEBUG=False)
def test_a_referer_from_another_site_is_not_offered_as_the_way_back(nurse_client):
    response = nurse_client.get("/no-such-page/", headers={"referer": "https://evil.example/x"})

    assert "evil.example" not in response.content.decode()
    assert "Back to the previous page" not in response.content.decode()


@WITH_A_FAILING_PAGE
def test_a_bug_is_a_500_page_with_the_navigation_not_a_bare_server_error(nurse):
    client = Client(raise_request_exception=False)
    client.force_login(nurse)

    response = client.get("/boom/")

    assert_app_page_with_navigation(response, 500, "Something went wrong on our side")
    assert "Server Error (500)" not in response.content.decode()


@WITH_A_FAILING_PAGE
def test_a_403_raised_anywhere_gets_the_page(nurse_client):
    assert_app_page_with_navigation(
        nurse_client.get("/forbidden/"), 403, "You cannot open this page"
    )


def test_when_the_500_page_itself_fails_a_plain_branded_page_is_sent(nurse, settings, tmp_path):
    """The error page's own rendering can fail too (here a broken template; in life, the
    database that caused the error is also what the navigation reads)."""
    (tmp_path / "500.html").write_text(
        '{% extends "base.html" %}{% block content %}{% url "no-such-page" %}{% endblock %}'
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    client = Client(raise_request_exception=False)
    client.force_login(nurse)

    with WITH_A_FAILING_PAGE:
        response = client.get("/boom/")

    page = response.content.decode()
    assert response.status_code == 500
    assert "cartmonitor" in page
    assert "Something went wrong on our side" in page
    assert f'href="{reverse("monitoring:home")}"' in page
    assert "Server Error (500)" not in page


@override_settings(DEBUG=False)
def test_a_form_refused_by_the_csrf_check_is_a_page_that_says_nothing_was_saved(nurse, course):
    """Someone else logged in on the device since the form was opened: the token changed."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)

    response = client.post(
        reverse("monitoring:nurse-check", args=[course.patient.public_id]),
        {"vitals-temperature": "38.2"},
    )

    assert_app_page_with_navigation(response, 403, "This form was not sent: nothing was saved")
    assert "CSRF verification failed" not in response.content.decode()


@override_settings(DEBUG=False)
def test_an_anonymous_visitor_gets_the_404_page_with_a_way_to_log_in(db):
    response = Client().get("/no-such-page/")

    page = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in page
    assert f'href="{reverse("login")}"' in page
    assert "Log out" not in page

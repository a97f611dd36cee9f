"""A session that ends while a nurse types loses nothing on the server, and the login page says
why she is there (issue 13 §2). The browser side (the draft kept and put back) is in
tests/e2e/test_drafts.py; here: the redirects, the login message, and the answers the draft
script relies on (FetchSubmitMiddleware)."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import BedsideCheck, CheckNotDone, VitalSigns
from tests.factories import ROOM_AIR, full_check, local_input

SUBMIT = {"X-Cartmonitor-Submit": "1"}  # what static/js/drafts.js sends with a form


def check_url(course) -> str:
    return reverse("monitoring:nurse-check", args=[course.patient.public_id])


def login_target(response) -> tuple[str, dict]:
    target = urlsplit(response["Location"])
    return target.path, {key: values[0] for key, values in parse_qs(target.query).items()}


@pytest.fixture
def vitals(course, nurse):
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=1),
        vitals={"temp_c": 37.1, **ROOM_AIR},
    )
    return VitalSigns.objects.get(check_entry=check)


def the_forms(course, vitals):
    """Each form that keeps a draft, with a post that would save it."""
    now = local_input(timezone.now() - timedelta(minutes=5))
    return {
        "check": (check_url(course), full_check()),
        "not done": (
            reverse("monitoring:nurse-not-done", args=[course.patient.public_id]) + "?type=labs",
            {"check_type": "labs", "reason": "refused", "note": "", "observed_at": now},
        ),
        "amendment": (
            reverse("monitoring:record-amend", args=["vitals", vitals.pk]),
            {
                "vitals-temperature": "37.9",
                "vitals-oxygen_support": "room_air",
                "vitals-vasopressors_count": "0",
                "reason": "Typed the wrong temperature",
            },
        ),
    }


@pytest.mark.parametrize("form", ["check", "not done", "amendment"])
def test_a_form_posted_after_the_session_expired_goes_to_login_and_back_to_the_form(
    nurse, course, vitals, form
):
    url, data = the_forms(course, vitals)[form]
    checks_before = BedsideCheck.objects.count()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = Client()
        client.force_login(nurse)
        assert client.get(url).status_code == 200
        clock.shift(timedelta(minutes=31))  # typing, called away, back after the idle limit

        response = client.post(url, data)

    assert response.status_code == 302
    path, query = login_target(response)
    assert path == reverse("login")
    # Back to the form's own page (a GET of it), where the draft is put back.
    assert query["next"] == url
    assert query["expired"] == "1"
    assert BedsideCheck.objects.count() == checks_before
    assert not CheckNotDone.objects.exists()
    vitals.refresh_from_db()
    assert vitals.is_current
    assert vitals.temp_c == Decimal("37.1")


def test_it_is_known_even_when_the_browser_has_already_dropped_the_session_cookie(nurse, course):
    """The session cookie's max-age is the idle limit: at the moment the server's session
    expires the browser forgets the cookie, and the next request arrives without it."""
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = Client()
        client.force_login(nurse)
        assert client.get(check_url(course)).status_code == 200
        clock.shift(timedelta(minutes=31))
        del client.cookies[settings.SESSION_COOKIE_NAME]  # what the browser does

        response = client.post(check_url(course), full_check())

    path, query = login_target(response)
    assert (path, query) == (reverse("login"), {"next": check_url(course), "expired": "1"})
    assert not BedsideCheck.objects.exists()


def test_after_logging_out_the_login_page_does_not_say_the_session_ended(nurse_client, course):
    assert nurse_client.get(check_url(course)).status_code == 200
    nurse_client.post(reverse("logout"))

    response = nurse_client.get(check_url(course))

    path, query = login_target(response)
    assert path == reverse("login")
    assert "expired" not in query


@pytest.mark.parametrize("form", ["check", "not done", "amendment"])
def test_the_same_post_saves_while_the_session_lives(nurse_client, course, vitals, form):
    """The posts above are ones that save: only the ended session stopped them."""
    url, data = the_forms(course, vitals)[form]

    response = nurse_client.post(url, data)

    assert response.status_code == 302
    assert urlsplit(response["Location"]).path != reverse("login")


def test_the_login_page_says_the_session_ended_and_how_long_the_limit_is(db):
    response = Client().get(reverse("login"), {"next": "/worklist/", "expired": "1"})

    page = response.content.decode()
    assert "Your session has ended." in page
    assert "logged out after 30 minutes without activity" in page


def test_the_login_page_says_nothing_of_the_kind_otherwise(db):
    assert "Your session has ended" not in Client().get(reverse("login")).content.decode()


def test_a_wrong_password_after_an_ended_session_shows_the_error_not_the_session_message(db):
    response = Client().post(
        reverse("login") + "?next=/worklist/&expired=1",
        {"username": "nobody", "password": "wrong-password"},
    )

    page = response.content.decode()
    assert "Your session has ended" not in page
    assert "Please enter a correct username and password" in page


def test_a_first_visit_is_not_an_ended_session(db, course):
    response = Client().get(check_url(course))

    path, query = login_target(response)
    assert path == reverse("login")
    assert "expired" not in query


def test_an_expired_htmx_request_also_tells_the_login_page(nurse, course):
    support = reverse("monitoring:nurse-check-support", args=[course.patient.public_id])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = Client()
        client.force_login(nurse)
        clock.shift(timedelta(minutes=31))
        response = client.get(
            support,
            headers={
                "HX-Request": "true",
                "HX-Current-URL": f"http://testserver{check_url(course)}",
            },
        )

    assert response.status_code == 401
    target = urlsplit(response.headers["HX-Redirect"])
    assert parse_qs(target.query) == {"next": [check_url(course)], "expired": ["1"]}


# --- The answers drafts.js relies on ----------------------------------------------------------


def test_a_check_saved_by_the_script_names_the_result_page_and_keeps_the_flash_message(
    nurse_client, course
):
    response = nurse_client.post(check_url(course), full_check(), headers=SUBMIT)

    assert response.status_code == 204
    assert "Location" not in response  # fetch() would follow it and spend the message
    assert "X-Cartmonitor-Login" not in response  # saved: the script clears the draft
    check = BedsideCheck.objects.get(course=course)
    result = reverse(
        "monitoring:nurse-check-result", args=[course.patient.public_id, check.public_id]
    )
    assert response["X-Cartmonitor-Location"] == result
    page = nurse_client.get(response["X-Cartmonitor-Location"])
    assert "Check saved." in page.content.decode()


def test_a_check_sent_by_the_script_after_the_session_expired_names_the_login_page(nurse, course):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = Client()
        client.force_login(nurse)
        clock.shift(timedelta(minutes=31))
        response = client.post(check_url(course), full_check(), headers=SUBMIT)

    assert response.status_code == 204
    assert response["X-Cartmonitor-Login"] == "1"  # the script keeps the draft
    target = urlsplit(response["X-Cartmonitor-Location"])
    assert target.path == reverse("login")
    assert parse_qs(target.query) == {"next": [check_url(course)], "expired": ["1"]}
    assert not BedsideCheck.objects.exists()


def test_a_check_with_errors_sent_by_the_script_gets_the_page_with_the_errors(nurse_client, course):
    response = nurse_client.post(
        check_url(course), full_check(**{"vitals-heart_rate_bpm": "900"}), headers=SUBMIT
    )

    # Not a redirect: the script sends the form again the ordinary way and the browser shows
    # this page, as it would without the script.
    assert response.status_code == 400
    assert "Nothing was saved." in response.content.decode()
    assert not BedsideCheck.objects.exists()


def test_the_form_offers_its_draft_back_only_when_opened_afresh(nurse, nurse_client, course):
    opened = nurse_client.get(check_url(course)).content.decode()
    refused = nurse_client.post(check_url(course), full_check(**{"vitals-spo2_pct": "7"}))

    # The key is made of ids already in the address: the user's and the patient's public id.
    assert f'data-draft="check:{course.patient.public_id}"' in opened
    assert f'data-draft-user="{nurse.pk}"' in opened
    assert 'data-draft-restore="1"' in opened
    # A page redrawn with the nurse's own post already holds what she typed: nothing to put
    # back, and no "restored" notice over her errors.
    assert 'data-draft-restore=""' in refused.content.decode()

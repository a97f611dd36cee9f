"""Requests from outside the app's own forms that a production-style server answered with a 500
(issue 11 §3): a 256-character username, a body in UTF-7 or UTF-16, NUL bytes in the address,
and a 20-digit year in the Django admin's list filters. Each gets a 400 or a clear message.

Run on SQLite and PostgreSQL (DATABASE_URL): the username overflow and the NUL refusal happen
only in PostgreSQL.
"""

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory, full_check

LONG_USERNAME = "u" * 256
CHARSETS = ["utf-7", "utf-16", "UTF-16LE", "utf-32", "no-such-charset"]


def row_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in apps.get_app_config("monitoring").get_models()}


def seen_as_a_browser(client: Client) -> Client:
    client.raise_request_exception = False  # a 500 is a response here, not an exception
    return client


@pytest.fixture
def superuser_client(db):
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(username="root", role="admin", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("login", ["/accounts/login/", "/admin/login/"])
def test_a_256_character_username_is_refused_with_the_limit(db, login):
    client = seen_as_a_browser(Client())

    response = client.post(login, {"username": LONG_USERNAME, "password": "whatever"})

    assert response.status_code == 200  # the login form again
    assert "Ensure this value has at most 150 characters (it has 256)." in response.content.decode()
    assert not AccessAttempt.objects.exists()  # never reached the lockout table


def test_a_150_character_username_still_counts_towards_the_lockout(db):
    client = seen_as_a_browser(Client())

    response = client.post("/accounts/login/", {"username": "u" * 150, "password": "x"})

    assert response.status_code == 200
    assert AccessAttempt.objects.get().username == "u" * 150


def csrf_client(user=None) -> tuple[Client, str]:
    """A client holding a valid CSRF cookie, as an attacker's script would after one GET."""
    client = seen_as_a_browser(Client(enforce_csrf_checks=True))
    if user is not None:
        client.force_login(user)
    client.get(reverse("login"))
    return client, client.cookies["csrftoken"].value


@pytest.mark.parametrize("charset", CHARSETS)
@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "text/plain"],
)
def test_a_post_in_another_charset_is_a_400_that_says_so(nurse, course, charset, content_type):
    client, token = csrf_client(nurse)
    body = "&".join(f"{k}={v}" for k, v in full_check(csrfmiddlewaretoken=token).items())
    before = row_counts()

    response = client.generic(
        "POST",
        reverse("monitoring:nurse-check", args=[course.patient.public_id]),
        body.encode("utf-16") if "16" in charset else body.encode(),
        content_type=f"{content_type}; charset={charset}",
        headers={"X-CSRFToken": token},
    )

    assert response.status_code == 400
    assert f"charset={charset} is not accepted" in response.content.decode()
    assert row_counts() == before


@pytest.mark.parametrize("charset", ["utf-7", "utf-16"])
def test_a_login_in_another_charset_is_a_400(db, charset):
    client, token = csrf_client()

    response = client.generic(
        "POST",
        reverse("login"),
        f"username=sam&password=x&csrfmiddlewaretoken={token}".encode(),
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )

    assert response.status_code == 400
    assert not AccessAttempt.objects.exists()


def test_utf_8_named_in_the_content_type_is_still_accepted(nurse_client, course):
    response = nurse_client.generic(
        "POST",
        reverse("monitoring:nurse-check", args=[course.patient.public_id]),
        "&".join(f"{k}={v}" for k, v in full_check().items()).encode(),
        content_type="application/x-www-form-urlencoded; charset=UTF-8",
    )

    assert response.status_code == 302


@pytest.mark.parametrize(
    "url",
    [
        "/admin/monitoring/auditevent/?q=%00",
        "/admin/monitoring/auditevent/?action=%00",
        "/admin/monitoring/patient/?q=abc%00def",
        "/admin/axes/accessattempt/?q=%00",
        "/worklist/?unit=%00",
        "/audit/?q=%00",
        "/flags/?severity=%00",
    ],
)
def test_a_nul_byte_in_the_address_is_a_400_that_says_so(superuser_client, url):
    response = superuser_client.get(url)

    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "?at__gte=99999999999999999999-01-01",
        "?at__year=99999999999999999999",
        "?at__date=99999999999999999999-01-01",
        "?at__lt=0001-01-01",
    ],
)
def test_an_out_of_range_year_in_an_admin_filter_shows_the_list_with_a_message(
    superuser_client, query
):
    response = superuser_client.get(f"/admin/monitoring/auditevent/{query}", follow=True)

    assert response.status_code == 200
    assert "That filter is not valid" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        # The date drill-down computes the month after December 9999.
        "/admin/monitoring/bedsidecheck/?observed_at__year=9999&observed_at__month=12",
        "/admin/monitoring/bedsidecheck/?observed_at__year=99999999999999999999",
        "/admin/axes/accessattempt/?attempt_time__year=99999999999999999999",
    ],
)
def test_a_date_drill_down_beyond_year_9999_shows_the_list_with_a_message(superuser_client, url):
    response = superuser_client.get(url)

    assert response.status_code == 302
    assert response.url == url.split("?")[0]
    followed = superuser_client.get(response.url)
    assert followed.status_code == 200
    assert "That filter is not valid" in followed.content.decode()

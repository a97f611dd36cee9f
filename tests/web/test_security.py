"""Production hardening: the deploy check, HTTPS switches, security headers and CSP, the idle
timeout and the login lockout. Settings are read once at import, so what depends on the
environment runs `manage.py` in a subprocess with that environment."""

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cartmonitor import middleware
from cartmonitor.settings import env_bool, env_int
from monitoring import services
from tests.factories import UserFactory, active_now

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
PASSWORD = "correct horse battery staple"

# What a hospital sets in production (README "Deploying"), except the database.
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "cartmonitor.example-hospital.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://cartmonitor.example-hospital.org",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_HSTS_PRELOAD": "true",
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_BEHIND_PROXY": "true",
    # The FHIR export's MRN namespace and the address its identifiers start from (docs/fhir.md).
    "CARTMONITOR_MRN_SYSTEM": "urn:oid:2.999.1",
    "CARTMONITOR_SITE_URL": "https://cartmonitor.example-hospital.org",
}


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    """Run manage.py with exactly these DJANGO_* and CARTMONITOR_* variables (none inherited
    from this shell)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CARTMONITOR_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "cartmonitor.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- The deploy check ------------------------------------------------------------------------


def test_the_deploy_check_passes_with_the_documented_production_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_deploy_check_fails_when_the_https_variables_are_forgotten():
    # The safety net for the insecure defaults that keep `make run` and the tests on plain http.
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={"DJANGO_DEBUG": "false"})

    assert result.returncode != 0
    output = result.stdout + result.stderr
    for check_id in ("W004", "W008", "W009", "W012", "W016"):  # HSTS, redirect, key, cookies
        assert f"security.{check_id}" in output, check_id


def test_a_misspelt_switch_stops_the_app_instead_of_being_read_as_off(monkeypatch):
    monkeypatch.setenv("DJANGO_SECURE_SSL_REDIRECT", "ture")
    with pytest.raises(ImproperlyConfigured, match="must be true or false"):
        env_bool("DJANGO_SECURE_SSL_REDIRECT", default=False)

    for wrong in ("30m", "1.5", "-1"):
        monkeypatch.setenv("DJANGO_SESSION_IDLE_MINUTES", wrong)
        with pytest.raises(ImproperlyConfigured, match="DJANGO_SESSION_IDLE_MINUTES"):
            env_int("DJANGO_SESSION_IDLE_MINUTES", default=30)

    monkeypatch.setenv("DJANGO_SESSION_IDLE_MINUTES", "")
    assert env_int("DJANGO_SESSION_IDLE_MINUTES", default=30) == 30


def test_weak_passwords_are_still_refused():
    with pytest.raises(ValidationError):
        validate_password("12345678")
    validate_password(PASSWORD)


# --- HTTPS behind the hospital's load balancer ------------------------------------------------


@override_settings(SECURE_SSL_REDIRECT=True)
def test_with_ssl_redirect_plain_http_goes_to_https_but_the_health_check_does_not(db):
    client = Client()

    response = client.get(reverse("login"))
    assert response.status_code == 301
    assert response.url.startswith("https://")

    # Load balancers probe app servers over plain http: a redirect would read as "down".
    assert client.get("/healthz").status_code == 200


@override_settings(
    SECURE_SSL_REDIRECT=True, SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https")
)
def test_behind_the_proxy_a_request_it_received_over_https_is_not_redirected(db):
    response = Client().get(reverse("login"), headers={"x-forwarded-proto": "https"})

    assert response.status_code == 200  # no redirect loop behind TLS termination


@override_settings(
    SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True, SECURE_HSTS_PRELOAD=True
)
def test_hsts_is_sent_over_https(db):
    response = Client().get(reverse("login"), secure=True)

    assert response.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )


@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True)
def test_secure_cookies_are_marked_secure(db):
    user = UserFactory(username="sam")
    user.set_password(PASSWORD)
    user.save()
    client = Client()

    login_page = client.get(reverse("login"))
    response = client.post(reverse("login"), {"username": "sam", "password": PASSWORD})

    assert login_page.cookies["csrftoken"]["secure"]
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"]
    assert response.cookies["sessionid"]["httponly"]


def test_behind_the_proxy_lockouts_count_the_client_address_the_balancer_saw():
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.168.4.17"
    )

    with override_settings(BEHIND_PROXY=True):
        # The last entry is the balancer's; "6.6.6.6" is whatever the client claimed.
        assert middleware.client_ip(request) == "192.168.4.17"
    with override_settings(BEHIND_PROXY=False):
        # Without a proxy the header is the client's own invention: ignore it.
        assert middleware.client_ip(request) == "10.0.0.2"


# --- Headers and the Content-Security-Policy --------------------------------------------------

CSP = middleware.CONTENT_SECURITY_POLICY


def assert_hardened_headers(response) -> None:
    assert response.headers["Content-Security-Policy"] == CSP
    assert "unsafe-inline" not in CSP
    assert "script-src 'self';" in CSP
    assert "frame-ancestors 'none'" in CSP
    assert response.headers["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_every_page_carries_the_security_headers(db, nurse_client, course):
    assert_hardened_headers(Client().get(reverse("login")))
    assert_hardened_headers(Client().get("/healthz"))
    for url in (
        reverse("monitoring:nurse-worklist"),
        reverse("monitoring:nurse-check", args=[course.patient.public_id]),
        reverse("monitoring:patient-course", args=[course.patient.public_id]),
    ):
        assert_hardened_headers(nurse_client.get(url))


# Markup that a CSP without 'unsafe-inline' blocks: the feature silently does nothing in the
# browser, so catch it here instead.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[a-zA-Z][^>]*?\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[a-zA-Z][^>]*?\sstyle\s*=", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""=\s*["']?\s*javascript:""", re.IGNORECASE)
BLOCKED_BY_CSP = {
    "inline <script> without src": INLINE_SCRIPT,
    "on*= event handler attribute": INLINE_HANDLER,
    "style= attribute": STYLE_ATTRIBUTE,
    "<style> element": STYLE_ELEMENT,
    "javascript: URL": JAVASCRIPT_URL,
}


def csp_violations(html: str) -> list[str]:
    return [
        f"{what}: {match.group(0)[:80]!r}"
        for what, pattern in BLOCKED_BY_CSP.items()
        for match in pattern.finditer(html)
    ]


def test_no_template_needs_inline_script_or_style():
    """Our CSP has no 'unsafe-inline', so inline code in a template would silently not run.

    Put scripts in static/js/*.js (loaded with <script src>), behaviour on data- attributes,
    and styles in static/css/cartmonitor.css. If htmx is added, its indicator styles are an
    inline <style> element: disable them with
    <meta name="htmx-config" content='{"includeIndicatorStyles":false}'> and style
    .htmx-indicator in cartmonitor.css instead.
    """
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert templates, "no templates found: the scan would pass vacuously"

    found = {
        str(path.relative_to(ROOT)): problems
        for path in templates
        if (problems := csp_violations(path.read_text()))
    }

    assert found == {}


def test_pages_that_load_htmx_switch_off_its_inline_indicator_styles():
    # htmx injects a <style> element unless told not to: blocked by our CSP, and the loading
    # indicators would silently show unstyled. The markup scan above cannot see it.
    base = (TEMPLATES / "base.html").read_text()
    switched_off = '"includeIndicatorStyles":false'
    shared = "monitoring/_partials/_htmx_config.html"  # the live pages' config, in one place
    assert switched_off in (TEMPLATES / shared).read_text()
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        if "htmx_script" in text:
            assert switched_off in text or switched_off in base or shared in text, path.relative_to(
                ROOT
            )


def test_the_scanner_catches_what_the_csp_blocks():
    # Guards the regular expressions themselves: each line must be reported.
    samples = [
        "<script>alert(1)</script>",
        '<button onclick="go()">',
        '<div class="x" style="color: red">',
        "<style>.x {}</style>",
        '<a href="javascript:void(0)">',
    ]
    for sample in samples:
        assert csp_violations(sample), sample
    assert not csp_violations('<script src="/static/app.js" defer></script>')
    assert not csp_violations('<div data-style="x" data-onclick="y">')


def test_rendered_pages_have_no_inline_script_or_style(db, nurse, nurse_client, course):
    # Third-party templates (crispy forms, Django widgets) render into our pages too.
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now(),
        vitals={"temp_c": 38.4, "oxygen_support": "room_air", "vasopressors_count": 0},
    )
    pid = course.patient.public_id
    pages = {
        "login": Client().get(reverse("login")),
        "worklist": nurse_client.get(reverse("monitoring:nurse-worklist")),
        "check form": nurse_client.get(reverse("monitoring:nurse-check", args=[pid])),
        "check form with errors": nurse_client.post(
            reverse("monitoring:nurse-check", args=[pid]),
            {"observed_at": "not a time", "vitals-temperature": "99"},
        ),
        "check result": nurse_client.get(
            reverse("monitoring:nurse-check-result", args=[pid, check.public_id])
        ),
        "course": nurse_client.get(reverse("monitoring:patient-course", args=[pid])),
    }
    for name, response in pages.items():
        assert response.status_code in (200, 400), name
        assert csp_violations(response.content.decode()) == [], name


@pytest.fixture
def superuser_client(db):
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/monitoring/user/",
        "/admin/monitoring/user/add/",
        "/admin/monitoring/unit/add/",
        "/admin/axes/accessattempt/",
    ],
)
def test_the_admin_works_under_the_same_strict_policy(superuser_client, url):
    """Django 5.2's admin loads all its scripts from files: no 'unsafe-inline' exception."""
    response = superuser_client.get(url)

    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CSP
    assert csp_violations(response.content.decode()) == []


def test_the_user_change_form_in_the_admin_is_csp_clean(superuser_client, nurse):
    # The richest admin page we have: filter_horizontal widgets, password hash display.
    response = superuser_client.get(f"/admin/monitoring/user/{nurse.pk}/change/")

    assert response.status_code == 200
    assert csp_violations(response.content.decode()) == []


# --- Idle timeout ----------------------------------------------------------------------------


def test_an_idle_session_is_logged_out_after_30_minutes(nurse):
    worklist = reverse("monitoring:nurse-worklist")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = Client()
        client.force_login(nurse)
        assert client.get(worklist).status_code == 200

        clock.shift(timedelta(minutes=31))
        response = client.get(worklist)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_activity_keeps_a_session_alive_past_30_minutes(nurse):
    worklist = reverse("monitoring:nurse-worklist")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = Client()
        client.force_login(nurse)
        # A nurse busy at the bedside: a page every 20 minutes for an hour.
        for _ in range(3):
            clock.shift(timedelta(minutes=20))
            assert client.get(worklist).status_code == 200, "logged out while active"

        clock.shift(timedelta(minutes=31))
        assert client.get(worklist).status_code == 302


def test_active_now_keeps_an_idle_pause_out_of_a_query_pin(nurse):
    """tests.factories.active_now, which the query pins after a slow setup call: after a quiet
    minute the next request re-saves the session; after active_now it costs what a request
    of an active user costs."""
    worklist = reverse("monitoring:nurse-worklist")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = Client()
        client.force_login(nurse)
        client.get(worklist)
        with CaptureQueriesContext(connection) as active:
            client.get(worklist)
        clock.shift(timedelta(minutes=2))
        with CaptureQueriesContext(connection) as after_a_pause:
            client.get(worklist)
        clock.shift(timedelta(minutes=2))
        active_now(client)
        with CaptureQueriesContext(connection) as after_active_now:
            client.get(worklist)

    assert len(after_a_pause) > len(active)
    assert len(after_active_now) == len(active)


# --- Login lockout ---------------------------------------------------------------------------


@pytest.fixture
def sam(db):
    user = UserFactory(username="sam")
    user.set_password(PASSWORD)
    user.save()
    return user


def log_in(client: Client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_five_wrong_passwords_lock_the_account_even_for_the_right_password(sam):
    client = Client()
    for attempt in range(1, 5):
        response = log_in(client, "sam", f"wrong-{attempt}")
        assert response.status_code == 200, attempt  # the form again, with its error
        assert "Please enter a correct username and password" in response.content.decode()

    fifth = log_in(client, "sam", "wrong-5")
    sixth = log_in(client, "sam", PASSWORD)

    assert fifth.status_code == 429
    assert sixth.status_code == 429
    page = " ".join(sixth.content.decode().split())  # words, whatever the template's layout
    assert "Login locked: too many failed attempts" in page
    assert "After 5 wrong passwords for <strong>sam</strong>" in page
    assert "blocked for 15 minutes, even with the right password" in page
    assert "_auth_user_id" not in client.session  # not logged in
    assert client.get(reverse("monitoring:nurse-worklist")).status_code == 302


def test_the_lock_is_for_that_username_from_that_address_only(sam):
    attacker = Client(REMOTE_ADDR="10.9.9.9")
    for attempt in range(5):
        log_in(attacker, "sam", f"guess-{attempt}")
    assert log_in(attacker, "sam", PASSWORD).status_code == 429

    # Sam at her own ward computer still gets in: guessing elsewhere cannot lock her out.
    ward_pc = Client(REMOTE_ADDR="10.1.1.1")
    assert log_in(ward_pc, "sam", PASSWORD).status_code == 302


def test_the_lock_lifts_after_the_cool_off(sam):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = Client()
        for attempt in range(5):
            log_in(client, "sam", f"wrong-{attempt}")
        assert log_in(client, "sam", PASSWORD).status_code == 429

        clock.shift(timedelta(minutes=16))
        assert log_in(client, "sam", PASSWORD).status_code == 302


def test_a_successful_login_resets_the_failure_count(sam):
    client = Client()
    for attempt in range(4):
        log_in(client, "sam", f"typo-{attempt}")
    assert log_in(client, "sam", PASSWORD).status_code == 302
    client.post(reverse("logout"))

    # Four more typos after a good login: not locked, the count started again.
    for attempt in range(4):
        assert log_in(client, "sam", f"typo-again-{attempt}").status_code == 200
    assert log_in(client, "sam", PASSWORD).status_code == 302

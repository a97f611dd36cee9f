"""Browser tests in Debian's headless Chromium, driven by Playwright.

Playwright cannot download browsers on our networks, so we point it at /usr/bin/chromium.
Where Chromium is missing the tests skip with the reason; CI sets CARTMONITOR_REQUIRE_BROWSER=1,
which turns that skip into a failure.
"""

import importlib
import os
import shutil
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

# Playwright's sync API runs an event loop; the ORM refuses to run inside one without this.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"
MISSING = "Chromium not found: apt-get install chromium to run browser tests"


@pytest.fixture(scope="session", autouse=True)
def _chromium_present():
    """Skip (locally) or fail (CI) before Playwright tries to launch a missing browser."""
    if CHROMIUM:
        return
    if os.environ.get("CARTMONITOR_REQUIRE_BROWSER") == "1":
        pytest.fail(MISSING + " (CARTMONITOR_REQUIRE_BROWSER=1: browser tests are required)")
    pytest.skip(MISSING)


@pytest.fixture(scope="session")
def live_server(django_db_setup, live_server):
    """Start the server after the test database exists, so it stops before the drop."""
    return live_server


# The data migrations that ship the template protocols: 0002 creates the default, 0007 gives
# it the febrile schedule the reference asks for; 0017 and 0024 ship the engagers' step-up
# templates (0024 also fills epcoritamab's restart rule). Each leaves what exists alone.
SHIPPED_PROTOCOL = [
    ("0002_default_protocol", "create_default_protocol"),
    ("0007_acknowledgements_febrile_schedule", "follow_the_reference"),
    ("0017_dosing_engager_templates", "create_templates"),
    ("0024_more_engager_templates", "create_templates"),
    ("0025_engager_templates_febrile_tier", "follow_the_reference"),
    # The engager templates tell no home countdown (the CAR-T labels' two weeks).
    ("0027_home_access", "no_countdown_on_engager_templates"),
]


@pytest.fixture(autouse=True)
def shipped_protocol(transactional_db):
    """Every browser test starts with the protocol a fresh install has.

    Browser tests are transactional: the tables are emptied after each one, data migrations
    included, so without this a test's courses would have no protocol when another test ran
    first (and pass when run alone).
    """
    from monitoring.products import ensure_shipped_products

    ensure_shipped_products()  # the product list (migration 0019's rows)
    for module, function in SHIPPED_PROTOCOL:
        migration = importlib.import_module(f"monitoring.migrations.{module}")
        getattr(migration, function)(apps, None)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture(params=["tablet", "phone"])
def screen(request, page):
    """The journey on a ward tablet (1024×768) and on a phone (390×844)."""
    from tests.e2e.axe import VIEWPORTS

    page.set_viewport_size(VIEWPORTS[request.param])
    return request.param


@pytest.fixture
def login_as(page, live_server, client):
    """Log a user into the browser by copying a test-client session cookie."""

    def _login(user):
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
        )
        return page

    return _login


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep a screenshot of the page when a browser test fails."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "page" in item.funcargs:
        ARTIFACTS.mkdir(exist_ok=True)
        item.funcargs["page"].screenshot(path=ARTIFACTS / f"{item.name}.png", full_page=True)

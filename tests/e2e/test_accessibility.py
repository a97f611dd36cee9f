"""WCAG 2.2 AA, checked by axe-core in Chromium on every page of the app, for every role that
can open it, on a 1024×768 tablet and a 390×844 phone; plus the login page and a form sent
back with errors.

One walk, one verdict: the test collects every serious or critical violation (rule, page, role,
viewport, the elements) and fails once with the whole list, so a run shows all there is to
fix. Moderate and minor findings are written to test-results/axe-minor.txt, not failed on.
"""

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from monitoring import services
from monitoring.models import User
from tests.e2e.axe import VIEWPORTS, audit
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.pages import every_page
from tests.factories import ICE_10, ROOM_AIR, UserFactory
from tests.home_helpers import make_home_user
from tests.routes import route_sample

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROLES = [
    User.Role.NURSE,
    User.Role.CHARGE_NURSE,
    User.Role.CARE_TEAM,
    User.Role.ADMIN,
    User.Role.DISPLAY,
]


def log_in(page, live_server, user) -> None:
    """Give the browser the user's session (and only theirs)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.clear_cookies()
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.fixture
def ward(ward_a, course, nurse):
    """One of each object a URL names (``route_sample``: its check is now), after a day of
    history entered late (fever, then CRS 2 on low-flow oxygen: orange badges, an urgent flag)."""
    sample = route_sample(course, nurse)
    now = timezone.now()
    # At home with a caregiver since yesterday, no check-in yet: the remote patients page lists
    # the course as overdue.
    make_home_user(course, nurse, now=now - timedelta(days=1))
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=6),
        vitals={**ROOM_AIR, "temp_c": 38.6, "heart_rate_bpm": 112, "sbp_mmhg": 104},
        neuro=ICE_10,
        labs={"crp_mg_l": 80},
    )
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=2),
        vitals={
            **ROOM_AIR,
            "temp_c": 39.1,
            "oxygen_support": "low_flow",
            "oxygen_flow_l_min": 4,
            "spo2_pct": 93,
        },
    )
    return sample


@pytest.mark.walk
def test_every_page_for_every_role_has_no_serious_axe_violation(page, live_server, ward, ward_a):
    started = time.monotonic()
    blocking, minor, walked = [], [], []
    for role in ROLES:
        user = UserFactory(username=f"axe-{role}", role=role, units=[ward_a])
        urls = [p.url for p in every_page(user, ward)]
        log_in(page, live_server, user)
        for viewport, size in VIEWPORTS.items():
            page.set_viewport_size(size)
            for url in urls:
                page.goto(live_server.url + url)
                page.wait_for_load_state("load")
                audit(page, f"{url} as {role} on {viewport}", blocking, minor)
                walked.append((role, viewport, url))

    # The walk reached the pages each role works on (a broken enumeration must not pass).
    opened = {(role, url) for role, _, url in walked}
    assert (User.Role.NURSE, "/worklist/") in opened
    assert (User.Role.CARE_TEAM, "/flags/") in opened
    assert (User.Role.ADMIN, "/protocols/") in opened
    assert (User.Role.DISPLAY, "/display/") in opened
    assert len(walked) > 100
    report(minor, walked, started)
    assert not blocking, f"{len(blocking)} serious or critical axe violations:\n" + "\n".join(
        blocking
    )


def test_the_login_page_and_a_check_sent_back_with_errors_pass_axe(
    page, live_server, ward, nurse, course
):
    blocking, minor = [], []
    for viewport, size in VIEWPORTS.items():
        page.set_viewport_size(size)
        page.context.clear_cookies()
        page.goto(f"{live_server.url}/accounts/login/")
        audit(page, f"login on {viewport}", blocking, minor)

        log_in(page, live_server, nurse)
        page.goto(f"{live_server.url}/patients/{course.patient.public_id}/check/")
        page.get_by_label("Temperature").fill("60")
        page.get_by_label("Heart rate").fill("400")
        page.get_by_role("button", name="Save check").click()
        page.wait_for_load_state("load")
        expect(page.get_by_role("alert").first).to_contain_text("There are 3 problems")
        audit(page, f"check form with errors on {viewport}", blocking, minor)

    assert not blocking, "\n".join(blocking)


def report(minor: list, walked: list, started: float) -> None:
    """What the walk covered and what it found below serious, for people to read."""
    ARTIFACTS.mkdir(exist_ok=True)
    seconds = time.monotonic() - started
    per_role = Counter(role for role, viewport, _ in walked if viewport == "tablet")
    roles = ", ".join(f"{role} {count}" for role, count in per_role.items())
    lines = [
        f"{len(walked)} page views (pages × roles × viewports) in {seconds:.0f} s; "
        f"pages per role: {roles}",
        *minor,
    ]
    (ARTIFACTS / "axe-minor.txt").write_text("\n".join(lines) + "\n")
    print(lines[0])

"""A late entry in a real browser: setting the time back brings the oxygen running then."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring import services
from tests.e2e.conftest import ARTIFACTS
from tests.factories import local_input

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_carried_oxygen_follows_the_time_the_nurse_enters(login_as, live_server, nurse, course):
    now = timezone.now().replace(second=0, microsecond=0)
    on_air, on_bipap = now - timedelta(hours=5), now - timedelta(hours=1)
    services.record_check(
        course=course,
        by=nurse,
        observed_at=on_air,
        vitals={"temp_c": 37.2, "oxygen_support": "room_air"},
    )
    services.record_check(
        course=course,
        by=nurse,
        observed_at=on_bipap,
        vitals={"temp_c": 37.4, "oxygen_support": "bipap"},
    )

    def check(at):  # how the page names a check: "the D+3 04:00 check"
        return f"the D+{course.day_number(at)} {timezone.localtime(at):%H:%M} check"

    page = login_as(nurse)
    page.goto(f"{live_server.url}/patients/{course.patient.public_id}/check/")
    page.wait_for_load_state("load")  # htmx loads deferred
    oxygen = page.get_by_label("Oxygen support")
    expect(oxygen).to_have_value("bipap")
    expect(page.locator(".carried-from")).to_contain_text(f"carried from {check(on_bipap)}")

    # A paper-chart temperature from three hours ago, typed in now.
    page.get_by_label("Observed at").fill(local_input(now - timedelta(hours=3)))

    expect(oxygen).to_have_value("room_air")
    expect(page.locator(".carried-from")).to_contain_text(f"carried from {check(on_air)}")
    page.get_by_label("Observed at").fill(local_input(now - timedelta(hours=6)))
    expect(page.locator(".carried-from")).to_contain_text("No earlier record")
    page.get_by_label("Observed at").fill(local_input(now - timedelta(hours=3)))
    expect(oxygen).to_have_value("room_air")

    page.get_by_label("Temperature").fill("38.2")
    page.get_by_role("button", name="Save check").click()

    expect(page.get_by_text("Check saved.")).to_be_visible()
    # Fever on room air then: CRS 1, not CRS 4 from the later BiPAP.
    expect(page.locator(".grade-badge").first).to_have_text(re.compile(r"CRS 1"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "late-entry-result.png", full_page=True)

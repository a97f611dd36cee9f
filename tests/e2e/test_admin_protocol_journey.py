"""The admin's journey in a real browser: edit the default protocol's vital-signs interval while
a course uses it → a new version is listed, and the course keeps the old one."""

import re

import pytest
from playwright.sync_api import expect

from monitoring.models import ProtocolVersion
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import ARTIFACTS
from tests.factories import CourseFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_edits_the_vital_signs_interval_and_a_new_version_is_listed(
    login_as, live_server, admin_user, ward_a, screen
):
    course = CourseFactory(unit=ward_a)
    template = course.protocol_version
    assert template.number == 1

    page = login_as(admin_user)
    page.goto(f"{live_server.url}/worklist/")
    page.wait_for_load_state("load")  # Bootstrap's script is deferred
    if screen == "phone":  # the navigation is behind its menu button
        page.get_by_role("button", name="Menu").click()
        # Click "More" once the menu has finished opening, not while it slides (a loaded
        # machine's click landed mid-animation and the dropdown stayed shut).
        expect(page.locator("#nav")).to_have_class(re.compile(r"\bshow\b"))
    more = page.get_by_role("button", name="More")  # the navigation's menu of rarer pages
    more.click()
    expect(more).to_have_attribute("aria-expanded", "true")
    page.get_by_role("link", name="Protocols").click()
    expect(page.get_by_role("heading", name="Monitoring protocols")).to_be_visible()
    expect(page.get_by_text("TEMPLATE — review before clinical use").first).to_be_visible()

    page.get_by_role("link", name="Edit").first.click()
    expect(page.get_by_text("1 course uses this version:")).to_be_visible()
    page.locator("#id_schedule-vitals-interval_minutes").fill("180")
    page.get_by_label("Change note").fill("Vital signs every 3 h after our program review")
    page.get_by_role("button", name="Preview").click()
    expect(
        page.get_by_text(
            "every 3 h; every 2 h with fever (any CRS grade); every 1 h while CRS grade ≥ 2"
        ).first
    ).to_be_visible()
    assert_accessible(page, f"protocol edit with its preview on a {screen}")
    page.locator("#preview").get_by_role("button", name="Save as version 2").click()

    expect(page.get_by_text("Saved as version 2.")).to_be_visible()
    page.get_by_role("link", name="Protocols").first.click()
    # The edited protocol lists both versions (the shipped engager templates have a v1 each).
    edited = page.locator("section").filter(has=page.get_by_role("link", name="v2", exact=True))
    expect(edited.get_by_role("link", name="v2", exact=True)).to_be_visible()
    expect(edited.get_by_role("link", name="v1", exact=True)).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"protocol-version-{screen}.png", full_page=True)

    new = ProtocolVersion.objects.get(protocol=template.protocol, number=2)
    assert new.schedule_for("vitals").interval_minutes == 180
    course.refresh_from_db()
    assert course.protocol_version == template

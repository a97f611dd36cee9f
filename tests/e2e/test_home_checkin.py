"""A caregiver on a 390×844 phone records a check-in (issue 15 §2 and "Done means"): signs in
with a code from the team, records a fever and a confused answer, sees "Call now" at once; then
the care team sees the flag on the board, marked Home. axe-core finds no serious or critical
WCAG 2.2 AA violation on any page of it, nothing scrolls sideways, touch targets are large."""

import re

import pytest
from playwright.sync_api import expect

from monitoring import home
from tests.e2e.axe import VIEWPORTS, assert_accessible
from tests.factories import CourseFactory
from tests.home_helpers import make_home_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def check_page(page, where: str) -> None:
    assert_accessible(page, where)
    assert page.evaluate(SIDEWAYS) <= 0, f"{where} scrolls sideways"


def test_a_caregiver_records_a_fever_and_a_confused_answer_and_the_team_sees_it(
    page, live_server, ward_a, care_team_member, login_as
):
    ward_a.contact_phone = "+44 20 7946 0999"
    ward_a.save()
    course = CourseFactory(unit=ward_a, patient__given_name="Ada", patient__family_name="Lovelace")
    caregiver = make_home_user(course, care_team_member)
    code, _ = home.issue_login_code(access=caregiver.home_access, by=care_team_member)
    page.set_viewport_size(VIEWPORTS["phone"])

    page.goto(f"{live_server.url}/home/login/")
    page.get_by_label("Code from your care team").fill(code)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/home/")
    record = page.get_by_role("link", name="Record a check-in")
    assert record.bounding_box()["height"] >= 48
    record.click()

    expect(page).to_have_url(f"{live_server.url}/home/check-in/")
    check_page(page, "check-in (phone)")
    page.locator("#id_temperature").fill("101.5")
    page.get_by_label("°F").check()
    page.get_by_label("Confused, muddled or not making sense").check()
    page.get_by_role("group", name=re.compile("What year is it")).get_by_label("Wrong").check()
    page.get_by_role("button", name="Save the check-in").click()  # the screen half done
    expect(page.locator("[data-error-summary]")).to_be_focused()
    expect(page.locator("#id_temperature")).to_have_value("101.5")  # every value kept
    check_page(page, "check-in sent back (phone)")
    for step in ("What month is it", "Where are we now", "Point to three things", "Show me two"):
        page.get_by_role("group", name=re.compile(step)).get_by_label("Right").check()
    page.get_by_role("group", name=re.compile("Count backwards")).get_by_label("Right").check()
    page.get_by_role("button", name="Save the check-in").click()

    expect(page).to_have_url(f"{live_server.url}/home/check-in/done/")
    expect(page.get_by_role("heading", name="Call now")).to_be_visible()
    expect(page.get_by_text("Do not drive.", exact=False)).to_be_visible()
    call = page.get_by_role("link", name="Call your team now on +44 20 7946 0999")
    expect(call).to_have_attribute("href", "tel:+442079460999")
    assert call.bounding_box()["height"] >= 48
    assert "Lovelace" not in page.content()
    check_page(page, "check-in done (phone)")
    page.set_viewport_size(VIEWPORTS["tablet"])
    page.goto(f"{live_server.url}/home/check-in/")
    check_page(page, "check-in (tablet)")

    # The care team, on the board.
    page.context.clear_cookies()
    login_as(care_team_member)
    page.goto(f"{live_server.url}/flags/")
    row = page.locator(f"#patient-{course.pk}")
    expect(row).to_contain_text("Ada Lovelace")
    expect(row).to_contain_text("Home · caregiver")
    page.locator(f"#flags-{course.pk} summary").click()
    expect(row).to_contain_text("Confusion reported at home")
    expect(row).to_contain_text("guided screen answered wrongly: year")

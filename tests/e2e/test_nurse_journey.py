"""The nurse's journey in a real browser: worklist → record a check → see the grade."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_nurse_records_fever_on_nasal_cannula_and_sees_crs_grade_2(
    login_as, live_server, nurse, course, screen
):
    page = login_as(nurse)
    page.goto(f"{live_server.url}/worklist/")
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    expect(page.get_by_text("D+3")).to_be_visible()

    assert_accessible(page, f"worklist on a {screen}")
    page.get_by_role("link", name="Record check").click()
    page.get_by_label("Temperature").fill("38.6")
    page.get_by_label("Heart rate").fill("108")
    page.get_by_label("Systolic BP").fill("112")
    page.get_by_label("Diastolic BP").fill("70")
    page.get_by_label("Oxygen support").select_option("low_flow")
    page.get_by_label("Oxygen flow").fill("4")
    page.get_by_label("Fever").check()
    page.get_by_role("button", name="Save check").click()

    expect(page.get_by_text("Check saved.")).to_be_visible()
    expect(page.locator(".grade-badge").first).to_have_text(re.compile(r"CRS 2"))
    # The reason names when the deciding value was recorded (issue 10 §1).
    expect(
        page.get_by_text(
            re.compile(
                r"^hypoxia on low-flow oxygen 4 L/min \(recorded at D\+\d+ \d\d:\d\d, "
                r"this check\) → grade 2$"
            )
        )
    ).to_be_visible()
    expect(page.get_by_text("notify the CAR-T physician now").first).to_be_visible()
    assert_accessible(page, f"check result on a {screen}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"nurse-check-result-{screen}.png", full_page=True)

    page.get_by_role("link", name="Back to worklist").click()
    expect(page.locator(".grade-badge").first).to_have_text(re.compile(r"CRS 2"))

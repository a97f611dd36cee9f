"""A phone call check in a real browser (issue 14): choosing "Phone call" hides what a call cannot
measure (pulse, blood pressure, SpO₂, oxygen, vasopressors, the ICE/CAPD screen, labs) and says
why; what was typed before stays in the page and comes back with another setting, and is not
saved with the phone call (static/js/check_setting.js). The server's refusal is in
tests/web/test_outpatient.py."""

import re

import pytest
from playwright.sync_api import expect

from monitoring.models import BedsideCheck, CareSetting, VitalSigns
from tests.e2e.axe import VIEWPORTS, assert_accessible
from tests.e2e.conftest import ARTIFACTS
from tests.factories import CourseFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_phone_call_hides_what_it_cannot_measure_and_keeps_what_was_typed(
    login_as, live_server, nurse, ward_a
):
    course = CourseFactory(
        unit=ward_a,
        care_setting=CareSetting.OUTPATIENT,
        patient__given_name="Ines",
        patient__family_name="Calloway",
    )
    page = login_as(nurse)
    page.set_viewport_size(VIEWPORTS["phone"])
    page.goto(f"{live_server.url}/patients/{course.patient.public_id}/check/")
    page.wait_for_load_state("load")  # the scripts load deferred
    expect(page.get_by_label("Clinic visit")).to_be_checked()  # an outpatient's default

    # Typed at the start of a clinic visit that turns out to be a phone call.
    page.get_by_label("Heart rate").fill("88")
    page.get_by_label("SpO₂").fill("97")
    page.get_by_label("Oxygen support").select_option("low_flow")
    page.get_by_label("Oxygen flow").fill("2")
    page.get_by_label("Phone call").check()

    for hidden in ("Heart rate", "Systolic BP", "SpO₂", "Oxygen support", "Vasopressors"):
        expect(page.get_by_label(hidden, exact=False).first).to_be_hidden()
    expect(page.locator("#neuro")).to_be_hidden()
    expect(page.locator("#labs")).to_be_hidden()
    expect(page.get_by_label("Temperature")).to_be_visible()
    expect(page.get_by_label("Fever")).to_be_visible()
    expect(page.locator("#treatment")).to_be_visible()
    note = page.get_by_role("status").filter(has_text="A phone call check records only")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Nobody examines the patient, so the other fields are hidden.")
    expect(note).to_contain_text(
        re.compile(r"Kept on this page, but not saved with this check: Heart rate.*SpO₂.*Oxygen")
    )
    assert_accessible(page, "check page set to a phone call")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "check-phone-call.png", full_page=True)

    # Back to a clinic visit: every value is where it was typed.
    page.get_by_label("Clinic visit").check()
    expect(page.get_by_label("Heart rate")).to_have_value("88")
    expect(page.get_by_label("SpO₂")).to_have_value("97")
    expect(page.get_by_label("Oxygen support")).to_have_value("low_flow")
    expect(page.get_by_label("Oxygen flow")).to_have_value("2")
    expect(note).to_be_hidden()
    expect(page.locator("#labs")).to_be_visible()

    # It was a phone call after all: saved with what a call can record, nothing else.
    page.get_by_label("Phone call").check()
    page.get_by_label("Temperature").fill("38.2")
    page.get_by_label("Fever").check()
    page.get_by_role("button", name="Save check").click()
    expect(page.get_by_text("Check saved.")).to_be_visible()
    expect(page.locator(".check-setting").first).to_have_text("Phone call")
    expect(page.locator(".grade-badge").first).to_have_text(re.compile(r"CRS 1"))
    check = BedsideCheck.objects.get(course=course)
    vitals = VitalSigns.objects.get(check_entry=check)
    assert (check.setting, float(vitals.temp_c)) == ("phone", 38.2)
    assert (vitals.heart_rate_bpm, vitals.spo2_pct, vitals.oxygen_support) == (None, None, "")

"""A caregiver on a 390×844 phone (issue 15 §1): opens the invitation link, is asked to consent
before anything else, agrees, lands on the home page of the course, and signs out. axe-core
finds no serious or critical WCAG 2.2 AA violation on any page of it, nothing scrolls sideways,
and the call button is a large touch target."""

import re

import pytest
from playwright.sync_api import expect

from monitoring import home
from tests.e2e.axe import VIEWPORTS, assert_accessible
from tests.factories import CourseFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def check_page(page, where: str) -> None:
    assert_accessible(page, where)
    assert page.evaluate(SIDEWAYS) <= 0, f"{where} scrolls sideways"


def test_a_caregiver_accepts_an_invitation_on_a_phone_and_sees_the_home_page(
    page, live_server, ward_a, care_team_member
):
    ward_a.contact_phone = "+44 20 7946 0999"
    ward_a.save()
    course = CourseFactory(unit=ward_a, patient__given_name="Ada", patient__family_name="Lovelace")
    new = home.invite(
        course=course,
        kind="caregiver",
        display_name="Maria (daughter)",
        email="maria@example.org",
        by=care_team_member,
    )
    page.set_viewport_size(VIEWPORTS["phone"])

    page.goto(f"{live_server.url}/home/join/{new.token}/")
    expect(page).to_have_url(f"{live_server.url}/home/join/consent/")  # the token is gone
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()
    invited = page.get_by_text("This invitation is for Maria (daughter), from Ward A.")
    expect(invited).to_be_visible()
    check_page(page, "consent (phone)")

    page.get_by_role("button", name="Agree and continue").click()  # without ticking
    expect(page.locator("[data-error-summary]")).to_be_focused()
    check_page(page, "consent sent back (phone)")

    page.get_by_label("I agree to home monitoring as described above.").check()
    page.get_by_role("button", name="Agree and continue").click()

    expect(page).to_have_url(f"{live_server.url}/home/")
    expect(page.get_by_role("heading", name="Your home monitoring")).to_be_visible()
    expect(
        page.get_by_text("You are signed in as Maria (daughter), for the monitoring of Ada.")
    ).to_be_visible()
    call = page.get_by_role("link", name="Call +44 20 7946 0999")
    expect(call).to_have_attribute("href", "tel:+442079460999")
    assert call.bounding_box()["height"] >= 44
    expect(page.get_by_text(re.compile(r"^Stay near the treatment centre until "))).to_be_visible()
    expect(page.get_by_role("link", name="Record a check-in")).to_be_visible()
    html = page.content()
    assert "Lovelace" not in html
    assert course.patient.mrn not in html
    check_page(page, "home (phone)")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/home/login/")
    check_page(page, "sign in (phone)")
    page.goto(f"{live_server.url}/home/")
    expect(page).to_have_url(re.compile(r"/home/login/\?next=/home/$"))

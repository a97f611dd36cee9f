"""A physician's notifications in a real browser: the bell's count, the centre, "Mark read"
lowers the count; the centre and the profile fit a 1024×768 tablet and a 390×844 phone without
sideways scrolling; the push script runs without errors under the CSP."""

import re

import pytest
from django.test import override_settings
from playwright.sync_api import expect

from monitoring.models import Delivery
from tests.factories import CourseFactory, tell

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def course(ward_a):
    """The shared fixture's patient, on the shipped protocol: transactional tests empty the
    tables between tests, data migrations included, and a notification's title reads the
    protocol (may it name the patient?)."""
    return CourseFactory(unit=ward_a, patient__given_name="Ada", patient__family_name="Lovelace")


# A real public key (base64url P-256 point); subscribing needs a push service, not reached here.
VAPID_PUBLIC_KEY = (
    "BEpsniOT09xdTnadjZEEMM7dp-1qhUsmZd8ND2MWoGqZy4cJAU5Hv4InvRormch_BOY4NNA_IMnsjkMa8TB-t9A"
)
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_a_physician_reads_a_notification_and_the_bell_counts_down(
    login_as, live_server, care_team_member, course
):
    care_team_member.notify_by_webhook, care_team_member.pager_id = True, "4471"
    care_team_member.save()
    first = tell(care_team_member, course, what="flag")
    tell(care_team_member, course, what="flag not acknowledged", severity=4)
    paged = first.deliveries.get()
    paged.status, paged.attempts = Delivery.Status.RETRYING, 1
    paged.last_error = "page to 4471: the gateway answered 503"
    paged.save()
    problems = []
    page = login_as(care_team_member)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{live_server.url}/flags/")
    bell = page.locator("#nav-unread-count")
    expect(bell).to_have_text(re.compile(r"^2\b"))

    page.locator("nav").get_by_title("Your notifications").click()
    expect(page.get_by_role("heading", name="Your notifications")).to_be_visible()
    item = page.locator(f"#notification-{first.pk}")
    expect(item).to_contain_text("Ada Lovelace (Ward A): CRS grade 2")
    expect(item).to_contain_text("retrying (page to 4471: the gateway answered 503)")
    expect(item.get_by_role("link", name="Open the patient's course")).to_be_visible()

    item.get_by_role("button", name=re.compile("^Mark read")).click()
    expect(page.locator("#nav-unread-count")).to_have_text(re.compile(r"^1\b"))
    expect(page.locator(f"#notification-{first.pk}")).not_to_contain_text("New")

    for width, height in ((1024, 768), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for path in ("/profile/", "/notifications/"):
            page.goto(f"{live_server.url}{path}")
            assert page.evaluate(SIDEWAYS) <= 0, (path, width)

    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#nav-unread-count")).to_have_text(re.compile(r"^0\b"))
    assert problems == []


@override_settings(VAPID_PUBLIC_KEY=VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY="not used here")
def test_the_profile_installs_the_push_service_worker_for_the_whole_site(
    login_as, live_server, nurse
):
    problems = []
    page = login_as(nurse)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{live_server.url}/profile/")

    expect(
        page.get_by_text("This browser does not receive your push notifications.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Enable push on this browser")).to_be_visible()
    expect(page.get_by_role("button", name="Remove this browser")).to_be_hidden()
    scope = page.evaluate(
        "Promise.race([navigator.serviceWorker.ready.then((r) => r.scope),"
        " new Promise((resolve) => setTimeout(() => resolve('no worker'), 5000))])"
    )
    assert scope == f"{live_server.url}/"
    assert problems == []

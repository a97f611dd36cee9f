"""Nothing a nurse types is lost (issue 13 §2), in a real browser.

The session ends while a nurse types (its row is deleted on the server and the browser drops
its cookie, as at the idle limit); she presses Save, logs in again through the login page, and
finds what she typed, with a notice. Another user on the same browser sees none of it. Without
a connection, Save says so and keeps the form; when the connection is back it saves once.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from playwright.sync_api import expect

from monitoring import services
from monitoring.models import BedsideCheck, CheckNotDone, User, VitalSigns
from tests.e2e.conftest import ARTIFACTS
from tests.factories import UserFactory, local_input

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-ward-password-42"
TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
RESTORED = re.compile(r"^Restored what you typed at \d\d:\d\d on this device — check and save\.$")
OFFLINE = "Not saved — no connection. What you typed is kept; try again."


@pytest.fixture
def nina(nurse):
    nurse.set_password(PASSWORD)
    nurse.save()
    return nurse


@pytest.fixture
def nora(ward_a):
    """Another nurse of ward A, who picks up the same tablet."""
    user = UserFactory(username="nora", role=User.Role.NURSE, units=[ward_a])
    user.set_password(PASSWORD)
    user.save()
    return user


def drafts_in(page) -> list[str]:
    return page.evaluate(
        "Object.keys(localStorage).filter((k) => k.startsWith('cartmonitor.draft.'))"
    )


def end_every_session(page):
    """What the idle limit does: the server's session expires (its row is deleted here) and
    the browser drops the session cookie, whose max-age is the same limit."""
    Session.objects.all().delete()
    page.context.clear_cookies(name=settings.SESSION_COOKIE_NAME)


def log_in_on_the_login_page(page, user):
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def check_page(live_server, course) -> str:
    return f"{live_server.url}/patients/{course.patient.public_id}/check/"


@pytest.mark.parametrize("viewport", [TABLET, PHONE], ids=["tablet", "phone"])
def test_a_check_typed_as_the_session_expired_is_there_after_logging_in_again(
    page, login_as, live_server, nina, course, viewport
):
    page.set_viewport_size(viewport)
    now = timezone.now().replace(second=0, microsecond=0)
    on_air, on_bipap = now - timedelta(hours=5), now - timedelta(hours=1)
    for at, support in ((on_air, "room_air"), (on_bipap, "bipap")):
        services.record_check(
            course=course,
            by=nina,
            observed_at=at,
            vitals={"temp_c": 37.2, "oxygen_support": support},
        )
    late = now - timedelta(hours=3)

    login_as(nina)
    page.goto(check_page(live_server, course))
    page.wait_for_load_state("load")
    expect(page.locator("form[data-draft-state]")).to_have_attribute("data-draft-state", "none")
    # A late entry: three hours ago the patient was on room air (the page swaps that in).
    page.get_by_label("Observed at").fill(local_input(late))
    expect(page.get_by_label("Oxygen support")).to_have_value("room_air")
    page.get_by_label("Temperature").fill("38.4")
    page.get_by_label("Heart rate").fill("112")
    page.get_by_label("Oxygen support").select_option("facemask")
    page.get_by_label("Fever").check()

    end_every_session(page)
    page.get_by_role("button", name="Save check").click()

    # The login page says why she is there; nothing was saved.
    expect(page.get_by_text("Your session has ended.")).to_be_visible()
    assert BedsideCheck.objects.filter(course=course).count() == 2
    log_in_on_the_login_page(page, nina)

    form = page.locator("form[data-draft]")
    expect(form).to_have_attribute("data-draft-state", "restored")
    expect(page.locator("[data-draft-notice]")).to_be_visible()
    expect(page.locator("[data-draft-notice-text]")).to_have_text(RESTORED)
    expect(page.get_by_label("Observed at")).to_have_value(local_input(late))
    expect(page.get_by_label("Temperature")).to_have_value("38.4")
    expect(page.get_by_label("Heart rate")).to_have_value("112")
    expect(page.get_by_label("Fever")).to_be_checked()
    # The page was drawn for now (BiPAP); the restored time brought room air back over the
    # oxygen field, and what she typed was put back over that.
    expect(page.locator(".carried-from")).to_contain_text(
        f"{timezone.localtime(on_air):%H:%M} check"
    )
    expect(page.get_by_label("Oxygen support")).to_have_value("facemask")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"draft-restored-{viewport['width']}.png", full_page=True)

    page.get_by_role("button", name="Save check").click()
    expect(page.get_by_text("Check saved.")).to_be_visible()
    saved = VitalSigns.objects.get(check_entry__course=course, check_entry__observed_at=late)
    assert (saved.temp_c, saved.heart_rate_bpm, saved.oxygen_support) == (
        Decimal("38.4"),
        112,
        "facemask",
    )
    assert drafts_in(page) == []

    # The draft is gone: the next check starts empty.
    page.goto(check_page(live_server, course))
    expect(page.locator("form[data-draft]")).to_have_attribute("data-draft-state", "none")
    expect(page.locator("[data-draft-notice]")).to_be_hidden()
    expect(page.get_by_label("Temperature")).to_have_value("")


def test_a_check_not_done_typed_as_the_session_expired_is_there_after_logging_in_again(
    page, login_as, live_server, nina, course
):
    page.set_viewport_size(PHONE)
    login_as(nina)
    page.goto(f"{live_server.url}/patients/{course.patient.public_id}/not-done/")
    page.wait_for_load_state("load")
    page.get_by_label(re.compile(r"^\s*Check\W")).select_option("labs")
    page.get_by_label("Other").check()
    page.get_by_label("Note").fill("CT head, back about 14:30")
    attempted = local_input(timezone.now() - timedelta(minutes=20))
    page.get_by_label("Attempted at").fill(attempted)

    end_every_session(page)
    page.get_by_role("button", name="Save — not done").click()
    expect(page.get_by_text("Your session has ended.")).to_be_visible()
    log_in_on_the_login_page(page, nina)

    expect(page.locator("form[data-draft]")).to_have_attribute("data-draft-state", "restored")
    expect(page.locator("[data-draft-notice-text]")).to_have_text(RESTORED)
    expect(page.get_by_label(re.compile(r"^\s*Check\W"))).to_have_value("labs")
    expect(page.get_by_label("Other")).to_be_checked()
    expect(page.get_by_label("Note")).to_have_value("CT head, back about 14:30")
    expect(page.get_by_label("Attempted at")).to_have_value(attempted)
    assert not CheckNotDone.objects.exists()

    page.get_by_role("button", name="Save — not done").click()
    # The flash message survives the script sending the form (FetchSubmitMiddleware).
    expect(page.get_by_role("alert").filter(has_text="Labs not done — Other")).to_be_visible()
    not_done = CheckNotDone.objects.get()
    assert (not_done.check_type, not_done.reason, not_done.note) == (
        "labs",
        "other",
        "CT head, back about 14:30",
    )
    assert drafts_in(page) == []


def test_another_user_on_the_same_browser_never_sees_the_draft(
    page, login_as, live_server, nina, nora, course
):
    page.set_viewport_size(TABLET)
    login_as(nina)
    page.goto(check_page(live_server, course))
    page.wait_for_load_state("load")
    page.get_by_label("Temperature").fill("39.1")
    page.get_by_label("Fever").check()

    end_every_session(page)
    page.get_by_role("button", name="Save check").click()
    expect(page.get_by_text("Your session has ended.")).to_be_visible()
    # Nora picks up the tablet and logs in; the login brings her to the same patient's form.
    log_in_on_the_login_page(page, nora)

    expect(page.locator("form[data-draft]")).to_have_attribute("data-draft-state", "none")
    expect(page.locator("[data-draft-notice]")).to_be_hidden()
    expect(page.get_by_label("Temperature")).to_have_value("")
    expect(page.get_by_label("Fever")).not_to_be_checked()
    assert "39.1" not in page.content()
    # Nina's draft is still on the device for her (until it is 12 hours old), not for Nora.
    assert drafts_in(page) == [f"cartmonitor.draft.{nina.pk}.check:{course.patient.public_id}"]


def test_without_a_connection_save_says_so_keeps_the_form_and_saves_once_when_back(
    page, login_as, live_server, nina, course
):
    page.set_viewport_size(PHONE)
    login_as(nina)
    page.goto(check_page(live_server, course))
    page.wait_for_load_state("load")
    page.get_by_label("Temperature").fill("38.9")
    page.get_by_label("Heart rate").fill("121")
    page.get_by_label("Fever").check()

    page.context.set_offline(True)
    page.get_by_role("button", name="Save check").click()

    message = page.locator("[data-draft-offline]")
    expect(message).to_have_text(OFFLINE)
    expect(message).to_be_in_viewport()
    expect(page.get_by_label("Temperature")).to_have_value("38.9")
    expect(page.get_by_label("Heart rate")).to_have_value("121")
    expect(page.get_by_label("Fever")).to_be_checked()
    assert page.url == check_page(live_server, course)
    assert not BedsideCheck.objects.filter(course=course).exists()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "draft-offline-390.png", full_page=False)

    page.context.set_offline(False)
    page.get_by_role("button", name="Save check").click()
    expect(page.get_by_text("Check saved.")).to_be_visible()
    saved = VitalSigns.objects.get(check_entry__course=course)
    assert (saved.temp_c, saved.heart_rate_bpm) == (Decimal("38.9"), 121)
    assert BedsideCheck.objects.filter(course=course).count() == 1
    assert drafts_in(page) == []

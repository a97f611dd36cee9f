"""The coordinator's journey in a real browser, on a tablet and a phone: move a planned day 0
(the page says what moves with it and which recorded phase keeps its dates), record a follow-up
visit missed, see it counted apart on the program page; and the wall screen's outpatient badge.
The layout walk (test_layouts.py) reaches none of these: its world has no planned course and no
visit due. Each page fits without sideways scrolling and has no serious WCAG violation."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from monitoring import journey, services
from monitoring.models import TreatmentCourse, User
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_layouts import MEASURE
from tests.factories import ROOM_AIR, CourseFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def fits(page, where: str) -> None:
    found = page.evaluate(MEASURE)
    assert found["scrollWidth"] <= found["width"] + 1, (where, found)
    assert not found["inner"], (where, found)
    assert_accessible(page, where)


def test_a_coordinator_moves_day0_and_records_a_visit_missed(
    login_as, live_server, care_team_member, nurse, ward_a, screen
):
    planned = journey.register_course(
        course=TreatmentCourse(
            patient=PatientFactory(given_name="Maximiliana-Theodora", family_name="Ruiz"),
            unit=ward_a,
            product_id="axi-cel",
            indication="Relapsed large B-cell lymphoma",
            infused_at=timezone.now() + timedelta(days=4),
        ),
        referred_on=timezone.localdate() - timedelta(days=30),
        by=nurse,
    )
    journey.record_phase(
        course=planned,
        phase="conditioning",
        started_on=timezone.localdate() - timedelta(days=1),
        regimen="Fludarabine/cyclophosphamide",
        by=nurse,
    )
    followed = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=30))
    services.end_monitoring(
        course=followed,
        outcome="completed",
        ended_at=followed.infused_at + timedelta(days=14),
        reason="Window completed",
        by=care_team_member,
    )
    page = login_as(care_team_member)

    page.goto(f"{live_server.url}{planned.get_absolute_url()}")
    page.get_by_role("link", name="Move planned day 0").click()
    expect(page.get_by_role("heading", name="Move the planned infusion (day 0)")).to_be_visible()
    expect(page.locator("#kept-as-recorded")).to_contain_text("its dates stay")
    fits(page, f"move planned day 0 on a {screen}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"journey-move-day0-{screen}.png", full_page=True)
    page.get_by_label("New planned infusion (day 0)").fill(
        timezone.localtime(planned.infused_at + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("Reason").fill("Manufacturing delayed: release testing")
    page.get_by_role("button", name="Move day 0").click()
    expect(page.get_by_text("Kept as recorded: Conditioning.")).to_be_visible()
    fits(page, f"planned course page with its visits on a {screen}")

    page.goto(f"{live_server.url}{followed.get_absolute_url()}")
    page.locator("#visits").get_by_role("link", name="missed…").first.click()
    # The measure runs on the page the link opens, not on the course page while it unloads.
    expect(page.get_by_role("button", name="Record as missed")).to_be_visible()
    fits(page, f"visit missed on a {screen}")
    page.get_by_label("Reason").fill("Did not come: no transport")
    page.get_by_role("button", name="Record as missed").click()
    expect(page.locator("#visits")).to_contain_text("record visit done (late)")

    page.goto(f"{live_server.url}/program/?group=missed")
    expect(page.locator("#group-missed")).to_contain_text("Did not come: no transport")
    fits(page, f"program page's missed visits on a {screen}")
    page.screenshot(path=ARTIFACTS / f"journey-program-missed-{screen}.png", full_page=True)


def test_the_wall_shows_an_outpatient(page, live_server, nurse, ward_a, screen):
    for setting, bed in (("outpatient", ""), ("inpatient", "12B")):
        course = CourseFactory(unit=ward_a, care_setting=setting, bed=bed)
        services.record_check(
            course=course,
            by=nurse,
            observed_at=timezone.now() - timedelta(minutes=20),
            vitals={**ROOM_AIR, "temp_c": 38.7},
        )
    client = Client()
    client.force_login(UserFactory(role=User.Role.DISPLAY, units=[ward_a]))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])

    page.goto(f"{live_server.url}/display/")
    expect(page.locator(".wall-row .care-setting")).to_have_count(1)
    fits(page, f"wall display with an outpatient on a {screen}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"wall-outpatient-{screen}.png", full_page=True)

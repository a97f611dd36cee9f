"""The care team's journey in a real browser: board → acknowledge → the patient's course
with its charts → confirm (override) a grade with a reason."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring import services
from monitoring.models import Flag, GradeConfirmation
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import ARTIFACTS
from tests.factories import ICE_10, ROOM_AIR

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def crs_band_grades(page) -> list[int]:
    """The CRS grades drawn along the top of the temperature chart."""
    return page.evaluate(
        "() => Object.values(Chart.instances).find(c => c.canvas.id === 'chart-temperature')"
        ".options.plugins.gradeBands.bands[0].segments.map(s => s[2])"
    )


def test_a_physician_acknowledges_a_flag_reads_the_charts_and_overrides_a_grade(
    login_as, live_server, care_team_member, nurse, course, screen
):
    now = timezone.now()
    for hours_ago, temp, support in (
        (30, 37.1, ROOM_AIR),
        (20, 38.4, ROOM_AIR),
        (12, 38.9, {**ROOM_AIR, "oxygen_support": "low_flow", "oxygen_flow_l_min": 4}),
    ):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=now - timedelta(hours=hours_ago),
            vitals={
                **support,
                "temp_c": temp,
                "sbp_mmhg": 104,
                "dbp_mmhg": 60,
                "heart_rate_bpm": 110,
                "spo2_pct": 94,
            },
            neuro=ICE_10,
            labs={"crp_mg_l": 20 + hours_ago},
        )
    flag = Flag.objects.get(kind="crs")
    problems = []
    page = login_as(care_team_member)
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )

    page.goto(f"{live_server.url}/flags/")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", name="Board")).to_be_visible()
    row = page.locator(f"#patient-{course.pk}")
    expect(row).to_have_class(re.compile(r"flag-standout"))
    expect(row).to_contain_text(re.compile(r"waiting \d+ min"))  # since it was raised
    assert page.evaluate("typeof htmx") == "object"

    # The patient's row expands to their flags, each with its own actions.
    row.get_by_text("Flags (").click()
    item = row.locator(f"#flag-{flag.pk}")
    item.get_by_text("Acknowledge…").click()
    item.get_by_label("Acknowledgement note").fill("tocilizumab ordered")
    item.get_by_role("button", name="Acknowledge", exact=True).click()
    expect(row).to_contain_text("Flag acknowledged")  # the row, re-drawn in place
    expect(row.locator(f"#flag-{flag.pk}")).to_contain_text("Note: tocilizumab ordered")
    assert_accessible(page, f"board with a flag acknowledged on a {screen}")
    # The 30-second refresh swaps the board's rows in place (forced here, not awaited).
    page.evaluate(
        "htmx.ajax('GET', window.location.pathname, {source: '#flag-board', target: '#flag-board',"
        " swap: 'innerHTML'})"
    )
    expect(page.locator("#flag-board")).to_contain_text("acknowledged by")
    expect(page.locator("nav.navbar")).to_have_count(1)

    page.locator(f"#patient-{course.pk}").get_by_role("link", name="Ada Lovelace").click()
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()
    # temperature, BP/HR, SpO₂/oxygen, ICE, CRP, ferritin; blood counts and IgG (infection),
    # drawn once static/js/course_charts.js has fetched their points
    page.wait_for_function("() => Object.keys(Chart.instances).length === 8")
    assert 3 not in crs_band_grades(page)
    box = page.locator("#chart-temperature").bounding_box()
    assert box["width"] > 200
    assert box["height"] > 100
    points = page.evaluate(
        "Object.values(Chart.instances).find(c => c.canvas.id === 'chart-temperature')"
        ".data.datasets[0].data.length"
    )
    assert points == 3
    assert_accessible(page, f"course page on a {screen}")

    confirm = page.locator("#confirm-grade")
    # The form starts at the computed grade, never at 0 (static/js/confirm_grade.js keeps it so);
    # a lower grade asks for the second confirmation (issue 10 §6).
    expect(confirm.get_by_label("Confirmed grade")).to_have_value("2")
    expect(page.locator("#confirm-lower")).to_be_hidden()
    confirm.get_by_label("Domain").select_option("icans")
    expect(confirm.get_by_label("Confirmed grade")).to_have_value("0")
    confirm.get_by_label("Domain").select_option("crs")
    expect(confirm.get_by_label("Confirmed grade")).to_have_value("2")
    confirm.get_by_label("Confirmed grade").select_option("1")
    expect(page.locator("#confirm-lower")).to_be_visible()
    confirm.get_by_label("Confirmed grade").select_option("3")
    expect(page.locator("#confirm-lower")).to_be_hidden()
    confirm.get_by_label("Reason").fill("on a non-rebreather mask between checks")
    confirm.get_by_role("button", name="Confirm grade").click()

    expect(page.get_by_text(re.compile(r"CRS grade 3 overridden for"))).to_be_visible()
    expect(page.locator("#grades")).to_contain_text("computed 2")
    confirmation = GradeConfirmation.objects.get()
    assert (confirmation.computed_grade, confirmation.confirmed_grade) == (2, 3)
    assert confirmation.confirmed_by == care_team_member
    page.wait_for_function("() => Object.keys(Chart.instances).length === 8")
    # The override is drawn: the browser asked for the charts again and got the new grade.
    assert 3 in crs_band_grades(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "care-course.png", full_page=True)
    assert [p for p in problems if "Content Security Policy" in p] == []
    assert problems == []

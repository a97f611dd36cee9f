"""Keyboard only (WCAG 2.1.1, 2.4.1, 2.4.3, 2.4.7): a nurse records a full check and a physician
acknowledges a flag without a mouse, and focus can always be seen.

The tests move only with page.keyboard (Tab, Shift+Tab, Enter, Space, arrows, typing): no
.click(), no .fill(), no .check(). They read the page (which element has focus, what it says)
to decide the next key, as a sighted keyboard user would.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring import services
from monitoring.models import BedsideCheck, Flag
from tests.factories import ICE_10, ROOM_AIR

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TABLET = {"width": 1024, "height": 768}


def focused(page, selector: str) -> bool:
    """Whether the (first) element matching the Playwright selector has focus."""
    element = page.locator(selector).first
    return element.count() > 0 and element.evaluate("e => e === document.activeElement")


def tab_to(page, selector: str, *, key: str = "Tab", limit: int = 150) -> None:
    """Press Tab (or Shift+Tab) until the element matching ``selector`` has focus; fail if it
    is never reached (not focusable, hidden, or behind a trap)."""
    for _ in range(limit):
        page.keyboard.press(key)
        if focused(page, selector):
            return
    raise AssertionError(f"{key} never reached {selector}")


def type_into(page, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.type(text)


def focus_is_visible(page) -> bool:
    """The focused element draws an outline (2 px or more) or a focus ring (box-shadow)."""
    return page.evaluate(
        """() => {
          const style = getComputedStyle(document.activeElement);
          const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
          return outline || style.boxShadow !== "none";
        }"""
    )


def test_a_nurse_records_a_full_check_with_the_keyboard_alone(login_as, live_server, nurse, course):
    page = login_as(nurse)
    page.set_viewport_size(TABLET)
    page.goto(f"{live_server.url}/worklist/")
    page.wait_for_load_state("load")

    # The skip link comes first and lands in the page's content.
    page.keyboard.press("Tab")
    assert focused(page, "a.cm-skip-link")
    expect(page.locator("a.cm-skip-link")).to_be_in_viewport()
    page.keyboard.press("Enter")
    assert focused(page, "main#content")

    tab_to(page, 'a:text-is("Record check")')
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", name="Ada Lovelace")).to_be_visible()

    # Vital signs.
    type_into(page, "#id_vitals-temperature", "38.4")
    type_into(page, "#id_vitals-heart_rate_bpm", "112")
    type_into(page, "#id_vitals-resp_rate_per_min", "22")
    type_into(page, "#id_vitals-spo2_pct", "95")
    type_into(page, "#id_vitals-sbp_mmhg", "104")
    type_into(page, "#id_vitals-dbp_mmhg", "62")
    # Symptoms: Space ticks a box.
    tab_to(page, "#id_symptoms-fever")
    page.keyboard.press("Space")
    tab_to(page, "#id_symptoms-fatigue")
    page.keyboard.press("Space")
    # Neuro: each ICE item a menu; End picks its last choice, full points.
    for item in ("orientation", "naming", "commands", "writing", "attention"):
        tab_to(page, f"#id_neuro-ice_{item}")
        page.keyboard.press("End")
    tab_to(page, "#id_neuro-consciousness")
    page.keyboard.press("ArrowDown")  # the first answer after "—": alert
    # Labs.
    type_into(page, "#id_labs-crp_mg_l", "64")
    # Back up with Shift+Tab to check a value, then on to Save.
    tab_to(page, "#id_symptoms-fever", key="Shift+Tab")
    assert page.locator("#id_symptoms-fever").is_checked()
    tab_to(page, 'button:text-is("Save check")')
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")

    expect(page.get_by_text("Check saved.")).to_be_visible()
    expect(page.locator(".grade-badge").first).to_have_text(re.compile(r"CRS 1"))
    check = BedsideCheck.objects.get(course=course)
    vitals = check.vitalsigns_set.get()
    assert (float(vitals.temp_c), vitals.heart_rate_bpm, vitals.sbp_mmhg) == (38.4, 112, 104)
    symptoms = check.symptomcheck_set.get()
    assert (symptoms.fever, symptoms.fatigue, symptoms.headache) == (True, True, False)
    neuro = check.neuroassessment_set.get()
    assert (neuro.ice_total, neuro.consciousness) == (10, "alert")
    assert float(check.labresult_set.get().crp_mg_l) == 64


def test_a_physician_acknowledges_a_flag_with_the_keyboard_alone(
    login_as, live_server, care_team_member, nurse, course
):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(minutes=20),
        vitals={
            **ROOM_AIR,
            "temp_c": 39.0,
            "oxygen_support": "low_flow",
            "oxygen_flow_l_min": 4,
            "spo2_pct": 93,
        },
        neuro=ICE_10,
    )
    flag = Flag.objects.get(course=course, kind=Flag.Kind.CRS)
    page = login_as(care_team_member)
    page.set_viewport_size(TABLET)
    page.goto(f"{live_server.url}/flags/")
    page.wait_for_load_state("load")

    tab_to(page, f"#flags-{course.pk} > summary")
    page.keyboard.press("Enter")  # opens the patient's flags (loaded by htmx)
    item = page.locator(f"#flag-{flag.pk}")
    expect(item).to_be_visible()
    tab_to(page, f"#flag-{flag.pk} details.flag-action > summary")
    expect(page.locator(":focus")).to_have_text("Acknowledge…")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    type_into(page, f"#ack-note-{flag.pk}", "tocilizumab ordered")
    tab_to(page, f'#flag-{flag.pk} button:text-is("Acknowledge")')
    page.keyboard.press("Enter")

    row = page.locator(f"#patient-{course.pk}")
    expect(row).to_contain_text("Flag acknowledged")
    flag.refresh_from_db()
    assert flag.status == Flag.Status.ACKNOWLEDGED
    acknowledgement = flag.acknowledgements.get()
    assert (acknowledgement.acknowledged_by, acknowledgement.note) == (
        care_team_member,
        "tocilizumab ordered",
    )


def test_after_a_failed_save_focus_goes_to_the_problems_and_each_leads_to_its_field(
    login_as, live_server, nurse, course
):
    page = login_as(nurse)
    page.set_viewport_size(TABLET)
    page.goto(f"{live_server.url}/patients/{course.patient.public_id}/check/")
    page.wait_for_load_state("load")
    type_into(page, "#id_vitals-temperature", "60")
    type_into(page, "#id_vitals-heart_rate_bpm", "400")
    tab_to(page, 'button:text-is("Save check")')
    page.keyboard.press("Enter")
    page.wait_for_load_state("load")

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text(re.compile(r"There are \d+ problems"))
    # Each problem is a link; the temperature's moves focus into the field, which says why.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_attribute("href", re.compile(r"^#id_vitals-"))
    tab_to(page, '[data-error-summary] a[href="#id_vitals-temperature"]')
    page.keyboard.press("Enter")
    temperature = page.locator("#id_vitals-temperature")
    expect(temperature).to_be_focused()
    expect(temperature).to_have_attribute("aria-invalid", "true")
    message = page.locator("#" + temperature.get_attribute("aria-describedby").split()[-1])
    expect(message).to_contain_text("Temperature must be between 30 and 45")
    # What was typed is kept, so it can be corrected in place.
    expect(temperature).to_have_value("60")
    page.keyboard.press("Control+A")
    page.keyboard.type("38.2")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_attribute("id", "id_vitals-temperature_unit")


def test_focus_is_visible_on_every_control_of_the_check_page_and_the_navigation(
    login_as, live_server, nurse, course
):
    page = login_as(nurse)
    page.set_viewport_size(TABLET)
    page.goto(f"{live_server.url}/patients/{course.patient.public_id}/check/")
    page.wait_for_load_state("load")

    unseen, seen = [], set()
    for _ in range(80):
        page.keyboard.press("Tab")
        name = page.evaluate(
            "() => { const e = document.activeElement;"
            " return e.tagName + (e.id ? '#' + e.id : '') + ' ' + (e.textContent || '').trim()"
            ".slice(0, 30) }"
        )
        if name.startswith("BODY"):  # past the last control: focus is in the browser's bar
            continue
        seen.add(name.split(" ")[0].split("#")[0])
        if not focus_is_visible(page):
            unseen.append(
                name
                + page.evaluate(
                    "() => { const s = getComputedStyle(document.activeElement);"
                    " return ` outline ${s.outlineStyle} ${s.outlineWidth} shadow ${s.boxShadow}`"
                    " + ' :focus ' + document.activeElement.matches(':focus')"
                    " + ' :focus-within ' + document.activeElement.matches(':focus-within') }"
                )
            )

    assert {"A", "BUTTON", "INPUT", "SELECT"} <= seen  # the walk met every kind of control
    assert unseen == []

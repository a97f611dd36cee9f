"""A T-cell engager course in a real browser, as a new user would try it (issue 14 "Done means"):
admit a patient for teclistamab, plan the step-up doses, give step-up dose 1, record checks
inside its monitoring window, see that none is due outside it, record a fever (CRS grade 1),
and see the dosing page stop step-up dose 2 until CRS has resolved for the protocol's hours —
a nurse cannot override, a physician only with a reason — then give it when the hours have
passed, without an override.

Time passes as it does on a ward: the test moves the clock (time_machine, as the web tests of
dosing do) and the server running in this process follows it. Only forward from now, so the
browser (on the real clock) keeps the session cookies it is given; each move is a new shift
that logs in again, the previous session having ended after 30 idle minutes.
"""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from monitoring import services
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import ARTIFACTS
from tests.factories import local_input

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CRS_CLEAR_HOURS = 24
GATE_CRS_ACTIVE = (
    f"CRS grade 1 now: the next dose waits until CRS has resolved (for {CRS_CLEAR_HOURS} h)."
)


def centre_gate(admin):
    """The shipped teclistamab template with the centre's gate before step-up dose 2 and the
    first treatment dose: CRS resolved for 24 h (the label says only "until resolved")."""
    version = services.protocol_version_for("teclistamab")
    steps = []
    for step in version.dose_steps.all():
        settings = step.settings()
        settings.pop("sequence")
        if step.sequence > 1:
            settings["crs_clear_hours"] = CRS_CLEAR_HOURS
        steps.append(settings)
    services.revise_protocol(
        version=version,
        changes={},
        schedules={},
        note="Centre: CRS resolved for 24 h before the next dose",
        by=admin,
        dose_steps=steps,
    )


def start_of_tomorrow_morning():
    """08:00 tomorrow, local time: always ahead of the real clock (see the module's note)."""
    tomorrow = timezone.localtime() + timedelta(days=1)
    return tomorrow.replace(hour=8, minute=0, second=0, microsecond=0)


def worklist_row(page):
    return page.locator("table.worklist tbody tr").filter(has_text="Rosa Quintero")


def save_check(page, url, *, temperature, fever=False, observed_at=None):
    page.goto(f"{url}check/")
    page.wait_for_load_state("load")  # htmx and drafts.js load deferred
    if observed_at is not None:
        page.get_by_label("Observed at").fill(local_input(observed_at))
    page.get_by_label("Temperature").fill(temperature)
    page.get_by_label("Heart rate").fill("84")
    page.get_by_label("Systolic BP").fill("122")
    page.get_by_label("Diastolic BP").fill("74")
    if fever:
        page.get_by_label("Fever").check()
    page.get_by_role("button", name="Save check").click()
    expect(page.get_by_text("Check saved.")).to_be_visible()


def test_the_gate_stops_step_up_dose_2_until_crs_has_resolved_for_24_h(
    login_as, live_server, nurse, care_team_member, admin_user, ward_a, screen
):
    centre_gate(admin_user)
    t0 = start_of_tomorrow_morning()
    server = live_server.url
    with time_machine.travel(t0, tick=True) as clock:
        # 08:00 — the physician admits the patient for teclistamab.
        page = login_as(care_team_member)
        page.goto(f"{server}/courses/new/")
        page.get_by_label("MRN").fill("TEC-E2E-1")
        page.get_by_label("Given name").fill("Rosa")
        page.get_by_label("Family name").fill("Quintero")
        page.get_by_label("Date of birth").fill("1961-04-12")
        page.get_by_label("Sex").select_option("female")
        page.get_by_label("Weight (kg)").fill("64")
        page.get_by_role("combobox", name="Product").select_option(label="Teclistamab (Tecvayli)")
        page.get_by_label("Indication").fill("Relapsed multiple myeloma")
        page.get_by_role("button", name="Admit and start the course").click()
        expect(page.get_by_role("heading", name="Rosa Quintero")).to_be_visible()
        course_url = page.url

        # The step-up, planned from the course page: the first dose at 09:00.
        page.get_by_role("link", name="Step-up dosing").first.click()
        expect(page.get_by_role("heading", name="Step-up dosing", exact=True)).to_be_visible()
        expect(page.get_by_text("No dose planned yet.")).to_be_visible()
        page.get_by_label("First dose (day 0) at").fill(local_input(t0 + timedelta(hours=1)))
        page.get_by_role("button", name="Plan the doses").click()
        expect(page.get_by_text("Saved.")).to_be_visible()
        doses = page.locator("#doses tbody tr")
        expect(doses).to_have_count(3)
        expect(doses.nth(0)).to_contain_text("Step-up dose 1")
        expect(doses.nth(1)).to_contain_text("Step-up dose 2")
        expect(doses.nth(2)).to_contain_text("First treatment dose")
        dosing_url = page.url

        # No dose given yet: outside every monitoring window, so no check is due.
        page.goto(f"{server}/worklist/")
        row = worklist_row(page)
        expect(row).to_contain_text("Outside a monitoring window; next: step-up dose 1 09:00")
        expect(row).not_to_contain_text("overdue")
        expect(row).not_to_contain_text("Next:")

        # 09:00 — step-up dose 1 is given: its 48 h window opens and checks are due.
        clock.move_to(t0 + timedelta(hours=1, minutes=5))
        page = login_as(care_team_member)
        page.goto(dosing_url)
        expect(page.locator("#gate")).to_contain_text("Every gate is met now.")
        page.get_by_role("button", name="Record dose given").click()
        expect(page.get_by_text("Saved.")).to_be_visible()
        expect(doses.nth(0)).to_contain_text("Given")
        page.goto(f"{server}/worklist/")
        row = worklist_row(page)
        expect(row).to_contain_text(
            re.compile(r"In monitoring window after step-up dose 1 until 09:\d\d on ")
        )
        expect(row).to_contain_text("Vital signs")

        # 10:00 — a check inside the window.
        clock.move_to(t0 + timedelta(hours=2))
        page = login_as(nurse)
        save_check(page, course_url, temperature="36.8")
        expect(page.locator(".grade-badge").first).to_have_text(re.compile(r"CRS 0"))
        page.goto(course_url)
        expect(page.locator("#dose-window")).to_contain_text(
            "In monitoring window after step-up dose 1 until"
        )

        # 21:00 — fever: CRS grade 1.
        clock.move_to(t0 + timedelta(hours=13))
        page = login_as(nurse)
        save_check(page, course_url, temperature="38.6", fever=True)
        expect(page.locator(".grade-badge").first).to_have_text(re.compile(r"CRS 1"))

        # The nurse sees why step-up dose 2 may not be given, and has no override.
        page.goto(dosing_url)
        gate = page.locator("#gate")
        expect(gate).to_contain_text("Gate not met: the dose may not be given now.")
        expect(gate).to_contain_text(GATE_CRS_ACTIVE)
        expect(page.get_by_label("Override a gate not met: the physician's reason")).to_have_count(
            0
        )
        page.get_by_role("button", name="Record dose given").click()
        expect(page.locator(".alert-danger").first).to_contain_text(GATE_CRS_ACTIVE)
        expect(doses.nth(1)).to_contain_text("Planned")
        # An override sent anyway (a crafted form) is refused: the nurse's role cannot.
        page.evaluate(
            """() => {
              const form = document.querySelector('input[name=action][value=give]').form;
              const input = document.createElement('input');
              input.type = 'hidden'; input.name = 'give-override_reason'; input.value = 'hurry';
              form.appendChild(input);
            }"""
        )
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.get_by_role("button", name="Record dose given").click()
        assert answer.value.status == 403
        expect(page.get_by_role("heading", name="You cannot open this page")).to_be_visible()

        # The physician: an override needs a reason; without one the dose is refused.
        page = login_as(care_team_member)
        page.goto(dosing_url)
        expect(page.locator("#gate")).to_contain_text(GATE_CRS_ACTIVE)
        assert_accessible(page, f"dosing page with a gate not met on a {screen}")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"engager-gate-{screen}.png", full_page=True)
        override = page.get_by_label("Override a gate not met: the physician's reason")
        expect(override).to_be_visible()
        page.get_by_role("button", name="Record dose given").click()
        expect(page.locator(".alert-danger").first).to_contain_text(GATE_CRS_ACTIVE)
        expect(doses.nth(1)).to_contain_text("Planned")

        # Next morning, 09:00 — CRS has resolved, but not yet for 24 h.
        resolved = t0 + timedelta(hours=25)
        clock.move_to(resolved)
        page = login_as(nurse)
        save_check(page, course_url, temperature="37.0")
        expect(page.locator(".grade-badge").first).to_have_text(re.compile(r"CRS 0"))
        page.goto(dosing_url)
        expect(page.locator("#gate")).to_contain_text(
            re.compile(
                rf"CRS resolved at .+, less than {CRS_CLEAR_HOURS} h ago: the next dose may be "
                r"given from "
            )
        )

        # Day 2, 10:00 — step-up dose 1's window has closed: no check is due.
        clock.move_to(t0 + timedelta(hours=50))
        page = login_as(nurse)
        page.goto(f"{server}/worklist/")
        row = worklist_row(page)
        expect(row).to_contain_text("Outside a monitoring window; next: step-up dose 2 09:00")
        expect(row).not_to_contain_text("overdue")
        expect(row).not_to_contain_text("Next:")

        # Day 3, 09:00 as planned — the gate is met: the nurse gives it, no override.
        clock.move_to(t0 + timedelta(hours=73, minutes=5))
        page = login_as(nurse)
        page.goto(dosing_url)
        expect(page.locator("#gate")).to_contain_text("Every gate is met now.")
        page.get_by_role("button", name="Record dose given").click()
        expect(page.get_by_text("Saved.")).to_be_visible()
        expect(doses.nth(1)).to_contain_text("Given")
        expect(doses.nth(1)).not_to_contain_text("Gate overridden")
        expect(page.locator("#dose-window")).to_contain_text(
            "In monitoring window after step-up dose 2 until"
        )
        page.screenshot(path=ARTIFACTS / f"engager-dose-2-given-{screen}.png", full_page=True)

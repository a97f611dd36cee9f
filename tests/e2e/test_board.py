"""The board in a real browser (issue 12 §1, §5): it fits a 1024×768 tablet and a 390×844 phone
without sideways scrolling; a patient's row expands to show their flags, "Acknowledge all for
this patient" acknowledges them with one note and redraws the row; the 30-second refresh is
sent as a poll (not activity), clicks are not, and an expanded row stays open across it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring import services
from monitoring.models import Flag, FlagAcknowledgement
from tests.e2e.conftest import ARTIFACTS
from tests.factories import ROOM_AIR, CourseFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

POLL_HEADER = "x-cartmonitor-poll"


def no_sideways_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth"
        " && document.body.scrollWidth <= window.innerWidth"
    )


@pytest.fixture
def ward(course, nurse, ward_a):
    """Ada Lovelace febrile and hypoxic (CRS 2, a vital sign and a new oxygen need), bed 4;
    three more patients with long names on the same ward."""
    course.bed = "4"
    course.save()
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=3),
        vitals={**ROOM_AIR, "temp_c": 38.7, "oxygen_support": "low_flow", "oxygen_flow_l_min": 4},
        symptoms={"fever": True, "breathing_difficulty": True},
    )
    for n in range(3):
        other = CourseFactory(
            unit=ward_a,
            bed=f"1{n}",
            patient__given_name="Maximiliana-Theodora",
            patient__family_name=f"Vandenberghe-Oosterhuizen{n}",
        )
        services.record_check(
            course=other,
            by=nurse,
            observed_at=timezone.now() - timedelta(hours=1 + n),
            vitals={**ROOM_AIR, "temp_c": 38.2 + n / 10},
        )
    return course


def test_the_board_fits_a_tablet_and_a_phone_and_acknowledges_a_patients_flags(
    login_as, live_server, care_team_member, ward
):
    course = ward
    open_flags = list(Flag.objects.filter(course=course, status=Flag.Status.OPEN))
    assert len(open_flags) >= 2
    page = login_as(care_team_member)
    problems = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    requests = []
    page.on("request", lambda request: requests.append(request))
    page.clock.install()
    page.set_viewport_size({"width": 1024, "height": 768})

    page.goto(f"{live_server.url}/flags/")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", name="Board")).to_be_visible()
    assert no_sideways_scroll(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "board-1024.png", full_page=True)
    row = page.locator(f"#patient-{course.pk}")
    expect(row).to_contain_text("Ada Lovelace")
    expect(row).to_contain_text("bed 4")

    # Expand the row: its flags load (a click, not a poll).
    row.get_by_text("Flags (").click()
    for flag in open_flags:
        expect(row.locator(f"#flag-{flag.pk}")).to_contain_text(flag.message)
    expand = [r for r in requests if "/flags/patients/" in r.url]
    assert len(expand) == 1
    assert POLL_HEADER not in expand[0].headers
    assert no_sideways_scroll(page)

    # The 30-second refresh is a poll, and the expanded row stays open across it.
    with page.expect_response(lambda r: r.url.endswith("/flags/")) as refresh:
        page.clock.fast_forward("00:31")
    assert refresh.value.request.headers.get(POLL_HEADER) == "1"
    # The row was drawn again (collapsed) and re-opened, its flags loaded again.
    expect(page.locator(f"#flags-{course.pk}")).to_have_attribute("open", "")
    expect(row.locator(f"#flag-{open_flags[0].pk}")).to_be_visible()
    assert len([r for r in requests if "/flags/patients/" in r.url]) == 2
    page.screenshot(path=ARTIFACTS / "board-1024-expanded.png", full_page=True)

    # Acknowledge all for this patient, with one note.
    row.get_by_text("Acknowledge all (").click()
    row.get_by_label("Note for all the patient's flags").fill("reviewed at the bedside")
    row.get_by_role("button", name="Acknowledge all for this patient").click()

    expect(row).to_contain_text(f"{len(open_flags)} flags acknowledged for Ada Lovelace.")
    expect(row).not_to_contain_text("Acknowledge all (")
    expect(row).to_have_class("list-group-item board-row flag-acked")
    expect(row).to_contain_text("acknowledged by Test User")
    ack = [r for r in requests if r.url.endswith("/acknowledge/")]
    assert POLL_HEADER not in ack[0].headers
    assert not Flag.objects.filter(course=course, status=Flag.Status.OPEN).exists()
    assert set(
        FlagAcknowledgement.objects.filter(flag__course=course).values_list("note", flat=True)
    ) == {"reviewed at the bedside"}
    expect(page.locator("#nav-flag-count")).to_have_text("3 patients with unacknowledged flags")

    # A phone: rows become stacked cards, no sideways scroll.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_load_state("load")
    assert no_sideways_scroll(page)
    expect(page.locator(f"#patient-{course.pk}")).to_be_visible()
    page.screenshot(path=ARTIFACTS / "board-390.png", full_page=True)
    assert problems == []

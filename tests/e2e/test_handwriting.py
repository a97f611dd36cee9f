"""Handwriting samples in the browser (issue 15 §2): a caregiver on a 390×844 phone writes the
sentence on the drawing pad (mouse moves stand in for a finger), undoes a stray stroke and
sends it; the team sees it beside the baseline, side by side on a tablet and stacked on a
phone. axe-core finds no serious or critical WCAG 2.2 AA violation, nothing scrolls sideways."""

import io

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from monitoring import handwriting
from monitoring.access import HOME_BACKEND
from monitoring.demo.handwriting import demo_png
from monitoring.models import HandwritingSample
from tests.e2e.axe import VIEWPORTS, assert_accessible
from tests.factories import CourseFactory
from tests.home_helpers import make_home_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def check_page(page, where: str) -> None:
    assert_accessible(page, where)
    assert page.evaluate(SIDEWAYS) <= 0, f"{where} scrolls sideways"


def sign_in_at_home(page, live_server, user) -> None:
    client = Client()
    client.force_login(user, backend=HOME_BACKEND)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def stroke(page, box, points) -> None:
    """Write with the mouse: press at the first point, move through the rest, release."""
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=4)
    page.mouse.up()


def test_a_caregiver_writes_the_sentence_on_the_pad_and_sends_it(
    page, live_server, ward_a, care_team_member
):
    course = CourseFactory(unit=ward_a)
    caregiver = make_home_user(course, care_team_member)
    page.set_viewport_size(VIEWPORTS["phone"])
    sign_in_at_home(page, live_server, caregiver)

    page.goto(f"{live_server.url}/home/handwriting/new/")
    expect(page.get_by_role("heading", name="Write a sentence")).to_be_visible()
    expect(page.get_by_text("Our national bird is the bald eagle.")).to_be_visible()
    pad = page.get_by_role("img", name="Write the sentence here with a finger or a stylus:")
    expect(pad).to_be_visible()
    check_page(page, "handwriting (phone)")
    box = pad.bounding_box()
    assert box["width"] >= 300
    assert box["height"] >= 150

    stroke(page, box, [(20, 120), (60, 60), (100, 120), (140, 60), (180, 120)])
    stroke(page, box, [(200, 30), (210, 200)])  # a stray stroke
    page.get_by_role("button", name="Undo").click()
    stroke(page, box, [(220, 100), (300, 100)])
    assert page.locator("input[name=drawing]").input_value().startswith("data:image/png;base64,")
    send = page.get_by_role("button", name="Send to my care team")
    assert send.bounding_box()["height"] >= 44
    send.click()

    expect(page).to_have_url(f"{live_server.url}/home/")
    expect(page.get_by_text("Thank you. Your writing was sent")).to_be_visible()
    sample = HandwritingSample.objects.get()
    assert (sample.kind, sample.source, sample.recorded_by) == ("home", "drawn", caregiver)
    image = Image.open(io.BytesIO(bytes(sample.image_png)))
    # Ink where the strokes went; the undone stroke (x 200-210, down to y 200) is gone.
    scale = image.width / box["width"]
    assert image.getpixel((int(60 * scale), int(60 * scale))) < 128
    assert image.getpixel((int(205 * scale), int(180 * scale))) > 200


@pytest.mark.parametrize("screen_name", ["tablet", "phone"])
def test_the_team_sees_the_sample_beside_the_baseline(
    page, live_server, login_as, ward_a, nurse, care_team_member, screen_name
):
    course = CourseFactory(unit=ward_a)
    caregiver = make_home_user(course, care_team_member)
    for kind, by, hours in (("baseline", nurse, 24 * 4), ("home", caregiver, 1)):
        handwriting.record_sample(
            course=course,
            kind=kind,
            source="drawn",
            image=demo_png(shake=4 if kind == "home" else 0),
            taken_at=timezone.now() - timezone.timedelta(hours=hours),
            by=by,
        )
    page.set_viewport_size(VIEWPORTS[screen_name])
    login_as(care_team_member)

    page.goto(f"{live_server.url}/patients/{course.patient.public_id}/#handwriting")
    figures = page.locator("#handwriting figure")
    expect(figures).to_have_count(2)
    for index in range(2):  # the pictures load through the access-checked view
        picture = figures.nth(index).locator("img")
        picture.scroll_into_view_if_needed()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
        )
        assert picture.evaluate("img => img.naturalWidth") == 900
    first, second = (figures.nth(i).bounding_box() for i in range(2))
    if screen_name == "tablet":
        assert abs(first["y"] - second["y"]) < 2
        assert second["x"] > first["x"]  # side by side
    else:
        assert second["y"] >= first["y"] + first["height"]  # stacked
    expect(figures.first).to_contain_text("Baseline")
    expect(figures.nth(1)).to_contain_text("by Maria (daughter) (Caregiver at home)")
    check_page(page, f"course page handwriting ({screen_name})")

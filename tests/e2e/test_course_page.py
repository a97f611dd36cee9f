"""The course page on a ward's devices, in a real browser: a 1024×768 tablet and a 390×844
phone, on the demo hospital's longest course (D+13, about ninety checks).

The state now comes first, then the charts, then one line per day; opening a day (a click)
loads its checks in place. Nothing scrolls sideways, and no chart's axis labels are cut off at
the canvas's edge or drawn over each other. Screenshots go to test-results/ (course-tablet.png,
course-phone.png; docs/screenshots/ holds copies).
"""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from monitoring import demo
from monitoring.course_page import day_bounds
from monitoring.models import BedsideCheck, TreatmentCourse, User
from tests.e2e.conftest import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"tablet": (1024, 768), "phone": (390, 844)}

# Elements wider than the page, or boxes that scroll sideways inside it (a table in a
# .table-responsive box does: the page fits, the table does not).
SIDEWAYS = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  const page = document.documentElement.scrollWidth;
  if (page > width) found.push("page " + page);
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length) continue;
    // What a closed <details> holds is not shown (Chromium still gives it a box).
    const closed = el.closest("details:not([open])");
    if (closed && !closed.querySelector(":scope > summary").contains(el)) continue;
    const box = el.getBoundingClientRect();
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + "." + el.className;
    if (box.right > width + 1) found.push(name + " ends at " + Math.round(box.right));
    const x = getComputedStyle(el).overflowX;
    const scrolls = (x === "auto" || x === "scroll") && el.scrollWidth > el.clientWidth + 1;
    if (scrolls) found.push(name + " scrolls");
  }
  return found;
}"""

# Each chart's value axes: inside the canvas, every tick label clear of the canvas's edge and
# of the axis title, and no two labels of an axis over each other (multi-line labels count
# their lines). Chart.js's own internals: _resolveTickFontOptions, helpers.toFont/toPadding.
AXIS_LABELS = """() => {
  const problems = [];
  const { toFont, toPadding } = Chart.helpers;
  for (const chart of Object.values(Chart.instances)) {
    const ctx = chart.ctx;
    for (const scale of Object.values(chart.scales)) {
      if (scale.axis !== "y") continue;
      const name = chart.canvas.id + " " + scale.id;
      const font = scale._resolveTickFontOptions(0);
      ctx.save();
      ctx.font = font.string;
      const labels = scale.ticks.map((tick) => [].concat(tick.label ?? []).map(String));
      const widest = Math.max(0, ...labels.flat().map((text) => ctx.measureText(text).width));
      ctx.restore();
      const pad = scale.options.ticks.padding;
      const title = scale.options.title;
      const titleSize = title.display
        ? toFont(title.font).lineHeight + toPadding(title.padding).height
        : 0;
      const outside = scale.left < -1 || scale.right > chart.width + 1;
      if (outside) problems.push(name + ": off the canvas");
      // Labels run from the chart area outwards; the title sits at the outer edge.
      const room = scale.width - pad - titleSize;
      if (widest > room + 1) problems.push(name + ": labels cut or over the title");
      const lines = labels.map((label) => label.filter(Boolean).length);
      const at = scale.ticks.map((_tick, index) => scale.getPixelForTick(index));
      for (let i = 1; i < at.length; i++) {
        const needed = ((lines[i] + lines[i - 1]) / 2) * font.lineHeight;
        if (lines[i] && lines[i - 1] && Math.abs(at[i] - at[i - 1]) < needed) {
          problems.push(name + ": labels " + (i - 1) + " and " + i + " overlap");
        }
      }
    }
  }
  return problems;
}"""


@pytest.fixture
def demo_course(db):
    """The demo hospital (monitoring.demo, as `manage.py seed_demo` makes it) and its longest
    course of the simulated ward: D+13, about ninety checks (the journey patients in follow-up,
    JRN-, are older and have few)."""
    demo.seed(patients=12, units=2, days=14, seed=2026)
    return (
        TreatmentCourse.objects.filter(patient__mrn__startswith=demo.MRN_PREFIX)
        .select_related("patient")
        .order_by("infused_at")
        .first()
    )


@pytest.mark.parametrize("screen", list(VIEWPORTS))
def test_the_course_page_fits_the_device_and_opens_a_day_on_a_click(
    login_as, live_server, demo_course, screen
):
    course = demo_course
    assert course.day_number() == 13
    width, height = VIEWPORTS[screen]
    problems = []
    page = login_as(User.objects.get(username="demo-care"))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.set_viewport_size({"width": width, "height": height})

    page.goto(f"{live_server.url}/patients/{course.patient.public_id}/")
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => Object.keys(Chart.instances).length === 8"
    )  # with the infection charts

    # The state now leads; the charts follow; the days come last.
    tops = [
        page.locator(f"#{name}").bounding_box()["y"]
        for name in ("grades", "flags", "due", "charts", "days")
    ]
    assert tops == sorted(tops)
    assert page.locator("#days .day-line").count() == 14  # D+13 … D+0, one line each
    assert page.locator(".day-check").count() == 0  # no check until a day is opened
    assert page.evaluate(SIDEWAYS) == []
    assert page.evaluate(AXIS_LABELS) == []
    # A flag's acknowledge and resolve forms, opened, fit too.
    actions = page.locator("#open-flags details.flag-action > summary")
    assert actions.count() > 0  # the demo's longest course has an open flag
    for index in range(actions.count()):
        actions.nth(index).click()
        assert page.evaluate(SIDEWAYS) == []
        actions.nth(index).click()

    # Open D+3 with a click: its checks load under its line (htmx), newest first.
    start, end = day_bounds(course, 3)
    expected = list(
        BedsideCheck.objects.filter(
            course=course, observed_at__gte=start, observed_at__lt=end
        ).order_by("-observed_at", "-pk")
    )
    assert expected
    line = page.locator("#day-3")
    line.locator("summary").click()
    checks = line.locator(".day-check")
    expect(checks).to_have_count(len(expected))
    first = timezone.localtime(expected[0].observed_at)
    expect(checks.first).to_contain_text(f"D+3 {first:%H:%M}")
    expect(line.locator(".day-facts")).to_contain_text("T max")
    assert page.evaluate(SIDEWAYS) == []
    # Closing and opening again does not fetch it twice.
    line.locator("summary").click()
    line.locator("summary").click()
    expect(checks).to_have_count(len(expected))

    # A chart's values load as a table when they are opened, newest first.
    values = page.locator("#chart-temperature").locator("xpath=..").locator("xpath=..")
    values.locator("details.chart-table > summary").click()
    rows = values.locator("details.chart-table tbody tr")
    expect(rows.first).to_contain_text("D+13")
    assert rows.count() > 50  # about ninety checks, most with a temperature
    assert page.evaluate(SIDEWAYS) == []
    values.locator("details.chart-table > summary").click()

    ARTIFACTS.mkdir(exist_ok=True)
    line.locator("summary").click()  # closed again for the picture of the whole page
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / f"course-{screen}.png", full_page=True)
    assert problems == []

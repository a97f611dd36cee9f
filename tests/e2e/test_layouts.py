"""Every page fits the devices wards use (issue 13 §1): a 1024×768 tablet and a 390×844 phone,
for every role that can open it, without sideways scrolling — of the page, or of a table inside
it — and the worklist's primary action (Record check) is on screen in every row.

One browser context per viewport; each role's session cookie is swapped into it and one page
visits that role's pages (``tests.e2e.pages.every_page``). Every offender is reported at once.
"""

import re

import pytest
from django.conf import settings
from django.test import Client

from monitoring.models import TreatmentCourse, User
from tests.e2e.pages import LONG_FAMILY, ROLES, every_page, public_pages, ward_world
from tests.factories import CourseFactory, UnitFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"tablet": {"width": 1024, "height": 768}, "phone": {"width": 390, "height": 844}}

# What scrolls sideways: the document, and any element that scrolls its own overflow sideways
# (a .table-responsive wrapper hides a cut-off Actions column behind a scrollbar).
MEASURE = """() => {
  const width = window.innerWidth;
  const inner = [];
  for (const el of document.querySelectorAll('body *')) {
    const overflowX = getComputedStyle(el).overflowX;
    if ((overflowX === 'auto' || overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1
        && el.clientWidth > 0) {
      inner.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`
                 + ` ${el.scrollWidth}/${el.clientWidth}px`);
    }
  }
  const wide = [];
  if (document.scrollingElement.scrollWidth > width + 1) {
    for (const el of document.querySelectorAll('body *')) {
      const box = el.getBoundingClientRect();
      if (box.right > width + 1 && box.width > 0 && el.children.length === 0) {
        wide.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`
                  + ` "${el.textContent.trim().slice(0, 30)}" right=${Math.round(box.right)}`);
      }
    }
  }
  return {scrollWidth: document.scrollingElement.scrollWidth, width, inner,
          wide: wide.slice(0, 3)};
}"""


# Scrolls the window (never sideways) to the element, then finds whether both of its ends are
# in the viewport and not clipped or covered: a .table-responsive or overflow: hidden parent
# would cut it off while its box is still inside the window.
ON_SCREEN = """(el) => {
  const top = el.getBoundingClientRect().top + window.scrollY;
  // 'instant': Bootstrap makes scrolling smooth, which would measure mid-animation.
  window.scrollTo({top: Math.max(0, top - window.innerHeight / 2), behavior: 'instant'});
  const box = el.getBoundingClientRect();
  if (box.width === 0 || box.height === 0) return 'hidden';
  if (box.left < 0 || box.right > window.innerWidth) {
    return `at x=${Math.round(box.left)}..${Math.round(box.right)} in ${window.innerWidth} px`;
  }
  if (box.top < 0 || box.bottom > window.innerHeight) return 'not scrolled into view';
  const y = box.top + box.height / 2;
  for (const x of [box.left + 2, box.right - 2]) {
    const hit = document.elementFromPoint(x, y);
    if (!hit || !(hit === el || el.contains(hit))) {
      return `cut off or covered at x=${Math.round(x)} (${hit ? hit.tagName : 'nothing'} there)`;
    }
  }
  return '';
}"""


def off_screen(locator) -> str:
    """Why the element is not fully on screen, or ""."""
    return locator.evaluate(ON_SCREEN)


def log_in(context, live_server, user):
    """Swap ``user``'s session into the context (or none: logged out)."""
    context.clear_cookies()
    if user is None:
        return
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


@pytest.mark.walk
def test_every_page_fits_a_tablet_and_a_phone_for_every_role(browser, live_server):
    world = ward_world()
    walks = [
        (role, world.users[role], every_page(world.users[role], world.sample)) for role in ROLES
    ]
    walks.append(("anonymous", None, public_pages()))
    # The walk found the pages each role works on, so a broken walk cannot pass quietly.
    names = {role: {p.name for p in pages} for role, _, pages in walks}
    assert {"nurse-worklist", "nurse-check", "handover", "care-flags"} <= names[User.Role.NURSE]
    assert {"admin-audit-log", "admin-protocols", "exports-registry"} <= names[User.Role.ADMIN]
    assert names[User.Role.DISPLAY] >= {"wall-display"}

    offenders = []
    visits = 0
    for size, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        for role, user, pages in walks:
            log_in(context, live_server, user)
            for target in pages:
                page.goto(live_server.url + target.url, wait_until="load")
                visits += 1
                found = page.evaluate(MEASURE)
                if found["scrollWidth"] > found["width"] + 1 or found["inner"]:
                    offenders.append(
                        f"{size} {role} {target.name} ({target.url}): page "
                        f"{found['scrollWidth']}px in {found['width']}px; scrolls inside: "
                        f"{found['inner'] or 'nothing'}; sticks out: {found['wide'] or '-'}"
                    )
        context.close()

    assert visits > 2 * 5 * 10
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("size", VIEWPORTS)
def test_every_worklist_rows_record_action_is_on_screen(browser, live_server, size):
    world = ward_world()
    viewport = VIEWPORTS[size]
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    log_in(context, live_server, world.users[User.Role.NURSE])

    page.goto(f"{live_server.url}/worklist/", wait_until="load")

    actions = page.get_by_role("link", name="Record check")
    assert actions.count() == len(world.courses)
    problems = [
        f"row {n}: {problem}"
        for n in range(actions.count())
        if (problem := off_screen(actions.nth(n)))
    ]
    assert not problems, "\n".join(problems)
    # The long-named patient's row, with every check overdue, is the widest one.
    assert page.get_by_text(LONG_FAMILY).first.is_visible()
    context.close()


# The widest choice's text, in the select's own font, against the room the select leaves it
# (its width less the padding, which holds the arrow on the right).
CHOICES_FIT = """(select) => {
  const style = getComputedStyle(select);
  const context = document.createElement('canvas').getContext('2d');
  context.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = select.clientWidth - parseFloat(style.paddingLeft)
               - parseFloat(style.paddingRight);
  return [...select.options].filter(o => context.measureText(o.text).width > room)
                            .map(o => `${o.text} (${Math.round(context.measureText(o.text).width)}`
                                      + ` px in ${Math.round(room)} px)`);
}"""


def test_the_check_forms_oxygen_choices_show_in_full_on_a_tablet_and_a_phone(browser, live_server):
    world = ward_world()
    url = f"{live_server.url}/patients/{world.courses[0].patient.public_id}/check/"
    cut = {}
    for size, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport)
        log_in(context, live_server, world.users[User.Role.NURSE])
        page = context.new_page()
        page.goto(url, wait_until="load")
        oxygen = page.get_by_label("Oxygen support")
        assert oxygen.locator("option").count() >= 10  # room air … mechanical ventilation
        if found := oxygen.evaluate(CHOICES_FIT):
            cut[size] = found
        context.close()

    assert not cut, cut


def test_the_printed_handover_has_four_patients_to_a_page(browser, live_server):
    """Four blocks fit an A4 page and a fifth starts the next (print.css: compact blocks, a
    break after every fourth). With the demo's fuller blocks, 12 patients print on 3 pages."""
    unit = UnitFactory(name="Day unit", code="day")
    nurse = UserFactory(role=User.Role.NURSE, units=[unit])
    context = browser.new_context()
    log_in(context, live_server, nurse)
    page = context.new_page()
    pages = {}
    for patients in (4, 5, 8):
        while TreatmentCourse.objects.filter(unit=unit).count() < patients:
            CourseFactory(unit=unit)
        page.goto(f"{live_server.url}/handover/", wait_until="load")
        assert page.locator("section.handover-block").count() == patients
        pages[patients] = len(re.findall(rb"/Type\s*/Page\b", page.pdf(format="A4")))
    context.close()

    assert pages == {4: 1, 5: 2, 8: 2}

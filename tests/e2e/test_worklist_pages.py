"""The worklist's pages of 50 (issue 16 §2) on a ward tablet and a phone: the page links fit
without sideways scrolling, pass axe, and lead to the next page with the unit kept."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import User
from tests.e2e.axe import assert_accessible
from tests.e2e.test_layouts import MEASURE
from tests.factories import CourseFactory, UnitFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_worklist_pages_fit_pass_axe_and_keep_the_unit(page, live_server, login_as, screen):
    ward, other = UnitFactory(name="Ward A", code="ward-a"), UnitFactory(name="Ward B")
    infused = timezone.now() - timedelta(days=3)
    for index in range(260):  # six pages: the links elide the middle ones
        CourseFactory(unit=ward, infused_at=infused, patient__family_name=f"Pat{index:03d}")
    care = UserFactory(role=User.Role.CARE_TEAM, units=[ward, other])
    login_as(care)

    page.goto(f"{live_server.url}/worklist/?unit={ward.pk}&page=3", wait_until="load")

    nav = page.get_by_role("navigation", name="Worklist pages")
    assert nav.locator('[aria-current="page"]').inner_text() == "3"
    found = page.evaluate(MEASURE)
    assert found["scrollWidth"] <= found["width"] + 1, found
    assert_accessible(page, f"worklist page 3 ({screen})")
    nav.get_by_role("link", name="Next").click()
    page.wait_for_url(f"**/worklist/?unit={ward.pk}&page=4")
    rows = page.locator("table.worklist tbody tr")
    assert "Pat150" in rows.first.inner_text()
    assert rows.count() == 50

"""What assistive technology reads from the markup (issue 13 §3): a skip link first, the current
page marked in the navigation, the bell outside the folding menu, and an error summary whose
problems link to their fields, which say they are invalid and point at their message.
(The browser suite checks the same pages with axe-core and the keyboard: tests/e2e.)"""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.models import BedsideCheck, User
from tests.factories import UserFactory, local_input


def nav_of(page: str) -> str:
    return page[page.index("<nav") : page.index("</nav>")]


def test_the_skip_link_is_the_first_link_and_leads_to_the_main_content(nurse_client):
    page = nurse_client.get(reverse("monitoring:nurse-worklist")).content.decode()

    first_link = re.search(r"<a [^>]*>[^<]*", page).group(0)
    assert 'href="#content"' in first_link
    assert "Skip to content" in first_link
    assert re.search(r'<main id="content" tabindex="-1"', page)


@pytest.mark.parametrize(
    ("url_name", "link_text"),
    [
        ("monitoring:nurse-worklist", "Worklist"),
        ("monitoring:handover", "Handover"),
        ("monitoring:rota", "Rota"),
    ],
)
def test_the_current_page_and_only_it_is_marked_in_the_navigation(
    nurse_client, url_name, link_text
):
    nav = nav_of(nurse_client.get(reverse(url_name)).content.decode())

    current = re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]*)', nav)
    assert current == [link_text]


def test_a_page_in_the_more_menu_marks_the_menu_too(client, ward_a):
    client.force_login(UserFactory(role=User.Role.ADMIN, units=[ward_a]))

    nav = nav_of(client.get(reverse("monitoring:admin-audit-log")).content.decode())

    assert re.search(r'<a class="dropdown-item" href="/audit/" aria-current="page">', nav)
    assert re.search(r'<button class="nav-link dropdown-toggle cm-current-section"', nav)


def test_the_bell_stays_outside_the_menu_that_folds_on_phones(nurse_client):
    nav = nav_of(nurse_client.get(reverse("monitoring:nurse-worklist")).content.decode())

    collapse = nav.index('id="nav"')
    assert nav.index('id="nav-unread-count"') < nav.index("navbar-toggler") < collapse
    assert nav.count('id="nav-unread-count"') == 1


def test_a_nurse_sees_no_more_menu_and_an_admin_finds_the_rare_links_in_it(client, ward_a):
    client.force_login(UserFactory(role=User.Role.NURSE, units=[ward_a]))
    assert "dropdown-menu" not in nav_of(client.get(reverse("monitoring:home"), follow=True).text)

    client.force_login(UserFactory(role=User.Role.ADMIN, units=[ward_a]))
    nav = nav_of(client.get(reverse("monitoring:nurse-worklist")).content.decode())
    menu = nav[nav.index('<ul class="dropdown-menu">') :]
    for href in ("/quality/", "/exports/registry/", "/protocols/", "/audit/"):
        assert f'href="{href}"' in menu, href


def test_a_check_sent_back_lists_each_problem_as_a_link_to_its_field(nurse_client, course):
    url = reverse("monitoring:nurse-check", args=[course.patient.public_id])

    response = nurse_client.post(
        url,
        {
            "observed_at": "",
            "vitals-temperature": "60",
            "vitals-temperature_unit": "C",
            "vitals-heart_rate_bpm": "400",
        },
    )

    assert response.status_code in (200, 400)
    assert not BedsideCheck.objects.exists()
    page = response.content.decode()
    summary = page[
        page.index("data-error-summary") : page.index("</ul>", page.index("data-error-summary"))
    ]
    assert 'role="alert"' in page[page.rindex("<div", 0, page.index("data-error-summary")) :][:200]
    count = int(re.search(r"There are (\d+) problems", summary).group(1))
    targets = re.findall(r'<a href="#([^"]+)">', summary)
    assert count == summary.count("<li>")
    assert count >= 3
    assert {"id_observed_at", "id_vitals-temperature", "id_vitals-heart_rate_bpm"} <= set(targets)
    for target in targets:
        # The field exists, says it is invalid, and is described by its message.
        field = re.search(rf'<(?:input|select|textarea)[^>]* id="{target}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in field, target
        described = re.search(r'aria-describedby="([^"]+)"', field).group(1).split()
        assert any(f'id="{d}"' in page for d in described if d.endswith("_error")), target


def test_one_problem_is_said_in_the_singular(nurse_client, course):
    response = nurse_client.post(
        reverse("monitoring:nurse-not-done", args=[course.patient.public_id]),
        {
            "check_type": "vitals",
            "reason": "other",
            "note": "",
            "observed_at": local_input(timezone.now()),
        },
    )

    page = response.content.decode()
    assert "There is 1 problem" in page
    assert '<a href="#id_note">Note: Say why the check was not done.</a>' in page
    assert "Nothing was saved." in page


def test_a_page_without_problems_has_no_summary(nurse_client, course):
    page = nurse_client.get(reverse("monitoring:nurse-check", args=[course.patient.public_id]))

    assert "data-error-summary" not in page.content.decode()

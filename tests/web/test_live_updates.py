"""Live pages without defeating the idle logout (issue 12 §5).

The board, the worklist and the wall display re-fetch themselves every 30 s (htmx polling,
marked with the X-Cartmonitor-Poll header by static/js/live.js; tests/e2e/test_board.py checks
that the browser sends it on a refresh and not on a click). A refresh is not activity: a board
left alone on a ward computer still logs out after the idle limit, and the refresh that finds
the session gone sends the whole page to the login form instead of drawing the form inside the
board. A wall display (its own login, User.Role.DISPLAY) is the one session its polling keeps
alive.
"""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Flag, User
from tests.factories import UserFactory, keep_flag_leads

BOARD = reverse("monitoring:care-flags")
WORKLIST = reverse("monitoring:nurse-worklist")
DISPLAY = reverse("monitoring:wall-display")
POLL = {"HX-Request": "true", "X-Cartmonitor-Poll": "1"}


@pytest.fixture
def flagged(course):
    flag = Flag.objects.create(
        course=course, kind="crs", severity=Flag.Severity.URGENT, message="CRS grade 2"
    )
    keep_flag_leads(course)
    return flag


@pytest.fixture
def display_user(ward_a):
    return UserFactory(username="ward-a-screen", role=User.Role.DISPLAY, units=[ward_a])


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_board_that_only_polls_is_logged_out_after_the_idle_limit(care_team_member, flagged):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = logged_in(care_team_member)
        assert client.get(BOARD).status_code == 200
        # Left alone on a ward computer: the board refreshes itself for 35 minutes.
        for _ in range(7):
            clock.shift(timedelta(minutes=5))
            poll = client.get(BOARD, headers={**POLL, "HX-Current-URL": "http://testserver/flags/"})
        # Polls after the 30 idle minutes find the session gone...
        assert poll.status_code == 401
        assert urlsplit(poll.headers["HX-Redirect"]).path == reverse("login")
        # ... and so does the next page.
        response = client.get(BOARD)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_polling_does_not_slide_the_session_but_a_click_does(care_team_member, flagged):
    """The same 25 minutes with one click in the middle (expanding a patient's row)."""
    expand = reverse("monitoring:care-patient-flags", args=[flagged.course.patient.public_id])
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = logged_in(care_team_member)
        for minutes in range(5, 30, 5):
            clock.shift(timedelta(minutes=5))
            assert client.get(BOARD, headers=POLL).status_code == 200, minutes
            if minutes == 15:
                assert client.get(expand, headers={"HX-Request": "true"}).status_code == 200
        # 40 minutes after the login, 25 after the click: still logged in.
        clock.shift(timedelta(minutes=15))
        assert client.get(BOARD, headers=POLL).status_code == 200
        clock.shift(timedelta(minutes=31))
        assert client.get(BOARD, headers=POLL).status_code == 401


def test_the_worklist_polls_too_and_its_polling_does_not_keep_a_session(nurse, course):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = logged_in(nurse)
        page = client.get(WORKLIST).content.decode()
        assert 'hx-trigger="every 30s"' in page
        assert 'id="worklist" class="live-region"' in page  # live.js marks its polls
        assert "/static/js/live.js" in page
        refresh = client.get(WORKLIST, headers=POLL)
        assert refresh.status_code == 200
        fragment = refresh.content.decode()
        assert "<html" not in fragment
        assert course.patient.full_name in fragment
        assert "HX-Request" in refresh.headers["Vary"]
        for _ in range(7):
            clock.shift(timedelta(minutes=5))
            last = client.get(WORKLIST, headers=POLL)

    assert last.status_code == 401


def test_a_wall_display_stays_logged_in_while_it_polls(display_user, flagged):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = logged_in(display_user)
        assert client.get(DISPLAY).status_code == 200
        # A shift on the wall: polled for 12 hours.
        for _ in range(12 * 12):
            clock.shift(timedelta(minutes=5))
            assert client.get(DISPLAY, headers=POLL).status_code == 200
        # The screen is switched off: the session ends after the idle limit like any other.
        clock.shift(timedelta(minutes=31))
        response = client.get(DISPLAY)

    assert response.status_code == 302


def test_an_expired_htmx_request_goes_to_the_login_page_and_back_to_the_page_it_came_from(db):
    response = Client().get(
        BOARD,
        {"severity": "2"},
        headers={**POLL, "HX-Current-URL": "http://testserver/flags/?severity=2&unit=4"},
    )

    assert response.status_code == 401
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == reverse("login")
    assert parse_qs(target.query)["next"] == ["/flags/?severity=2&unit=4"]
    assert "<form" not in response.content.decode()  # no login form drawn into the board


@pytest.mark.parametrize(
    ("current", "back"),
    [
        ("https://evil.example/phish", "/phish"),  # only the path: a page of this site
        ("//evil.example/x", "/x"),
        ("junk", BOARD),  # not an address: back to what was asked
        ("", BOARD),
    ],
)
def test_the_way_back_after_login_stays_on_this_site(db, current, back):
    response = Client().get(BOARD, headers={**POLL, "HX-Current-URL": current})

    assert response.status_code == 401
    assert parse_qs(urlsplit(response.headers["HX-Redirect"]).query)["next"] == [back]


def test_a_plain_request_without_a_session_still_gets_the_login_redirect(db):
    response = Client().get(BOARD)

    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={BOARD}"
    assert "HX-Redirect" not in response.headers

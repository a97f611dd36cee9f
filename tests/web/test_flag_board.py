"""The flag board: unresolved flags of the user's units, open ones first, most severe then
oldest; the care team acknowledges (with an optional note) and resolves (with a reason);
overdue checks in their own section; a constant number of queries however many patients."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import AuditEvent, CourseStatus, Flag, TreatmentCourse, User
from tests.factories import ICE_10, ROOM_AIR, CourseFactory, UnitFactory, UserFactory

BOARD = "/flags/"


def make_flag(course, severity, message, *, kind="crs", hours_ago=1.0, **fields) -> Flag:
    """A flag as it stands on the board (the write path's rules are tested in test_services)."""
    return Flag.objects.create(
        course=course,
        kind=kind,
        severity=severity,
        message=message,
        raised_at=timezone.now() - timedelta(hours=hours_ago),
        **fields,
    )


def ack_url(flag):
    return reverse("monitoring:care-flag-acknowledge", args=[flag.pk])


def resolve_url(flag):
    return reverse("monitoring:care-flag-resolve", args=[flag.pk])


def flag_item(page: str, flag) -> str:
    """The opening tag of a flag's row on the board."""
    match = re.search(rf'<li class="([^"]*)" id="flag-{flag.pk}">', page)
    assert match, f"flag {flag.pk} not on the board"
    return match.group(1)


@pytest.fixture
def other_care(ward_b):
    """A care-team member of ward B: ward A's flags are none of hers."""
    return UserFactory(username="olga", role=User.Role.CARE_TEAM, units=[ward_b])


@pytest.fixture
def other_care_client(other_care):
    client = Client()
    client.force_login(other_care)
    return client


# --- What the board shows, in what order -------------------------------------------------------


def test_open_flags_come_most_severe_first_then_oldest_and_acknowledged_ones_below(
    care_client, care_team_member, ward_a
):
    a, b, c = CourseFactory.create_batch(3, unit=ward_a)
    make_flag(a, Flag.Severity.WARNING, "old warning", hours_ago=10)
    make_flag(b, Flag.Severity.CRITICAL, "new critical", hours_ago=1)
    make_flag(c, Flag.Severity.URGENT, "old urgent", hours_ago=5)
    make_flag(a, Flag.Severity.URGENT, "new urgent", kind="icans", hours_ago=2)
    make_flag(
        b,
        Flag.Severity.CRITICAL,
        "acknowledged critical",
        kind="news2",
        hours_ago=20,
        status=Flag.Status.ACKNOWLEDGED,
        acknowledged_by=care_team_member,
        acknowledged_at=timezone.now(),
    )
    make_flag(
        c, Flag.Severity.CRITICAL, "resolved critical", kind="news2", status=Flag.Status.RESOLVED
    )

    page = care_client.get(BOARD).content.decode()

    order = ["new critical", "old urgent", "new urgent", "old warning", "acknowledged critical"]
    assert [page.index(message) for message in order] == sorted(
        page.index(message) for message in order
    )
    assert "Acknowledged, not yet resolved" in page
    assert "resolved critical" not in page


def test_an_unacknowledged_urgent_flag_stands_out_with_how_long_it_has_waited(care_client, ward_a):
    course = CourseFactory(unit=ward_a)
    urgent = make_flag(course, Flag.Severity.URGENT, "CRS grade 2", hours_ago=2 + 5.2 / 60)
    warning = make_flag(course, Flag.Severity.WARNING, "CRS symptoms", kind="crs_symptom")

    page = care_client.get(BOARD).content.decode()

    assert "flag-standout" in flag_item(page, urgent)
    assert "flag-standout" not in flag_item(page, warning)
    assert "waiting 2 h 05 min" in page


def test_a_flag_that_got_worse_after_acknowledgement_is_open_again(
    care_client, care_team_member, nurse, course
):
    now = timezone.now()
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=2),
        vitals={**ROOM_AIR, "temp_c": 38.4},
    )
    flag = Flag.objects.get(kind="crs")
    services.acknowledge_flag(flag=flag, by=care_team_member, note="antipyretic given")
    # Worse: hypoxia on low-flow oxygen is grade 2, which escalates and re-opens the flag.
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(minutes=5),
        vitals={**ROOM_AIR, "temp_c": 38.6, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )

    page = care_client.get(BOARD).content.decode()

    assert "flag-standout" in flag_item(page, flag)
    assert "re-opened" in page
    assert "CRS grade 2" in page


def test_overdue_checks_are_listed_worst_first(care_client, nurse, ward_a):
    now = timezone.now()
    full = {
        "vitals": {**ROOM_AIR, "temp_c": 37.0},
        "symptoms": {"fatigue": True},
        "neuro": ICE_10,
        "labs": {"crp_mg_l": 12},
    }
    late = CourseFactory(unit=ward_a, patient__family_name="Latecomer")
    later = CourseFactory(unit=ward_a, patient__family_name="Laterstill")
    on_time = CourseFactory(unit=ward_a, patient__family_name="Punctual")
    # The default protocol: vital signs and symptoms every 4 h, ICE every 8 h, labs daily.
    services.record_check(course=late, by=nurse, observed_at=now - timedelta(hours=6), **full)
    services.record_check(course=later, by=nurse, observed_at=now - timedelta(hours=9), **full)
    services.record_check(course=on_time, by=nurse, observed_at=now - timedelta(hours=1), **full)

    page = care_client.get(BOARD).content.decode()
    overdue = page[page.index("Overdue checks") :]

    assert overdue.index("Laterstill") < overdue.index("Latecomer")
    assert "5 h 00 min" in overdue  # vital signs, 9 h after the last check
    assert "2 h 00 min" in overdue
    assert "Punctual" not in overdue


def test_a_course_with_no_check_at_all_is_overdue_from_day_0(care_client, ward_a):
    course = CourseFactory(unit=ward_a, patient__family_name="Neverchecked")
    assert not CourseStatus.objects.filter(course=course).exists()

    page = care_client.get(BOARD).content.decode()

    overdue = page[page.index("Overdue checks") :]
    assert "Neverchecked" in overdue
    assert "never" in overdue


def test_finished_courses_have_no_overdue_checks(care_client, ward_a):
    CourseFactory(
        unit=ward_a, status=TreatmentCourse.Status.COMPLETED, patient__family_name="Finished"
    )

    page = care_client.get(BOARD).content.decode()

    assert "Finished" not in page[page.index("Overdue checks") :]


# --- Acknowledge and resolve ------------------------------------------------------------------


def test_acknowledging_keeps_who_when_and_the_note_and_audits_it(
    care_client, care_team_member, course
):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")

    response = care_client.post(ack_url(flag), {"note": "tocilizumab ordered", "next": BOARD})

    assert response.status_code == 302
    assert response.url == BOARD
    flag.refresh_from_db()
    assert flag.status == Flag.Status.ACKNOWLEDGED
    assert flag.acknowledged_by == care_team_member
    assert timezone.now() - flag.acknowledged_at < timedelta(minutes=1)
    assert flag.acknowledge_note == "tocilizumab ordered"
    event = AuditEvent.objects.get(action=AuditEvent.Action.FLAG_ACKNOWLEDGED)
    assert event.user == care_team_member
    assert event.course == course
    assert "tocilizumab ordered" in event.summary
    page = care_client.get(BOARD).content.decode()
    assert "acknowledged by" in page
    assert "Note: tocilizumab ordered" in page


def test_the_note_is_optional(care_client, course):
    flag = make_flag(course, Flag.Severity.WARNING, "CRS symptoms: fatigue")

    assert care_client.post(ack_url(flag), {}).status_code == 302

    flag.refresh_from_db()
    assert flag.status == Flag.Status.ACKNOWLEDGED
    assert flag.acknowledge_note == ""


def test_resolving_keeps_the_reason_and_takes_the_flag_off_the_board(
    care_client, care_team_member, nurse, course
):
    services.record_check(
        course=course, by=nurse, observed_at=timezone.now(), vitals={**ROOM_AIR, "temp_c": 38.4}
    )
    flag = Flag.objects.get(kind="crs")
    before = CourseStatus.objects.get(course=course).open_flag_count  # CRS and vital sign

    response = care_client.post(resolve_url(flag), {"reason": "fever settled after paracetamol"})

    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.status == Flag.Status.RESOLVED
    assert flag.resolved_by == care_team_member
    assert flag.resolve_reason == "fever settled after paracetamol"
    assert flag.resolved_at is not None
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.FLAG_RESOLVED, user=care_team_member
    ).exists()
    assert CourseStatus.objects.get(course=course).open_flag_count == before - 1
    assert f'id="flag-{flag.pk}"' not in care_client.get(BOARD).content.decode()


@pytest.mark.parametrize("reason", ["", "   "])
def test_resolving_without_a_reason_changes_nothing_and_says_why(care_client, course, reason):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")

    response = care_client.post(resolve_url(flag), {"reason": reason})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was changed" in page
    assert "Give the reason the flag is resolved." in page
    assert "CRS grade 2: hypoxia" in page
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN
    assert not AuditEvent.objects.exists()


def test_a_note_that_is_too_long_re_renders_with_what_was_typed(care_client, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")

    response = care_client.post(ack_url(flag), {"note": "x" * 501})

    assert response.status_code == 400
    assert "x" * 501 in response.content.decode()
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN


def test_acting_on_a_resolved_flag_is_refused_with_a_message(care_client, course, care_team_member):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")
    services.resolve_flag(flag=flag, by=care_team_member, reason="settled")

    for url, data in ((ack_url(flag), {}), (resolve_url(flag), {"reason": "again"})):
        response = care_client.post(url, data)
        assert response.status_code == 400
        assert "already resolved" in response.content.decode()


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_a_flag_that_got_worse_since_it_was_seen_is_not_acted_on_blindly(
    care_client, course, action
):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia on low-flow oxygen")
    seen = {
        "seen_severity": flag.severity,
        "seen_message": flag.message,
        "note": "tocilizumab ordered",
        "reason": "improving",
    }
    # Meanwhile a new check escalates it (services.FlagBook).
    Flag.objects.filter(pk=flag.pk).update(
        severity=Flag.Severity.CRITICAL, message="CRS grade 3: one vasopressor"
    )
    url = ack_url(flag) if action == "acknowledge" else resolve_url(flag)

    response = care_client.post(url, seen)

    assert response.status_code == 409
    page = response.content.decode()
    assert "This flag changed since you saw it" in page
    assert "CRS grade 3: one vasopressor" in page
    assert 'name="seen_severity" value="4"' in page  # confirming again means seeing the new one
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN
    assert not AuditEvent.objects.exists()

    again = care_client.post(
        url, {**seen, "seen_severity": 4, "seen_message": "CRS grade 3: one vasopressor"}
    )

    assert again.status_code == 302
    flag.refresh_from_db()
    assert flag.status != Flag.Status.OPEN


def test_the_board_sends_what_the_clinician_saw(care_client, course):
    make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")

    page = care_client.get(BOARD).content.decode()

    assert page.count('name="seen_severity" value="3"') == 2  # acknowledge and resolve
    assert page.count('name="seen_message" value="CRS grade 2: hypoxia"') == 2


def test_an_outside_next_address_is_not_followed(care_client, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")

    response = care_client.post(ack_url(flag), {"next": "https://evil.example/flags/"})

    assert response.url == BOARD


def test_flag_actions_are_post_only_and_need_the_csrf_token(care_team_member, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")
    client = Client(enforce_csrf_checks=True)
    client.force_login(care_team_member)

    assert client.get(ack_url(flag)).status_code == 405
    assert client.post(ack_url(flag), {"note": "x"}).status_code == 403
    assert client.post(resolve_url(flag), {"reason": "x"}).status_code == 403
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN


# --- Who may see and do what ------------------------------------------------------------------


def test_the_care_team_of_another_unit_gets_404_and_changes_nothing(other_care_client, course):
    flag = make_flag(course, Flag.Severity.CRITICAL, "CRS grade 3: one vasopressor")

    assert other_care_client.post(ack_url(flag), {"note": "mine?"}).status_code == 404
    assert other_care_client.post(resolve_url(flag), {"reason": "mine?"}).status_code == 404
    assert "CRS grade 3" not in other_care_client.get(BOARD).content.decode()
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN


def test_nurses_see_the_board_but_only_the_care_team_acts(nurse_client, admin_client_, course):
    flag = make_flag(course, Flag.Severity.CRITICAL, "CRS grade 3: one vasopressor")

    response = nurse_client.get(BOARD)

    assert response.status_code == 200
    assert "CRS grade 3" in response.content.decode()
    assert "Acknowledge…" not in response.content.decode()
    # Acknowledging tells the physicians someone owns the flag: not a nurse's or an admin's call.
    for client in (nurse_client, admin_client_):
        assert client.post(ack_url(flag), {"note": "seen"}).status_code == 403
        assert client.post(resolve_url(flag), {"reason": "done"}).status_code == 403
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN


def test_an_admin_sees_every_units_flags(admin_client_, ward_a, ward_b):
    make_flag(CourseFactory(unit=ward_a), Flag.Severity.URGENT, "ward A flag")
    make_flag(CourseFactory(unit=ward_b), Flag.Severity.URGENT, "ward B flag")

    page = admin_client_.get(BOARD).content.decode()

    assert "ward A flag" in page
    assert "ward B flag" in page


# --- Filters, pages and the 30-second refresh ---------------------------------------------------


@pytest.fixture
def two_unit_carer(ward_a, ward_b):
    """A care-team member of wards A and C (not B)."""
    ward_c = UnitFactory(name="Ward C", code="ward-c")
    user = UserFactory(username="cora", role=User.Role.CARE_TEAM, units=[ward_a, ward_c])
    client = Client()
    client.force_login(user)
    make_flag(CourseFactory(unit=ward_a), Flag.Severity.URGENT, "flag on A")
    make_flag(CourseFactory(unit=ward_c), Flag.Severity.WARNING, "flag on C")
    make_flag(CourseFactory(unit=ward_b), Flag.Severity.CRITICAL, "flag on B")
    return client, ward_c


def test_the_unit_filter_shows_one_of_the_users_units(two_unit_carer):
    client, ward_c = two_unit_carer

    everything = client.get(BOARD).content.decode()
    only_c = client.get(f"{BOARD}?unit={ward_c.pk}").content.decode()

    assert "flag on A" in everything
    assert "flag on C" in everything
    assert "flag on B" not in everything
    assert "flag on C" in only_c
    assert "flag on A" not in only_c


def test_the_severity_filter_shows_that_severity_or_worse(two_unit_carer):
    client, _ = two_unit_carer

    page = client.get(BOARD, {"severity": Flag.Severity.URGENT}).content.decode()

    assert "flag on A" in page  # urgent
    assert "flag on C" not in page  # warning


@pytest.mark.parametrize("value", ["7", "0", "urgent", "3abc", "٣"])
def test_an_unknown_severity_shows_every_severity_with_a_message(two_unit_carer, value):
    client, _ = two_unit_carer

    response = client.get(BOARD, {"severity": value})

    assert response.status_code == 200
    assert "Unknown severity: showing every severity." in response.content.decode()
    assert "flag on C" in response.content.decode()


def test_the_board_shows_50_flags_a_page(care_client, ward_a):
    kinds = [kind for kind, _ in Flag.Kind.choices]
    courses = CourseFactory.create_batch(7, unit=ward_a)
    for n in range(51):
        make_flag(
            courses[n // len(kinds)],
            Flag.Severity.WARNING,
            f"flag number {n:02d}",
            kind=kinds[n % len(kinds)],
            hours_ago=100 - n,
        )

    first = care_client.get(BOARD).content.decode()
    second = care_client.get(BOARD, {"page": 2}).content.decode()

    assert first.count('class="list-group-item flag-row') == 50
    assert "Page 1 of 2" in first
    assert second.count('class="list-group-item flag-row') == 1
    assert "flag number 50" in second
    assert "flag number 50" in care_client.get(BOARD, {"page": "999"}).content.decode()
    assert "flag number 00" in care_client.get(BOARD, {"page": "abc"}).content.decode()


def test_the_refresh_gets_the_board_alone_with_the_navigation_count(care_client, course):
    make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")
    full = care_client.get(BOARD, {"severity": 2})

    partial = care_client.get(BOARD, {"severity": 2}, headers={"HX-Request": "true"})

    page = full.content.decode()
    assert 'hx-trigger="every 30s"' in page
    assert 'hx-get="/flags/?severity=2"' in page
    assert "htmx-config" in page  # no injected indicator <style> under our CSP
    fragment = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in fragment
    assert fragment.lstrip().startswith("<p")
    assert "CRS grade 2: hypoxia" in fragment
    assert re.search(r'id="nav-flag-count"[^>]*hx-swap-oob="true"', fragment)
    assert "HX-Request" in partial.headers["Vary"]


def test_every_page_shows_the_open_flag_count_of_the_users_units(
    care_client, care_team_member, course, ward_b
):
    make_flag(course, Flag.Severity.URGENT, "one")
    make_flag(course, Flag.Severity.WARNING, "two", kind="icans")
    make_flag(course, Flag.Severity.WARNING, "gone", kind="news2", status=Flag.Status.RESOLVED)
    make_flag(CourseFactory(unit=ward_b), Flag.Severity.CRITICAL, "elsewhere")

    for url in (
        "/worklist/",
        BOARD,
        reverse("monitoring:patient-course", args=[course.patient.public_id]),
    ):
        page = care_client.get(url).content.decode()
        count = re.search(r'id="nav-flag-count"[^>]*>(\d+)<', page)
        assert count, url
        assert count.group(1) == "2", url


# --- Cost -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_patients", [1, 12])
def test_the_board_costs_the_same_queries_for_1_or_12_patients(
    care_client, nurse, ward_a, django_assert_num_queries, n_patients
):
    for course in CourseFactory.create_batch(n_patients, unit=ward_a):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=timezone.now() - timedelta(hours=5),
            vitals={
                **ROOM_AIR,
                "temp_c": 38.4,
                "oxygen_support": "low_flow",
                "oxygen_flow_l_min": 3,
            },
            symptoms={"fever": True},
        )
    # session, user, the user's units (filter menu), count of flags (paginator), one page of
    # flags joined with course, patient, unit and acknowledging user, every acknowledgement of
    # the page's flags with who gave it (issue 10 §6); overdue courses: how many (one indexed
    # range query on the status row's next due time), the longest waiting with patient, unit,
    # status and protocol version, their schedules; and the navigation bar's open-flag and
    # unread-notification counts.
    with django_assert_num_queries(11):
        response = care_client.get(BOARD)
    assert response.status_code == 200
    page = response.content.decode()
    # CRS grade 2, vital sign (38.4 °C), CRS symptoms and a new oxygen need, for every patient.
    assert page.count('class="list-group-item flag-row') == 4 * n_patients
    assert page[page.index("Overdue checks") :].count("MRN ") == n_patients

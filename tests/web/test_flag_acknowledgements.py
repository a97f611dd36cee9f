"""Re-acknowledging a flag keeps every earlier acknowledgement (issue 10 §6): who, when and
their note, never overwritten — written append-only by services.acknowledge_flag and shown on
the board (a patient's row, expanded) and in the course page's flag history."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import Flag, FlagAcknowledgement, User
from tests.factories import UserFactory

ROOM_AIR = {"oxygen_support": "room_air", "vasopressors_count": 0, "vasopressin": False}


def course_url(course):
    return reverse("monitoring:patient-course", args=[course.patient.public_id])


@pytest.fixture
def colleague(ward_a):
    return UserFactory(username="dora", role=User.Role.CARE_TEAM, units=[ward_a])


@pytest.fixture
def twice_acknowledged(course, nurse, care_team_member, colleague):
    """Fever (CRS 1) acknowledged by Carl; hypoxia makes it CRS 2, which re-opens the flag;
    Dora acknowledges it again."""
    now = timezone.now()
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=3),
        vitals={**ROOM_AIR, "temp_c": 38.4},
    )
    flag = Flag.objects.get(kind="crs")
    first_message = flag.message
    services.acknowledge_flag(flag=flag, by=care_team_member, note="paracetamol given")
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=1),
        vitals={**ROOM_AIR, "temp_c": 38.7, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN  # worse: re-opened
    services.acknowledge_flag(flag=flag, by=colleague, note="tocilizumab ordered")
    flag.refresh_from_db()
    flag.first_message = first_message
    return flag


def test_each_acknowledgement_is_kept_with_who_when_and_the_note(
    twice_acknowledged, care_team_member, colleague
):
    first, second = FlagAcknowledgement.objects.filter(flag=twice_acknowledged)

    assert (first.acknowledged_by, first.note) == (care_team_member, "paracetamol given")
    assert (second.acknowledged_by, second.note) == (colleague, "tocilizumab ordered")
    assert first.acknowledged_at <= second.acknowledged_at
    # What the flag said when each one saw it: the first saw the fever, not the hypoxia.
    assert first.message == twice_acknowledged.first_message
    assert first.severity == Flag.Severity.WARNING
    assert second.message == twice_acknowledged.message
    assert second.severity == Flag.Severity.URGENT
    # The flag itself shows the latest.
    assert twice_acknowledged.acknowledged_by == colleague
    assert twice_acknowledged.acknowledge_note == "tocilizumab ordered"


def test_the_board_shows_every_acknowledgement(care_client, course, twice_acknowledged):
    # In the patient's row, expanded.
    expanded = reverse("monitoring:care-patient-flags", args=[course.patient.public_id])
    page = care_client.get(expanded, headers={"HX-Request": "true"}).content.decode()

    row = page[page.index(f'id="flag-{twice_acknowledged.pk}"') :]
    row = row[: row.index("</ol>")]  # the flag's own list of acknowledgements
    assert "Acknowledged by Test User" in row
    assert "Note: paracetamol given" in row
    assert "Note: tocilizumab ordered" in row
    assert f"(then: warning, “{twice_acknowledged.first_message}”)" in row


def test_the_course_page_flag_history_shows_every_acknowledgement(
    care_client, nurse_client, course, twice_acknowledged
):
    for client in (care_client, nurse_client):
        page = client.get(course_url(course)).content.decode()
        flags = page[page.index('id="flags"') : page.index("</section>", page.index('id="flags"'))]

        assert flags.index("paracetamol given") < flags.index("tocilizumab ordered")
        assert f"“{twice_acknowledged.first_message}”" in flags


def test_acknowledging_through_the_page_adds_a_row_and_keeps_the_earlier_one(
    care_client, course, nurse, colleague
):
    services.record_check(
        course=course, by=nurse, observed_at=timezone.now(), vitals={**ROOM_AIR, "temp_c": 38.4}
    )
    flag = Flag.objects.get(kind="crs")
    services.acknowledge_flag(flag=flag, by=colleague, note="first look")
    ack = reverse("monitoring:care-flag-acknowledge", args=[flag.pk])

    assert care_client.post(ack, {"note": "second look"}).status_code == 302

    assert list(FlagAcknowledgement.objects.filter(flag=flag).values_list("note", flat=True)) == [
        "first look",
        "second look",
    ]


def test_a_flag_acknowledged_before_acknowledgements_were_kept_shows_that_one(
    care_client, course, care_team_member
):
    """Flags acknowledged by an older release (or the demo seeder) have no rows of their own."""
    flag = Flag.objects.create(
        course=course,
        kind="crs",
        severity=Flag.Severity.WARNING,
        message="CRS grade 1: fever 38.4 °C",
        status=Flag.Status.ACKNOWLEDGED,
        acknowledged_at=timezone.now() - timedelta(minutes=30),
        acknowledged_by=care_team_member,
        acknowledge_note="watching",
    )

    page = care_client.get(course_url(course)).content.decode()

    assert not FlagAcknowledgement.objects.filter(flag=flag).exists()
    assert "Acknowledged by Test User" in page
    assert "Note: watching" in page


def test_acknowledging_such_a_flag_again_keeps_the_earlier_acknowledgement(
    course, care_team_member, colleague
):
    earlier = timezone.now() - timedelta(minutes=30)
    flag = Flag.objects.create(
        course=course,
        kind="crs",
        severity=Flag.Severity.URGENT,
        message="CRS grade 2: hypoxia",
        status=Flag.Status.OPEN,  # re-opened by an escalation
        acknowledged_at=earlier,
        acknowledged_by=care_team_member,
        acknowledge_note="watching",
    )

    services.acknowledge_flag(flag=flag, by=colleague, note="on my way")

    history = FlagAcknowledgement.objects.filter(flag=flag)
    assert [(a.acknowledged_by, a.acknowledged_at, a.note) for a in history][0] == (
        care_team_member,
        earlier,
        "watching",
    )
    assert history[1].acknowledged_by == colleague

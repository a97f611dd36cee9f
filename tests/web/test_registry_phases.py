"""Issue 14 §4, "Exports follow": the journey's phases in the registry CSV (one column per
phase with the date it started, why the journey ended, the conditioning regimen) and on the
registry summary page; queries pinned."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import journey, registry, services
from tests.factories import CourseFactory
from tests.web.test_fhir_episode import days_ago, follow_up_course
from tests.web.test_journey import register
from tests.web.test_registry_doses_infections import csv_rows

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
PHASE_COLUMNS = [
    "Phase start: referral",
    "Phase start: collection",
    "Phase start: manufacturing",
    "Phase start: bridging",
    "Phase start: conditioning",
    "Phase start: infusion",
    "Phase start: acute monitoring",
    "Phase start: follow-up",
    "Phase start: ended",
]


def phase_starts(row) -> dict:
    """The CSV row's phase columns that have a date."""
    return {name.removeprefix("Phase start: "): row[name] for name in PHASE_COLUMNS if row[name]}


@pytest.fixture
def in_follow_up(ward_a, nurse, care_team_member):
    return follow_up_course(ward_a, nurse, care_team_member)


def test_the_phase_columns_come_last_in_the_journeys_order():
    assert registry.CSV_COLUMNS[-11:] == [
        *PHASE_COLUMNS,
        "Journey end reason",
        "Conditioning regimen",
    ]
    assert registry.CSV_COLUMNS.index("Day 0 is") == len(registry.CSV_COLUMNS) - 12


def test_a_course_in_follow_up_has_each_phase_start_date(care_client, in_follow_up):
    (row,) = csv_rows(care_client)

    day0 = timezone.localdate(in_follow_up.infused_at).isoformat()
    assert phase_starts(row) == {
        "referral": days_ago(60).isoformat(),
        "collection": days_ago(50).isoformat(),
        "manufacturing": days_ago(49).isoformat(),
        "conditioning": days_ago(35).isoformat(),
        "infusion": day0,
        "acute monitoring": day0,
        "follow-up": timezone.localdate(in_follow_up.monitoring_ended_at).isoformat(),
    }  # no bridging (optional, not recorded), not ended
    assert row["Phase start: bridging"] == ""
    assert row["Journey end reason"] == ""  # the end of monitoring is not the journey's end
    assert row["Conditioning regimen"] == "Fludarabine/cyclophosphamide"


def test_a_corrected_phase_has_its_corrected_date(care_client, in_follow_up, nurse):
    journey.record_phase(
        course=in_follow_up,
        phase="manufacturing",
        started_on=days_ago(48),
        ended_on=days_ago(36),
        reason="Shipment date, not the order date",
        by=nurse,
    )

    (row,) = csv_rows(care_client)

    assert row["Phase start: manufacturing"] == days_ago(48).isoformat()


def test_an_ended_follow_up_has_its_end_date_and_reason(care_client, in_follow_up, nurse):
    journey.end_journey(
        course=in_follow_up, outcome="", ended_on=TODAY, reason="Lost to follow-up", by=nurse
    )

    (row,) = csv_rows(care_client)

    assert row["Phase start: ended"] == TODAY.isoformat()
    assert row["Journey end reason"] == "Lost to follow-up"


def test_a_death_during_monitoring_ends_the_journey_with_its_reason(
    care_client, ward_a, care_team_member
):
    course = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=6))
    services.end_monitoring(
        course=course,
        outcome="died",
        ended_at=timezone.now() - timedelta(days=1),
        reason="Grade 4 ICANS, cerebral oedema",
        by=care_team_member,
    )

    (row,) = csv_rows(care_client)

    day0 = timezone.localdate(course.infused_at).isoformat()
    assert phase_starts(row) == {
        "infusion": day0,
        "acute monitoring": day0,
        "ended": days_ago(1).isoformat(),
    }  # no follow-up after a death; no phase before day 0 was recorded
    assert row["Journey end reason"] == "Grade 4 ICANS, cerebral oedema"
    assert row["Course status"] == "Died"


def test_a_planned_course_has_only_what_was_recorded(care_client, ward_a, nurse):
    course = register(ward_a, nurse, referred_ago=12)
    journey.record_phase(course=course, phase="collection", started_on=days_ago(4), by=nurse)

    (row,) = csv_rows(care_client)

    # Day 0 is still a plan: no infusion date in the phase columns (the "Infusion date"
    # column says the planned one, as before).
    assert phase_starts(row) == {
        "referral": days_ago(12).isoformat(),
        "collection": days_ago(4).isoformat(),
    }
    assert row["Infusion date"] == timezone.localdate(course.infused_at).isoformat()


def test_a_planned_course_ended_before_day0_has_no_infusion(care_client, ward_a, nurse):
    course = register(ward_a, nurse, referred_ago=20)
    journey.end_journey(
        course=course,
        outcome="discontinued",
        ended_on=days_ago(2),
        reason="Manufacturing failed",
        by=nurse,
    )

    (row,) = csv_rows(care_client)

    assert phase_starts(row) == {
        "referral": days_ago(20).isoformat(),
        "ended": days_ago(2).isoformat(),
    }
    assert row["Journey end reason"] == "Manufacturing failed"


def test_the_summary_page_lists_the_phases(care_client, in_follow_up):
    url = reverse("monitoring:patient-summary", args=[in_follow_up.patient.public_id])

    page = care_client.get(url).content.decode()

    assert "Treatment journey" in page
    section = page[page.index("registry-phases") :]
    labels = [
        "Referral and evaluation",
        "Collection (leukapheresis)",
        "Manufacturing",
        "Conditioning",
        "Infusion (day 0)",
        "Acute monitoring",
        "Follow-up",
    ]
    positions = [section.index(label) for label in labels]
    assert positions == sorted(positions)  # in the journey's order
    assert "Fludarabine/cyclophosphamide" in section


def test_the_summary_page_in_spanish(care_team_member, in_follow_up):
    care_team_member.language = "es"
    care_team_member.save()
    client = Client()
    client.force_login(care_team_member)
    url = reverse("monitoring:patient-summary", args=[in_follow_up.patient.public_id])

    page = client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert "Recorrido del tratamiento" in page
    assert "Treatment journey" not in page


@pytest.mark.parametrize("n", [1, 3])
def test_the_csv_and_page_cost_the_same_queries_however_many_phases(
    care_client, ward_a, nurse, care_team_member, django_assert_num_queries, n
):
    courses = [follow_up_course(ward_a, nurse, care_team_member) for _ in range(n)]
    for course in courses:
        journey.end_journey(
            course=course, outcome="", ended_on=TODAY, reason="Lost to follow-up", by=nurse
        )
    # session, user, units, courses (patient, unit, product), snapshots, treatments, doses
    # given, infections, journey phases (all courses at once), the audit lines.
    with django_assert_num_queries(10):
        rows = csv_rows(care_client)
    assert [r["Phase start: ended"] for r in rows] == [TODAY.isoformat()] * n

    url = reverse("monitoring:patient-summary", args=[courses[0].patient.public_id])
    # session, user, the course, snapshots, treatments, doses given, infections, journey
    # phases, the page frame's two counts.
    with django_assert_num_queries(10):
        page = care_client.get(url)
    assert page.status_code == 200

"""Issue 14 §4 in the registry summary and CSV: the doses given (count, dates, gate overrides)
and the infections (count and list), from the real write paths; query counts pinned."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import dosing, infection, registry, services
from tests.factories import ROOM_AIR, CourseFactory, PatientFactory, active_now

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(second=0, microsecond=0)
CSV_URL = reverse("monitoring:exports-registry-csv")


def ago(hours):
    return NOW - timedelta(hours=hours)


def gated_version(admin):
    """The shipped teclistamab template with a gate: CRS resolved for 24 h before doses 2, 3."""
    version = services.protocol_version_for("teclistamab")
    steps = [
        {**s.settings(), "crs_clear_hours": 24 if s.sequence > 1 else None}
        for s in version.dose_steps.all()
    ]
    for step in steps:
        step.pop("sequence")
    return services.revise_protocol(
        version=version, changes={}, schedules={}, note="Centre gate", by=admin, dose_steps=steps
    )


def engager_course(unit, by, version=None):
    course = CourseFactory.build(
        patient=PatientFactory(),
        unit=unit,
        product="teclistamab",
        infused_at=ago(200),
        protocol_version=version or services.protocol_version_for("teclistamab"),
    )
    return services.start_course(course=course, by=by)


def fever(temp):
    return {"temp_c": temp, "heart_rate_bpm": 80, "sbp_mmhg": 120, "dbp_mmhg": 70, **ROOM_AIR}


@pytest.fixture
def stepped_up(ward_a, nurse, care_team_member, admin_user):
    """Dose 1 given 200 h ago, dose 2 128 h ago over the CRS gate (override), dose 3 held;
    a bloodstream infection (resolved), a pneumonia (corrected to grade 4) and one in error."""
    course = engager_course(ward_a, care_team_member, gated_version(admin_user))
    doses = dosing.plan_doses(course=course, first_dose_at=ago(200), by=care_team_member)
    dosing.record_dose_given(dose=doses[0], given_at=ago(200), by=nurse)
    services.record_check(course=course, by=nurse, observed_at=ago(150), vitals=fever(38.6))
    services.record_check(course=course, by=nurse, observed_at=ago(140), vitals=fever(36.9))
    dosing.record_dose_given(
        dose=doses[1], given_at=ago(128), by=care_team_member, override_reason="fever was a line"
    )
    dosing.hold_dose(dose=doses[2], reason="neutropenic", by=care_team_member)

    today = timezone.localdate()
    blood = infection.record_infection(
        course=course,
        site="bloodstream",
        organism_type="bacterial",
        organism="Escherichia coli",
        severity=3,
        onset_on=today - timedelta(days=5),
        by=care_team_member,
    )
    infection.resolve_infection(
        infection=blood, resolved_on=today - timedelta(days=1), by=care_team_member
    )
    lung = infection.record_infection(
        course=course,
        site="lower_respiratory",
        organism_type="viral",
        organism="RSV",
        severity=3,
        onset_on=today - timedelta(days=2),
        by=care_team_member,
    )
    infection.amend(record=lung, values={"severity": 4}, reason="ICU", by=care_team_member)
    wrong = infection.record_infection(
        course=course,
        site="urinary",
        organism_type="unknown",
        severity=1,
        onset_on=today,
        by=care_team_member,
    )
    infection.mark_entered_in_error(record=wrong, reason="other patient", by=care_team_member)
    return course


def csv_rows(client) -> list[dict]:
    text = client.get(CSV_URL).content.decode("utf-8")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_the_summary_lists_the_doses_given_and_the_overrides(stepped_up):
    summary = registry.summary_for(stepped_up)

    assert [(d.label, d.at, d.overridden) for d in summary.doses_given] == [
        ("Step-up dose 1", ago(200), False),
        ("Step-up dose 2", ago(128), True),
    ]  # the held dose 3 was not given
    assert summary.gate_overrides == 1


def test_the_summary_lists_current_infections_only(stepped_up):
    summary = registry.summary_for(stepped_up)
    today = timezone.localdate()

    assert [
        (i.site, i.organism, i.severity, i.onset_on, i.resolved_on) for i in summary.infections
    ] == [
        (
            "bloodstream",
            "Escherichia coli",
            3,
            today - timedelta(days=5),
            today - timedelta(days=1),
        ),
        ("lower_respiratory", "RSV", 4, today - timedelta(days=2), None),  # as corrected
    ]  # the one entered in error is not counted


def test_the_csv_has_doses_overrides_and_infections(care_client, stepped_up):
    (row,) = csv_rows(care_client)
    today = timezone.localdate()

    assert row["Doses given"] == "2"
    assert row["Dose dates"] == (
        f"Step-up dose 1 {timezone.localdate(ago(200)).isoformat()}; "
        f"Step-up dose 2 {timezone.localdate(ago(128)).isoformat()}"
    )
    assert row["Gate overrides"] == "1"
    assert row["Infections"] == "2"
    assert row["Infection list"] == (
        f"Bloodstream: Escherichia coli (Bacterial), CTCAE grade 3, "
        f"onset {today - timedelta(days=5)}, resolved {today - timedelta(days=1)}; "
        f"Lower respiratory (pneumonia): RSV (Viral), CTCAE grade 4, "
        f"onset {today - timedelta(days=2)}"
    )
    assert row["Product class"] == "T-cell engager"


def test_a_course_without_doses_or_infections_says_none(care_client, course):
    (row,) = csv_rows(care_client)

    assert (row["Doses given"], row["Dose dates"], row["Gate overrides"]) == ("0", "", "0")
    assert (row["Infections"], row["Infection list"]) == ("0", "")
    assert row["Product class"] == "CAR T-cell therapy"


def test_the_new_columns_come_after_the_ones_an_import_already_maps():
    columns = registry.CSV_COLUMNS
    start = columns.index("Summary as of") + 1
    assert columns[start : start + 5] == [
        "Doses given",
        "Dose dates",
        "Gate overrides",
        "Infections",
        "Infection list",
    ]
    after = columns.index("Infection list") + 1
    assert columns[after : after + 2] == ["Product class", "Day 0 is"]
    # The journey's phases came later still (tests/web/test_registry_phases.py).
    assert columns.index("Phase start: referral") == after + 2


def test_a_spanish_download_is_still_english(care_team_member, stepped_up):
    care_team_member.language = "es"
    care_team_member.save()
    client = Client()
    client.force_login(care_team_member)

    (row,) = csv_rows(client)

    assert row["Infection list"].startswith("Bloodstream: Escherichia coli (Bacterial)")
    assert row["Product class"] == "T-cell engager"
    assert row["Day 0 is"] == "first dose"


def test_the_summary_page_shows_doses_and_infections(care_client, stepped_up):
    url = reverse("monitoring:patient-summary", args=[stepped_up.patient.public_id])
    page = care_client.get(url).content.decode()

    assert "Step-up and treatment doses given" in page
    assert "Step-up dose 2" in page
    assert "given over a gate not met" in page
    assert "1 dose given over a gate not met." in page
    assert "Escherichia coli (Bacterial)" in page
    assert "Grade 4 – life-threatening" in page
    assert "Urinary tract" not in page  # entered in error


def test_the_summary_page_in_spanish(care_team_member, stepped_up):
    care_team_member.language = "es"
    care_team_member.save()
    client = Client()
    client.force_login(care_team_member)
    url = reverse("monitoring:patient-summary", args=[stepped_up.patient.public_id])

    page = client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert "Dosis escalonadas y de tratamiento administradas" in page
    assert "Infecciones" in page


def test_the_summary_page_is_not_shown_to_another_unit(stepped_up, ward_b):
    from monitoring.models import User
    from tests.factories import UserFactory

    other = UserFactory(username="olga", role=User.Role.CARE_TEAM, units=[ward_b])
    client = Client()
    client.force_login(other)
    url = reverse("monitoring:patient-summary", args=[stepped_up.patient.public_id])

    assert client.get(url).status_code == 404
    assert csv_rows(client) == []


@pytest.mark.parametrize("n", [1, 3])
def test_the_csv_and_page_cost_the_same_queries_however_many_doses_and_infections(
    care_client, ward_a, nurse, care_team_member, django_assert_num_queries, n
):
    courses = []
    for _ in range(n):
        course = engager_course(ward_a, care_team_member)
        doses = dosing.plan_doses(course=course, first_dose_at=ago(200), by=care_team_member)
        for k, dose in enumerate(doses[:n]):
            dosing.record_dose_given(dose=dose, given_at=ago(200 - 73 * k), by=nurse)
        for k in range(n):
            infection.record_infection(
                course=course,
                site="skin",
                organism_type="unknown",
                severity=2,
                onset_on=timezone.localdate() - timedelta(days=k),
                by=care_team_member,
            )
        courses.append(course)
    active_now(care_client)
    # session, user, units, courses (patient, unit, product), snapshots, treatments, doses
    # given, infections, journey phases, the audit lines.
    with django_assert_num_queries(10):
        rows = csv_rows(care_client)
    assert [int(r["Doses given"]) for r in rows] == [n] * n
    assert [int(r["Infections"]) for r in rows] == [n] * n

    url = reverse("monitoring:patient-summary", args=[courses[0].patient.public_id])
    with django_assert_num_queries(PAGE_QUERIES):
        page = care_client.get(url)
    assert page.status_code == 200
    assert page.content.decode().count("Skin and soft tissue") == n


# session, user, the course (patient, unit, status row, protocol, product), snapshots,
# treatments, doses given, infections, journey phases, and the page frame's two counts (unread
# notifications, the user's courses).
PAGE_QUERIES = 10

"""The registry summary from real records, its page, and the registry CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import registry, services
from monitoring.models import AuditEvent, GradeSnapshot, Treatment, User
from monitoring.templatetags import monitoring_tags
from tests.factories import ROOM_AIR, CourseFactory, UserFactory, active_now

FEVER_LOW_FLOW = {
    **ROOM_AIR,
    "temp_c": 38.6,
    "oxygen_support": "low_flow",
    "oxygen_flow_l_min": 3,
}  # CRS grade 2
CSV_URL = reverse("monitoring:exports-registry-csv")


@pytest.fixture
def chart(nurse):
    """chart(course, hours_after_infusion, **sections) -> the check's grade snapshot."""

    def _chart(course, hours, **sections):
        check = services.record_check(
            course=course,
            by=nurse,
            observed_at=course.infused_at + timedelta(hours=hours),
            **sections,
        )
        return GradeSnapshot.objects.get(check_entry=check)

    return _chart


@pytest.fixture
def sick_course(ward_a, chart):
    """Infused 4 days ago: CRS grade 2 from 20 h, tocilizumab; afebrile on room air from 30 h,
    where the masked fever still grades 1 (ASTCT §1.2.2) until the episode is 24 h quiet."""
    course = CourseFactory(
        unit=ward_a, infused_at=timezone.now() - timedelta(days=4), patient__mrn="REG-001"
    )
    chart(course, 4, vitals={**ROOM_AIR, "temp_c": 37.0})
    chart(course, 20, vitals=FEVER_LOW_FLOW)
    chart(
        course, 21, treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"}
    )
    chart(
        course,
        22,
        treatment={"drug": "dexamethasone", "dose": 10, "dose_unit": "mg", "route": "iv"},
    )
    chart(course, 30, vitals={**ROOM_AIR, "temp_c": 37.1})
    chart(course, 40, vitals={**ROOM_AIR, "temp_c": 36.9})
    chart(course, 50, vitals={**ROOM_AIR, "temp_c": 36.9})  # grade 0 from here
    return course


@pytest.fixture
def outside_care(ward_b):
    """A care-team member of ward B: may export, but never ward A's patients."""
    return UserFactory(username="olga", role=User.Role.CARE_TEAM, units=[ward_b])


def rows_of(response) -> list[dict]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


# --- The summary from records ---------------------------------------------------------------


def test_the_summary_reads_onset_maximum_resolution_and_treatments_from_the_records(
    sick_course,
):
    summary = registry.summary_for(sick_course)

    assert summary.crs.onset_at == sick_course.infused_at + timedelta(hours=20)
    assert summary.crs.max_grade == 2
    assert summary.crs.resolved_at == sick_course.infused_at + timedelta(hours=50)
    assert summary.crs.duration_days == round(30 / 24, 1)
    assert summary.tocilizumab_doses == 1
    assert summary.drugs["dexamethasone"].total_mg == 10
    assert summary.icans.max_grade is None  # no neuro assessment: not assessed
    assert summary.icu_transfer == "not recorded"


def test_a_clinicians_override_is_the_grade_the_registry_gets(sick_course, care_team_member):
    # The treatment-only checks at 21 h and 22 h carry the 20 h vital signs: three grade-2
    # moments, and the clinician overrides each.
    for snapshot in GradeSnapshot.objects.filter(course=sick_course, crs_grade=2):
        services.confirm_grade(
            snapshot=snapshot,
            domain="crs",
            grade=1,
            by=care_team_member,
            reason="Oxygen was for comfort, SpO2 normal on room air",
            confirm_lower=True,  # a lower grade: the second confirmation (issue 10 §6)
        )

    summary = registry.summary_for(sick_course)

    assert summary.crs.max_grade == 1
    assert summary.crs.overridden == 3
    assert summary.crs.icd10[0] == "D89.831"


def test_an_override_of_one_moment_does_not_rewrite_the_others(sick_course, care_team_member):
    first = GradeSnapshot.objects.filter(course=sick_course, crs_grade=2).earliest("observed_at")
    services.confirm_grade(
        snapshot=first,
        domain="crs",
        grade=1,
        by=care_team_member,
        reason="Oxygen was for comfort",
        confirm_lower=True,
    )

    summary = registry.summary_for(sick_course)

    assert summary.crs.max_grade == 2  # the 21 h and 22 h moments still grade 2
    assert summary.crs.max_grade_at == sick_course.infused_at + timedelta(hours=21)
    assert summary.crs.overridden == 1


def test_a_confirmation_of_the_computed_grade_changes_nothing(sick_course, care_team_member):
    for snapshot in GradeSnapshot.objects.filter(course=sick_course, crs_grade=2):
        services.confirm_grade(
            snapshot=snapshot, domain="crs", grade=2, by=care_team_member, reason="Agree"
        )

    summary = registry.summary_for(sick_course)

    assert summary.crs.max_grade == 2
    assert summary.crs.overridden == 0


def test_only_current_treatment_records_count(sick_course, care_team_member):
    toci = Treatment.objects.get(check_entry__course=sick_course, drug="tocilizumab")
    dex = Treatment.objects.get(check_entry__course=sick_course, drug="dexamethasone")
    services.mark_entered_in_error(record=toci, reason="Wrong patient", by=care_team_member)
    services.amend_record(record=dex, values={"dose": 20}, reason="Typo", by=care_team_member)

    summary = registry.summary_for(sick_course)

    assert summary.tocilizumab_doses == 0
    assert summary.drugs["dexamethasone"].doses == 1
    assert summary.drugs["dexamethasone"].total_mg == 20


def test_a_vital_sign_entered_in_error_no_longer_makes_an_episode(ward_a, chart, care_team_member):
    course = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=3))
    chart(course, 4, vitals={**ROOM_AIR, "temp_c": 37.0})
    chart(course, 20, vitals={**ROOM_AIR, "temp_c": 38.4})  # CRS 1
    assert registry.summary_for(course).crs.max_grade == 1

    wrong = course.checks.get(observed_at=course.infused_at + timedelta(hours=20))
    services.mark_entered_in_error(
        record=wrong.vitalsigns_set.get(), reason="Other patient", by=care_team_member
    )

    assert registry.summary_for(course).crs.max_grade == 0


def test_two_crs_episodes_from_the_records(ward_a, chart):
    course = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=5))
    chart(course, 10, vitals={**ROOM_AIR, "temp_c": 38.3})  # episode 1, grade 1
    chart(course, 14, vitals={**ROOM_AIR, "temp_c": 37.0})
    chart(course, 40, vitals={**ROOM_AIR, "temp_c": 37.0})
    chart(course, 60, vitals=FEVER_LOW_FLOW)  # 46 h after the 0: episode 2, grade 2
    chart(course, 66, vitals={**ROOM_AIR, "temp_c": 36.8})
    chart(course, 100, vitals={**ROOM_AIR, "temp_c": 36.8})

    summary = registry.summary_for(course)

    assert len(summary.crs.episodes) == 2
    assert summary.crs.onset_at == course.infused_at + timedelta(hours=10)
    assert summary.crs.max_grade_at == course.infused_at + timedelta(hours=60)
    assert summary.crs.resolved_at == course.infused_at + timedelta(hours=66)
    assert summary.crs.duration_days == round(10 / 24, 1)


# --- The summary page -----------------------------------------------------------------------


def test_the_summary_page_shows_the_registry_items(care_client, sick_course):
    url = reverse("monitoring:patient-summary", args=[sick_course.patient.public_id])

    page = care_client.get(url).content.decode()

    assert "Registry summary" in page
    assert "grade 2" in page
    assert "D89.832" in page
    assert "Tocilizumab" in page
    assert "not recorded" in page


@pytest.mark.parametrize(("language", "shown"), [("en", "1.2 days"), ("es", "1,2 días")])
def test_a_duration_of_part_days_is_shown_with_its_plural(
    care_team_member, sick_course, language, shown
):
    # 30 h of CRS: 1.2 days. pyproject turns gettext's "Plural value must be an integer"
    # into an error, so a float counted straight into {% blocktranslate count %} fails here.
    care_team_member.language = language
    care_team_member.save()
    client = Client()
    client.force_login(care_team_member)
    url = reverse("monitoring:patient-summary", args=[sick_course.patient.public_id])

    page = client.get(url).content.decode()

    assert shown in page


@pytest.mark.parametrize(
    ("value", "count"), [(1, 1), (1.0, 1), (0.0, 0), (3.0, 3), (1.2, 2), (0.4, 2), (2.5, 2)]
)
def test_plural_count_gives_gettext_a_whole_number_with_the_right_plural(value, count):
    assert monitoring_tags.plural_count(value) == count
    assert type(monitoring_tags.plural_count(value)) is int


def test_the_summary_page_is_for_the_care_team_and_admins(
    client, nurse_client, admin_client_, sick_course, outside_care
):
    url = reverse("monitoring:patient-summary", args=[sick_course.patient.public_id])
    client.force_login(outside_care)

    assert nurse_client.get(url).status_code == 403
    assert client.get(url).status_code == 404
    assert admin_client_.get(url).status_code == 200


# --- The CSV --------------------------------------------------------------------------------


def test_the_csv_has_one_readable_row_per_course(care_client, sick_course):
    response = care_client.get(CSV_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert response["Cache-Control"] == "no-store"
    (row,) = rows_of(response)
    assert list(row) == registry.CSV_COLUMNS
    assert row["MRN"] == "REG-001"
    assert row["Infusion date"] == timezone.localdate(sick_course.infused_at).isoformat()
    assert row["CRS onset day (D+n)"] == str(
        sick_course.day_number(sick_course.infused_at + timedelta(hours=20))
    )
    assert row["CRS maximum grade"] == "2"
    assert (
        row["CRS maximum grade date"]
        == timezone.localdate(sick_course.infused_at + timedelta(hours=20)).isoformat()
    )
    assert (
        row["CRS resolution date"]
        == timezone.localdate(sick_course.infused_at + timedelta(hours=50)).isoformat()
    )
    assert row["CRS duration (days)"] == str(round(30 / 24, 1))
    assert row["CRS episodes"] == "1"
    assert row["CRS ongoing"] == "no"
    assert row["CRS ICD-10-CM suggestion"].startswith("D89.832")
    assert row["ICANS maximum grade"] == "not assessed"
    assert row["Tocilizumab doses"] == "1"
    assert row["Dexamethasone total (mg)"] == "10"
    assert row["Methylprednisolone doses"] == "0"
    assert row["ICU transfer"] == "not recorded"


def test_the_csv_keeps_spreadsheet_formulas_as_text(care_client, ward_a):
    CourseFactory(unit=ward_a, indication='=HYPERLINK("http://evil.example","x")')

    (row,) = rows_of(care_client.get(CSV_URL))

    assert row["Indication"].startswith("'=")


def test_the_csv_filters_by_infusion_date_inclusive(care_client, ward_a):
    today = timezone.localdate()
    for days_ago, mrn in ((10, "OLD"), (5, "MID"), (1, "NEW")):
        CourseFactory(
            unit=ward_a, patient__mrn=mrn, infused_at=timezone.now() - timedelta(days=days_ago)
        )
    start, end = today - timedelta(days=5), today - timedelta(days=1)

    response = care_client.get(
        CSV_URL, {"infused_from": start.isoformat(), "infused_to": end.isoformat()}
    )

    assert [row["MRN"] for row in rows_of(response)] == ["MID", "NEW"]


@pytest.mark.parametrize(
    "params",
    [
        {"infused_from": "2026-13-01"},
        {"infused_from": "01/02/2026"},
        {"infused_from": "2026-03-10", "infused_to": "2026-03-01"},
        {"infused_to": "9999-12-31"},
        {"infused_from": "0001-01-01"},
    ],
)
def test_the_csv_refuses_bad_dates(care_client, sick_course, params):
    response = care_client.get(CSV_URL, params)

    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_the_csv_never_includes_another_units_patients(care_client, sick_course, ward_b):
    CourseFactory(unit=ward_b, patient__mrn="WARD-B")

    mrns = [row["MRN"] for row in rows_of(care_client.get(CSV_URL))]

    assert mrns == ["REG-001"]


def test_an_admin_exports_every_unit_or_one(admin_client_, sick_course, ward_b):
    CourseFactory(unit=ward_b, patient__mrn="WARD-B")

    everything = [row["MRN"] for row in rows_of(admin_client_.get(CSV_URL))]
    ward_b_only = [
        row["MRN"] for row in rows_of(admin_client_.get(CSV_URL, {"unit": str(ward_b.pk)}))
    ]

    assert sorted(everything) == ["REG-001", "WARD-B"]
    assert ward_b_only == ["WARD-B"]


def test_nurses_cannot_export_the_registry(nurse_client, sick_course):
    assert nurse_client.get(CSV_URL).status_code == 403
    assert nurse_client.get(reverse("monitoring:exports-registry")).status_code == 403


def test_every_exported_course_is_in_the_audit_log(
    care_client, care_team_member, sick_course, ward_a
):
    other = CourseFactory(unit=ward_a)

    care_client.get(CSV_URL, {"unit": str(ward_a.pk)})

    events = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED)
    assert {e.course_id for e in events} == {sick_course.pk, other.pk}
    assert {e.user_id for e in events} == {care_team_member.pk}
    assert {e.patient_id for e in events} == {sick_course.patient_id, other.patient_id}
    event = events.first()
    assert event.details["format"] == "registry_csv"
    assert event.details["unit"] == ward_a.pk
    assert "2 courses" in event.summary


def test_an_empty_export_is_audited_too(care_client, care_team_member):
    response = care_client.get(CSV_URL)

    assert rows_of(response) == []
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.course is None
    assert event.details["courses"] == 0


def test_the_export_form_page_renders(care_client, ward_a):
    page = care_client.get(reverse("monitoring:exports-registry")).content.decode()

    assert 'name="infused_from"' in page
    assert "Ward A" in page


@pytest.mark.parametrize("n_courses", [1, 8])
def test_the_csv_costs_the_same_queries_for_one_or_many_courses(
    care_client, chart, ward_a, django_assert_num_queries, n_courses
):
    for _ in range(n_courses):
        course = CourseFactory(unit=ward_a)
        chart(course, 20, vitals=FEVER_LOW_FLOW)
        chart(
            course,
            21,
            treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"},
        )
    active_now(care_client)
    # session, user, the user's units (to check ?unit=), courses with patient and unit,
    # their grade snapshots, their current treatments, their doses given, their infections,
    # their journey phases, one bulk insert of audit lines (doses and infections:
    # test_registry_doses_infections.py; phases: test_registry_phases.py).
    with django_assert_num_queries(10):
        response = care_client.get(CSV_URL)
    assert len(rows_of(response)) == n_courses

"""Each rule and constant that pages show has one owner, and the pages read it from there: the
D+n label, the dash for a missing value, fever (ASTCT ≥ 38.0 °C, reference §1.2.1), which flags
stand out, how loud the "what to do now" box is, and the hypotension line."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import flag_rules, services
from monitoring.course_page import DayRow
from monitoring.display import dash
from monitoring.models import Flag, GradeSnapshot, ProtocolVersion, TreatmentCourse
from monitoring.models.courses import day_label
from monitoring.timeline import FEVER_C
from tests.factories import CourseFactory


@pytest.mark.parametrize(("day", "label"), [(-1, "D-1"), (0, "D+0"), (3, "D+3"), (28, "D+28")])
def test_the_day_label_counts_from_day_zero(day, label):
    assert day_label(day) == label


def test_a_course_labels_its_moments_by_day_since_infusion(course):
    """The fixture's course was infused three days ago."""
    assert course.day_label() == "D+3"
    assert course.day_label(course.infused_at) == "D+0"
    assert course.day_label(course.infused_at - timedelta(days=1)) == "D-1"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        ("", "—"),
        (0, "0"),  # grade 0 is a finding, not a missing value
        (False, "no"),
        (True, "yes"),
        (Decimal("37.5"), "37.5"),
        ("nasal cannula", "nasal cannula"),
    ],
)
def test_a_missing_value_reads_as_a_dash_and_zero_stays_zero(value, shown):
    assert dash(value) == shown


@pytest.mark.parametrize(
    ("tmax", "febrile"), [(None, False), (37.9, False), (FEVER_C, True), (40.1, True)]
)
def test_a_day_is_febrile_from_the_astct_fever_threshold(tmax, febrile):
    assert DayRow(day=1, date=date(2026, 3, 1), tmax=tmax).febrile is febrile


@pytest.mark.parametrize(
    ("status", "severity", "stands_out"),
    [
        (Flag.Status.OPEN, Flag.Severity.CRITICAL, True),
        (Flag.Status.OPEN, Flag.Severity.URGENT, True),
        (Flag.Status.OPEN, Flag.Severity.WARNING, False),
        (Flag.Status.ACKNOWLEDGED, Flag.Severity.CRITICAL, False),  # someone owns it
    ],
)
def test_open_urgent_flags_stand_out(status, severity, stands_out):
    assert Flag(status=status, severity=severity).stands_out is stands_out


@pytest.mark.parametrize(
    ("crs", "icans", "crs_confirmed", "severity"),
    [
        (0, 0, None, None),
        (None, None, None, None),  # nothing graded yet
        (1, 0, None, flag_rules.WARNING),
        (2, 0, None, flag_rules.URGENT),
        (0, 1, None, flag_rules.URGENT),  # any ICANS needs the physician now (§7.3)
        (3, 1, None, flag_rules.CRITICAL),
        (2, 0, 1, flag_rules.WARNING),  # the clinician's grade decides, as for the advice
        (1, 0, 3, flag_rules.CRITICAL),
    ],
)
def test_the_alert_follows_the_effective_grades_and_the_flag_severities(
    crs, icans, crs_confirmed, severity
):
    snapshot = GradeSnapshot(crs_grade=crs, icans_grade=icans, crs_confirmed_grade=crs_confirmed)

    assert snapshot.alert_severity == severity


FEVER_ON_NASAL_CANNULA = {
    "temp_c": Decimal("38.6"),
    "oxygen_support": "low_flow",
    "oxygen_flow_l_min": Decimal("4"),
    "vasopressors_count": 0,
    "vasopressin": False,
}


def test_the_result_page_colours_its_advice_by_the_confirmed_grade(
    nurse_client, nurse, care_team_member, course
):
    """Computed CRS 2 overridden to 1: advice and colour both say grade 1 (a warning)."""
    check = services.record_check(
        course=course, by=nurse, observed_at=timezone.now(), vitals=FEVER_ON_NASAL_CANNULA
    )
    assert check.snapshot.crs_grade == 2
    services.confirm_grade(
        snapshot=check.snapshot,
        domain="crs",
        grade=1,
        reason="SpO2 98 % on air before the cannula went on",
        by=care_team_member,
        confirm_lower=True,
    )
    # Open urgent flags would make the box red whatever the grade (issue 10 §5): resolve them.
    for flag in Flag.objects.unresolved().filter(course=course, severity__gte=3):
        services.resolve_flag(flag=flag, by=care_team_member, reason="Reviewed at the bedside")

    page = nurse_client.get(
        reverse("monitoring:nurse-check-result", args=[course.patient.public_id, check.public_id])
    ).content.decode()

    assert '<div class="alert alert-warning" role="alert">' in page
    assert flag_rules.CRS_ESCALATION[1] in page
    assert flag_rules.CRS_ESCALATION[2] not in page


@pytest.mark.parametrize(
    ("age_years", "protocol_sbp", "threshold"),
    [
        (50, None, 90),  # adults: SBP < 90 mmHg
        (5, None, 80),  # 1-10 years: 70 + 2 × age (PALS, reference §1.3)
        (50, 100, 100),  # the centre's protocol sets its own limit
        (5, 100, 100),
    ],
)
def test_the_hypotension_line_is_the_protocols_limit_or_the_age_based_one(
    ward_a, age_years, protocol_sbp, threshold
):
    today = timezone.localdate()
    course = CourseFactory(
        unit=ward_a,
        patient__date_of_birth=today - timedelta(days=round(365.25 * age_years) + 30),
    )
    ProtocolVersion.objects.filter(pk=course.protocol_version_id).update(sbp_low_mmhg=protocol_sbp)
    course = TreatmentCourse.objects.select_related("protocol_version", "patient").get(pk=course.pk)

    assert course.hypotension_threshold_mmhg(today) == threshold


def test_the_course_page_draws_the_protocols_hypotension_line(care_client, course):
    ProtocolVersion.objects.filter(pk=course.protocol_version_id).update(sbp_low_mmhg=100)

    charts = care_client.get(reverse("monitoring:course-charts", args=[course.patient.public_id]))

    assert "Hypotension: SBP < 100" in charts.content.decode()

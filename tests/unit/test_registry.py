"""Registry summary arithmetic: episodes, onset, maximum, resolution, duration, treatment totals.

Plain rows in, no database: the definitions are the ones in monitoring/registry.py's docstring.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from monitoring import registry
from monitoring.registry import GradePoint, TreatmentRow

INFUSED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # day 0


def h(hours: float) -> datetime:
    """``hours`` after the infusion."""
    return INFUSED + timedelta(hours=hours)


def crs(*points, now_hours: float = 24 * 30):
    """The CRS summary of (hours after infusion, grade) points."""
    rows = [GradePoint(at=h(hours), crs=grade, icans=None) for hours, grade in points]
    return registry.summarise_domain(rows, domain="CRS", infused_at=INFUSED, now=h(now_hours))


def test_nothing_graded_is_not_assessed_rather_than_grade_0():
    summary = crs()

    assert not summary.assessed
    assert summary.max_grade is None
    assert summary.icd10 is None


def test_only_grade_0_is_assessed_with_no_episode():
    summary = crs((4, 0), (8, 0))

    assert summary.assessed
    assert summary.max_grade == 0
    assert summary.episodes == ()
    assert summary.onset_at is None
    assert summary.resolved_at is None
    assert summary.duration_days is None
    assert summary.icd10 is None


def test_one_episode_onset_maximum_and_resolution_at_the_first_lasting_zero():
    summary = crs((4, 0), (30, 1), (34, 2), (38, 2), (46, 1), (54, 0), (60, 0), (90, 0))

    (episode,) = summary.episodes
    assert summary.onset_at == h(30)
    assert summary.onset_day == 1  # infused 2026-03-02 10:00 UTC, onset 03-03 16:00
    assert summary.max_grade == 2
    assert summary.max_grade_at == h(34)  # the first time grade 2 was reached
    assert summary.resolved_at == h(54)
    assert episode.duration_days == 1.0  # 24 h
    assert summary.duration_days == 1.0
    assert not summary.ongoing
    assert summary.icd10 == ("D89.832", "Cytokine release syndrome, grade 2")


def test_a_zero_that_does_not_last_24_hours_is_a_dip_in_the_same_episode():
    # Fever held down by paracetamol for a few hours is not a new episode.
    summary = crs((10, 1), (14, 0), (20, 1), (30, 0), now_hours=100)

    (episode,) = summary.episodes
    assert episode.onset_at == h(10)
    assert episode.resolved_at == h(30)
    assert summary.duration_days == round(20 / 24, 1)


def test_a_grade_24_hours_or_more_after_the_first_zero_starts_a_new_episode():
    summary = crs(
        (10, 1),
        (16, 0),
        (30, 0),  # episode 1: 10 h -> 16 h
        (40, 2),
        (44, 3),
        (52, 0),  # episode 2: 24 h after the first 0 -> new
        (70, 0),
        (100, 0),
    )

    first, second = summary.episodes
    assert (first.onset_at, first.resolved_at, first.max_grade) == (h(10), h(16), 1)
    assert (second.onset_at, second.resolved_at, second.max_grade) == (h(40), h(52), 3)
    assert summary.onset_at == h(10)  # the first onset
    assert summary.max_grade == 3
    assert summary.max_grade_at == h(44)
    assert summary.resolved_at == h(52)  # the last resolution
    assert summary.duration_days == round((6 + 12) / 24, 1)  # gaps between episodes not counted
    assert len(summary.episodes) == 2


def test_the_24_hour_boundary_is_inclusive():
    just_under = crs((10, 1), (16, 0), (16 + 23.9, 1), (60, 0), now_hours=100)
    exactly = crs((10, 1), (16, 0), (16 + 24, 1), (60, 0), now_hours=100)

    assert len(just_under.episodes) == 1
    assert len(exactly.episodes) == 2


def test_three_episodes_keep_the_first_maximum_date_when_the_maximum_recurs():
    summary = crs((10, 2), (12, 0), (50, 2), (52, 0), (90, 1), (92, 0), now_hours=200)

    assert len(summary.episodes) == 3
    assert summary.max_grade == 2
    assert summary.max_grade_at == h(10)
    assert summary.resolved_at == h(92)


def test_an_episode_still_graded_is_ongoing_without_resolution_or_duration():
    summary = crs((10, 1), (20, 2))

    assert summary.ongoing
    assert summary.resolved_at is None
    assert summary.duration_days is None
    assert summary.max_grade == 2


def test_a_zero_not_yet_24_hours_old_is_resolving_not_resolved():
    pending = crs((10, 1), (20, 0), now_hours=30)
    later = crs((10, 1), (20, 0), now_hours=44)

    assert pending.ongoing
    assert pending.episodes[0].resolving_since == h(20)
    assert later.resolved_at == h(20)


def test_confirmed_grades_are_the_ones_summarised_and_overrides_are_counted():
    # Computed grade 3 at 20 h, a clinician confirmed 2; computed 1 at 10 h confirmed as 1.
    rows = [
        GradePoint(at=h(10), crs=1, icans=None, crs_computed=1, crs_confirmed=True),
        GradePoint(at=h(20), crs=2, icans=None, crs_computed=3, crs_confirmed=True),
        GradePoint(at=h(40), crs=0, icans=None, crs_computed=0),
    ]

    summary = registry.summarise_domain(rows, domain="CRS", infused_at=INFUSED, now=h(200))

    assert summary.max_grade == 2
    assert summary.overridden == 1  # a confirmation equal to the computed grade is no override


def test_baseline_checks_before_the_infusion_are_not_crs():
    summary = crs((-20, 1), (-10, 0), (5, 0))

    assert summary.episodes == ()
    assert summary.max_grade == 0


def test_icans_uses_its_own_grades_and_codes():
    rows = [GradePoint(at=h(50), crs=0, icans=3), GradePoint(at=h(80), crs=0, icans=0)]

    summary = registry.summarise_domain(rows, domain="ICANS", infused_at=INFUSED, now=h(200))

    assert summary.max_grade == 3
    assert summary.onset_day == 2
    assert summary.icd10 == (
        "G92.03",
        "Immune effector cell-associated neurotoxicity syndrome, grade 3",
    )


def test_onset_day_counts_calendar_days_in_the_local_zone():
    # 23:30 UTC on day 0 is already the next calendar day in Paris (UTC+1 in March).
    late = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    rows = [GradePoint(at=datetime(2026, 3, 2, 23, 30, tzinfo=UTC), crs=1, icans=None)]
    with timezone.override(ZoneInfo("Europe/Paris")):
        paris = registry.summarise_domain(
            rows, domain="CRS", infused_at=late, now=late + timedelta(days=5)
        )
        assert paris.onset_day == 1
    with timezone.override(UTC):
        utc = registry.summarise_domain(
            rows, domain="CRS", infused_at=late, now=late + timedelta(days=5)
        )
        assert utc.onset_day == 0


@pytest.mark.parametrize(
    ("grade", "crs_code", "icans_code"),
    [
        (1, "D89.831", "G92.01"),
        (2, "D89.832", "G92.02"),
        (3, "D89.833", "G92.03"),
        (4, "D89.834", "G92.04"),
        (5, "D89.835", "G92.05"),
    ],
)
def test_icd10_cm_suggestions_follow_the_grade(grade, crs_code, icans_code):
    assert registry.ICD10_CRS[grade][0] == crs_code
    assert registry.ICD10_ICANS[grade][0] == icans_code
    assert registry.ICD10_CRS[grade][1].endswith(f"grade {grade}")
    assert registry.ICD10_ICANS[grade][1].endswith(f"grade {grade}")


def treat(hours, drug, dose, unit="mg", other=""):
    return TreatmentRow(
        at=h(hours), drug=drug, dose=Decimal(dose), dose_unit=unit, drug_other=other
    )


def test_treatments_count_doses_and_add_steroids_in_mg():
    drugs, other = registry.summarise_treatments(
        [
            treat(30, "tocilizumab", "560"),
            treat(38, "tocilizumab", "560"),
            treat(40, "dexamethasone", "10"),
            treat(46, "dexamethasone", "10"),
            treat(50, "methylprednisolone", "1", unit="g"),  # 1 g = 1000 mg
            treat(60, "anakinra", "100"),
            treat(61, "anakinra", "5", unit="units"),  # cannot be converted: counted apart
            treat(62, "levetiracetam", "750"),
            treat(63, "siltuximab", "800000", unit="mcg"),  # 800 mg
            treat(64, "antipyretic", "1", unit="g"),
            treat(65, "other", "8", other="Ondansetron"),
            treat(66, "other", "8", other="Ondansetron"),
        ],
        infused_at=INFUSED,
    )

    assert drugs["tocilizumab"].doses == 2
    assert drugs["tocilizumab"].first_at == h(30)
    assert drugs["dexamethasone"].total_mg == Decimal(20)
    assert drugs["methylprednisolone"].total_mg == Decimal(1000)
    assert (
        drugs["anakinra"].doses,
        drugs["anakinra"].total_mg,
        drugs["anakinra"].unconverted_doses,
    ) == (2, Decimal(100), 1)
    assert drugs["siltuximab"].total_mg == Decimal(800)
    assert drugs["levetiracetam"].doses == 1
    assert other == {"Antipyretic": 1, "Ondansetron": 2}


def test_treatments_before_day_0_are_baseline_not_counted():
    # Day 0 is the local infusion date: a dose that morning, before the infusion, counts.
    drugs, _ = registry.summarise_treatments(
        [treat(-30, "levetiracetam", "750"), treat(-2, "levetiracetam", "750")],
        infused_at=INFUSED,
    )

    assert drugs["levetiracetam"].doses == 1


def test_a_drug_never_given_has_no_total():
    drugs, _ = registry.summarise_treatments([], infused_at=INFUSED)

    assert drugs["dexamethasone"].doses == 0
    assert drugs["dexamethasone"].total_mg is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("1000"), "1000"), (Decimal("12.50"), "12.5"), (Decimal("0.500"), "0.5"), (None, "")],
)
def test_mg_totals_print_without_exponent_or_trailing_zeros(value, text):
    assert registry.mg(value) == text


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+1", "-cmd", "@SUM(A1)", "\tx"])
def test_text_that_a_spreadsheet_would_run_stays_text(value):
    assert registry.spreadsheet_safe(value) == "'" + value


def test_numbers_and_plain_text_are_left_alone():
    assert registry.spreadsheet_safe(-1) == -1
    assert registry.spreadsheet_safe("MRN001") == "MRN001"

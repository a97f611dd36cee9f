"""Hypotension by SBP and age: adult < 90 mmHg and PALS limits (clinical reference §1.3)."""

import pytest

from monitoring.grading import hypotension_threshold_mmhg, is_hypotensive

DAY = 1 / 365.25  # one day in years


@pytest.mark.parametrize(
    ("age_years", "limit"),
    [
        (None, 90),  # ref §1.3 [V: S2a]: age unknown falls back to the adult SBP < 90
        (0, 60),  # ref §1.3 [V: S20a-c]: term neonate 0-28 days < 60
        (27 * DAY, 60),
        (28 * DAY, 70),  # ref §1.3: infant 1-12 months < 70
        (0.5, 70),
        (0.99, 70),
        (1, 72),  # ref §1.3: 1-10 years < 70 + 2 x age
        (1.9, 72),  # whole years: 1.9 counts as 1
        (5, 80),
        (9.99, 88),
        (10, 90),
        (10.5, 90),  # ref §1.3: > 10 years < 90
        (11, 90),
        (17.9, 90),
        (18, 90),  # adult
        (85, 90),
    ],
    ids=lambda v: f"{v:.3g}" if isinstance(v, float) else str(v),
)
def test_threshold_follows_pals_by_age(age_years, limit):
    assert hypotension_threshold_mmhg(age_years) == limit


@pytest.mark.parametrize(
    ("systolic_bp", "age_years", "hypotensive"),
    [
        (89, None, True),  # ref §1.3 [V: S2a]: adult SBP < 90
        (90, None, False),  # ref §1.3: 90 itself is not below 90
        (89.9, 40, True),
        (59, 10 * DAY, True),  # ref §1.3 [V: S20a-c]: neonate < 60
        (60, 10 * DAY, False),
        (69, 0.5, True),  # ref §1.3: infant < 70
        (70, 0.5, False),
        (79, 5, True),  # ref §1.3: 5 years < 80
        (80, 5, False),
        (85, 5, False),  # a 5-year-old at 85 is not hypotensive, an adult would be
        (85, 30, True),
    ],
    ids=[
        "adult-89",
        "adult-90",
        "adult-89.9",
        "neonate-59",
        "neonate-60",
        "infant-69",
        "infant-70",
        "child5-79",
        "child5-80",
        "child5-85",
        "adult-85",
    ],
)
def test_hypotension_is_strictly_below_the_age_limit(systolic_bp, age_years, hypotensive):
    assert is_hypotensive(systolic_bp, age_years) is hypotensive


@pytest.mark.parametrize(
    ("systolic_bp", "age_years", "threshold", "hypotensive"),
    [
        (99, 40, 100, True),  # ref §1.3: each institution defines hypotension [M]
        (100, 40, 100, False),
        (85, 5, 80, False),  # the protocol threshold replaces the age-based one
        (85, None, 85.5, True),
    ],
    ids=["below-100", "at-100", "child-protocol", "fractional-threshold"],
)
def test_a_protocol_threshold_overrides_the_default(systolic_bp, age_years, threshold, hypotensive):
    assert is_hypotensive(systolic_bp, age_years, threshold=threshold) is hypotensive


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, 40), "systolic_bp must be between 0 and 350 mmHg"),
        ((351, 40), "systolic_bp must be between 0 and 350 mmHg"),
        ((float("nan"), 40), "between 0 and 350 mmHg"),
        (("90", 40), "systolic_bp must be a number"),
        ((True, 40), "systolic_bp must be a number"),
        ((90, -1), "age_years must be between 0 and 130 years"),
        ((90, 131), "age_years must be between 0 and 130 years"),
        ((90, 40, -5), "threshold must be between 0 and 350 mmHg"),
        ((90, 40, "90"), "threshold must be a number"),
    ],
    ids=[
        "sbp-negative",
        "sbp-absurd",
        "sbp-nan",
        "sbp-string",
        "sbp-bool",
        "age-negative",
        "age-absurd",
        "threshold-negative",
        "threshold-string",
    ],
)
def test_invalid_values_raise_with_the_allowed_range(args, message):
    with pytest.raises(ValueError, match=message):
        is_hypotensive(*args)


def test_threshold_lookup_rejects_a_negative_age():
    with pytest.raises(ValueError, match="between 0 and 130 years"):
        hypotension_threshold_mmhg(-0.1)


@pytest.mark.parametrize("systolic_bp", [0, 350], ids=["sbp-0", "sbp-350"])
def test_range_limits_themselves_are_accepted(systolic_bp):
    assert is_hypotensive(systolic_bp, None) is (systolic_bp < 90)


@pytest.mark.parametrize(("age", "protocol", "limit"), [(40, 100, 100), (5, 85, 85), (5, None, 80)])
def test_a_protocol_limit_wins_over_the_age_based_one(age, protocol, limit):
    # ASTCT sets no SBP number (ref §1.3): a centre's protocol may; without one, PALS by age.
    assert hypotension_threshold_mmhg(age, protocol_mmhg=protocol) == limit


def test_an_impossible_protocol_limit_is_refused():
    with pytest.raises(ValueError, match="protocol_mmhg"):
        hypotension_threshold_mmhg(40, protocol_mmhg=400)

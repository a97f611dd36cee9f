"""Tocilizumab decision support, straight from reference §7.1 (ASCO 2021 [V: S3 p.6]):
8 mg/kg IV, not to exceed 800 mg per dose; repeat every 8 h as needed; maximum 3 doses in 24 h
and 4 in total; children under 30 kg 12 mg/kg [C: S18a, S18b]."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.grading import (
    dose_in_mg,
    dose_limit_warnings,
    dose_size_warnings,
    mg_per_kg,
    usual_dose_mg,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("weight_kg", "mg"),
    [
        (70, 560),  # 8 mg/kg
        (70.5, 564),
        (100, 800),  # exactly the cap
        (120, 800),  # 960 capped at 800 mg per dose
        (30, 240),  # 30 kg is not "under 30 kg": 8 mg/kg
        (29.9, 358.8),  # under 30 kg: 12 mg/kg
        (20, 240),
        (0.3, 3.6),  # the lightest weight the Patient table accepts
    ],
)
def test_the_usual_dose_follows_the_weight(weight_kg, mg):
    assert usual_dose_mg(weight_kg) == pytest.approx(mg)


@pytest.mark.parametrize(("weight_kg", "per_kg"), [(29.9, 12), (30, 8), (80, 8)])
def test_mg_per_kg_switches_at_30_kg(weight_kg, per_kg):
    assert mg_per_kg(weight_kg) == per_kg


@pytest.mark.parametrize("weight_kg", [0, -5, 0.2, 351, float("nan"), True, "70", None])
def test_an_implausible_weight_is_refused(weight_kg):
    with pytest.raises(ValueError, match="weight_kg"):
        usual_dose_mg(weight_kg)


@pytest.mark.parametrize(
    ("previous", "at", "codes"),
    [
        ([], h(0), []),  # first dose
        ([h(0)], h(8), []),  # q8h
        ([h(0), h(8)], h(16), []),  # third dose in 24 h: allowed
        ([h(0), h(8), h(16)], h(24), []),  # 24 h after the first: a new window
        ([h(0), h(8), h(16)], h(23.5), ["per_24h", "interval"]),  # 4th in 24 h, 7.5 h apart
        ([h(0), h(1), h(2)], h(10), ["per_24h"]),  # 8 h after the last exactly: no interval
        ([h(0), h(8), h(16), h(24)], h(48), ["total"]),  # fifth of the course
        ([h(0), h(8), h(16)], h(20), ["per_24h", "interval"]),  # 4 h after the last
        ([h(0)], h(7.5), ["interval"]),  # < 8 h apart
        ([h(0)], h(0), ["interval"]),  # the same dose entered twice
        # A late entry between two doses: the window that holds it counts, not only the last 24 h
        ([h(0), h(16), h(20)], h(8), ["per_24h"]),
        # Two doses after and one before, all within 24 h of one another
        ([h(-10), h(9), h(12)], h(1), ["per_24h"]),
        # Order of the previous doses does not matter
        ([h(16), h(0), h(8)], h(23), ["per_24h", "interval"]),
    ],
)
def test_dose_limit_warnings(previous, at, codes):
    assert [w.code for w in dose_limit_warnings(previous, at)] == codes


def test_the_warnings_say_which_dose_it_would_be_and_cite_the_source():
    per_24h, total = dose_limit_warnings([h(0), h(8), h(16), h(-48)], h(23))[:2]

    assert per_24h.message.startswith("This would be dose 4 within 24 hours")
    assert "maximum is 3 doses in 24 h" in per_24h.message
    assert total.message.startswith("This would be dose 5 of the course")
    assert "reference §7.1" in total.message


@pytest.mark.parametrize(
    ("at", "says"),
    [
        (h(0), "Another dose is recorded at the same time as this one:"),
        (h(2 / 60), "Another dose is recorded at the same time as this one:"),  # 2 min: rounds to 0
        (h(6 / 60), "Another dose is recorded 0.1 h from this one:"),
        (h(-6), "Another dose is recorded 6.0 h from this one:"),
    ],
)
def test_the_interval_warning_says_how_far_apart_the_doses_are(at, says):
    (interval,) = dose_limit_warnings([h(0)], at)

    assert interval.message.startswith(says)
    assert "every 8 h as needed" in interval.message


@pytest.mark.parametrize(
    ("dose", "unit", "weight_kg", "codes"),
    [
        (560, "mg", 70, []),
        (600, "mg", 70, []),  # rounded up to vials: within 10 %
        (620, "mg", 70, ["above_usual"]),  # 5600 typed for 560 is caught the same way
        (800, "mg", 120, []),
        (801, "mg", 120, ["max_dose"]),
        (0.8, "g", 120, []),
        (1, "g", 120, ["max_dose"]),
        (240, "mg", 20, []),  # 12 mg/kg under 30 kg
        (560_000, "mcg", 70, []),
        (560, "units", 70, ["unit"]),
    ],
)
def test_dose_size_warnings(dose, unit, weight_kg, codes):
    assert [w.code for w in dose_size_warnings(dose, unit, weight_kg)] == codes


def test_a_dose_in_grams_or_micrograms_is_converted_to_mg():
    assert dose_in_mg(0.56, "g") == pytest.approx(560)
    assert dose_in_mg(560_000, "mcg") == pytest.approx(560)
    assert dose_in_mg(10, "units") is None


@pytest.mark.parametrize("dose", [0, -1, float("nan"), float("inf")])
def test_a_dose_that_is_not_a_positive_number_is_refused(dose):
    with pytest.raises(ValueError, match="dose"):
        dose_size_warnings(dose, "mg", 70)

"""Default vital-sign protocol thresholds (NEWS2 red band, ASTCT fever; reference §8.1, §1)."""

import dataclasses

import pytest

from monitoring.grading import Breach, VitalThresholds, vital_sign_breaches

DEFAULTS = VitalThresholds()
NO_VITALS = {
    "age_years": None,
    "heart_rate": None,
    "resp_rate": None,
    "spo2_pct": None,
    "systolic_bp": None,
    "temperature_c": None,
}


def breaches(thresholds=DEFAULTS, **vitals) -> tuple[Breach, ...]:
    return vital_sign_breaches(thresholds=thresholds, **(NO_VITALS | vitals))


def test_defaults_are_the_news2_red_band_and_astct_fever():
    # ref §8.1 [V: S15a]: a single parameter scoring 3; ref §1.2.1 [V: S2a]: fever ≥ 38.0 °C.
    assert dataclasses.asdict(DEFAULTS) == {
        "heart_rate_high": 131,
        "heart_rate_low": 40,
        "resp_rate_high": 25,
        "resp_rate_low": 8,
        "spo2_low": 91,
        "sbp_low": None,
        "temperature_high": 38.0,
    }


@pytest.mark.parametrize(
    ("vitals", "message"),
    [
        ({"heart_rate": 131}, "heart rate 131/min ≥ 131/min"),  # ref §8.1: pulse ≥ 131
        ({"heart_rate": 140}, "heart rate 140/min ≥ 131/min"),
        ({"heart_rate": 40}, "heart rate 40/min ≤ 40/min"),  # ref §8.1: pulse ≤ 40
        ({"resp_rate": 25}, "respiratory rate 25/min ≥ 25/min"),  # ref §8.1: RR ≥ 25
        ({"resp_rate": 8}, "respiratory rate 8/min ≤ 8/min"),  # ref §8.1: RR ≤ 8
        ({"spo2_pct": 91}, "SpO2 91% ≤ 91%"),  # ref §8.1: Scale 1 ≤ 91
        ({"temperature_c": 38.0}, "temperature 38.0 °C ≥ 38.0 °C"),  # ref §1.2.1: fever
        ({"systolic_bp": 89}, "systolic BP 89 mmHg < 90 mmHg"),  # ref §1.3: adult < 90
        ({"systolic_bp": 79, "age_years": 5}, "systolic BP 79 mmHg < 80 mmHg"),  # PALS
    ],
    ids=["hr-131", "hr-140", "hr-40", "rr-25", "rr-8", "spo2-91", "temp-38", "sbp-89", "sbp-child"],
)
def test_a_value_at_the_limit_breaches(vitals, message):
    (breach,) = breaches(**vitals)
    assert breach.message == message


@pytest.mark.parametrize(
    "vitals",
    [
        {"heart_rate": 130},
        {"heart_rate": 41},
        {"resp_rate": 24},
        {"resp_rate": 9},
        {"spo2_pct": 92},
        {"temperature_c": 37.9},
        {"systolic_bp": 90},
        {"systolic_bp": 85, "age_years": 5},  # a 5-year-old's limit is 80 (ref §1.3)
    ],
    ids=["hr-130", "hr-41", "rr-24", "rr-9", "spo2-92", "temp-37.9", "sbp-90", "sbp-child-85"],
)
def test_a_value_inside_the_limits_does_not_breach(vitals):
    assert breaches(**vitals) == ()


def test_missing_values_are_skipped():
    assert breaches() == ()


def test_breaches_carry_parameter_value_and_limit_in_a_fixed_order():
    found = breaches(heart_rate=135, resp_rate=6, spo2_pct=88, systolic_bp=80, temperature_c=39.2)
    assert [(b.parameter, b.value, b.limit) for b in found] == [
        ("heart_rate", 135, 131),
        ("resp_rate", 6, 8),
        ("spo2_pct", 88, 91),
        ("systolic_bp", 80, 90),
        ("temperature_c", 39.2, 38.0),
    ]


def test_a_centre_can_set_its_own_limits():
    protocol = VitalThresholds(heart_rate_high=120, sbp_low=100, temperature_high=38.3)
    found = breaches(protocol, heart_rate=125, systolic_bp=95, temperature_c=38.2, age_years=40)
    assert [b.message for b in found] == [
        "heart rate 125/min ≥ 120/min",
        "systolic BP 95 mmHg < 100 mmHg",  # the protocol limit replaces the age-based one
    ]


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"heart_rate_high": 400}, "heart_rate_high must be between 0 and 300 /min"),
        ({"heart_rate_low": -1}, "heart_rate_low must be between 0 and 300 /min"),
        ({"resp_rate_high": 120}, "resp_rate_high must be between 0 and 100 /min"),
        ({"resp_rate_low": "8"}, "resp_rate_low must be a number"),
        ({"spo2_low": 101}, "spo2_low must be between 0 and 100 %"),
        ({"sbp_low": 400}, "sbp_low must be between 0 and 350 mmHg"),
        ({"temperature_high": 50}, "temperature_high must be between 25 and 45 °C"),
        ({"heart_rate_low": 131}, "heart_rate_low must be below heart_rate_high"),
        ({"resp_rate_low": 30}, "resp_rate_low must be below resp_rate_high"),
    ],
    ids=[
        "hr-high",
        "hr-low",
        "rr-high",
        "rr-string",
        "spo2",
        "sbp",
        "temp",
        "hr-crossed",
        "rr-crossed",
    ],
)
def test_invalid_thresholds_raise(limits, message):
    with pytest.raises(ValueError, match=message):
        VitalThresholds(**limits)


@pytest.mark.parametrize(
    ("vitals", "message"),
    [
        ({"heart_rate": -1}, "heart_rate must be between 0 and 300 /min"),
        ({"resp_rate": 101}, "resp_rate must be between 0 and 100 /min"),
        ({"spo2_pct": 101}, "spo2_pct must be between 0 and 100 %"),
        ({"systolic_bp": 400}, "systolic_bp must be between 0 and 350 mmHg"),
        ({"temperature_c": 20}, "temperature_c must be between 25 and 45 °C"),
        ({"systolic_bp": 100, "age_years": -2}, "age_years must be between 0 and 130"),
    ],
    ids=["hr", "rr", "spo2", "sbp", "temp", "age"],
)
def test_invalid_vitals_raise(vitals, message):
    with pytest.raises(ValueError, match=message):
        breaches(**vitals)


def test_adult_heart_and_breathing_rate_limits_do_not_apply_to_children():
    # A 7-year-old breathing 28/min with a pulse of 135 is within a child's normal range;
    # the adult NEWS2 red band must not flag it (ref §8.3: NEWS2 is not for under-16s).
    same_vitals = {
        "heart_rate": 135,
        "resp_rate": 28,
        "spo2_pct": 97,
        "systolic_bp": 100,
        "temperature_c": 37.0,
    }
    child = vital_sign_breaches(thresholds=VitalThresholds(), age_years=7, **same_vitals)
    adult = vital_sign_breaches(thresholds=VitalThresholds(), age_years=40, **same_vitals)
    assert child == ()
    assert {b.parameter for b in adult} == {"heart_rate", "resp_rate"}

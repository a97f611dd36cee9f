"""NEWS2 (RCP 2017) band edges and Chart 4 risk (clinical reference §8)."""

import pytest

from monitoring.grading import CRSInputs, NEWS2Risk, grade_crs, news2
from monitoring.grading.news2 import PARAMETER_NAMES

PARAMETERS = (
    "respiration_rate",
    "spo2_pct",
    "on_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness_alert",
    "temperature_c",
)
NORMAL = {
    "respiration_rate": 16,
    "spo2_pct": 97,
    "on_oxygen": False,
    "systolic_bp": 120,
    "pulse": 70,
    "consciousness_alert": True,
    "temperature_c": 37.0,
}


def scored(**given):
    """NEWS2 with only the given parameters; the rest are missing (None)."""
    return news2(**(dict.fromkeys(PARAMETERS) | given))


# Every Chart 1 band edge, ref §8.1 [V: S15a].
BAND_EDGES = [
    ("respiration_rate", 0, 3),
    ("respiration_rate", 8, 3),
    ("respiration_rate", 9, 1),
    ("respiration_rate", 11, 1),
    ("respiration_rate", 12, 0),
    ("respiration_rate", 20, 0),
    ("respiration_rate", 21, 2),
    ("respiration_rate", 24, 2),
    ("respiration_rate", 25, 3),
    ("spo2_pct", 91, 3),
    ("spo2_pct", 92, 2),
    ("spo2_pct", 93, 2),
    ("spo2_pct", 94, 1),
    ("spo2_pct", 95, 1),
    ("spo2_pct", 96, 0),
    ("spo2_pct", 100, 0),
    ("on_oxygen", True, 2),
    ("on_oxygen", False, 0),
    ("systolic_bp", 90, 3),
    ("systolic_bp", 91, 2),
    ("systolic_bp", 100, 2),
    ("systolic_bp", 101, 1),
    ("systolic_bp", 110, 1),
    ("systolic_bp", 111, 0),
    ("systolic_bp", 219, 0),
    ("systolic_bp", 220, 3),
    ("pulse", 40, 3),
    ("pulse", 41, 1),
    ("pulse", 50, 1),
    ("pulse", 51, 0),
    ("pulse", 90, 0),
    ("pulse", 91, 1),
    ("pulse", 110, 1),
    ("pulse", 111, 2),
    ("pulse", 130, 2),
    ("pulse", 131, 3),
    ("consciousness_alert", True, 0),
    ("consciousness_alert", False, 3),  # new confusion, voice, pain, unresponsive
    ("temperature_c", 35.0, 3),
    ("temperature_c", 35.1, 1),
    ("temperature_c", 36.0, 1),
    ("temperature_c", 36.1, 0),
    ("temperature_c", 38.0, 0),
    ("temperature_c", 38.1, 1),
    ("temperature_c", 39.0, 1),
    ("temperature_c", 39.1, 2),
]


@pytest.mark.parametrize(
    ("parameter", "value", "points"),
    BAND_EDGES,
    ids=[f"{p}-{v}" for p, v, _ in BAND_EDGES],
)
def test_every_chart_1_band_edge(parameter, value, points):
    result = scored(**{parameter: value})
    assert result.parameters[parameter] == points
    assert result.total == points


@pytest.mark.parametrize(
    ("spo2_pct", "on_oxygen", "points"),
    [
        # ref §8.1 Scale 2 [V: S15e], for hypercapnic respiratory failure only.
        (83, False, 3),
        (84, False, 2),
        (85, False, 2),
        (86, False, 1),
        (87, False, 1),
        (88, False, 0),
        (92, True, 0),  # 88-92 scores 0 on air or oxygen
        (93, False, 0),  # ≥ 93 on air scores 0
        (100, False, 0),
        (93, True, 1),  # 93-94 on oxygen
        (94, True, 1),
        (95, True, 2),  # 95-96 on oxygen
        (96, True, 2),
        (97, True, 3),  # ≥ 97 on oxygen
        (93, None, 0),  # air/oxygen unknown: scored as air, on_oxygen listed missing
    ],
    ids=str,
)
def test_spo2_scale_2_bands(spo2_pct, on_oxygen, points):
    result = scored(spo2_pct=spo2_pct, on_oxygen=on_oxygen, spo2_scale=2)
    assert result.parameters["spo2_pct"] == points


@pytest.mark.parametrize(
    ("parameter", "value", "points"),
    [
        # Decimals are rounded half up to the chart's precision first (temperature 1 dp).
        ("temperature_c", 36.05, 0),  # → 36.1
        ("temperature_c", 36.04, 1),  # → 36.0
        ("temperature_c", 38.05, 1),  # → 38.1
        ("temperature_c", 38.04, 0),  # → 38.0
        ("temperature_c", 35.05, 1),  # → 35.1
        ("temperature_c", 39.05, 2),  # → 39.1
        ("systolic_bp", 90.4, 3),  # → 90
        ("systolic_bp", 90.5, 2),  # → 91
        ("pulse", 90.5, 1),  # → 91
        ("respiration_rate", 20.4, 0),  # → 20
        ("spo2_pct", 95.5, 0),  # → 96
    ],
    ids=str,
)
def test_decimals_between_bands_are_rounded_to_the_chart_precision(parameter, value, points):
    assert scored(**{parameter: value}).parameters[parameter] == points


def test_38_0_scores_0_in_news2_but_is_fever_for_astct():
    # ref §8.3: the boundary mismatch; never derive CRS from NEWS2.
    assert scored(temperature_c=38.0).parameters["temperature_c"] == 0
    assert grade_crs(CRSInputs(temperature_c=38.0)).grade == 1


def test_missing_parameters_score_nothing_and_are_listed():
    result = scored(pulse=135, temperature_c=None)
    assert result.parameters == {"pulse": 3}
    assert result.missing == (
        "respiration_rate",
        "spo2_pct",
        "on_oxygen",
        "systolic_bp",
        "consciousness_alert",
        "temperature_c",
    )


def test_a_normal_adult_scores_0_with_routine_care():
    result = news2(**NORMAL)
    assert result.total == 0
    assert result.missing == ()
    assert result.risk == "low"
    assert not result.red_parameter
    assert result.response.startswith("Routine care")  # ref §8.2 [V: S15b]: NEWS2 0


def test_the_maximum_total_is_20():
    # ref §8.1 [V: S15c]: total range 0-20.
    result = news2(
        respiration_rate=25,
        spo2_pct=91,
        on_oxygen=True,
        systolic_bp=90,
        pulse=131,
        consciousness_alert=False,
        temperature_c=35.0,
    )
    assert result.total == 20
    assert result.risk is NEWS2Risk.HIGH


@pytest.mark.parametrize(
    ("changes", "total", "red", "risk", "response_starts"),
    [
        # ref §8.2 Chart 4 [V: S15b, S15c].
        ({"pulse": 95}, 1, False, "low", "Registered nurse assesses"),  # 1-4: low
        ({"respiration_rate": 22, "pulse": 115}, 4, False, "low", "Registered nurse"),
        ({"consciousness_alert": False}, 3, True, "low-medium", "Inform the medical team"),
        ({"respiration_rate": 25, "pulse": 95}, 4, True, "low-medium", "Inform the medical"),
        (
            {"respiration_rate": 22, "pulse": 115, "temperature_c": 38.5},
            5,
            False,
            "medium",
            "Urgent response",
        ),  # 5-6: medium
        (
            {"respiration_rate": 25, "on_oxygen": True, "pulse": 95},
            6,
            True,
            "medium",
            "Urgent response",
        ),  # a red parameter does not lower a medium score
        (
            {"respiration_rate": 25, "on_oxygen": True, "systolic_bp": 105, "pulse": 95},
            7,
            True,
            "high",
            "Emergency response",
        ),  # ≥ 7: high
    ],
    ids=["total-1", "total-4", "red-3", "red-4", "total-5", "total-6-red", "total-7"],
)
def test_chart_4_risk(changes, total, red, risk, response_starts):
    result = news2(**(NORMAL | changes))
    assert result.total == total
    assert result.red_parameter is red
    assert result.risk == risk
    assert result.response.startswith(response_starts)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"respiration_rate": -1}, "respiration_rate must be between 0 and 100 /min"),
        ({"spo2_pct": 101}, "spo2_pct must be between 0 and 100 %"),
        ({"systolic_bp": 351}, "systolic_bp must be between 0 and 350 mmHg"),
        ({"pulse": 301}, "pulse must be between 0 and 300 /min"),
        ({"temperature_c": 46}, "temperature_c must be between 25 and 45 °C"),
        ({"temperature_c": "37"}, "temperature_c must be a number"),
        ({"on_oxygen": 1}, "on_oxygen must be True or False"),
        ({"consciousness_alert": "A"}, "consciousness_alert must be True or False"),
        ({"spo2_scale": 3}, "spo2_scale must be 1 or 2"),
        ({"spo2_scale": True}, "spo2_scale must be 1 or 2"),
        ({"age_years": 15}, "not validated under 16 years"),
        ({"age_years": -1}, "age_years must be between 0 and 130 years"),
    ],
    ids=[
        "rr-negative",
        "spo2-over-100",
        "sbp-absurd",
        "pulse-absurd",
        "temp-absurd",
        "temp-string",
        "oxygen-int",
        "avpu-letter",
        "scale-3",
        "scale-bool",
        "child",
        "age-negative",
    ],
)
def test_invalid_inputs_raise_with_the_allowed_range(changes, message):
    with pytest.raises(ValueError, match=message):
        news2(**(NORMAL | changes))


def test_adults_from_16_are_scored():
    # ref §8.3 [C]: not validated under 16 years.
    assert news2(**NORMAL, age_years=16).total == 0


def test_every_parameter_the_score_can_miss_has_a_name_in_words():
    result = news2(
        respiration_rate=None,
        spo2_pct=None,
        on_oxygen=None,
        systolic_bp=None,
        pulse=None,
        consciousness_alert=None,
        temperature_c=None,
    )

    assert set(result.missing) == set(PARAMETER_NAMES)

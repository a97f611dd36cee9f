"""National Early Warning Score 2 (NEWS2), a general deterioration flag for adults.

Source: Royal College of Physicians, NEWS2 (2017): Chart 1 scoring bands [V: S15a], SpO2
Scale 2 [V: S15e] and Chart 4 clinical response thresholds [V: S15b, S15c], as reproduced in
the clinical reference §8.1 and §8.2. Version ``rcp-2017``.

NEWS2 is secondary to the ASTCT grades and never feeds them (ref §8.3): it scores 38.0 °C as 0
while ASTCT counts 38.0 °C as fever, and it scores any oxygen as 2 whatever the device. It is
not validated under 16 years or in pregnancy (ref §8.3 [C]); children need a paediatric score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from types import MappingProxyType

from monitoring.grading.common import (
    MAX_AGE_YEARS,
    SBP_RANGE_MMHG,
    TEMPERATURE_RANGE_C,
    require_bool,
    require_number,
)

NEWS2_VERSION = "rcp-2017"
MIN_AGE_YEARS = 16  # not validated in younger patients (ref §8.3)
_INF = Decimal("Infinity")

# Chart 1 bands as (highest value in the band, points), lowest band first (ref §8.1).
_RESPIRATION = ((8, 3), (11, 1), (20, 0), (24, 2), (_INF, 3))
_SPO2_SCALE_1 = ((91, 3), (93, 2), (95, 1), (_INF, 0))
_SPO2_SCALE_2_LOW = ((83, 3), (85, 2), (87, 1), (92, 0))  # at >= 93 air/oxygen matters
_SPO2_SCALE_2_ON_OXYGEN = ((94, 1), (96, 2), (_INF, 3))
_SYSTOLIC = ((90, 3), (100, 2), (110, 1), (219, 0), (_INF, 3))
_PULSE = ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2), (_INF, 3))
_TEMPERATURE = (
    (Decimal("35.0"), 3),
    (Decimal("36.0"), 1),
    (Decimal("38.0"), 0),
    (Decimal("39.0"), 1),
    (_INF, 2),
)


# Chart 1's parameters by this module's argument names, in words (for "not recorded").
PARAMETER_NAMES = MappingProxyType(
    {
        "respiration_rate": "respiration rate",
        "spo2_pct": "SpO₂",
        "on_oxygen": "air or oxygen",
        "systolic_bp": "systolic blood pressure",
        "pulse": "pulse",
        "consciousness_alert": "consciousness",
        "temperature_c": "temperature",
    }
)


class NEWS2Risk(StrEnum):
    """Chart 4 clinical risk (ref §8.2)."""

    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


_RESPONSE = {
    "zero": "Routine care; observations at least 12-hourly.",
    NEWS2Risk.LOW: (
        "Registered nurse assesses and decides observation frequency (at least 4-6-hourly) "
        "or escalation."
    ),
    NEWS2Risk.LOW_MEDIUM: (
        "Inform the medical team, who review and decide on escalation; observations at least "
        "1-hourly."
    ),
    NEWS2Risk.MEDIUM: (
        "Urgent response: immediately inform the medical team; urgent assessment by a "
        "clinician competent in acute illness, in a monitored setting; observations at least "
        "1-hourly."
    ),
    NEWS2Risk.HIGH: (
        "Emergency response: registrar or above; emergency assessment by a critical-care "
        "team, consider level 2/3 care; continuous monitoring."
    ),
}


@dataclass(frozen=True)
class NEWS2Result:
    """NEWS2 total, per-parameter points, missing parameters and the Chart 4 response."""

    total: int
    parameters: Mapping[str, int] = field(hash=False)  # scored parameters only
    missing: tuple[str, ...]  # parameters given as None: they score nothing
    red_parameter: bool  # any single parameter scored 3
    risk: NEWS2Risk
    response: str
    version: str = NEWS2_VERSION


def _rounded(value: float, places: int) -> Decimal:
    # Chart 1 bands are whole numbers (one decimal for temperature): round half up first,
    # so 36.05 °C is 36.1 (0 points) and 90.5 mmHg is 91 (2 points).
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _band(value: Decimal, bands: tuple[tuple[Decimal | int, int], ...]) -> int:
    return next(points for highest, points in bands if value <= highest)


def _spo2_points(spo2: Decimal, scale: int, on_oxygen: bool | None) -> int:
    if scale == 1:
        return _band(spo2, _SPO2_SCALE_1)
    if spo2 <= 92:
        return _band(spo2, _SPO2_SCALE_2_LOW)
    # Scale 2 at >= 93 %: 0 on air, scored on oxygen (ref §8.1). With air/oxygen unknown it is
    # scored as air, and "on_oxygen" is listed as missing.
    return _band(spo2, _SPO2_SCALE_2_ON_OXYGEN) if on_oxygen else 0


def news2(
    *,
    respiration_rate: float | None,
    spo2_pct: float | None,
    on_oxygen: bool | None,
    systolic_bp: float | None,
    pulse: float | None,
    consciousness_alert: bool | None,
    temperature_c: float | None,
    spo2_scale: int = 1,
    age_years: float | None = None,
) -> NEWS2Result:
    """Score NEWS2 (RCP 2017) for an adult; a parameter given as None scores nothing."""
    if spo2_scale not in (1, 2) or isinstance(spo2_scale, bool):
        raise ValueError(f"spo2_scale must be 1 or 2, got {spo2_scale!r}")
    if age_years is not None:
        age = require_number("age_years", age_years, 0, MAX_AGE_YEARS, "years")
        if age < MIN_AGE_YEARS:
            raise ValueError(f"NEWS2 is for adults: not validated under {MIN_AGE_YEARS} years")
    given = {
        "respiration_rate": respiration_rate,
        "spo2_pct": spo2_pct,
        "on_oxygen": on_oxygen,
        "systolic_bp": systolic_bp,
        "pulse": pulse,
        "consciousness_alert": consciousness_alert,
        "temperature_c": temperature_c,
    }
    points: dict[str, int] = {}
    if respiration_rate is not None:
        rr = require_number("respiration_rate", respiration_rate, 0, 100, "/min")
        points["respiration_rate"] = _band(_rounded(rr, 0), _RESPIRATION)
    if spo2_pct is not None:
        spo2 = _rounded(require_number("spo2_pct", spo2_pct, 0, 100, "%"), 0)
        points["spo2_pct"] = _spo2_points(spo2, spo2_scale, on_oxygen)
    if on_oxygen is not None:
        points["on_oxygen"] = 2 if require_bool("on_oxygen", on_oxygen) else 0
    if systolic_bp is not None:
        sbp = require_number("systolic_bp", systolic_bp, *SBP_RANGE_MMHG, "mmHg")
        points["systolic_bp"] = _band(_rounded(sbp, 0), _SYSTOLIC)
    if pulse is not None:
        hr = require_number("pulse", pulse, 0, 300, "/min")
        points["pulse"] = _band(_rounded(hr, 0), _PULSE)
    if consciousness_alert is not None:
        # New confusion, voice, pain or unresponsive (CVPU) all score 3 (ref §8.1).
        alert = require_bool("consciousness_alert", consciousness_alert)
        points["consciousness_alert"] = 0 if alert else 3
    if temperature_c is not None:
        temp = require_number("temperature_c", temperature_c, *TEMPERATURE_RANGE_C, "°C")
        points["temperature_c"] = _band(_rounded(temp, 1), _TEMPERATURE)

    total = sum(points.values())
    red = any(p == 3 for p in points.values())
    # Chart 4 (ref §8.2): the aggregate thresholds outrank a single red parameter.
    if total >= 7:
        risk = NEWS2Risk.HIGH
    elif total >= 5:
        risk = NEWS2Risk.MEDIUM
    elif red:
        risk = NEWS2Risk.LOW_MEDIUM
    else:
        risk = NEWS2Risk.LOW
    return NEWS2Result(
        total=total,
        parameters=MappingProxyType(points),
        missing=tuple(name for name, value in given.items() if value is None),
        red_parameter=red,
        risk=risk,
        response=_RESPONSE["zero" if total == 0 else risk],
    )

"""Vital-sign protocol thresholds: a template each centre must review and sign off.

Sources, from the clinical reference. Rule version ``astct-2019.1``.

- Heart rate, respiratory rate and SpO2 defaults are the NEWS2 single-parameter red band
  (3 points) of RCP 2017 Chart 1 [V: S15a] (ref §8.1): pulse >= 131 or <= 40 /min, respiration
  >= 25 or <= 8 /min, SpO2 (Scale 1) <= 91 %.
- Systolic BP defaults to the age-based hypotension limit of ``is_hypotensive`` (adult < 90
  mmHg [V: S2a], paediatric PALS [V: S20a-c], ref §1.3); a centre may set a fixed ``sbp_low``.
- Temperature defaults to the ASTCT fever criterion, >= 38.0 °C [V: S2a, S3] (ref §1.2.1),
  not the NEWS2 band, which scores 38.0 °C as 0 (ref §8.3).

The reference states that every threshold must be signed off by the treating centre's
cellular-therapy program: these defaults are a starting point, not orders.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitoring.grading.common import SBP_RANGE_MMHG, TEMPERATURE_RANGE_C, require_number
from monitoring.grading.hypotension import hypotension_threshold_mmhg, is_hypotensive

ADULT_LIMITS_MIN_AGE = 16  # NEWS2 is validated from 16 years (ref §8.3)
_HR_RANGE = (0.0, 300.0)
_RR_RANGE = (0.0, 100.0)
_SPO2_RANGE = (0.0, 100.0)


@dataclass(frozen=True, kw_only=True)
class VitalThresholds:
    """One centre's alert limits; a value breaches when it reaches the limit (≥ or ≤)."""

    heart_rate_high: float = 131  # ≥, /min (NEWS2 red band)
    heart_rate_low: float = 40  # ≤, /min (NEWS2 red band)
    resp_rate_high: float = 25  # ≥, /min (NEWS2 red band)
    resp_rate_low: float = 8  # ≤, /min (NEWS2 red band)
    spo2_low: float = 91  # ≤, % (NEWS2 Scale 1 red band)
    sbp_low: float | None = None  # <, mmHg; None = age-based is_hypotensive
    temperature_high: float = 38.0  # ≥, °C (ASTCT fever)

    def __post_init__(self) -> None:
        require_number("heart_rate_high", self.heart_rate_high, *_HR_RANGE, "/min")
        require_number("heart_rate_low", self.heart_rate_low, *_HR_RANGE, "/min")
        require_number("resp_rate_high", self.resp_rate_high, *_RR_RANGE, "/min")
        require_number("resp_rate_low", self.resp_rate_low, *_RR_RANGE, "/min")
        require_number("spo2_low", self.spo2_low, *_SPO2_RANGE, "%")
        if self.sbp_low is not None:
            require_number("sbp_low", self.sbp_low, *SBP_RANGE_MMHG, "mmHg")
        require_number("temperature_high", self.temperature_high, *TEMPERATURE_RANGE_C, "°C")
        # Crossed limits would make every value breach; that is a configuration slip.
        if self.heart_rate_low >= self.heart_rate_high:
            raise ValueError("heart_rate_low must be below heart_rate_high")
        if self.resp_rate_low >= self.resp_rate_high:
            raise ValueError("resp_rate_low must be below resp_rate_high")


@dataclass(frozen=True)
class Breach:
    """One vital sign at or beyond its protocol limit."""

    parameter: str  # heart_rate | resp_rate | spo2_pct | systolic_bp | temperature_c
    value: float
    limit: float
    message: str  # e.g. "heart rate 140/min ≥ 131/min"


def vital_sign_breaches(
    *,
    thresholds: VitalThresholds,
    age_years: float | None,
    heart_rate: float | None,
    resp_rate: float | None,
    spo2_pct: float | None,
    systolic_bp: float | None,
    temperature_c: float | None,
) -> tuple[Breach, ...]:
    """Return every breach of ``thresholds`` in one set of vitals; None values are skipped."""
    t = thresholds
    found: list[Breach] = []

    def add(parameter: str, label: str, value: float, sign: str, limit: float, unit: str) -> None:
        message = f"{label} {value:g}{unit} {sign} {limit:g}{unit}"
        found.append(Breach(parameter, value, limit, message))

    # The heart- and respiratory-rate limits are adult NEWS2 bands; a child's normal rates
    # are higher (NEWS2 is not for under-16s, ref §8.3), so they apply from 16 years only.
    adult = age_years is None or age_years >= ADULT_LIMITS_MIN_AGE
    if heart_rate is not None and adult:
        hr = require_number("heart_rate", heart_rate, *_HR_RANGE, "/min")
        if hr >= t.heart_rate_high:
            add("heart_rate", "heart rate", hr, "≥", t.heart_rate_high, "/min")
        elif hr <= t.heart_rate_low:
            add("heart_rate", "heart rate", hr, "≤", t.heart_rate_low, "/min")
    if resp_rate is not None and adult:
        rr = require_number("resp_rate", resp_rate, *_RR_RANGE, "/min")
        if rr >= t.resp_rate_high:
            add("resp_rate", "respiratory rate", rr, "≥", t.resp_rate_high, "/min")
        elif rr <= t.resp_rate_low:
            add("resp_rate", "respiratory rate", rr, "≤", t.resp_rate_low, "/min")
    if spo2_pct is not None:
        spo2 = require_number("spo2_pct", spo2_pct, *_SPO2_RANGE, "%")
        if spo2 <= t.spo2_low:
            add("spo2_pct", "SpO2", spo2, "≤", t.spo2_low, "%")
    # Same rule as the CRS hypotension flag, so the alert and the grade never disagree.
    if systolic_bp is not None and is_hypotensive(systolic_bp, age_years, threshold=t.sbp_low):
        limit = t.sbp_low if t.sbp_low is not None else hypotension_threshold_mmhg(age_years)
        add("systolic_bp", "systolic BP", float(systolic_bp), "<", limit, " mmHg")
    if temperature_c is not None:
        temp = require_number("temperature_c", temperature_c, *TEMPERATURE_RANGE_C, "°C")
        if temp >= t.temperature_high:
            message = f"temperature {temp:.1f} °C ≥ {t.temperature_high:.1f} °C"
            found.append(Breach("temperature_c", temp, t.temperature_high, message))
    return tuple(found)

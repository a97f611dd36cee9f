"""Inflammatory-marker rules: rapid rise, HLH-range ferritin and low fibrinogen.

Sources, from the clinical reference §5.1 (labs table) and §4.1 (IEC-HS, Hines et al.,
Transplant Cell Ther 2023). Rule version ``astct-2019.1`` (markers never change an ASTCT grade).

- Rapid rise: the reference gives **no rise factor for CRS**. ``DEFAULT_RISE_FACTOR = 2.0`` is
  the project's template default, echoing IEC-HS's ferritin ">2x baseline and rapidly rising"
  [M] (ref §4.1); each centre must set its own factor and window.
- Ferritin >= 10,000 ng/mL (= µg/L) is highly suggestive of HLH in febrile, unwell patients
  [V: S21] (ref §4.1, §5.1).
- Fibrinogen < 150 mg/dL (1.5 g/L) is the commonly cited IEC-HS hypofibrinogenaemia threshold
  [M] (ref §4.1, §5.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from monitoring.grading.common import require_number

DEFAULT_RISE_FACTOR = 2.0  # template default, not from a guideline: see module docstring
DEFAULT_WINDOW_HOURS = 24
FERRITIN_HLH_NG_ML = 10_000  # >= suggests HLH [V: S21]
FIBRINOGEN_LOW_MG_DL = 150  # < is hypofibrinogenaemia [M]
_MAX_VALUE = 1e7  # above any lab result in these units; larger means a units slip


@dataclass(frozen=True)
class MarkerRise:
    """A rise of one marker between two results, with the sentence shown to staff."""

    previous_value: float
    current_value: float
    ratio: float  # current / previous
    hours_apart: float
    reason: str  # e.g. "ferritin 4,200 → 9,100 ng/mL (×2.2 in 14 h)"


def _require_aware(name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {value!r}")
    # Naive times are ambiguous across DST and between lab and ward clocks.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def marker_rise(
    previous_value: float,
    previous_at: datetime,
    current_value: float,
    current_at: datetime,
    *,
    factor: float,
    window_hours: float = DEFAULT_WINDOW_HOURS,
    marker: str = "marker",
    unit: str = "",
) -> MarkerRise | None:
    """Return the rise if current >= previous x factor within window_hours, else None."""
    # A ratio needs a positive baseline; a result below the detection limit should be passed
    # as that limit, which the caller knows and this library does not.
    previous = require_number("previous_value", previous_value, 0, _MAX_VALUE, unit or "units")
    if previous == 0:
        raise ValueError("previous_value must be greater than 0 to compute a rise ratio")
    current = require_number("current_value", current_value, 0, _MAX_VALUE, unit or "units")
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor > 1:
        raise ValueError(f"factor must be a number greater than 1, got {factor!r}")
    if isinstance(window_hours, bool) or not isinstance(window_hours, int | float):
        raise ValueError(f"window_hours must be a number of hours, got {window_hours!r}")
    if not 0 < window_hours < math.inf:
        raise ValueError(f"window_hours must be greater than 0, got {window_hours!r}")
    start = _require_aware("previous_at", previous_at)
    end = _require_aware("current_at", current_at)
    if end < start:
        raise ValueError("current_at must not be before previous_at")

    hours = (end - start).total_seconds() / 3600
    if hours > window_hours or current < previous * factor:
        return None
    ratio = current / previous
    shown_unit = f" {unit}" if unit else ""
    reason = (
        f"{marker} {previous:,g} → {current:,g}{shown_unit} (×{ratio:.1f} in {round(hours, 1):g} h)"
    )
    return MarkerRise(
        previous_value=previous,
        current_value=current,
        ratio=ratio,
        hours_apart=hours,
        reason=reason,
    )


def ferritin_hlh_alert(ferritin_ng_ml: float) -> bool:
    """Return True when ferritin (ng/mL) is >= 10,000, the HLH-suggestive level."""
    value = require_number("ferritin_ng_ml", ferritin_ng_ml, 0, _MAX_VALUE, "ng/mL")
    return value >= FERRITIN_HLH_NG_ML


def hypofibrinogenaemia(fibrinogen_mg_dl: float) -> bool:
    """Return True when fibrinogen (mg/dL) is below 150, the IEC-HS threshold."""
    value = require_number("fibrinogen_mg_dl", fibrinogen_mg_dl, 0, 10_000, "mg/dL")
    return value < FIBRINOGEN_LOW_MG_DL

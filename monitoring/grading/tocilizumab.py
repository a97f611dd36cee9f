"""Tocilizumab decision support: the usual dose from the weight, and warnings on dose limits.

Source: ASCO guideline (Santomasso et al., J Clin Oncol 2021), clinical reference §7.1
[V: S3 p.6]: 8 mg/kg IV over 1 hour, not to exceed 800 mg per dose; repeat every 8 h as
needed; maximum 3 doses in 24 h and 4 doses in total. Children under 30 kg: 12 mg/kg
[C: S18a, S18b; Actemra label]. Rule version ``asco-2021.1``.

Decision support, not orders: every rule here warns, none blocks. A physician may give a dose
beyond these limits; the app asks for that decision explicitly and records it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

MG_PER_KG = 8.0
MG_PER_KG_UNDER_30_KG = 12.0  # [C: S18a, S18b]
LOW_WEIGHT_KG = 30.0  # "children < 30 kg": 30.0 kg itself takes 8 mg/kg
MAX_DOSE_MG = 800.0  # per dose
MAX_DOSES_PER_24H = 3
MAX_DOSES_TOTAL = 4
REPEAT_INTERVAL = timedelta(hours=8)  # "repeat every 8 h as needed"
WINDOW = timedelta(hours=24)
# A dose above the weight-based one by more than this fraction is flagged as a possible slip
# (5600 typed for 560). Our choice, not the source's: it leaves room for rounding to vial sizes
# (80, 200 and 400 mg vials), which pharmacies do.
ABOVE_USUAL_TOLERANCE = 0.10
WEIGHT_RANGE_KG = (0.3, 350.0)  # as the Patient table's plausibility constraint
TO_MG = {"mg": 1.0, "g": 1000.0, "mcg": 0.001}  # dose units of the Treatment table


@dataclass(frozen=True)
class DoseWarning:
    code: str  # "per_24h" | "total" | "interval" | "max_dose" | "above_usual" | "unit"
    message: str  # the English text: audited, and how a warning the clinician saw is matched
    # The values in the message, for showing it in the reader's language (monitoring/reasons.py).
    params: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


def mg_per_kg(weight_kg: float) -> float:
    """8 mg/kg, or 12 mg/kg under 30 kg (reference §7.1)."""
    _check_weight(weight_kg)
    return MG_PER_KG_UNDER_30_KG if weight_kg < LOW_WEIGHT_KG else MG_PER_KG


def usual_dose_mg(weight_kg: float) -> float:
    """The usual single dose in mg for this weight, at most 800 mg (reference §7.1)."""
    return min(round(weight_kg * mg_per_kg(weight_kg), 1), MAX_DOSE_MG)


def dose_in_mg(dose: float, unit: str) -> float | None:
    """The dose in mg, or None for a unit that is not a mass (e.g. "units")."""
    factor = TO_MG.get(unit)
    return None if factor is None else float(dose) * factor


def dose_limit_warnings(previous_dose_times: Iterable[datetime], at: datetime) -> list[DoseWarning]:
    """Warnings for one more dose at ``at``, given the course's earlier doses (any order).

    A late entry may be given a time before other doses, so every 24-hour window that holds the
    new dose is counted, not only the one ending at ``at``. A window is half-open: doses at
    08:00, 16:00 and 00:00 then 08:00 the next day are at most 3 in any 24 h (the q8h regimen).
    """
    previous = sorted(previous_dose_times)
    doses = sorted([*previous, at])
    warnings = []
    in_24h = max(
        sum(1 for other in doses if start <= other < start + WINDOW)
        for start in doses
        if start <= at < start + WINDOW
    )
    if in_24h > MAX_DOSES_PER_24H:
        warnings.append(
            DoseWarning(
                "per_24h",
                f"This would be dose {in_24h} within 24 hours: the maximum is "
                f"{MAX_DOSES_PER_24H} doses in 24 h (ASCO 2021, reference §7.1).",
                {"dose": in_24h, "maximum": MAX_DOSES_PER_24H},
            )
        )
    if len(doses) > MAX_DOSES_TOTAL:
        warnings.append(
            DoseWarning(
                "total",
                f"This would be dose {len(doses)} of the course: the maximum is "
                f"{MAX_DOSES_TOTAL} doses in total (ASCO 2021, reference §7.1).",
                {"dose": len(doses), "maximum": MAX_DOSES_TOTAL},
            )
        )
    if previous:
        nearest = min(abs(at - other) for other in previous)
        if nearest < REPEAT_INTERVAL:
            hours = round(nearest.total_seconds() / 3600, 1)
            # Under 3 minutes apart reads "0.0 h"; it is the same time as far as anyone can tell.
            when = "at the same time as this one" if hours == 0 else f"{hours:.1f} h from this one"
            warnings.append(
                DoseWarning(
                    "interval",
                    f"Another dose is recorded {when}: doses are repeated "
                    "every 8 h as needed (ASCO 2021, reference §7.1).",
                    {"hours": hours, "same_time": hours == 0},
                )
            )
    return warnings


def dose_size_warnings(dose: float, unit: str, weight_kg: float) -> list[DoseWarning]:
    """Warnings when one dose is above 800 mg or well above the weight-based dose."""
    mg = dose_in_mg(dose, unit)
    if mg is None:
        return [
            DoseWarning(
                "unit", f"Tocilizumab is dosed in mg, not {unit}: check the unit.", {"unit": unit}
            )
        ]
    if not math.isfinite(mg) or mg <= 0:
        raise ValueError(f"dose must be a positive number, got {dose!r}")
    usual = usual_dose_mg(weight_kg)
    if mg > MAX_DOSE_MG:
        return [
            DoseWarning(
                "max_dose",
                f"{mg:g} mg is above the maximum of {MAX_DOSE_MG:g} mg per dose "
                "(ASCO 2021, reference §7.1).",
                {"mg": mg, "maximum": MAX_DOSE_MG},
            )
        ]
    if mg > usual * (1 + ABOVE_USUAL_TOLERANCE):
        return [
            DoseWarning(
                "above_usual",
                f"{mg:g} mg is above the usual dose of {usual:g} mg "
                f"({mg_per_kg(weight_kg):g} mg/kg × {weight_kg:g} kg, reference §7.1).",
                {"mg": mg, "usual": usual, "per_kg": mg_per_kg(weight_kg), "weight": weight_kg},
            )
        ]
    return []


def _check_weight(weight_kg: float) -> None:
    low, high = WEIGHT_RANGE_KG
    if isinstance(weight_kg, bool) or not isinstance(weight_kg, int | float):
        raise ValueError(f"weight_kg must be a number, got {weight_kg!r}")
    if not low <= weight_kg <= high or math.isnan(weight_kg):
        raise ValueError(f"weight_kg must be between {low:g} and {high:g} kg, got {weight_kg!r}")

"""Hypotension by systolic blood pressure, for the CRS hypotension domain.

Source: ASTCT CRS grading (Lee et al. 2019) sets no mmHg cut-off; it grades hypotension by
the treatment it needs, so each centre defines "hypotension" (ref §1.3 [M]). Defaults here
(rule version ``astct-2019.1``), from the clinical reference §1.3:

- adults (age >= 18, or age unknown): SBP < 90 mmHg, the figure adapted ASTCT tables use
  [V: S2a, S2f, S7c];
- children, PALS/ATLS age-based limits [V: S20a, S20b, S20c]:
  term neonate 0-28 days < 60; infant 1-12 months < 70; 1-10 years < 70 + 2 x age in whole
  years; over 10 years < 90 mmHg.

PALS underestimates hypotension over 12 years [V: S20b, S20c], and relative triggers such as
"< 80 % of baseline" [V: S17c] are not modelled: a centre that wants them passes its own
``threshold``.
"""

from __future__ import annotations

import math

from monitoring.grading.common import MAX_AGE_YEARS, SBP_RANGE_MMHG, require_number

ADULT_SBP_THRESHOLD_MMHG = 90
NEONATE_MAX_AGE_YEARS = 28 / 365.25  # PALS "term neonate (0-28 d)" (ref §1.3)
ADULT_AGE_YEARS = 18


def _check_age(age_years: float | None) -> float | None:
    if age_years is None:
        return None
    return require_number("age_years", age_years, 0, MAX_AGE_YEARS, "years")


def hypotension_threshold_mmhg(age_years: float | None, *, protocol_mmhg: int | None = None) -> int:
    """Return the SBP limit in mmHg; hypotension is SBP strictly below it.

    ``protocol_mmhg`` is a centre's own limit (ASTCT sets none, ref §1.3): it wins where given;
    otherwise the age-based limit.
    """
    age = _check_age(age_years)
    if protocol_mmhg:
        return int(require_number("protocol_mmhg", protocol_mmhg, *SBP_RANGE_MMHG, "mmHg"))
    # Age unknown: fall back to the adult limit. Paediatric hypotension without age cannot be
    # graded (ref §1.3, §1.5.7), so callers should pass age whenever the patient is a child.
    if age is None or age >= ADULT_AGE_YEARS:
        return ADULT_SBP_THRESHOLD_MMHG
    if age < NEONATE_MAX_AGE_YEARS:
        return 60
    if age < 1:
        return 70
    # 1-10 years: 70 + 2 x age in whole years. Above 10 the formula would pass 90, and PALS
    # uses 90 from then on, so the cap makes ">10 years: < 90" fall out of the same line.
    return min(70 + 2 * math.floor(age), ADULT_SBP_THRESHOLD_MMHG)


def is_hypotensive(
    systolic_bp: float, age_years: float | None, threshold: float | None = None
) -> bool:
    """Return True when SBP (mmHg) is below the protocol threshold, or the age-based one."""
    sbp = require_number("systolic_bp", systolic_bp, *SBP_RANGE_MMHG, "mmHg")
    _check_age(age_years)  # validated even when a threshold is given, to catch slips early
    if threshold is None:
        limit: float = hypotension_threshold_mmhg(age_years)
    else:
        limit = require_number("threshold", threshold, *SBP_RANGE_MMHG, "mmHg")
    return sbp < limit

"""Pure-Python clinical grading for cartmonitor: plain values in, frozen results out.

Sources: ASTCT consensus grading of CRS and ICANS (Lee et al., Biol Blood Marrow Transplant
2019;25:625-638; reference §1-§2), PALS hypotension limits (§1.3), RCP NEWS2 2017 (§8) and
inflammatory-marker rules (§4.1, §5.1) of /work/shared/clinical/reference.md, and tocilizumab
dosing (ASCO 2021, §7.1). Rule version ``astct-2019.1``. No Django here (enforced by ruff.toml
and tests/unit/test_purity.py).
"""

from monitoring.grading.common import (
    RULE_VERSION,
    CerebralEdema,
    Consciousness,
    ConsciousnessCause,
    MotorWeakness,
    Oxygen,
    Seizure,
)
from monitoring.grading.crs import FEVER_C, CRSInputs, CRSResult, grade_crs
from monitoring.grading.hypotension import hypotension_threshold_mmhg, is_hypotensive
from monitoring.grading.icans import (
    CAPD_ANSWERS,
    CAPD_ITEMS,
    ICE_FROM_AGE_YEARS,
    ICE_ITEMS,
    ICANSInputs,
    ICANSResult,
    ICEItem,
    capd_total,
    grade_icans,
    ice_total,
)
from monitoring.grading.markers import (
    DEFAULT_RISE_FACTOR,
    MarkerRise,
    ferritin_hlh_alert,
    hypofibrinogenaemia,
    marker_rise,
)
from monitoring.grading.news2 import PARAMETER_NAMES as news2_parameter_names
from monitoring.grading.news2 import NEWS2Result, NEWS2Risk, news2
from monitoring.grading.reasons import Reason
from monitoring.grading.thresholds import Breach, VitalThresholds, vital_sign_breaches
from monitoring.grading.tocilizumab import (
    DoseWarning,
    dose_in_mg,
    dose_limit_warnings,
    dose_size_warnings,
    mg_per_kg,
    usual_dose_mg,
)

__all__ = [
    "CAPD_ANSWERS",
    "CAPD_ITEMS",
    "DEFAULT_RISE_FACTOR",
    "FEVER_C",
    "ICE_FROM_AGE_YEARS",
    "ICE_ITEMS",
    "RULE_VERSION",
    "Breach",
    "CRSInputs",
    "CRSResult",
    "CerebralEdema",
    "Consciousness",
    "ConsciousnessCause",
    "DoseWarning",
    "ICANSInputs",
    "ICANSResult",
    "ICEItem",
    "MarkerRise",
    "MotorWeakness",
    "NEWS2Result",
    "NEWS2Risk",
    "Oxygen",
    "Reason",
    "Seizure",
    "VitalThresholds",
    "capd_total",
    "dose_in_mg",
    "dose_limit_warnings",
    "dose_size_warnings",
    "ferritin_hlh_alert",
    "grade_crs",
    "grade_icans",
    "hypofibrinogenaemia",
    "hypotension_threshold_mmhg",
    "ice_total",
    "is_hypotensive",
    "marker_rise",
    "mg_per_kg",
    "news2",
    "news2_parameter_names",
    "usual_dose_mg",
    "vital_sign_breaches",
]

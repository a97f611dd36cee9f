"""Reasons as codes with parameters, so each reader gets them in their own language.

A ``Reason`` is a ``str`` (its English text, so the library's results read as before and
its tests compare plain strings) that also carries a ``code`` and its ``params``. What is
stored is ``as_json()`` — ``{"code": ..., "params": {...}}`` — and the web app renders that
through its translation catalogue (``monitoring/reasons.py``); the English templates below are
the source text and the catalogue's msgids follow them. A parameter may itself be a Reason (a
finding inside "… → grade 3") or a list of them (joined with ", "). The format spec of a
number (``{temperature_c:.1f}``) is also how the web app formats it in another locale.

Source: the wording of the reasons is the grading modules' own (crs.py, icans.py, with their
references to the clinical reference); this module only names each sentence. Criteria names
and units stay as published in every language: ASTCT, ICE, CAPD, CRS, ICANS,
°C, mmHg, L/min.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# code → English template (str.format). tests/web/test_translations.py proves that every code
# has a translated template in every language the app offers.
ENGLISH: Mapping[str, str] = {
    # CRS: what decided, per domain (crs.py)
    "crs.vasopressors_multiple": "multiple vasopressors ({count}; vasopressin not counted)",
    "crs.vasopressor_one": "one vasopressor",
    "crs.vasopressor_one_plus_vasopressin": (
        "one vasopressor plus vasopressin (not counted toward multiple)"
    ),
    "crs.vasopressin_alone": "vasopressin alone, read as one vasopressor",
    "crs.hypotension": "hypotension not requiring vasopressors",
    "crs.airway_only": (
        "{device} for airway protection or a procedure only, not counted as hypoxia"
    ),
    "crs.hypoxia_positive_pressure": "hypoxia on {device} (positive pressure)",
    "crs.hypoxia": "hypoxia on {device}",
    "crs.hypoxia_flow": "hypoxia on {device} {flow:g} L/min",
    "crs.hypoxia_flow_is_high": (
        "hypoxia on {device} {flow:g} L/min, more than {low_flow_max:g} L/min is high flow"
    ),
    "crs.hypoxia_blow_by": "hypoxia on {device} (blow-by counts as low flow)",
    "crs.hypoxia_blow_by_flow": "hypoxia on {device} {flow:g} L/min (blow-by counts as low flow)",
    "crs.hypoxia_no_flow": "hypoxia on {device}, flow not recorded",
    "crs.sourced": "{finding} ({source})",
    "crs.fever": "fever {temperature_c:.1f} °C",
    "crs.fever_masked": (
        "fever masked by antipyretic/anti-cytokine therapy after a documented fever"
    ),
    "crs.fever_grade_1": "{fever} → grade 1",
    "crs.no_hypotension_no_hypoxia": "no hypotension and no hypoxia needing oxygen",
    "crs.finding_grade": "{finding} → grade {grade}",
    "crs.fever_met": "{fever}: ASTCT fever criterion met",
    "crs.no_temperature": "no current temperature",
    "crs.no_fever": "no fever ({temperature_c:.1f} °C)",
    "crs.no_fever_at": "no fever ({temperature_c:.1f} °C {source})",
    "crs.no_crs": "{seen} and no masked fever → no CRS: ASTCT requires fever",
    "crs.finding_if_fever": "{finding} (grade {grade} if the fever criterion were met)",
    # CRS: oxygen devices
    "device.blow_by": "blow-by oxygen",
    "device.low_flow": "low-flow oxygen",
    "device.high_flow": "high-flow nasal cannula",
    "device.facemask": "facemask",
    "device.nonrebreather": "non-rebreather mask",
    "device.venturi": "Venturi mask",
    "device.cpap": "CPAP",
    "device.bipap": "BiPAP",
    "device.mechanical_ventilation": "mechanical ventilation",
    # CRS: calls left to a clinician
    "crs.review.vasopressin_alone": (
        "vasopressin without another vasopressor is not settled by ASTCT; graded 3 on a "
        "literal reading, a clinician must confirm (ref §1.5.1)"
    ),
    "crs.review.airway_only": (
        "positive pressure without hypoxia is not CRS grade 4 by our reading of ASTCT, which "
        "the reference could not confirm; a clinician must confirm (ref §1.2.8, §1.5.6)"
    ),
    "crs.review.high_flow_low_rate": (
        "high-flow device recorded at {flow:g} L/min: device and flow disagree; graded 3 by "
        "the device, a clinician must confirm (ref §1.2.6)"
    ),
    "crs.review.blow_by_high_rate": (
        "blow-by at {flow:g} L/min: ASTCT calls blow-by low flow but more than 6 L/min high "
        "flow; a clinician must confirm (ref §1.5.5)"
    ),
    "crs.review.low_flow_no_rate": (
        "low-flow oxygen without a recorded flow: grade 2 assumes <= 6 L/min; record the flow "
        "(ref §1.5.5)"
    ),
    "crs.review.masked_no_signs": (
        "masked fever with no hypotension and no hypoxia: whether CRS is ongoing is a clinical "
        "call (ref §1.5.4)"
    ),
    "crs.review.defervescence": (
        "fever documented earlier but not now, without antipyretic or anti-cytokine therapy "
        "(spontaneous defervescence), while hypotensive or hypoxic: the masked-fever rule does "
        "not strictly apply (ref §1.5.2)"
    ),
    "crs.review.therapy_without_fever": (
        "antipyretic or anti-cytokine therapy without a documented fever (e.g. premedication, "
        "prophylactic tocilizumab) may hide fever (ref §1.5.3)"
    ),
    "crs.review.no_temperature": (
        "no current temperature while hypotensive or hypoxic: the fever criterion cannot be "
        "checked (ref §1.2.1)"
    ),
    # ICANS (icans.py)
    "icans.consciousness.alert": "alert",
    "icans.consciousness.awakens_spontaneously": "awakens spontaneously",
    "icans.consciousness.awakens_to_voice": "awakens only to voice",
    "icans.consciousness.awakens_to_touch": "awakens only to touch",
    "icans.consciousness.unarousable": "unarousable",
    "icans.seizure.none": "no seizure",
    "icans.seizure.resolved_rapidly": "seizure that resolved rapidly",
    "icans.seizure.prolonged_or_repetitive": "prolonged (> 5 min) or repetitive seizures",
    "icans.motor.none": "no motor weakness",
    "icans.motor.deep_focal": "deep focal motor weakness (e.g. hemiparesis)",
    "icans.edema.none": "no cerebral oedema",
    "icans.edema.focal": "focal cerebral oedema on imaging",
    "icans.edema.diffuse": "diffuse cerebral oedema",
    "icans.cause.sedation": "sedation",
    "icans.cause.post_ictal": "a post-ictal state",
    "icans.cause.other": "another cause: {text}",
    "icans.screen_not_assessable": "ICE/CAPD not assessable",
    "icans.screen_not_assessed": "ICE/CAPD not assessed",
    "icans.ice": "ICE {score}/{maximum}",
    "icans.ice_unarousable": "ICE {score}/{maximum}, unarousable",
    "icans.capd": "CAPD {score}/{maximum}",
    "icans.capd_positive": "CAPD {score}/{maximum} (>= {positive}, delirium screen positive)",
    "icans.unable_unarousable": "unable to perform ICE/CAPD, unarousable",
    "icans.attributed": "{consciousness} (attributed to {cause}, not ICANS)",
    "icans.no_icans": "{findings} → no ICANS",
    "icans.no_icans_assessed": "{findings} → no ICANS on the assessed domains",
    "icans.finding_grade": "{finding} → grade {grade}",
    "icans.review.attributed": (
        "depressed consciousness ({consciousness}) attributed to {cause}: ASTCT grades it only "
        "when not attributable to another cause, so consciousness is not graded and the "
        "ICE/CAPD is not assessable; seizure, motor and oedema are still graded — a clinician "
        "must confirm (ref §2.2 †)"
    ),
    "icans.review.not_assessed": (
        "ICE/CAPD not assessed — sedation, intubation or a language barrier are not ICANS by "
        "themselves; a clinician must confirm"
    ),
    # The course's state at a moment (monitoring/timeline.py): when each value was measured,
    # what was missing or stale. {label} is a time as "D+3 14:00" in the unit's zone.
    "age.min": "{minutes} min",
    "age.h": "{hours} h",
    "age.h_min": "{hours} h {minutes:02d} min",
    "age.d": "{days} d",
    "age.d_h": "{days} d {hours} h",
    "when.this_check": "at {label}, this check",
    "when.old": "at {label}, {age} old",
    "source.sbp": "SBP {sbp} mmHg {when}",
    "source.recorded": "recorded {when}",
    "source.running_since": "since {label}, last confirmed {when}",
    "source.first_fever": "first fever of the episode {label}",
    "source.and_first_fever": "{source}; first fever of the episode {label}",
    "note.temperature_stale": (
        "temperature not measured since {label} ({age}) — fever now not assessed"
    ),
    "note.no_temperature": "no temperature recorded since day 0 — fever now not assessed",
    "note.sbp_stale": (
        "blood pressure not measured since {label} ({age}) — hypotension not assessed"
    ),
    "note.no_sbp": "no blood pressure recorded since day 0 — hypotension not assessed",
    "note.no_support": "oxygen support not recorded since day 0 — hypoxia not assessed",
    "note.support_stale_room_air": (
        "oxygen support last recorded {label} ({age}) — room air assumed"
    ),
    "note.crs_not_assessed": (
        "no temperature or blood pressure within the protocol's window — CRS not assessed: "
        "record vital signs"
    ),
    "note.neuro": "neuro assessment {when}",
    "note.neuro_stale": (
        "neuro assessment {when} — stale: older than the protocol's neuro interval; reassess"
    ),
    "review.support_stale": (
        "oxygen/vasopressors last confirmed {label} ({age} ago): graded as still running; "
        "re-confirm what is running now"
    ),
    "review.masked_after_long_therapy": (
        "afebrile new hypotension or hypoxia {age} after {drug} ({label}), which can suppress "
        "fever for days: graded as CRS by the masked-fever rule; a clinician must confirm "
        "(ref §1.2.2)"
    ),
    "review.screen_for_age": (
        "{tool} recorded at {label} for a patient whose age that day calls for the {due} "
        "(date of birth corrected since?): graded as scored; a clinician must confirm "
        "(ref §2.3)"
    ),
}


class Reason(str):
    """English text that also carries its code and parameters (see the module docstring)."""

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, **params: Any) -> Reason:
        text = ENGLISH[code].format(**{name: _english(value) for name, value in params.items()})
        reason = super().__new__(cls, text)
        reason.code, reason.params = code, params
        return reason

    def __getnewargs_ex__(self):  # copy and pickle rebuild it from its code, not its text
        return (self.code,), self.params

    def as_json(self) -> dict[str, Any]:
        """``{"code": ..., "params": {...}}`` with nested reasons as the same, for JSON."""
        return {"code": self.code, "params": {k: to_json(v) for k, v in self.params.items()}}


def _english(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ", ".join(value)
    return value


def to_json(value: Any) -> Any:
    """A reason, a list of them or a plain value as it is stored (a plain str stays a str)."""
    if isinstance(value, Reason):
        return value.as_json()
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    return value

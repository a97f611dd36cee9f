"""Grade reasons in the reader's language: the one place a stored reason becomes text.

The grading library (monitoring/grading/reasons.py) gives each reason a code and parameters;
snapshots store them as ``{"code": ..., "params": {...}}``. ``render`` turns one (or a list)
into text through this table of translatable templates, in the active language; numbers follow
the locale (38,4 °C in Spanish) with the precision the library's English template gives them.
Rows written before reasons had codes hold plain English strings: they are shown as they are.
tests/web/test_translations.py proves every code has a template here and in each catalogue.
Criteria names (ASTCT, ICE, CAPD, CRS, ICANS) and units (°C, mmHg, L/min) stay as published.
"""

from __future__ import annotations

import string
from typing import Any

from django.utils.formats import get_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from monitoring.grading.reasons import ENGLISH

TEMPLATES = {
    "crs.vasopressors_multiple": _("multiple vasopressors (%(count)s; vasopressin not counted)"),
    "crs.vasopressor_one": _("one vasopressor"),
    "crs.vasopressor_one_plus_vasopressin": _(
        "one vasopressor plus vasopressin (not counted toward multiple)"
    ),
    "crs.vasopressin_alone": _("vasopressin alone, read as one vasopressor"),
    "crs.hypotension": _("hypotension not requiring vasopressors"),
    "crs.airway_only": _(
        "%(device)s for airway protection or a procedure only, not counted as hypoxia"
    ),
    "crs.hypoxia_positive_pressure": _("hypoxia on %(device)s (positive pressure)"),
    "crs.hypoxia": _("hypoxia on %(device)s"),
    "crs.hypoxia_flow": _("hypoxia on %(device)s %(flow)s L/min"),
    "crs.hypoxia_flow_is_high": _(
        "hypoxia on %(device)s %(flow)s L/min, more than %(low_flow_max)s L/min is high flow"
    ),
    "crs.hypoxia_blow_by": _("hypoxia on %(device)s (blow-by counts as low flow)"),
    "crs.hypoxia_blow_by_flow": _(
        "hypoxia on %(device)s %(flow)s L/min (blow-by counts as low flow)"
    ),
    "crs.hypoxia_no_flow": _("hypoxia on %(device)s, flow not recorded"),
    "crs.sourced": _("%(finding)s (%(source)s)"),
    "crs.fever": _("fever %(temperature_c)s °C"),
    "crs.fever_masked": _(
        "fever masked by antipyretic/anti-cytokine therapy after a documented fever"
    ),
    "crs.fever_grade_1": _("%(fever)s → grade 1"),
    "crs.no_hypotension_no_hypoxia": _("no hypotension and no hypoxia needing oxygen"),
    "crs.finding_grade": _("%(finding)s → grade %(grade)s"),
    "crs.fever_met": _("%(fever)s: ASTCT fever criterion met"),
    "crs.no_temperature": _("no current temperature"),
    "crs.no_fever": _("no fever (%(temperature_c)s °C)"),
    "crs.no_fever_at": _("no fever (%(temperature_c)s °C %(source)s)"),
    "crs.no_crs": _("%(seen)s and no masked fever → no CRS: ASTCT requires fever"),
    "crs.finding_if_fever": _("%(finding)s (grade %(grade)s if the fever criterion were met)"),
    "device.blow_by": _("blow-by oxygen"),
    "device.low_flow": _("low-flow oxygen"),
    "device.high_flow": _("high-flow nasal cannula"),
    "device.facemask": _("facemask"),
    "device.nonrebreather": _("non-rebreather mask"),
    "device.venturi": _("Venturi mask"),
    "device.cpap": _("CPAP"),
    "device.bipap": _("BiPAP"),
    "device.mechanical_ventilation": _("mechanical ventilation"),
    "crs.review.vasopressin_alone": _(
        "vasopressin without another vasopressor is not settled by ASTCT; graded 3 on a "
        "literal reading, a clinician must confirm (ref §1.5.1)"
    ),
    "crs.review.airway_only": _(
        "positive pressure without hypoxia is not CRS grade 4 by our reading of ASTCT, "
        "which the reference could not confirm; a clinician must confirm (ref §1.2.8, "
        "§1.5.6)"
    ),
    "crs.review.high_flow_low_rate": _(
        "high-flow device recorded at %(flow)s L/min: device and flow disagree; graded 3 "
        "by the device, a clinician must confirm (ref §1.2.6)"
    ),
    "crs.review.blow_by_high_rate": _(
        "blow-by at %(flow)s L/min: ASTCT calls blow-by low flow but more than 6 L/min "
        "high flow; a clinician must confirm (ref §1.5.5)"
    ),
    "crs.review.low_flow_no_rate": _(
        "low-flow oxygen without a recorded flow: grade 2 assumes <= 6 L/min; record the "
        "flow (ref §1.5.5)"
    ),
    "crs.review.masked_no_signs": _(
        "masked fever with no hypotension and no hypoxia: whether CRS is ongoing is a "
        "clinical call (ref §1.5.4)"
    ),
    "crs.review.defervescence": _(
        "fever documented earlier but not now, without antipyretic or anti-cytokine "
        "therapy (spontaneous defervescence), while hypotensive or hypoxic: the "
        "masked-fever rule does not strictly apply (ref §1.5.2)"
    ),
    "crs.review.therapy_without_fever": _(
        "antipyretic or anti-cytokine therapy without a documented fever (e.g. "
        "premedication, prophylactic tocilizumab) may hide fever (ref §1.5.3)"
    ),
    "crs.review.no_temperature": _(
        "no current temperature while hypotensive or hypoxic: the fever criterion cannot "
        "be checked (ref §1.2.1)"
    ),
    "icans.consciousness.alert": _("alert"),
    "icans.consciousness.awakens_spontaneously": _("awakens spontaneously"),
    "icans.consciousness.awakens_to_voice": _("awakens only to voice"),
    "icans.consciousness.awakens_to_touch": _("awakens only to touch"),
    "icans.consciousness.unarousable": _("unarousable"),
    "icans.seizure.none": _("no seizure"),
    "icans.seizure.resolved_rapidly": _("seizure that resolved rapidly"),
    "icans.seizure.prolonged_or_repetitive": _("prolonged (> 5 min) or repetitive seizures"),
    "icans.motor.none": _("no motor weakness"),
    "icans.motor.deep_focal": _("deep focal motor weakness (e.g. hemiparesis)"),
    "icans.edema.none": _("no cerebral oedema"),
    "icans.edema.focal": _("focal cerebral oedema on imaging"),
    "icans.edema.diffuse": _("diffuse cerebral oedema"),
    "icans.cause.sedation": _("sedation"),
    "icans.cause.post_ictal": _("a post-ictal state"),
    "icans.cause.other": _("another cause: %(text)s"),
    "icans.screen_not_assessable": _("ICE/CAPD not assessable"),
    "icans.screen_not_assessed": _("ICE/CAPD not assessed"),
    "icans.ice": _("ICE %(score)s/%(maximum)s"),
    "icans.ice_unarousable": _("ICE %(score)s/%(maximum)s, unarousable"),
    "icans.capd": _("CAPD %(score)s/%(maximum)s"),
    "icans.capd_positive": _(
        "CAPD %(score)s/%(maximum)s (>= %(positive)s, delirium screen positive)"
    ),
    "icans.unable_unarousable": _("unable to perform ICE/CAPD, unarousable"),
    "icans.attributed": _("%(consciousness)s (attributed to %(cause)s, not ICANS)"),
    "icans.no_icans": _("%(findings)s → no ICANS"),
    "icans.no_icans_assessed": _("%(findings)s → no ICANS on the assessed domains"),
    "icans.finding_grade": _("%(finding)s → grade %(grade)s"),
    "icans.review.attributed": _(
        "depressed consciousness (%(consciousness)s) attributed to %(cause)s: ASTCT "
        "grades it only when not attributable to another cause, so consciousness is not "
        "graded and the ICE/CAPD is not assessable; seizure, motor and oedema are still "
        "graded — a clinician must confirm (ref §2.2 †)"
    ),
    "icans.review.not_assessed": _(
        "ICE/CAPD not assessed — sedation, intubation or a language barrier are not ICANS "
        "by themselves; a clinician must confirm"
    ),
    "age.min": _("%(minutes)s min"),
    "age.h": _("%(hours)s h"),
    "age.h_min": _("%(hours)s h %(minutes)s min"),
    "age.d": _("%(days)s d"),
    "age.d_h": _("%(days)s d %(hours)s h"),
    "when.this_check": _("at %(label)s, this check"),
    "when.old": _("at %(label)s, %(age)s old"),
    "source.sbp": _("SBP %(sbp)s mmHg %(when)s"),
    "source.recorded": _("recorded %(when)s"),
    "source.running_since": _("since %(label)s, last confirmed %(when)s"),
    "source.first_fever": _("first fever of the episode %(label)s"),
    "source.and_first_fever": _("%(source)s; first fever of the episode %(label)s"),
    "note.temperature_stale": _(
        "temperature not measured since %(label)s (%(age)s) — fever now not assessed"
    ),
    "note.no_temperature": _("no temperature recorded since day 0 — fever now not assessed"),
    "note.sbp_stale": _(
        "blood pressure not measured since %(label)s (%(age)s) — hypotension not assessed"
    ),
    "note.no_sbp": _("no blood pressure recorded since day 0 — hypotension not assessed"),
    "note.no_support": _("oxygen support not recorded since day 0 — hypoxia not assessed"),
    "note.support_stale_room_air": _(
        "oxygen support last recorded %(label)s (%(age)s) — room air assumed"
    ),
    "note.crs_not_assessed": _(
        "no temperature or blood pressure within the protocol's window — CRS not "
        "assessed: record vital signs"
    ),
    "note.neuro": _("neuro assessment %(when)s"),
    "note.neuro_stale": _(
        "neuro assessment %(when)s — stale: older than the protocol's neuro interval; reassess"
    ),
    "review.support_stale": _(
        "oxygen/vasopressors last confirmed %(label)s (%(age)s ago): graded as still "
        "running; re-confirm what is running now"
    ),
    "review.masked_after_long_therapy": _(
        "afebrile new hypotension or hypoxia %(age)s after %(drug)s (%(label)s), which "
        "can suppress fever for days: graded as CRS by the masked-fever rule; a clinician "
        "must confirm (ref §1.2.2)"
    ),
    "review.screen_for_age": _(
        "%(tool)s recorded at %(label)s for a patient whose age that day calls for the "
        "%(due)s (date of birth corrected since?): graded as scored; a clinician must "
        "confirm (ref §2.3)"
    ),
}

# The format spec of each number parameter in the English template, e.g. {"temperature_c":
# ".1f"}: the same precision in every language.
_SPECS = {
    code: {field: spec for _, field, spec, _ in string.Formatter().parse(text) if field}
    for code, text in ENGLISH.items()
}


def _number(value: int | float, spec: str) -> str:
    text = format(value, spec)
    decimal, thousands = get_format("DECIMAL_SEPARATOR"), get_format("THOUSAND_SEPARATOR")
    return "".join(decimal if c == "." else thousands if c == "," else c for c in text)


def render(value: Any, *, _spec: str = "") -> str:
    """A stored reason (dict), a list of them, or an old row's plain text, as text now."""
    if isinstance(value, dict) and "code" in value:
        code, params = value["code"], value.get("params") or {}
        template = TEMPLATES.get(code)
        if template is None:  # a code from a newer release than this one: say it plainly
            return code
        specs = _SPECS[code]
        return str(template) % {
            name: render(param, _spec=specs.get(name, "")) for name, param in params.items()
        }
    if isinstance(value, list | tuple):
        return ", ".join(render(item) for item in value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return _number(value, _spec)


def render_all(values) -> list[str]:
    """Each reason of a stored list, as text in the active language."""
    return [render(value) for value in values or ()]


# NEWS2's parameters by grading.news2's names (its PARAMETER_NAMES are the English), for "not
# recorded at this check" (RCP 2017 Chart 1); the score's name stays as published.
NEWS2_PARAMETERS = {
    "respiration_rate": _("respiration rate"),
    "spo2_pct": _("SpO₂"),
    "on_oxygen": _("air or oxygen"),
    "systolic_bp": _("systolic blood pressure"),
    "pulse": _("pulse"),
    "consciousness_alert": _("consciousness"),
    "temperature_c": _("temperature"),
}


def news2_missing(names) -> list[str]:
    """The missing NEWS2 parameters as words in the reader's language."""
    return [str(NEWS2_PARAMETERS.get(name, name)) for name in names]


# NEWS2's clinical risk band (grading.news2.NEWS2Risk, stored on GradeSnapshot.news2_risk) as a
# word in the reader's language; the score's name stays as published.
NEWS2_RISKS = {
    "low": pgettext_lazy("NEWS2 risk", "low"),
    "low-medium": pgettext_lazy("NEWS2 risk", "low-medium"),
    "medium": pgettext_lazy("NEWS2 risk", "medium"),
    "high": pgettext_lazy("NEWS2 risk", "high"),
}


def news2_risk(code: str) -> str:
    """A stored NEWS2 risk band as a word in the reader's language (an unknown one as stored)."""
    return str(NEWS2_RISKS.get(code, code))


# Tocilizumab dose warnings (grading.tocilizumab.DoseWarning) by code, with the format of each
# number; the English stays the library's own text (what is audited and matched when saving).
DOSE_WARNINGS = {
    "per_24h": (
        _(
            "This would be dose %(dose)s within 24 hours: the maximum is %(maximum)s doses in "
            "24 h (ASCO 2021, reference §7.1)."
        ),
        {"dose": "d", "maximum": "d"},
    ),
    "total": (
        _(
            "This would be dose %(dose)s of the course: the maximum is %(maximum)s doses in "
            "total (ASCO 2021, reference §7.1)."
        ),
        {"dose": "d", "maximum": "d"},
    ),
    "interval": (
        _(
            "Another dose is recorded %(hours)s h from this one: doses are repeated every 8 h "
            "as needed (ASCO 2021, reference §7.1)."
        ),
        {"hours": ".1f"},
    ),
    "interval_same_time": (
        _(
            "Another dose is recorded at the same time as this one: doses are repeated every "
            "8 h as needed (ASCO 2021, reference §7.1)."
        ),
        {},
    ),
    "unit": (_("Tocilizumab is dosed in mg, not %(unit)s: check the unit."), {}),
    "max_dose": (
        _("%(mg)s mg is above the maximum of %(maximum)s mg per dose (ASCO 2021, reference §7.1)."),
        {"mg": "g", "maximum": "g"},
    ),
    "above_usual": (
        _(
            "%(mg)s mg is above the usual dose of %(usual)s mg (%(per_kg)s mg/kg × %(weight)s "
            "kg, reference §7.1)."
        ),
        {"mg": "g", "usual": "g", "per_kg": "g", "weight": "g"},
    ),
}


def dose_warning(warning) -> str:
    """A tocilizumab dose warning in the reader's language (its English message if unknown)."""
    code = warning.code
    if code == "interval" and warning.params.get("same_time"):  # the library's own call
        code = "interval_same_time"
    if code not in DOSE_WARNINGS or not warning.params:
        return warning.message
    template, specs = DOSE_WARNINGS[code]
    return str(template) % {
        name: _number(value, specs[name]) if name in specs else str(value)
        for name, value in warning.params.items()
        if name != "same_time"
    }

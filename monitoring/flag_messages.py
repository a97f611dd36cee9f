"""Flags and "what to do now" in the reader's language.

flag_rules.py imports no Django, so it writes English: ``Flag.message`` (it de-duplicates and
goes out in notifications) and the advice texts. Grade flags also carry their message as a
code and parameters (``Flag.message_data``, from ``FlagSpec.data``); ``render`` turns that into
text through the translatable templates below, the nested grade reasons through
monitoring/reasons.py. ``localize_advice`` gives the default advice texts (FLAG_ADVICE, the
ASCO defaults per grade, the review advice) in the reader's language; a centre's own protocol
wording is shown as written.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from monitoring import flag_rules, reasons

TEMPLATES = {
    "flag.grade": _("%(domain)s grade %(grade)s: %(why)s"),
    "flag.grade_confirmed": _(
        "%(domain)s grade %(grade)s: confirmed by a clinician (computed %(computed)s: %(why)s)"
    ),
    "flag.needs_review": _("Confirm the grade: %(reasons)s"),
    "flag.confirmation_overtaken": _(
        "%(domain)s at %(at)s: computed grade changed %(before)s → %(after)s after a late "
        "entry; the confirmed grade %(confirmed)s needs a clinician's second look"
    ),
    # NEWS2 (flag_rules._news2_headline); the score's name stays as published.
    "flag.news2": _("NEWS2 %(total)s (%(risk)s risk): %(response)s"),
    "flag.news2_incomplete": _(
        "NEWS2 at least %(total)s from an incomplete set (%(missing)s not recorded) "
        "(%(risk)s risk or higher): %(response)s"
    ),
    "news2.risk.low": pgettext_lazy("NEWS2 risk", "low"),
    "news2.risk.low-medium": pgettext_lazy("NEWS2 risk", "low-medium"),
    "news2.risk.medium": pgettext_lazy("NEWS2 risk", "medium"),
    "news2.risk.high": pgettext_lazy("NEWS2 risk", "high"),
    "news2.response.low": _(
        "Registered nurse assesses and decides observation frequency (at least 4-6-hourly) "
        "or escalation."
    ),
    "news2.response.low-medium": _(
        "Inform the medical team, who review and decide on escalation; observations at least "
        "1-hourly."
    ),
    "news2.response.medium": _(
        "Urgent response: immediately inform the medical team; urgent assessment by a "
        "clinician competent in acute illness, in a monitored setting; observations at least "
        "1-hourly."
    ),
    "news2.response.high": _(
        "Emergency response: registrar or above; emergency assessment by a critical-care "
        "team, consider level 2/3 care; continuous monitoring."
    ),
    **{f"news2.parameter.{name}": text for name, text in reasons.NEWS2_PARAMETERS.items()},
    # Vital signs outside the protocol's thresholds (grading.vital_sign_breaches).
    "flag.vital_sign": _("Outside protocol thresholds: %(breaches)s"),
    "vital.heart_rate": _("heart rate %(value)s/min %(sign)s %(limit)s/min"),
    "vital.resp_rate": _("respiratory rate %(value)s/min %(sign)s %(limit)s/min"),
    "vital.spo2_pct": _("SpO2 %(value)s%% %(sign)s %(limit)s%%"),
    "vital.systolic_bp": _("systolic BP %(value)s mmHg %(sign)s %(limit)s mmHg"),
    "vital.temperature_c": _("temperature %(value)s °C %(sign)s %(limit)s °C"),
    # Markers (flag_rules.marker_flags).
    "flag.marker": _("Markers: %(findings)s"),
    "marker.rise.crp_mg_l": _("CRP %(previous)s → %(current)s mg/L (×%(ratio)s in %(hours)s h)"),
    "marker.rise.ferritin_ng_ml": _(
        "ferritin %(previous)s → %(current)s ng/mL (×%(ratio)s in %(hours)s h)"
    ),
    "marker.ferritin_hlh": _(
        "ferritin %(ferritin)s ng/mL ≥ %(limit)s (suggests HLH-like syndrome)"
    ),
    "marker.fibrinogen_low": _("fibrinogen %(fibrinogen)s mg/dL < 150"),
    # Symptoms ticked at the bedside.
    "flag.crs_symptom": _("CRS symptoms: %(symptoms)s"),
    "flag.neuro_symptom": _("Neurological symptoms: %(symptoms)s"),
    "symptom.fever": pgettext_lazy("symptom", "fever"),
    "symptom.low_blood_pressure": pgettext_lazy("symptom", "low blood pressure"),
    "symptom.fatigue": pgettext_lazy("symptom", "fatigue"),
    "symptom.breathing_difficulty": pgettext_lazy("symptom", "breathing difficulty"),
    "symptom.confusion": pgettext_lazy("symptom", "confusion"),
    "symptom.headache": pgettext_lazy("symptom", "headache"),
    "symptom.tremor": pgettext_lazy("symptom", "tremor"),
    "symptom.difficulty_speaking": pgettext_lazy("symptom", "difficulty speaking"),
    # Deterioration (flag_rules.deterioration_flags); devices and seizures are the model's
    # choices, shown by their labels in the reader's language.
    "flag.oxygen_need_new": _("New oxygen need: %(was)s → %(now)s"),
    "flag.oxygen_need_escalating": _("Escalating oxygen need: %(was)s → %(now)s"),
    "oxygen.not_recorded": _("oxygen not recorded"),
    "oxygen.device": "%(device)s",
    "oxygen.device_flow": "%(device)s %(flow)s L/min",
    "oxygen.device_airway": _("%(device)s (airway protection only)"),
    "oxygen.device_flow_airway": _("%(device)s %(flow)s L/min (airway protection only)"),
    "flag.hypotension": _("New hypotension: SBP %(sbp)s mmHg at %(at)s"),
    "flag.vasopressor": _("Vasopressor started or added: %(pressors)s"),
    "flag.neuro_decline.ice": _("ICE worse: %(before)s → %(now)s /10"),
    "flag.neuro_decline.capd": _("CAPD worse: %(before)s → %(now)s /32"),
    "flag.seizure": _("Seizure: %(seizure)s"),
    # Infection prevention (flag_rules.neutropenic_fever_flags, prophylaxis_flags, igg_flags);
    # prophylaxis names are the protocol's, shown as written.
    "flag.neutropenic_fever": _(
        "Neutropenic fever: %(temp)s °C at %(temp_at)s with ANC %(anc)s ×10⁹/L at %(anc_at)s "
        "(below %(limit)s) — not only CRS: start the neutropenic-fever pathway (cultures, "
        "empiric antibiotics)"
    ),
    "flag.prophylaxis": _("Prophylaxis: %(findings)s"),
    "prophylaxis.due": _("%(item)s due since %(since)s, not started"),
    "prophylaxis.lapsed": _(
        "%(item)s stopped %(stopped)s, before its planned end (%(end)s), no reason"
    ),
    "flag.igg_low": _(
        "IgG %(igg)s mg/dL on %(at)s is below %(limit)s mg/dL and no immunoglobulin "
        "replacement is planned"
    ),
    # Home monitoring (home_rules.home_neuro_flag): the screen's items as the caregiver saw them.
    "flag.home_confusion": _("Reported at home by the %(who)s: %(findings)s"),
    "home.who.patient": pgettext_lazy("reported at home by the", "patient"),
    "home.who.caregiver": pgettext_lazy("reported at home by the", "caregiver"),
    "home.screen_wrong": _("guided screen answered wrongly: %(items)s"),
    "home.screen.year": pgettext_lazy("home screen item", "year"),
    "home.screen.month": pgettext_lazy("home screen item", "month"),
    "home.screen.place": pgettext_lazy("home screen item", "place"),
    "home.screen.naming": pgettext_lazy("home screen item", "naming three objects"),
    "home.screen.command": pgettext_lazy("home screen item", "following a command"),
    "home.screen.counting": pgettext_lazy("home screen item", "counting back by tens"),
    # A missed home check-in (flag_rules.home_missed_flags); "many" is two or more in a row.
    "flag.home_missed": _("Home check-in missed: due %(due)s, not done within %(grace)s min"),
    "flag.home_missed_many": _(
        "%(count)s home check-ins missed in a row (none within %(grace)s min): the first due "
        "%(due)s, the latest %(latest)s"
    ),
    "flag.igg_policy": _(
        "Immunoglobulin replacement is the protocol's policy for every patient on "
        "%(product)s; none is planned"
    ),
}

# Templates whose form follows a count (the parameter "count").
PLURALS = {
    "pressors": lambda n: ngettext("%(count)s vasopressor", "%(count)s vasopressors", n),
    "pressors.vasopressin": lambda n: ngettext(
        "%(count)s vasopressor + vasopressin", "%(count)s vasopressors + vasopressin", n
    ),
}

# Choices by their stored value: the model field whose labels are shown.
CHOICES = {
    "choice.oxygen_support": ("VitalSigns", "oxygen_support"),
    "choice.seizure": ("NeuroAssessment", "seizure"),
}

# The format of each number parameter, as the English message writes it (flag_rules).
SPECS = {
    "vital.heart_rate": {"value": "g", "limit": "g"},
    "vital.resp_rate": {"value": "g", "limit": "g"},
    "vital.spo2_pct": {"value": "g", "limit": "g"},
    "vital.systolic_bp": {"value": "g", "limit": "g"},
    "vital.temperature_c": {"value": ".1f", "limit": ".1f"},
    "marker.rise.crp_mg_l": {"previous": ",g", "current": ",g", "ratio": ".1f", "hours": "g"},
    "marker.rise.ferritin_ng_ml": {
        "previous": ",g",
        "current": ",g",
        "ratio": ".1f",
        "hours": "g",
    },
    "marker.ferritin_hlh": {"ferritin": ",.0f", "limit": ",.0f"},
    "marker.fibrinogen_low": {"fibrinogen": ".0f"},
    "oxygen.device_flow": {"flow": "g"},
    "oxygen.device_flow_airway": {"flow": "g"},
    "flag.neutropenic_fever": {"temp": ".1f", "anc": "g", "limit": "g"},
    "flag.igg_low": {"igg": "g", "limit": "g"},
}

# How a list parameter reads (default "; ", as a flag's reasons).
JOINS = {
    ("flag.news2_incomplete", "missing"): ", ",
    ("flag.crs_symptom", "symptoms"): ", ",
    ("flag.neuro_symptom", "symptoms"): ", ",
    ("home.screen_wrong", "items"): ", ",
}


def codes() -> set[str]:
    """Every code this table renders."""
    return {*TEMPLATES, *PLURALS, *CHOICES}


def render(data: dict[str, Any]) -> str:
    """A flag's message_data as text in the active language."""
    code = data.get("code")
    if code not in TEMPLATES and code not in PLURALS and code not in CHOICES:
        return str(code)  # a code from a newer release: say it plainly
    return _render(data)


def _render(value: Any, *, code: str = "", name: str = "") -> str:
    if isinstance(value, dict) and "code" in value:
        inner, params = value["code"], value.get("params") or {}
        if inner in CHOICES:
            return _choice_label(inner, params.get("value"))
        if inner not in TEMPLATES and inner not in PLURALS:  # a grade reason (reasons.py)
            return reasons.render(value)
        shown = {key: _render(param, code=inner, name=key) for key, param in params.items()}
        if inner in PLURALS:
            return PLURALS[inner](params["count"]) % shown
        return str(TEMPLATES[inner]) % shown
    if isinstance(value, list):
        return JOINS.get((code, name), "; ").join(_render(item) for item in value)
    if value is None:
        return ""
    return reasons.render(value, _spec=SPECS.get(code, {}).get(name, ""))


def _choice_label(code: str, value: str) -> str:
    from django.apps import apps

    model, field = CHOICES[code]
    choices = dict(apps.get_model("monitoring", model)._meta.get_field(field).flatchoices)
    return str(choices.get(value, value))


# FLAG_ADVICE by the same keys (a kind, or a kind and a severity).
ADVICE = {
    "oxygen_need": _(
        "New or escalating oxygen need: assess for CRS with masked fever, infection "
        "and fluid overload; notify the CAR-T physician now."
    ),
    "hypotension": _(
        "New hypotension: assess for CRS with masked fever, sepsis, bleeding and "
        "dehydration; notify the CAR-T physician now."
    ),
    "vasopressor": _("Vasopressor started or added: notify the CAR-T physician and ICU now."),
    "neuro_decline": _(
        "ICE/CAPD has fallen: repeat the screen, check for seizure activity and "
        "notify the CAR-T physician now."
    ),
    "seizure": _(
        "Seizure: emergency — call the CAR-T physician and ICU now; seizure "
        "precautions (ASCO 2021)."
    ),
    "news2": _(
        "NEWS2 at the urgent threshold (5-6): urgent review by a clinician competent in "
        "acute illness (RCP 2017)."
    ),
    ("news2", flag_rules.CRITICAL): _(
        "NEWS2 7 or more: emergency response — call the CAR-T physician and the "
        "critical care outreach team now (RCP 2017)."
    ),
    "vital_sign": _(
        "A vital sign is outside the protocol's thresholds: recheck it and tell the "
        "nurse in charge."
    ),
    "marker": _("Inflammatory markers are rising: tell the CAR-T physician this shift."),
    "crs_symptom": _(
        "CRS symptoms reported: recheck the vital signs and tell the CAR-T physician."
    ),
    "neuro_symptom": _("Neurological symptoms reported: do an ICE/CAPD screen now."),
    "home_confusion": _(
        "Confusion reported at home: call the patient or caregiver now, bring the patient in "
        "for an ICE/CAPD screen; they were told not to drive."
    ),
    "neutro_fever": _(
        "Fever with neutropenia is not only CRS: start the neutropenic-fever "
        "pathway now — blood and urine cultures, chest radiograph, empiric broad-spectrum "
        "antibiotics; G-CSF may be considered, GM-CSF is not recommended (ASCO 2021). The CRS "
        "grade is not changed by this flag."
    ),
}

REVIEW_ADVICE = _(
    "Ask the CAR-T physician to review and confirm this grade before relying on it "
    "(the reasons are listed with the grade)."
)

# The ASCO-based defaults per grade (flag_rules.ESCALATION), by domain and grade.
ESCALATION = {
    ("crs", 0): _("No CRS. Continue routine monitoring."),
    ("crs", 1): _(
        "CRS grade 1: inform the CAR-T physician this shift. Antipyretics and fluids; send "
        "cultures and start the neutropenic-fever pathway if neutropenic (ASCO 2021)."
    ),
    ("crs", 2): _(
        "CRS grade 2: notify the CAR-T physician now. Tocilizumab is indicated (8 mg/kg IV, "
        "max 800 mg); start continuous pulse oximetry and telemetry (ASCO 2021)."
    ),
    ("crs", 3): _(
        "CRS grade 3: notify the CAR-T physician now and call ICU. Tocilizumab if under the "
        "limit and dexamethasone 10 mg IV q6h per physician (ASCO 2021)."
    ),
    ("crs", 4): _(
        "CRS grade 4: emergency — call the CAR-T physician and ICU now. High-dose "
        "methylprednisolone per physician; ventilatory support as needed (ASCO 2021)."
    ),
    ("icans", 0): _("No ICANS. Continue ICE/CAPD checks as scheduled."),
    ("icans", 1): _(
        "ICANS grade 1: notify the CAR-T physician now. Aspiration precautions, head of bed "
        "up; repeat the ICE/CAPD screen more often (ASCO 2021)."
    ),
    ("icans", 2): _(
        "ICANS grade 2: notify the CAR-T physician now. Consider dexamethasone 10 mg IV; "
        "neurology review, EEG and brain imaging per physician (ASCO 2021)."
    ),
    ("icans", 3): _(
        "ICANS grade 3: notify the CAR-T physician now and call ICU. Dexamethasone 10 mg IV "
        "q6–12h per physician; seizure precautions (ASCO 2021)."
    ),
    ("icans", 4): _(
        "ICANS grade 4: emergency — call the CAR-T physician and ICU now. Airway protection; "
        "high-dose methylprednisolone per physician (ASCO 2021)."
    ),
}


def advice_for(kind: str, severity: int | None = None) -> str | None:
    """FLAG_ADVICE for a flag, in the active language (None: no advice for that kind)."""
    text = ADVICE.get((kind, severity)) or ADVICE.get(kind)
    return str(text) if text is not None else None


def _by_english() -> dict[str, Any]:
    table = {flag_rules.REVIEW_ADVICE: REVIEW_ADVICE}
    table.update({flag_rules.FLAG_ADVICE[key]: text for key, text in ADVICE.items()})
    table.update(
        {flag_rules.ESCALATION[domain][grade]: text for (domain, grade), text in ESCALATION.items()}
    )
    return table


_BY_ENGLISH = _by_english()


def localize_advice(text: str) -> str:
    """One of escalation_advice's texts in the active language: a default (FLAG_ADVICE, the
    ASCO defaults, the review advice) translated, a centre's own protocol wording as written."""
    translated = _BY_ENGLISH.get(text)
    return str(translated) if translated is not None else text

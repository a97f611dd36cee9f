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

from monitoring import flag_rules, reasons

TEMPLATES = {
    "flag.grade": _("%(domain)s grade %(grade)s: %(why)s"),
    "flag.grade_confirmed": _(
        "%(domain)s grade %(grade)s: confirmed by a clinician (computed %(computed)s: %(why)s)"
    ),
    "flag.needs_review": _("Confirm the grade: %(reasons)s"),
}


def render(data: dict[str, Any]) -> str:
    """A flag's message_data as text in the active language."""
    template = TEMPLATES.get(data.get("code"))
    if template is None:  # a code from a newer release: say it plainly
        return str(data.get("code"))
    params = {}
    for name, value in (data.get("params") or {}).items():
        if isinstance(value, list):  # a flag's list of reasons reads as the English: "; "
            params[name] = "; ".join(reasons.render(item) for item in value)
        else:
            params[name] = reasons.render(value)
    return str(template) % params


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

"""Which flags a graded moment raises, and what the nurse is told to do.

Pure functions over plain values, so the same rules serve the save path and the demo seeder.
Severities: any ICANS or CRS ≥ 2 needs the CAR-T physician now (ASCO 2021: tocilizumab from
CRS grade 2, neurology review for any ICANS — reference §7.2, §7.3); NEWS2 5–6 is the urgent and
≥ 7 the emergency threshold (RCP 2017 Chart 4 — reference §8.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitoring import grading

INFO, WARNING, URGENT, CRITICAL = 1, 2, 3, 4

CRS_SEVERITY = {1: WARNING, 2: URGENT, 3: CRITICAL, 4: CRITICAL}
ICANS_SEVERITY = {1: URGENT, 2: URGENT, 3: CRITICAL, 4: CRITICAL}

# Default escalation text per grade, from ASCO 2021 (reference §7). Decision support, not orders:
# each centre replaces these with its protocol's wording.
CRS_ESCALATION = {
    0: "No CRS. Continue routine monitoring.",
    1: "CRS grade 1: inform the CAR-T physician this shift. Antipyretics and fluids; send "
    "cultures and start the neutropenic-fever pathway if neutropenic (ASCO 2021).",
    2: "CRS grade 2: notify the CAR-T physician now. Tocilizumab is indicated (8 mg/kg IV, "
    "max 800 mg); start continuous pulse oximetry and telemetry (ASCO 2021).",
    3: "CRS grade 3: notify the CAR-T physician now and call ICU. Tocilizumab if under the "
    "limit and dexamethasone 10 mg IV q6h per physician (ASCO 2021).",
    4: "CRS grade 4: emergency — call the CAR-T physician and ICU now. High-dose "
    "methylprednisolone per physician; ventilatory support as needed (ASCO 2021).",
}
ICANS_ESCALATION = {
    0: "No ICANS. Continue ICE/CAPD checks as scheduled.",
    1: "ICANS grade 1: notify the CAR-T physician now. Aspiration precautions, head of bed "
    "up; repeat the ICE/CAPD screen more often (ASCO 2021).",
    2: "ICANS grade 2: notify the CAR-T physician now. Consider dexamethasone 10 mg IV; "
    "neurology review, EEG and brain imaging per physician (ASCO 2021).",
    3: "ICANS grade 3: notify the CAR-T physician now and call ICU. Dexamethasone 10 mg IV "
    "q6–12h per physician; seizure precautions (ASCO 2021).",
    4: "ICANS grade 4: emergency — call the CAR-T physician and ICU now. Airway protection; "
    "high-dose methylprednisolone per physician (ASCO 2021).",
}


# Markers whose rise within 24 h is flagged (reference §5.1: both rise with CRS).
RISING_MARKERS = {"crp_mg_l": ("CRP", "mg/L"), "ferritin_ng_ml": ("ferritin", "ng/mL")}


@dataclass(frozen=True)
class FlagSpec:
    kind: str
    severity: int
    message: str


def grade_flags(moment) -> list[FlagSpec]:
    """Flags from a graded moment: CRS, ICANS, NEWS2 and grades a clinician must confirm."""
    flags = []
    if moment.crs and moment.crs.grade >= 1:
        flags.append(
            FlagSpec(
                "crs",
                CRS_SEVERITY[moment.crs.grade],
                f"CRS grade {moment.crs.grade}: {moment.crs.reasons[0]}",
            )
        )
    if moment.icans and moment.icans.grade >= 1:
        flags.append(
            FlagSpec(
                "icans",
                ICANS_SEVERITY[moment.icans.grade],
                f"ICANS grade {moment.icans.grade}: {moment.icans.reasons[0]}",
            )
        )
    if moment.news2 and moment.news2.total >= 5:
        severity = CRITICAL if moment.news2.total >= 7 else URGENT
        flags.append(
            FlagSpec(
                "news2",
                severity,
                f"NEWS2 {moment.news2.total} ({moment.news2.risk} risk): {moment.news2.response}",
            )
        )
    review = [
        *(moment.crs.review_reasons if moment.crs else ()),
        *(moment.icans.review_reasons if moment.icans else ()),
    ]
    if review:
        flags.append(FlagSpec("needs_review", WARNING, "Confirm the grade: " + "; ".join(review)))
    return flags


def symptom_flags(
    *, crs_symptoms: list[str], neuro_symptoms: list[str], neuro_symptom_names: list[str]
) -> list[FlagSpec]:
    """Seed-list symptoms ticked at the bedside; headache and tremor alone are informational."""
    flags = []
    if crs_symptoms:
        flags.append(FlagSpec("crs_symptom", WARNING, "CRS symptoms: " + ", ".join(crs_symptoms)))
    if neuro_symptoms:
        # Confusion and difficulty speaking are early ICANS signs (reference §0); tremor and
        # headache do not change the ICANS grade.
        serious = {"confusion", "difficulty_speaking"} & set(neuro_symptom_names)
        flags.append(
            FlagSpec(
                "neuro_symptom",
                WARNING if serious else INFO,
                "Neurological symptoms: " + ", ".join(neuro_symptoms),
            )
        )
    return flags


def vital_flags(breaches) -> list[FlagSpec]:
    if not breaches:
        return []
    return [
        FlagSpec(
            "vital_sign",
            WARNING,
            "Outside protocol thresholds: " + "; ".join(b.message for b in breaches),
        )
    ]


def marker_flags(
    *,
    current: dict[str, float],
    current_at: datetime,
    previous: dict[str, tuple[float, datetime]],
    rise_factor: float,
) -> list[FlagSpec]:
    """CRP/ferritin rising beyond the protocol factor within 24 h; ferritin at HLH levels."""
    messages, severity = [], WARNING
    for field, (label, unit) in RISING_MARKERS.items():
        if field in current and field in previous:
            before, before_at = previous[field]
            if before <= 0:  # below the detection limit: a ratio means nothing
                continue
            rise = grading.marker_rise(
                before,
                before_at,
                current[field],
                current_at,
                factor=rise_factor,
                marker=label,
                unit=unit,
            )
            if rise:
                messages.append(rise.reason)
    ferritin = current.get("ferritin_ng_ml")
    if ferritin is not None and grading.ferritin_hlh_alert(ferritin):
        messages.append(f"ferritin {ferritin:,.0f} ng/mL ≥ 10,000 (suggests HLH-like syndrome)")
        severity = URGENT
    fibrinogen = current.get("fibrinogen_mg_dl")
    if fibrinogen is not None and grading.hypofibrinogenaemia(fibrinogen):
        messages.append(f"fibrinogen {fibrinogen:.0f} mg/dL < 150")
    if not messages:
        return []
    return [FlagSpec("marker", severity, "Markers: " + "; ".join(messages))]


def record_flags(
    *,
    age_years: float,
    vitals=None,
    symptoms=None,
    labs=None,
    previous_markers: dict[str, tuple[float, datetime]],
    thresholds: grading.VitalThresholds | None = None,
    rise_factor: float = grading.DEFAULT_RISE_FACTOR,
) -> list[FlagSpec]:
    """Flags from the records of one check (symptoms ticked, vitals, labs), whatever the grade."""
    specs = []
    if symptoms is not None:
        ticked = [name for name in (*CRS_SYMPTOMS, *NEURO_SYMPTOMS) if getattr(symptoms, name)]
        specs += symptom_flags(
            crs_symptoms=[_label(n) for n in ticked if n in CRS_SYMPTOMS],
            neuro_symptoms=[_label(n) for n in ticked if n in NEURO_SYMPTOMS],
            neuro_symptom_names=[n for n in ticked if n in NEURO_SYMPTOMS],
        )
    if vitals is not None:
        specs += vital_flags(
            grading.vital_sign_breaches(
                thresholds=thresholds or grading.VitalThresholds(),
                age_years=age_years,
                heart_rate=vitals.heart_rate_bpm,
                resp_rate=vitals.resp_rate_per_min,
                spo2_pct=vitals.spo2_pct,
                systolic_bp=vitals.sbp_mmhg,
                temperature_c=float(vitals.temp_c) if vitals.temp_c is not None else None,
            )
        )
    if labs is not None:
        current = {
            name: float(getattr(labs, name))
            for name in MARKER_FIELDS
            if getattr(labs, name) is not None
        }
        specs += marker_flags(
            current=current,
            current_at=_observed_at(labs),
            previous=previous_markers,
            rise_factor=rise_factor,
        )
    return specs


CRS_SYMPTOMS = ("fever", "low_blood_pressure", "fatigue", "breathing_difficulty")
NEURO_SYMPTOMS = ("confusion", "headache", "tremor", "difficulty_speaking")
MARKER_FIELDS = ("crp_mg_l", "ferritin_ng_ml", "fibrinogen_mg_dl")


def _label(name: str) -> str:
    return name.replace("_", " ")


def _observed_at(record) -> datetime:
    return record.check_entry.observed_at


def escalation_advice(crs_grade: int | None, icans_grade: int | None, text_for=None) -> list[str]:
    """What the nurse should do now, worst first.

    ``text_for(domain, grade)`` gives the protocol's wording (ProtocolVersion.escalation_text);
    without a protocol, the ASCO-based defaults above.
    """
    defaults = {"crs": CRS_ESCALATION, "icans": ICANS_ESCALATION}
    text_for = text_for or (lambda domain, grade: defaults[domain][grade])
    advice = []
    for domain, grade in (("crs", crs_grade), ("icans", icans_grade)):
        if grade is not None:
            advice.append((grade, text_for(domain, grade)))
    advice.sort(key=lambda item: -item[0])
    return [text for _, text in advice]

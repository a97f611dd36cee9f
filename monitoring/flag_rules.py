"""Which flags a graded moment raises, and what the nurse is told to do.

Pure functions over plain values, so the same rules serve the save path and the demo seeder.
Severities: any ICANS or CRS ≥ 2 needs the CAR-T physician now (ASCO 2021: tocilizumab from
CRS grade 2, neurology review for any ICANS — reference §7.2, §7.3); NEWS2 5–6 is the urgent and
≥ 7 the emergency threshold (RCP 2017 Chart 4 — reference §8.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime

from monitoring import grading, infection_rules
from monitoring.grading.reasons import to_json

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

# The defaults by domain: ProtocolVersion.escalation_text falls back on them, the protocol form
# pre-fills them, escalation_advice uses them without a protocol.
ESCALATION = {"crs": CRS_ESCALATION, "icans": ICANS_ESCALATION}

# Deterioration flags, raised whatever the ASTCT grade (issue 10 §5): a patient who needs new
# oxygen without fever has CRS 0 and must still reach a clinician. Severities are defaults a
# protocol version overrides (ProtocolVersion.deterioration_severity). New vasopressors and a
# seizure are emergencies at any grade (ASTCT grade 3+ findings, reference §1.1, §2.2); a new
# oxygen need, new hypotension and a fall in ICE/CAPD need the CAR-T physician now (ASCO 2021:
# notify for CRS ≥ 2 findings and any ICANS, reference §7.2, §7.3).
DETERIORATION_SEVERITY = {
    "oxygen_need": URGENT,
    "hypotension": URGENT,
    "vasopressor": CRITICAL,
    "neuro_decline": URGENT,
    "seizure": CRITICAL,
}
# What to do now for each open flag when the grade alone would say "routine" (never routine
# while one of these is open). Decision support, not orders.
FLAG_ADVICE = {
    "oxygen_need": "New or escalating oxygen need: assess for CRS with masked fever, infection "
    "and fluid overload; notify the CAR-T physician now.",
    "hypotension": "New hypotension: assess for CRS with masked fever, sepsis, bleeding and "
    "dehydration; notify the CAR-T physician now.",
    "vasopressor": "Vasopressor started or added: notify the CAR-T physician and ICU now.",
    "neuro_decline": "ICE/CAPD has fallen: repeat the screen, check for seizure activity and "
    "notify the CAR-T physician now.",
    "seizure": "Seizure: emergency — call the CAR-T physician and ICU now; seizure "
    "precautions (ASCO 2021).",
    "news2": "NEWS2 at the urgent threshold (5-6): urgent review by a clinician competent in "
    "acute illness (RCP 2017).",
    # NEWS2 7 or more is the emergency threshold (RCP 2017 Chart 4, reference §8.2).
    ("news2", CRITICAL): "NEWS2 7 or more: emergency response — call the CAR-T physician and the "
    "critical care outreach team now (RCP 2017).",
    "vital_sign": "A vital sign is outside the protocol's thresholds: recheck it and tell the "
    "nurse in charge.",
    "marker": "Inflammatory markers are rising: tell the CAR-T physician this shift.",
    "crs_symptom": "CRS symptoms reported: recheck the vital signs and tell the CAR-T physician.",
    "neuro_symptom": "Neurological symptoms reported: do an ICE/CAPD screen now.",
    "home_confusion": "Confusion reported at home: call the patient or caregiver now, bring the "
    "patient in for an ICE/CAPD screen; they were told not to drive.",
    "neutro_fever": "Fever with neutropenia is not only CRS: start the neutropenic-fever "
    "pathway now — blood and urine cultures, chest radiograph, empiric broad-spectrum "
    "antibiotics; G-CSF may be considered, GM-CSF is not recommended (ASCO 2021). The CRS "
    "grade is not changed by this flag.",
}

# What to do about a grade a clinician must confirm (escalation_advice).
REVIEW_ADVICE = (
    "Ask the CAR-T physician to review and confirm this grade before relying on it "
    "(the reasons are listed with the grade)."
)

# Markers whose rise within 24 h is flagged (reference §5.1: both rise with CRS).
# The home guided screen's items (HomeNeuroScreen, home_rules.home_neuro_flag).
HOME_SCREEN_ITEMS = ("year", "month", "place", "naming", "command", "counting")

RISING_MARKERS = {"crp_mg_l": ("CRP", "mg/L"), "ferritin_ng_ml": ("ferritin", "ng/mL")}


@dataclass(frozen=True)
class FlagSpec:
    kind: str
    severity: int
    message: str
    # The message as a code and parameters ({"code": "flag.grade", "params": {...}}), for the web
    # app to show in the reader's language (monitoring/flag_messages.py); ``message`` is the
    # English that de-duplicates and goes out in notifications. None: shown as ``message``.
    data: dict | None = dataclass_field(default=None, compare=False)


def grade_flags(moment, confirmed=None) -> list[FlagSpec]:
    """Flags from a graded moment: CRS, ICANS, NEWS2 and grades a clinician must confirm.

    ``confirmed`` maps a domain to a clinician's grade that carries to this moment (engine.
    carry_confirmations): the flag then follows the clinician's grade, and that domain's
    review is answered.
    """
    confirmed = {k: v for k, v in (confirmed or {}).items() if v is not None}
    flags = []
    for domain, result, severities in (
        ("crs", moment.crs, CRS_SEVERITY),
        ("icans", moment.icans, ICANS_SEVERITY),
    ):
        if result is None:
            continue
        grade = confirmed.get(domain, result.grade)
        if grade >= 1:
            why = result.reasons[0]
            params = {"domain": domain.upper(), "grade": grade, "why": to_json(why)}
            code = "flag.grade"
            if domain in confirmed and grade != result.grade:
                why = f"confirmed by a clinician (computed {result.grade}: {why})"
                code, params["computed"] = "flag.grade_confirmed", result.grade
            flags.append(
                FlagSpec(
                    domain,
                    severities[grade],
                    f"{domain.upper()} grade {grade}: {why}",
                    {"code": code, "params": params},
                )
            )
    if moment.news2 and moment.news2.total >= 5:
        severity = CRITICAL if moment.news2.total >= 7 else URGENT
        flags.append(
            FlagSpec(
                "news2",
                severity,
                _news2_headline(moment.news2),
                _news2_data(moment.news2),
            )
        )
    # The grading library's review calls and the course's own (timeline: stale support,
    # masked fever after long-acting therapy), except where a clinician's grade carries.
    review = [
        *(moment.crs_review_reasons if "crs" not in confirmed else ()),
        *(moment.icans_review_reasons if "icans" not in confirmed else ()),
    ]
    if review:
        flags.append(
            FlagSpec(
                "needs_review",
                WARNING,
                "Confirm the grade: " + "; ".join(review),
                {"code": "flag.needs_review", "params": {"reasons": to_json(review)}},
            )
        )
    return flags


def symptom_flags(
    *, crs_symptoms: list[str], neuro_symptoms: list[str], neuro_symptom_names: list[str]
) -> list[FlagSpec]:
    """Seed-list symptoms ticked at the bedside; headache and tremor alone are informational."""
    flags = []
    if crs_symptoms:
        flags.append(
            FlagSpec(
                "crs_symptom",
                WARNING,
                "CRS symptoms: " + ", ".join(crs_symptoms),
                _message("flag.crs_symptom", symptoms=_symptom_codes(crs_symptoms)),
            )
        )
    if neuro_symptoms:
        # Confusion and difficulty speaking are early ICANS signs (reference §0); tremor and
        # headache do not change the ICANS grade.
        serious = {"confusion", "difficulty_speaking"} & set(neuro_symptom_names)
        flags.append(
            FlagSpec(
                "neuro_symptom",
                WARNING if serious else INFO,
                "Neurological symptoms: " + ", ".join(neuro_symptoms),
                _message("flag.neuro_symptom", symptoms=_symptom_codes(neuro_symptoms)),
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
            _message("flag.vital_sign", breaches=[_breach_data(b) for b in breaches]),
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
    messages, data, severity = [], [], WARNING
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
                data.append(
                    _message(
                        f"marker.rise.{field}",
                        previous=rise.previous_value,
                        current=rise.current_value,
                        ratio=rise.ratio,
                        hours=round(rise.hours_apart, 1),
                    )
                )
    ferritin = current.get("ferritin_ng_ml")
    if ferritin is not None and grading.ferritin_hlh_alert(ferritin):
        messages.append(f"ferritin {ferritin:,.0f} ng/mL ≥ 10,000 (suggests HLH-like syndrome)")
        data.append(_message("marker.ferritin_hlh", ferritin=ferritin, limit=10_000))
        severity = URGENT
    fibrinogen = current.get("fibrinogen_mg_dl")
    if fibrinogen is not None and grading.hypofibrinogenaemia(fibrinogen):
        messages.append(f"fibrinogen {fibrinogen:.0f} mg/dL < 150")
        data.append(_message("marker.fibrinogen_low", fibrinogen=fibrinogen))
    if not messages:
        return []
    return [
        FlagSpec(
            "marker",
            severity,
            "Markers: " + "; ".join(messages),
            _message("flag.marker", findings=data),
        )
    ]


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
# grading.Breach.parameter's values.
VITAL_PARAMETERS = ("heart_rate", "resp_rate", "spo2_pct", "systolic_bp", "temperature_c")


def _label(name: str) -> str:
    return name.replace("_", " ")


def _observed_at(record) -> datetime:
    return record.check_entry.observed_at


def escalation_advice(
    crs_grade: int | None,
    icans_grade: int | None,
    text_for=None,
    *,
    open_flags=(),
    review_reasons=(),
) -> list[str]:
    """What the nurse should do now, most pressing first.

    ``text_for(domain, grade)`` gives the protocol's wording (ProtocolVersion.escalation_text);
    without a protocol, the ASCO-based defaults above. ``open_flags`` are (kind, severity) of
    the course's unresolved flags and ``review_reasons`` the grade's open review calls: while
    any urgent flag or any review is open, a grade-0 "continue routine monitoring" is replaced
    by what to do for them — deterioration is never called routine (issue 10 §5).
    """
    text_for = text_for or (lambda domain, grade: ESCALATION[domain][grade])
    pressing = sorted(
        ((severity, kind) for kind, severity in open_flags if severity >= URGENT),
        key=lambda item: -item[0],
    )
    busy = bool(pressing or review_reasons)
    advice = []
    for domain, grade in (("crs", crs_grade), ("icans", icans_grade)):
        if grade is not None and not (grade == 0 and busy):
            advice.append((grade, text_for(domain, grade)))
    advice.sort(key=lambda item: -item[0])
    texts = [text for _, text in advice]
    for severity, kind in pressing:
        text = FLAG_ADVICE.get((kind, severity)) or FLAG_ADVICE.get(kind)
        if text and text not in texts and kind not in ("crs", "icans", "needs_review"):
            texts.append(text)
    if review_reasons:
        # The reasons themselves are shown with the grade; here, what to do about them.
        texts.append(REVIEW_ADVICE)
    return texts


def advice_severity(grade_severity: int | None, open_flags=(), review_reasons=()) -> int | None:
    """How loudly "what to do now" speaks: the worse of the grades' severity
    (GradeSnapshot.alert_severity), the course's open flags and an open review (a warning) —
    so an urgent deterioration flag turns the box red even at CRS 0. None: nothing to say."""
    levels = [grade_severity or 0, *(severity for _, severity in open_flags)]
    if review_reasons:
        levels.append(WARNING)
    return max(levels) or None


def _oxygen_rank(device: str, flow) -> tuple[int, float]:
    """Order oxygen support by how much it gives (ASTCT hypoxia domain, reference §1.2.6)."""
    rank = {
        "": 0,
        "room_air": 0,
        "blow_by": 1,
        "low_flow": 1,
        "high_flow": 2,
        "facemask": 2,
        "venturi": 2,
        "nonrebreather": 2,
        "cpap": 3,
        "bipap": 3,
        "mechanical_ventilation": 4,
    }[device or ""]
    return rank, float(flow or 0)


def deterioration_flags(*, previous: dict, current: dict, severity_for) -> list[FlagSpec]:
    """Flags for what got worse since the previous record, whatever the ASTCT grade.

    ``previous``/``current`` hold plain values of the support, pressure and neuro records
    compared (any key may be missing): ``oxygen``, ``flow``, ``vasopressors``, ``vasopressin``,
    ``hypotensive``, ``ice``, ``capd``, ``seizure``, and ``label`` (what the record says);
    ``severity_for(kind)`` is the protocol's severity.
    """
    specs = []
    if "oxygen" in current and current["oxygen"]:
        before = _oxygen_rank(previous.get("oxygen", "room_air"), previous.get("flow"))
        now = _oxygen_rank(current["oxygen"], current.get("flow"))
        if now > before and now[0] > 0:
            was = previous.get("oxygen_label") or "Room air"
            specs.append(
                FlagSpec(
                    "oxygen_need",
                    severity_for("oxygen_need"),
                    f"{'New' if before[0] == 0 else 'Escalating'} oxygen need: "
                    f"{was} → {current['oxygen_label']}",
                    _message(
                        "flag.oxygen_need_new" if before[0] == 0 else "flag.oxygen_need_escalating",
                        was=_oxygen_data(previous) if "oxygen_label" in previous else _ROOM_AIR,
                        now=_oxygen_data(current),
                    ),
                )
            )
    if current.get("hypotensive") and previous.get("hypotensive") is False:
        specs.append(
            FlagSpec(
                "hypotension",
                severity_for("hypotension"),
                f"New hypotension: {current['sbp_label']}",
                _message("flag.hypotension", sbp=current.get("sbp"), at=current.get("at_label")),
            )
        )
    if "vasopressors" in current:
        more = current["vasopressors"] > previous.get("vasopressors", 0)
        vasopressin = current.get("vasopressin") and not previous.get("vasopressin")
        if more or vasopressin:
            specs.append(
                FlagSpec(
                    "vasopressor",
                    severity_for("vasopressor"),
                    f"Vasopressor started or added: {current['pressor_label']}",
                    _message(
                        "flag.vasopressor",
                        pressors=_message(
                            "pressors.vasopressin" if current.get("vasopressin") else "pressors",
                            count=current["vasopressors"],
                        ),
                    ),
                )
            )
    ice_fell = current.get("ice") is not None and previous.get("ice") is not None
    ice_fell = ice_fell and current["ice"] < previous["ice"]
    capd_rose = current.get("capd") is not None and previous.get("capd") is not None
    capd_rose = capd_rose and current["capd"] > previous["capd"]
    if ice_fell or capd_rose:
        tool = "ICE" if ice_fell else "CAPD"
        before, now = (
            (previous["ice"], current["ice"])
            if ice_fell
            else (
                previous["capd"],
                current["capd"],
            )
        )
        specs.append(
            FlagSpec(
                "neuro_decline",
                severity_for("neuro_decline"),
                f"{tool} worse: {before} → {now}" + (" /10" if ice_fell else " /32"),
                _message(f"flag.neuro_decline.{tool.lower()}", before=before, now=now),
            )
        )
    if current.get("seizure") not in (None, "", "none"):
        specs.append(
            FlagSpec(
                "seizure",
                severity_for("seizure"),
                f"Seizure: {current['seizure_label']}",
                _message("flag.seizure", seizure=_choice("seizure", current["seizure"])),
            )
        )
    return specs


def _news2_headline(result) -> str:
    """A NEWS2 flag's text. A score from an incomplete set is a lower bound: it still flags at
    5 or 7 (the full score can only be higher), but says so and names what was not recorded."""
    if not result.missing:
        return f"NEWS2 {result.total} ({result.risk} risk): {result.response}"
    missing = ", ".join(grading.news2_parameter_names[name] for name in result.missing)
    return (
        f"NEWS2 at least {result.total} from an incomplete set ({missing} not recorded) "
        f"({result.risk} risk or higher): {result.response}"
    )


# --- Infection prevention (issue 14 §3; infection_rules, reference §4.6) ------------------------
# Neutropenic fever needs the physician now, like CRS grade 2 (ASCO 2021: every fever gets
# cultures, and the neutropenic-fever pathway with empiric antibiotics if neutropenic —
# reference §4.6); a prophylaxis due or lapsed and an IgG replacement not planned are for the
# team this shift.
NEUTROPENIC_FEVER_SEVERITY = URGENT
PROPHYLAXIS_SEVERITY = WARNING
IGG_SEVERITY = WARNING


def neutropenic_fever_flags(
    *,
    temp_c: float | None,
    temp_label: str,
    anc: float | None,
    anc_label: str,
    fever_c: float,
    anc_below: float,
) -> list[FlagSpec]:
    """Fever (the protocol's threshold) with a recent ANC below the protocol's threshold.

    It is raised beside the CRS flag, never instead of it, and changes no grade: fever after
    CAR-T may be CRS or infection, and with neutropenia it is treated as infection too."""
    if temp_c is None or anc is None or temp_c < fever_c:
        return []
    if not infection_rules.is_neutropenic(anc, anc_below):
        return []
    message = (
        f"Neutropenic fever: {temp_c:.1f} °C at {temp_label} with ANC {anc:g} ×10⁹/L at "
        f"{anc_label} (below {anc_below:g}) — not only CRS: start the neutropenic-fever "
        "pathway (cultures, empiric antibiotics)"
    )
    return [
        FlagSpec(
            "neutro_fever",
            NEUTROPENIC_FEVER_SEVERITY,
            message,
            _message(
                "flag.neutropenic_fever",
                temp=temp_c,
                temp_at=temp_label,
                anc=anc,
                anc_at=anc_label,
                limit=anc_below,
            ),
        )
    ]


def prophylaxis_flags(statuses, day_label) -> list[FlagSpec]:
    """One flag for every checklist item due (start reached, not started) or lapsed (stopped
    before its planned end without a reason). ``day_label(date)`` says "D+14"; item labels are
    the protocol's, shown as written."""
    findings, data = [], []
    for status in statuses:
        label = status.item["label"]
        if status.state == infection_rules.ItemState.DUE:
            since = day_label(status.start_on)
            findings.append(f"{label} due since {since}, not started")
            data.append(_message("prophylaxis.due", item=label, since=since))
        elif status.state == infection_rules.ItemState.LAPSED:
            stopped = day_label(status.latest.stopped_on)
            end = day_label(status.end_on) if status.end_on else status.item.get("stop_when", "")
            findings.append(f"{label} stopped {stopped}, before its planned end ({end}), no reason")
            data.append(_message("prophylaxis.lapsed", item=label, stopped=stopped, end=end))
    if not findings:
        return []
    return [
        FlagSpec(
            "prophylaxis",
            PROPHYLAXIS_SEVERITY,
            "Prophylaxis: " + "; ".join(findings),
            _message("flag.prophylaxis", findings=data),
        )
    ]


def igg_flags(need, day_label, product_label: str = "") -> list[FlagSpec]:
    """An immunoglobulin replacement the protocol asks for (infection_rules.IgGNeed) with none
    planned or given."""
    if need is None:
        return []
    if need.reason == "low":
        drawn = day_label(need.drawn_on)
        message = (
            f"IgG {need.igg_mg_dl:g} mg/dL on {drawn} is below {need.threshold} mg/dL and no "
            "immunoglobulin replacement is planned"
        )
        data = _message("flag.igg_low", igg=need.igg_mg_dl, at=drawn, limit=need.threshold)
    else:
        message = (
            f"Immunoglobulin replacement is the protocol's policy for every patient on "
            f"{product_label}; none is planned"
        )
        data = _message("flag.igg_policy", product=product_label)
    return [FlagSpec("igg_low", IGG_SEVERITY, message, data)]


INFECTION_FLAG_KINDS = ("prophylaxis", "igg_low")  # kept in step with the records (infection.py)


# A home check-in not done by its grace's end (issue 15 §2; home_sweep.sweep): urgent, because
# a patient who stops answering at home may be the one too unwell to (confusion is ICANS's first
# sign, reference §2) — the team calls them. It escalates like any urgent flag.
HOME_MISSED_SEVERITY = URGENT


def home_missed_flags(missed: int, first_due: str, latest_due: str, grace_minutes: int):
    """The missed home check-in flag: ``missed`` check-ins in a row, the first due at
    ``first_due`` and the latest at ``latest_due`` (time labels, "D+3 14:00")."""
    if missed < 1:
        return []
    if missed == 1:
        message = f"Home check-in missed: due {first_due}, not done within {grace_minutes} min"
        data = _message("flag.home_missed", due=first_due, grace=grace_minutes)
    else:
        message = (
            f"{missed} home check-ins missed in a row (none within {grace_minutes} min): "
            f"the first due {first_due}, the latest {latest_due}"
        )
        data = _message(
            "flag.home_missed_many",
            count=missed,
            due=first_due,
            latest=latest_due,
            grace=grace_minutes,
        )
    return [FlagSpec("home_missed", HOME_MISSED_SEVERITY, message, data)]


# --- The messages as codes and parameters (FlagSpec.data) --------------------------------------
# monitoring/flag_messages.py holds a translatable template for each code below (its test proves
# it); a parameter is a number, a text shown as written (a time label), a nested message, a
# model choice by its stored value ({"code": "choice.<field>", ...}) or a list of those.


def _message(code: str, **params) -> dict:
    return {"code": code, "params": params}


def _choice(field: str, value: str) -> dict:
    return _message(f"choice.{field}", value=value)


_ROOM_AIR = _choice("oxygen_support", "room_air")


def _news2_data(result) -> dict:
    params = {
        "total": result.total,
        "risk": _message(f"news2.risk.{result.risk}"),
        "response": _message(f"news2.response.{result.risk}"),
    }
    if not result.missing:
        return _message("flag.news2", **params)
    missing = [_message(f"news2.parameter.{name}") for name in result.missing]
    return _message("flag.news2_incomplete", missing=missing, **params)


def _symptom_codes(labels: list[str]) -> list[dict]:
    return [_message(f"symptom.{label.replace(' ', '_')}") for label in labels]


def _breach_data(breach) -> dict:
    sign = next(sign for sign in ("≥", "≤", "<") if f" {sign} " in breach.message)
    return _message(f"vital.{breach.parameter}", value=breach.value, sign=sign, limit=breach.limit)


def _oxygen_data(values: dict) -> dict:
    """An oxygen label (VitalSigns.oxygen_label) by its values: device, flow, airway only."""
    if not values.get("oxygen"):
        return _message("oxygen.not_recorded")
    device = _choice("oxygen_support", values["oxygen"])
    flow = values.get("flow")
    code = "oxygen.device" + ("_flow" if flow is not None else "")
    code += "_airway" if values.get("oxygen_airway") else ""
    params = {"device": device} | ({"flow": float(flow)} if flow is not None else {})
    return _message(code, **params)


# Every code a flag message above can carry, for the test that each has a template.
MESSAGE_CODES = frozenset(
    {
        "flag.news2",
        "flag.news2_incomplete",
        *(f"news2.risk.{risk}" for risk in grading.NEWS2Risk),
        *(f"news2.response.{risk}" for risk in grading.NEWS2Risk),
        *(f"news2.parameter.{name}" for name in grading.news2_parameter_names),
        "flag.crs_symptom",
        "flag.neuro_symptom",
        *(f"symptom.{name}" for name in (*CRS_SYMPTOMS, *NEURO_SYMPTOMS)),
        "flag.vital_sign",
        *(f"vital.{name}" for name in VITAL_PARAMETERS),
        "flag.marker",
        *(f"marker.rise.{name}" for name in RISING_MARKERS),
        "marker.ferritin_hlh",
        "marker.fibrinogen_low",
        "flag.oxygen_need_new",
        "flag.oxygen_need_escalating",
        "oxygen.not_recorded",
        "oxygen.device",
        "oxygen.device_flow",
        "oxygen.device_airway",
        "oxygen.device_flow_airway",
        "choice.oxygen_support",
        "flag.hypotension",
        "flag.vasopressor",
        "pressors",
        "pressors.vasopressin",
        "flag.neuro_decline.ice",
        "flag.neuro_decline.capd",
        "flag.seizure",
        "choice.seizure",
        "flag.neutropenic_fever",
        "flag.prophylaxis",
        "prophylaxis.due",
        "prophylaxis.lapsed",
        "flag.igg_low",
        "flag.igg_policy",
        # Home monitoring (monitoring/home_rules.py).
        "flag.home_confusion",
        "home.who.patient",
        "home.who.caregiver",
        "home.screen_wrong",
        *(f"home.screen.{item}" for item in HOME_SCREEN_ITEMS),
        "flag.home_missed",
        "flag.home_missed_many",
    }
)

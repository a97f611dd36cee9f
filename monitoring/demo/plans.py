"""Course plans: what the disease will do in each demo patient, drawn per product."""

from __future__ import annotations

import random
from dataclasses import dataclass

from monitoring.models import Patient


class Product:
    """The product codes (TherapyProduct.code) the demo's plans use."""

    AXI_CEL = "axi-cel"
    TISA_CEL = "tisa-cel"
    LISO_CEL = "liso-cel"
    BREXU_CEL = "brexu-cel"
    IDE_CEL = "ide-cel"
    CILTA_CEL = "cilta-cel"
    OBE_CEL = "obe-cel"


# --------------------------------------------------------------------------------------------
# Products. Rates and onset days are rough figures from the pivotal trials and US labels,
# recalled, not from the reference sheet [M]; the demo needs a plausible mix, not statistics.
# CD19 products usually start CRS around D+1..D+5, BCMA products later (cilta-cel ~D+7).
# --------------------------------------------------------------------------------------------

LBCL = (
    "Relapsed DLBCL",
    "Primary refractory DLBCL",
    "Transformed follicular lymphoma",
    "Primary mediastinal B-cell lymphoma",
    "High-grade B-cell lymphoma",
)
ADULT_ALL = "B-ALL (adult, relapsed/refractory)"
CHILD_ALL = "B-ALL (paediatric/young adult, relapsed)"
MYELOMA = "Relapsed/refractory multiple myeloma"


@dataclass(frozen=True)
class ProductProfile:
    indications: tuple[str, ...]
    ages: tuple[int, int, int]  # low, mode, high (years)
    crs_weights: tuple[float, ...]  # P(no CRS), P(worst grade 1), P(2), P(3)
    crs_onset_days: tuple[float, float, float]  # low, mode, high
    icans_weights: tuple[float, ...]  # P(no ICANS), P(worst grade 1), P(2), P(3)


PROFILES = {
    "axi-cel": ProductProfile(
        LBCL, (30, 60, 80), (0.10, 0.45, 0.33, 0.12), (1, 2, 7), (0.45, 0.20, 0.20, 0.15)
    ),
    "liso-cel": ProductProfile(
        LBCL, (35, 64, 82), (0.55, 0.32, 0.11, 0.02), (1, 5, 12), (0.70, 0.14, 0.10, 0.06)
    ),
    "tisa-cel": ProductProfile(
        LBCL, (35, 62, 80), (0.42, 0.30, 0.20, 0.08), (1, 3, 9), (0.80, 0.10, 0.06, 0.04)
    ),
    # Kymriah's other label: B-ALL up to age 25.
    "tisa-cel-all": ProductProfile(
        (CHILD_ALL,), (3, 10, 25), (0.25, 0.30, 0.30, 0.15), (1, 3, 9), (0.60, 0.20, 0.10, 0.10)
    ),
    "brexu-cel": ProductProfile(
        ("Mantle cell lymphoma", ADULT_ALL),
        (30, 65, 80),
        (0.09, 0.40, 0.36, 0.15),
        (1, 3, 9),
        (0.40, 0.20, 0.18, 0.22),
    ),
    "ide-cel": ProductProfile(
        (MYELOMA,), (45, 63, 80), (0.16, 0.50, 0.29, 0.05), (1, 1, 6), (0.82, 0.10, 0.05, 0.03)
    ),
    "cilta-cel": ProductProfile(
        (MYELOMA,), (45, 62, 80), (0.05, 0.50, 0.40, 0.05), (2, 7, 11), (0.80, 0.10, 0.06, 0.04)
    ),
    "obe-cel": ProductProfile(
        (ADULT_ALL,), (19, 45, 75), (0.30, 0.45, 0.22, 0.03), (2, 8, 13), (0.77, 0.10, 0.06, 0.07)
    ),
}
PRODUCT_MIX = [
    ("axi-cel", 26),
    ("liso-cel", 14),
    ("tisa-cel", 8),
    ("tisa-cel-all", 4),
    ("brexu-cel", 10),
    ("ide-cel", 10),
    ("cilta-cel", 18),
    ("obe-cel", 10),
]


# --------------------------------------------------------------------------------------------
# Course plans: what the disease will do, in hours after the infusion.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrsPlan:
    """One CRS episode. Grade 2/3 come from the blood-pressure and oxygen routes (ref §1.1)."""

    onset_h: float  # first temperature >= 38.0 °C
    peak_temp_c: float
    fever_end_h: float  # spontaneous defervescence; anti-cytokine therapy ends fever earlier
    response_h: float = 4.0  # hours from tocilizumab/steroid to defervescence
    bp: str = ""  # "" | "fluids" (hypotension, grade 2) | "pressor" (one vasopressor, grade 3)
    o2: str = ""  # "" | low_flow (grade 2) | high_flow | facemask (grade 3)
    low_flow_l_min: float = 3.0
    severe_flow_l_min: float = 30.0
    escalate_h: float | None = None  # hypotension and/or low-flow oxygen start (grade 2)
    severe_h: float | None = None  # vasopressor, high flow or facemask start (grade 3)
    severe_end_h: float | None = None  # back to grade-2 support
    support_end_h: float | None = None  # normotensive on room air
    antipyretic: bool = False  # paracetamol while febrile (ASCO grade 1 care, ref §7.2)

    @property
    def grade(self) -> int:
        if self.severe_h is not None:
            return 3
        return 2 if self.escalate_h is not None else 1


@dataclass(frozen=True)
class IcansPlan:
    """One ICANS episode: mild screen deficit, the worst phase, then recovery (ref §2)."""

    onset_h: float
    grade: int  # worst grade: 1-3
    peak_h: float
    peak_end_h: float
    recovered_h: float


@dataclass(frozen=True)
class PatientPlan:
    product: str  # a TherapyProduct code
    indication: str
    sex: str
    age_years: float
    weight_kg: float
    day: int  # days since infusion today (D+n)
    crs: CrsPlan | None = None
    icans: IcansPlan | None = None
    overdue_h: float = 0.0  # no check for this long before now (a missed round)
    # Looked after as an outpatient from this day on: a clinic visit each morning and a phone
    # call each evening instead of ward rounds (None: an inpatient throughout).
    outpatient_from_day: int | None = None


def scripted_plans(days: int, rng: random.Random) -> list[PatientPlan]:
    """The default twelve: a ward that shows every grading path at least once.

    Days spread over 0..days-1; timings carry a little jitter. With the default 14 days the
    ward holds patients currently at each CRS grade 0-3, a child in or just past ICANS grade 3,
    one overdue check, and histories of every hypotension and oxygen route of ref §1.1.
    """
    spread = [round(i * (days - 1) / 11) for i in range(12)]

    def j(hours: float) -> float:
        return hours + rng.uniform(-1.5, 1.5)

    def crs(onset, peak, *, fever_h=48.0, esc=None, sev=None, sev_end=None, end=None, **kw):
        onset = j(onset)
        escalate = onset + esc if esc else None
        severe = escalate + sev if sev else None
        severe_end = severe + sev_end if sev_end else None
        base = severe_end or escalate
        support_end = base + end if end else None
        fever_end = onset + fever_h if escalate is None else (support_end or onset) + 48
        return CrsPlan(
            onset_h=onset,
            peak_temp_c=peak,
            fever_end_h=fever_end,
            response_h=rng.uniform(3, 7),
            escalate_h=escalate,
            severe_h=severe,
            severe_end_h=severe_end,
            support_end_h=support_end,
            **kw,
        )

    def icans(onset, grade, to_peak, peak_len, recovery):
        onset = j(onset)
        return IcansPlan(
            onset_h=onset,
            grade=grade,
            peak_h=onset + to_peak,
            peak_end_h=onset + to_peak + peak_len,
            recovered_h=onset + to_peak + peak_len + recovery,
        )

    female, male = Patient.Sex.FEMALE, Patient.Sex.MALE
    plans = [
        # D+0: infused this morning, well so far (CRS with low-flow oxygen will come on D+2).
        PatientPlan(
            Product.AXI_CEL,
            "Relapsed DLBCL",
            male,
            58.3,
            84.0,
            spread[0],
            crs=crs(40, 38.9, esc=14, end=30, o2="low_flow", low_flow_l_min=3),
        ),
        # Ide-cel CRS starts early (median D+1): febrile now, grade 1.
        PatientPlan(
            Product.IDE_CEL, MYELOMA, female, 66.1, 71.0, spread[1], crs=crs(11, 38.7, fever_h=42)
        ),
        # Hypotension on fluids (SBP < 90, no vasopressor): grade 2, tocilizumab given.
        PatientPlan(
            Product.AXI_CEL,
            "Primary mediastinal B-cell lymphoma",
            female,
            34.6,
            64.0,
            spread[2],
            crs=crs(14, 39.4, esc=16, end=38, bp="fluids"),
        ),
        # A 7-year-old on tisa-cel, screened with the CAPD (ref §2.3): CRS 2 on 2 L/min oxygen,
        # tocilizumab 12 mg/kg (< 30 kg), then delirium (CAPD >= 9, ICANS 3) and dexamethasone.
        PatientPlan(
            Product.TISA_CEL,
            CHILD_ALL,
            male,
            7.4,
            22.0,
            spread[3],
            crs=crs(26, 39.5, esc=14, end=30, o2="low_flow", low_flow_l_min=2),
            icans=icans(62, 3, 12, 22, 22),
        ),
        # BCMA CRS starts late (cilta-cel median D+7): febrile now, oxygen need to come.
        PatientPlan(
            Product.CILTA_CEL,
            MYELOMA,
            male,
            61.2,
            78.0,
            spread[4],
            crs=crs(104, 38.8, esc=34, end=30, o2="low_flow", low_flow_l_min=3),
        ),
        # Grade 3 on high-flow nasal cannula 30 L/min: two tocilizumab doses, dexamethasone.
        PatientPlan(
            Product.BREXU_CEL,
            "Mantle cell lymphoma",
            male,
            67.5,
            81.0,
            spread[5],
            crs=crs(
                100,
                39.6,
                esc=12,
                sev=8,
                sev_end=50,
                end=30,
                o2="high_flow",
                low_flow_l_min=4,
                severe_flow_l_min=30,
            ),
        ),
        # Mild CRS, resolved; nobody has charted for over 6 hours (an overdue check).
        PatientPlan(
            Product.LISO_CEL,
            "Relapsed DLBCL",
            female,
            71.0,
            62.0,
            spread[6],
            crs=crs(70, 38.4, fever_h=30),
            overdue_h=rng.uniform(7, 9),
        ),
        # CRS 2 on 2 L/min, then ICANS: ICE 10 -> 8 -> 5 -> recovers, dexamethasone.
        PatientPlan(
            Product.AXI_CEL,
            "Relapsed DLBCL",
            male,
            52.8,
            88.0,
            spread[7],
            crs=crs(30, 39.2, esc=16, end=26, o2="low_flow", low_flow_l_min=2),
            icans=icans(84, 2, 12, 28, 22),
        ),
        # No toxicity at all (liso-cel often has none), so looked after as an outpatient from
        # the infusion: clinic visits in the morning, phone calls in the evening.
        PatientPlan(
            Product.LISO_CEL,
            "Transformed follicular lymphoma",
            female,
            44.2,
            58.0,
            spread[8],
            outpatient_from_day=0,
        ),
        # Obe-cel CRS starts late (median D+8) and is usually mild.
        PatientPlan(
            Product.OBE_CEL, ADULT_ALL, male, 29.9, 74.0, spread[9], crs=crs(190, 38.5, fever_h=26)
        ),
        # Grade 3: one vasopressor (noradrenaline) and a facemask.
        PatientPlan(
            Product.AXI_CEL,
            "High-grade B-cell lymphoma",
            female,
            57.4,
            69.0,
            spread[10],
            crs=crs(
                26,
                39.8,
                esc=12,
                sev=8,
                sev_end=34,
                end=24,
                bp="pressor",
                o2="facemask",
                low_flow_l_min=4,
                severe_flow_l_min=8,
            ),
        ),
        # Mild CRS treated with paracetamol only.
        PatientPlan(
            Product.TISA_CEL,
            "Relapsed DLBCL",
            male,
            72.3,
            77.0,
            spread[11],
            crs=crs(62, 38.6, fever_h=36, antipyretic=True),
        ),
    ]
    return plans


def random_plan(days: int, rng: random.Random) -> PatientPlan:
    """A patient of a larger demo: product, then CRS and ICANS drawn from its profile."""
    key = rng.choices([k for k, _ in PRODUCT_MIX], [w for _, w in PRODUCT_MIX])[0]
    profile = PROFILES[key]
    product = key.removesuffix("-all")
    low, mode, high = profile.ages
    age = rng.triangular(low, high, mode)
    sex = rng.choice([Patient.Sex.FEMALE, Patient.Sex.MALE])
    if age < 12:
        weight = (age + 4) * 2 * rng.uniform(0.85, 1.2)  # APLS estimate, (age + 4) x 2 kg
    elif age < 18:
        weight = rng.uniform(35, 65)
    else:
        weight = rng.uniform(50, 92) if sex == Patient.Sex.FEMALE else rng.uniform(60, 110)

    crs_grade = rng.choices(range(4), profile.crs_weights)[0]
    crs = _random_crs(crs_grade, profile, rng) if crs_grade else None
    icans_grade = rng.choices(range(4), profile.icans_weights)[0]
    icans = None
    if icans_grade:
        # ICANS usually follows CRS, starting as it peaks or after [M].
        anchor = (crs.escalate_h or crs.onset_h + 12) if crs else rng.triangular(72, 216, 120)
        onset = anchor + rng.uniform(0, 48)
        to_peak = rng.uniform(6, 16) if icans_grade >= 2 else 0.0
        peak_len = rng.uniform(16, 48) if icans_grade >= 2 else rng.uniform(12, 36)
        icans = IcansPlan(
            onset_h=onset,
            grade=icans_grade,
            peak_h=onset + to_peak,
            peak_end_h=onset + to_peak + peak_len,
            recovered_h=onset + to_peak + peak_len + rng.uniform(12, 30),
        )
    day = rng.randrange(days)
    overdue = rng.uniform(6.5, 11) if day >= 1 and rng.random() < 0.03 else 0.0
    return PatientPlan(
        product,
        rng.choice(profile.indications),
        sex,
        round(age, 1),
        round(weight, 1),
        day,
        crs=crs,
        icans=icans,
        overdue_h=overdue,
    )


def _random_crs(grade: int, profile: ProductProfile, rng: random.Random) -> CrsPlan:
    low, mode, high = profile.crs_onset_days
    onset = max(6.0, rng.triangular(low * 24, high * 24, mode * 24))
    if grade == 1:
        return CrsPlan(
            onset_h=onset,
            peak_temp_c=rng.uniform(38.2, 39.2),
            fever_end_h=onset + rng.uniform(18, 60),
            response_h=rng.uniform(3, 7),
            antipyretic=rng.random() < 0.5,
        )
    escalate = onset + rng.uniform(6, 24)
    bp, o2, severe, severe_end = "", "", None, None
    if grade == 2:
        route = rng.choices(["fluids", "low_flow", "both"], [45, 35, 20])[0]
        bp = "fluids" if route != "low_flow" else ""
        o2 = "low_flow" if route != "fluids" else ""
        support_end = escalate + rng.uniform(12, 40)
    else:
        route = rng.choices(["pressor", "high_flow", "facemask"], [45, 35, 20])[0]
        if route == "pressor":
            bp, o2 = "pressor", "low_flow" if rng.random() < 0.4 else ""
        else:
            o2 = route
        severe = escalate + rng.uniform(4, 12)
        severe_end = severe + rng.uniform(12, 36)
        support_end = severe_end + rng.uniform(8, 30)
    return CrsPlan(
        onset_h=onset,
        peak_temp_c=rng.uniform(38.6, 39.8),
        fever_end_h=support_end + 48,
        response_h=rng.uniform(3, 7),
        bp=bp,
        o2=o2,
        low_flow_l_min=rng.choice([2, 3, 4]),
        severe_flow_l_min=rng.choice([30, 40]) if o2 == "high_flow" else rng.choice([6, 8]),
        escalate_h=escalate,
        severe_h=severe,
        severe_end_h=severe_end,
        support_end_h=support_end,
    )

"""A demo hospital: CAR T-cell courses simulated check by check and graded by the live rules.

``manage.py seed_demo`` calls :func:`seed`. Each patient gets a course plan (when CRS starts, how
far it goes and how long it lasts, the same for ICANS), drawn per product. A simulator then walks
the bedside schedule of reference §6.1 from the infusion until now:

- vital signs and symptoms every 4 h, every 2 h while febrile or at CRS grade ≥ 2;
- ICE (age ≥ 12) or CAPD (age < 12) every 8 h, every 4 h during ICANS or CRS grade ≥ 2;
- labs at 06:00 every day, plus a pre-infusion baseline check.

After each check a simulated CAR-T physician reacts to the *graded* result as ASCO 2021 advises
(reference §7): tocilizumab from CRS grade 2 (or for ICANS with a concurrent CRS fever),
dexamethasone for CRS grade 3 or ICANS grade ≥ 2, paracetamol for some grade 1 fevers.
Treatments change what follows (fever settles after tocilizumab), so the history reads like a
chart. Grades and flags come from the code a live check runs (``course_state.Timeline`` and
``flag_rules``), fed in clinical order from memory: the stored rows are exactly what
``services.record_check`` would have written had each check been entered at its time.

The values are plausible, not real, and nothing here is clinical advice.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from monitoring import flag_rules, grading, schedule, services
from monitoring.course_state import Moment, Timeline
from monitoring.models import (
    CAPD_ITEM_FIELDS,
    BedsideCheck,
    CourseStatus,
    Flag,
    GradeSnapshot,
    LabResult,
    NeuroAssessment,
    Patient,
    SymptomCheck,
    Treatment,
    TreatmentCourse,
    Unit,
    User,
    VitalSigns,
)

DEMO_PASSWORD = "cartmonitor-demo"
MRN_PREFIX = "DEMO-"
BATCH_SIZE = 2000
COURSES_PER_CHUNK = 100  # bounds memory: a chunk's rows are written, then dropped

Product = TreatmentCourse.Product
Oxygen = VitalSigns.Oxygen

# --------------------------------------------------------------------------------------------
# Fixed vocabularies: units, staff and patient names (deterministic, no Faker).
# --------------------------------------------------------------------------------------------

FIRST_UNITS = [("Haematology Ward 7", "h7"), ("Cellular Therapy Unit", "ctu")]
# Further units for large demos: a ward stem and a code prefix, numbered.
UNIT_STEMS = [
    ("Haematology Ward", "h"),
    ("Oncology Ward", "onc"),
    ("Transplant Unit", "tx"),
    ("Lymphoma Unit", "lym"),
    ("Myeloma Unit", "mm"),
    ("Paediatric Haematology Ward", "ph"),
]
DEMO_USERS = [
    # username, first name, last name, role; the nurse belongs to the first unit only.
    ("demo-nurse", "Nina", "Nurse", User.Role.NURSE),
    ("demo-care", "Carl", "Carter", User.Role.CARE_TEAM),
    ("demo-admin", "Ada", "Admin", User.Role.ADMIN),
]
FEMALE_NAMES = [
    "Amara",
    "Beatriz",
    "Chloé",
    "Dana",
    "Elif",
    "Fatima",
    "Grace",
    "Hannah",
    "Ingrid",
    "Jasmin",
    "Keiko",
    "Lucia",
    "Maya",
    "Nadia",
    "Olga",
    "Priya",
    "Rosa",
    "Sofia",
    "Tanvi",
    "Ursula",
    "Valeria",
    "Wen",
    "Yasmin",
    "Zofia",
    "Aoife",
    "Marta",
    "Leila",
    "Helen",
    "Joanna",
    "Ruth",
]
MALE_NAMES = [
    "Adam",
    "Bruno",
    "Carlos",
    "Daniel",
    "Emeka",
    "Farid",
    "Georg",
    "Hiroshi",
    "Ivan",
    "Jonas",
    "Kwame",
    "Luca",
    "Mateo",
    "Nikhil",
    "Omar",
    "Pavel",
    "Rafael",
    "Samuel",
    "Tomasz",
    "Viktor",
    "William",
    "Yusuf",
    "Arjun",
    "Ben",
    "Declan",
    "Erik",
    "Hassan",
    "Marco",
    "Peter",
    "Stefan",
]
FAMILY_NAMES = [
    "Abbott",
    "Achterberg",
    "Bianchi",
    "Brennan",
    "Castillo",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Hughes",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Kumar",
    "Larsen",
    "Lindqvist",
    "Mensah",
    "Moreau",
    "Nakamura",
    "Novak",
    "Okafor",
    "O'Neill",
    "Papadopoulos",
    "Quinn",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Tanaka",
    "Thompson",
    "Uddin",
    "Van Dijk",
    "Walsh",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zielinski",
    "Baker",
    "Cohen",
    "Diallo",
    "Evans",
    "Ferreira",
]

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
    product: str  # a TreatmentCourse.Product value
    indication: str
    sex: str
    age_years: float
    weight_kg: float
    day: int  # days since infusion today (D+n)
    crs: CrsPlan | None = None
    icans: IcansPlan | None = None
    overdue_h: float = 0.0  # no check for this long before now (a missed round)


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
        # No toxicity at all (liso-cel often has none).
        PatientPlan(
            Product.LISO_CEL, "Transformed follicular lymphoma", female, 44.2, 58.0, spread[8]
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


# --------------------------------------------------------------------------------------------
# Physiology: what the patient shows at a given hour, given the plan and treatments so far.
# --------------------------------------------------------------------------------------------

TOCILIZUMAB, DEXAMETHASONE, ANTIPYRETIC = "tocilizumab", "dexamethasone", "antipyretic"
# Peak inflammatory markers by worst CRS grade (index 0-3): plausible ranges [M], ref §5.1.
CRP_PEAK_MG_L = [(0, 0), (40, 90), (100, 190), (170, 280)]
FERRITIN_RISE_FOLD = [(0, 0), (0.5, 1.5), (2, 5), (6, 12)]
IL6_PEAK_PG_ML = [(0, 0), (20, 60), (80, 300), (300, 1500)]
ANTI_CYTOKINE = {TOCILIZUMAB, DEXAMETHASONE}


def _rise_fall(h: float, start: float, peak_at: float, half_life: float) -> float:
    """0 before ``start``, a linear rise to 1 at ``peak_at``, then exponential decay."""
    if h <= start:
        return 0.0
    if h <= peak_at:
        return (h - start) / max(peak_at - start, 1.0)
    return 0.5 ** ((h - peak_at) / half_life)


def _dec(value: float, places: int) -> Decimal:
    """A Decimal as the database returns it, so in-memory grading equals a reload."""
    return Decimal(f"{value:.{places}f}")


@dataclass
class Physiology:
    """One patient's baselines and how CRS/ICANS move them; all units as in the model fields."""

    plan: PatientPlan
    rng: random.Random
    given: dict[str, list[float]] = field(default_factory=dict)  # drug -> hours given

    def __post_init__(self) -> None:
        rng, child = self.rng, self.plan.age_years < 12
        self.temp_base = rng.uniform(36.5, 37.0)
        self.hr_base = rng.uniform(85, 105) if child else rng.uniform(64, 86)
        self.rr_base = rng.uniform(18, 22) if child else rng.uniform(13, 17)
        self.sbp_base = rng.uniform(100, 114) if child else rng.uniform(106, 132)
        self.spo2_base = rng.choice([96, 97, 97, 98, 98, 99])
        self.tired = rng.random() < 0.25  # fatigue after lymphodepletion, unrelated to CRS
        # Labs: post-lymphodepletion baselines (ref §5.1 units).
        lymphoma = "lymphoma" in self.plan.indication or "DLBCL" in self.plan.indication
        self.crp_base = rng.uniform(2, 12) * (2 if lymphoma else 1)
        self.ferritin_base = rng.uniform(250, 1200)
        self.il6_base = rng.uniform(2, 9)
        self.fibrinogen_base = rng.uniform(260, 420)
        self.ldh_base = rng.uniform(250, 520) if lymphoma or child else rng.uniform(160, 260)
        self.ddimer_base = rng.uniform(0.3, 1.1)
        self.anc_base = rng.uniform(1.8, 4.5)
        self.anc_nadir = rng.uniform(0.05, 0.45)
        self.anc_nadir_day = rng.uniform(4, 8)
        self.anc_recovery_day = self.anc_nadir_day + rng.uniform(4, 9)
        self.platelets_base = rng.uniform(90, 220)
        self.hb_base = rng.uniform(9.0, 12.0)
        self.creatinine_base = rng.uniform(0.3, 0.5) if child else rng.uniform(0.6, 1.1)
        self.alt_base, self.ast_base = rng.uniform(12, 35), rng.uniform(14, 35)
        self.bilirubin_base = rng.uniform(0.3, 0.9)
        # How far CRP (mg/L), ferritin (x baseline) and IL-6 (pg/mL) climb, by CRS grade 0-3.
        grade = self.plan.crs.grade if self.plan.crs else 0
        self.crp_peak = rng.uniform(*CRP_PEAK_MG_L[grade])
        self.ferritin_fold = rng.uniform(*FERRITIN_RISE_FOLD[grade])
        self.il6_peak = rng.uniform(*IL6_PEAK_PG_ML[grade])

    # --- treatments -------------------------------------------------------------------------

    def first_anticytokine_h(self) -> float | None:
        times = [h for drug in ANTI_CYTOKINE for h in self.given.get(drug, ())]
        crs = self.plan.crs
        times = [h for h in times if crs and h >= crs.onset_h]
        return min(times, default=None)

    # --- CRS state --------------------------------------------------------------------------

    def febrile(self, h: float) -> bool:
        crs = self.plan.crs
        if crs is None or h < crs.onset_h:
            return False
        end = crs.fever_end_h
        treated = self.first_anticytokine_h()
        if treated is not None:
            end = min(end, treated + crs.response_h)  # fever settles within hours [M]
        return h < end

    def temperature(self, h: float) -> float:
        crs, rng = self.plan.crs, self.rng
        if not self.febrile(h):
            # After a CRS fever the temperature stays a little raised for a day or so.
            after = crs is not None and h >= crs.onset_h and h - crs.onset_h < 96
            value = self.temp_base + (0.4 if after else 0.0) + rng.gauss(0, 0.15)
            return min(max(value, 36.2), 37.6)
        span = max(crs.fever_end_h - crs.onset_h, 12.0)
        shape = math.sin(math.pi * min((h - crs.onset_h) / span, 1.0)) ** 0.5
        value = 38.0 + (crs.peak_temp_c - 38.0) * shape + abs(rng.gauss(0, 0.15))
        if any(0 <= h - t < 4 for t in self.given.get(ANTIPYRETIC, ())):
            value -= rng.uniform(0.6, 1.1)  # paracetamol works for about 4 h
        return min(value, 39.9)

    def support(self, h: float) -> tuple[bool, bool, str, float | None]:
        """(hypotensive, on a vasopressor, oxygen device, flow L/min) at hour ``h``."""
        crs = self.plan.crs
        if crs is None or crs.escalate_h is None or not crs.escalate_h <= h < crs.support_end_h:
            return False, False, Oxygen.ROOM_AIR, None
        severe = crs.severe_h is not None and crs.severe_h <= h < crs.severe_end_h
        after_severe = crs.severe_end_h is not None and h >= crs.severe_end_h
        hypotensive = pressor = False
        if crs.bp == "fluids":
            hypotensive = True
        elif crs.bp == "pressor":
            # Fluids first, then noradrenaline; once weaned the pressure has recovered.
            pressor = severe
            hypotensive = not severe and not after_severe
        device, flow = Oxygen.ROOM_AIR, None
        if crs.o2 == "low_flow" or (crs.o2 and not severe):
            device, flow = Oxygen.LOW_FLOW, crs.low_flow_l_min
        elif crs.o2:
            device, flow = crs.o2, crs.severe_flow_l_min
        return hypotensive, pressor, device, flow

    def vitals(self, h: float) -> VitalSigns:
        rng = self.rng
        temp = self.temperature(h)
        hypotensive, pressor, device, flow = self.support(h)
        child = self.plan.age_years < 12
        if hypotensive:
            # Below the adult 90 mmHg or the PALS limit for age (ref §1.3).
            limit = grading.hypotension_threshold_mmhg(self.plan.age_years)
            sbp = rng.randint(limit - 10, limit - 1)
        elif pressor:
            sbp = rng.randint(92, 106)  # held up by noradrenaline
        else:
            # Outside a planned hypotensive spell the pressure stays clear of the limit, so a
            # noisy reading never fakes grade 2 CRS.
            limit = grading.hypotension_threshold_mmhg(self.plan.age_years)
            sbp = round(self.sbp_base - (6 if temp >= 38 else 0) + rng.gauss(0, 5))
            sbp = max(sbp, limit + rng.randint(4, 9))
        dbp = min(round(sbp * rng.uniform(0.55, 0.66)), sbp - 20)
        # Heart rate rises about 10/min per °C of fever, more when the pressure is low.
        hr = self.hr_base + 10 * max(temp - 37.0, 0) + (14 if hypotensive or pressor else 0)
        hr = round(min(hr + rng.gauss(0, 4), 165 if child else 145))
        rr = self.rr_base + (3 if temp >= 38 else 0) + rng.gauss(0, 1.2)
        if device == Oxygen.LOW_FLOW:
            rr, spo2 = rr + 4, rng.randint(92, 96)
        elif device != Oxygen.ROOM_AIR:
            rr, spo2 = rr + 8, rng.randint(90, 95)
        else:
            spo2 = min(self.spo2_base + rng.choice([-1, 0, 0, 1]) - (1 if temp >= 38 else 0), 100)
        return VitalSigns(
            temp_c=_dec(temp, 1),
            heart_rate_bpm=hr,
            resp_rate_per_min=round(rr),
            sbp_mmhg=sbp,
            dbp_mmhg=dbp,
            spo2_pct=spo2,
            oxygen_support=device,
            oxygen_flow_l_min=_dec(flow, 1) if flow is not None else None,
            vasopressors_count=1 if pressor else 0,
        )

    # --- ICANS state ------------------------------------------------------------------------

    def icans_level(self, h: float) -> int:
        """The ICANS grade the screen would show at hour ``h`` (0 = well)."""
        icans = self.plan.icans
        if icans is None or not icans.onset_h <= h < icans.recovered_h:
            return 0
        if icans.peak_h <= h < icans.peak_end_h:
            return icans.grade
        return 1  # the mild phase before the worst and during recovery

    def neuro(self, h: float, uses_capd: bool) -> NeuroAssessment:
        level, rng = self.icans_level(h), self.rng
        consciousness = NeuroAssessment.Consciousness.ALERT
        if level == 3 or (level == 2 and uses_capd):
            # CAPD 1-8 is grade 2 only with a depressed level of consciousness (ref §2.3).
            consciousness = NeuroAssessment.Consciousness.VOICE
        if uses_capd:
            # A well child scores 0; 1-8 is grade 1-2, >= 9 a positive screen (ref §2.3).
            capd = (0, rng.randint(3, 6), rng.randint(5, 8), rng.randint(9, 14))[level]
            items = _capd_answers(capd)
            record = NeuroAssessment(
                consciousness=consciousness, **dict(zip(CAPD_ITEM_FIELDS, items, strict=True))
            )
            record.capd_total = grading.capd_total(items)
            return record
        ice = (10, rng.choice([8, 8, 9, 7]), rng.choice([5, 5, 4, 6]), rng.choice([2, 1]))[level]
        items = _ice_items(ice)
        record = NeuroAssessment(
            consciousness=consciousness,
            ice_orientation=items[0],
            ice_naming=items[1],
            ice_commands=items[2],
            ice_writing=items[3],
            ice_attention=items[4],
        )
        record.ice_total = grading.ice_total(*items)
        return record

    def symptoms(self, h: float, vitals: VitalSigns) -> SymptomCheck:
        rng = self.rng
        in_crs = (
            self.plan.crs is not None
            and h >= self.plan.crs.onset_h
            and (
                self.febrile(h)
                or vitals.oxygen_support != Oxygen.ROOM_AIR
                or vitals.vasopressors_count > 0
            )
        )
        level = self.icans_level(h)
        limit = grading.hypotension_threshold_mmhg(self.plan.age_years)
        other = ""
        if self.febrile(h) and h - self.plan.crs.onset_h < 6 and rng.random() < 0.4:
            other = "rigors"
        elif in_crs and rng.random() < 0.1:
            other = "nausea, poor appetite"
        return SymptomCheck(
            fever=float(vitals.temp_c) >= 38.0,
            low_blood_pressure=vitals.sbp_mmhg < limit or vitals.vasopressors_count > 0,
            breathing_difficulty=vitals.oxygen_support != Oxygen.ROOM_AIR,
            # Fatigue, headache and tremor are charted but never graded (ref §0).
            fatigue=(in_crs and rng.random() < 0.6) or (self.tired and rng.random() < 0.3),
            headache=(in_crs or level > 0) and rng.random() < 0.2,
            tremor=level > 0 and rng.random() < 0.4,
            # Confusion and word-finding trouble are what an ICE deficit looks like (ref §0).
            confusion=level >= 2 or (level == 1 and rng.random() < 0.5),
            difficulty_speaking=level >= 2 and rng.random() < 0.6,
            other=other,
        )

    # --- labs -------------------------------------------------------------------------------

    def labs(self, h: float) -> LabResult:
        rng, crs = self.rng, self.plan.crs
        day = h / 24

        def noisy(value: float, sd: float = 0.05) -> float:
            return value * (1 + rng.gauss(0, sd))

        fast = slow = il6_block = 0.0
        grade = crs.grade if crs else 0
        if crs:
            toci = min((t for t in self.given.get(TOCILIZUMAB, ()) if t <= h), default=None)
            # CRP peaks ~1.5 days after fever onset [M]; it falls after tocilizumab (ref §5.1).
            crp_peak_at = crs.onset_h + 36
            if toci is not None:
                crp_peak_at = min(crp_peak_at, toci + 12)
            fast = _rise_fall(h, crs.onset_h - 6, crp_peak_at, 30)
            slow = _rise_fall(h, crs.onset_h, crs.onset_h + 60, 72)
            if toci is not None:
                # Serum IL-6 climbs after tocilizumab: the receptor is blocked (ref §5.1).
                il6_block = _rise_fall(h, toci, toci + 24, 48) * rng.uniform(8, 12)
        hypotensive_recently = self.support(h)[0] or self.support(h - 12)[0]
        anc = _log_interpolate(
            day,
            [
                (0, self.anc_base),
                (self.anc_nadir_day, self.anc_nadir),
                (self.anc_recovery_day, self.anc_nadir * 1.5),
                (self.anc_recovery_day + 6, 1.4),
            ],
        )
        return LabResult(
            crp_mg_l=_dec(max(noisy(self.crp_base + self.crp_peak * fast), 1.0), 1),
            ferritin_ng_ml=_dec(noisy(self.ferritin_base * (1 + self.ferritin_fold * slow)), 0),
            il6_pg_ml=_dec(
                noisy(
                    self.il6_base + self.il6_peak * fast + (self.il6_peak + 200) * il6_block, 0.1
                ),
                1,
            ),
            # Fibrinogen is an acute-phase protein; severe CRS consumes it (IEC-HS, ref §4.1).
            fibrinogen_mg_dl=_dec(
                noisy(
                    self.fibrinogen_base
                    + 140 * fast
                    - (0.45 * self.fibrinogen_base if grade >= 3 else 0) * slow
                ),
                0,
            ),
            d_dimer_ug_ml_feu=_dec(
                noisy(self.ddimer_base + (4.0 if grade >= 2 else 0.8) * slow), 2
            ),
            ldh_u_l=_dec(noisy(self.ldh_base * (1 + 0.5 * fast)), 0),
            anc_10e9_l=_dec(noisy(anc, 0.08), 2),
            platelets_10e9_l=_dec(noisy(self.platelets_base * (1 - 0.5 * min(day / 8, 1))), 0),
            hemoglobin_g_dl=_dec(max(noisy(self.hb_base - 0.1 * day, 0.02), 7.2), 1),
            creatinine_mg_dl=_dec(
                noisy(self.creatinine_base * (1.45 if hypotensive_recently else 1.0)), 2
            ),
            alt_u_l=_dec(noisy(self.alt_base + (60 if grade >= 2 else 8) * slow, 0.1), 0),
            ast_u_l=_dec(noisy(self.ast_base + (55 if grade >= 2 else 8) * slow, 0.1), 0),
            bilirubin_mg_dl=_dec(noisy(self.bilirubin_base + (0.7 if grade >= 3 else 0) * slow), 1),
        )


def _log_interpolate(x: float, points: list[tuple[float, float]]) -> float:
    """Geometric interpolation between (x, y) points: blood counts fall and recover by ratios."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x <= x1:
            return y0 * (y1 / y0) ** ((x - x0) / (x1 - x0))
    return points[-1][1]


# ICE points are lost in a typical order: handwriting and attention first, then orientation and
# naming, following commands last (ref §2.1: handwriting deterioration is an early sign).
ICE_DEFICIT_ORDER = [3, 4, 0, 0, 1, 0, 1, 2, 0, 1]  # item index per point lost
ICE_MAXIMA = [4, 3, 1, 1, 1]
# CAPD items that move first in a delirious child: restless, slow to respond, eye contact...
CAPD_ORDER = [4, 7, 0, 3, 2, 1, 6, 5]


def _ice_items(total: int) -> list[int]:
    """ICE item scores (orientation, naming, commands, writing, attention) adding to total."""
    items = list(ICE_MAXIMA)
    for index in ICE_DEFICIT_ORDER[: 10 - total]:
        items[index] -= 1
    return items


def _capd_answers(total: int) -> list[int]:
    """CAPD answers as ticked (0 never ... 4 always) that score ``total``; 1-4 reverse-scored."""
    points = [0] * 8
    for step in range(total):
        points[CAPD_ORDER[step % 8]] += 1
    # Items 1-4 ask about normal behaviour: a point there means answering less than "always".
    return [4 - p if n < 4 else p for n, p in enumerate(points)]


# --------------------------------------------------------------------------------------------
# The write path, in memory: mirrors services.record_check for checks entered in order.
# --------------------------------------------------------------------------------------------


class CourseLedger:
    """Grades, snapshots and flags of one course, built as ``services.record_check`` builds
    them for checks entered in order: same Timeline, same flag rules, same FlagBook."""

    def __init__(self, course: TreatmentCourse, patient: Patient):
        self.course = course
        self.timeline = Timeline(
            age_at=lambda at: patient.age_on(timezone.localdate(at)), infused_at=course.infused_at
        )
        self.snapshots: list[GradeSnapshot] = []
        self.book = services.FlagBook(course)
        self.flags: list[Flag] = []
        self._markers: dict[str, tuple[float, datetime]] = {}  # latest CRP/ferritin and time
        self._last_done: dict[str, datetime] = {}  # check type -> latest record time
        self._latest_neuro = None

    def record(
        self,
        check: BedsideCheck,
        *,
        vitals=None,
        symptoms=None,
        neuro=None,
        labs=None,
        treatment=None,
    ) -> Moment:
        """Grade the course at ``check`` and raise flags, like ``services.record_check``."""
        at = check.observed_at
        for series, record in (
            (self.timeline.vitals, vitals),
            (self.timeline.neuro, neuro),
            (self.timeline.treatments, treatment),
            (self.timeline.symptoms, symptoms),
        ):
            if record is not None:
                series.add(at, record)
        version = self.course.protocol_version
        sbp_threshold = version.sbp_low_mmhg if version else None
        moment = self.timeline.grade_at(at, sbp_threshold=sbp_threshold)
        snapshot = GradeSnapshot(
            check_entry=check,
            course=self.course,
            observed_at=at,
            computed_at=check.recorded_at,
            **moment.snapshot_fields(),
        )
        self.snapshots.append(snapshot)
        specs = flag_rules.grade_flags(moment) + flag_rules.record_flags(
            age_years=self.timeline.age_at(at),
            vitals=vitals,
            symptoms=symptoms,
            labs=labs,
            previous_markers=dict(self._markers),
            thresholds=version.thresholds() if version else None,
            rise_factor=(
                float(version.marker_rise_factor) if version else grading.DEFAULT_RISE_FACTOR
            ),
        )
        for kind, record in (
            ("vitals", vitals),
            ("symptoms", symptoms),
            ("neuro", neuro),
            ("labs", labs),
        ):
            if record is not None and at >= self._last_done.get(kind, at):
                self._last_done[kind] = at
                if kind == "neuro":
                    self._latest_neuro = neuro
        if labs is not None:
            for name in flag_rules.RISING_MARKERS:
                if getattr(labs, name) is not None:
                    self._markers[name] = (float(getattr(labs, name)), at)
        for spec in specs:
            flag = self.book.raise_flag(spec, snapshot=snapshot, now=check.recorded_at)
            if flag.pk is None and flag not in self.flags:
                self.flags.append(flag)
        return moment

    def review_flags(self, *, now: datetime, by: User) -> None:
        """A care team has been at work: a flag last raised over 2 h ago was acknowledged 35
        minutes after (so an escalation is never hidden behind an earlier acknowledgement);
        one not raised again for 24 h was resolved. Recent ones stay open, as a shift finds."""
        for flag in self.flags:
            seen = flag.updated_at + timedelta(minutes=35)
            if flag.updated_at < now - timedelta(hours=24):
                flag.status = Flag.Status.RESOLVED
                flag.acknowledged_at = seen
                flag.resolved_at = flag.updated_at + timedelta(hours=24)
                flag.acknowledged_by = flag.resolved_by = by
                flag.resolve_reason = "Reviewed on the ward round; condition resolved."
            elif flag.updated_at < now - timedelta(hours=2):
                flag.status = Flag.Status.ACKNOWLEDGED
                flag.acknowledged_at = seen
                flag.acknowledged_by = by
                flag.acknowledge_note = "Seen at the bedside; plan discussed with the nurse."

    def status(self, now: datetime) -> CourseStatus:
        """As services.refresh_status after the last check, from what is held here."""
        latest = max(self.snapshots, key=lambda s: s.observed_at, default=None)
        status = CourseStatus(
            course=self.course,
            updated_at=max((s.computed_at for s in self.snapshots), default=now),
            **services.status_values(
                latest=latest,
                max_crs=max(
                    (s.crs_grade for s in self.snapshots if s.crs_grade is not None), default=None
                ),
                max_icans=max(
                    (s.icans_grade for s in self.snapshots if s.icans_grade is not None),
                    default=None,
                ),
                open_severities=[
                    f.severity for f in self.flags if f.status != Flag.Status.RESOLVED
                ],
                last_done=self._last_done,
                neuro_changed=services.neuro_changed(self._latest_neuro),
            ),
        )
        for name, value in schedule.due_marks(self.course, status).items():
            setattr(status, name, value)
        return status


# --------------------------------------------------------------------------------------------
# The bedside: schedule, checks and the physician's orders.
# --------------------------------------------------------------------------------------------


@dataclass
class CourseRows:
    """Unsaved rows of one course: checks, their records by model, and the graded ledger."""

    ledger: CourseLedger
    checks: list[BedsideCheck] = field(default_factory=list)
    records: dict[type, list] = field(default_factory=dict)


class CourseSimulator:
    """Walks one course from infusion to now, charting, grading and treating as it goes."""

    def __init__(
        self,
        *,
        plan: PatientPlan,
        patient: Patient,
        course: TreatmentCourse,
        nurses: tuple[User, User],
        rng: random.Random,
        now: datetime,
    ):
        self.plan, self.patient, self.course = plan, patient, course
        self.day_nurse, self.night_nurse = nurses
        self.rng, self.now = rng, now
        self.body = Physiology(plan, rng)
        self.rows = CourseRows(CourseLedger(course, patient))
        self.pending: list[tuple[datetime, Treatment]] = []  # ordered, not yet given
        self.last_order: dict[str, datetime] = {}
        self.last_moment: Moment | None = None
        self.last_temp = 37.0
        self.toci_doses: list[tuple[datetime, int]] = []  # (time, CRS grade when given)

    def hours(self, at: datetime) -> float:
        return (at - self.course.infused_at).total_seconds() / 3600

    def run(self) -> CourseRows:
        cutoff = self.now - timedelta(hours=self.plan.overdue_h)
        # Pre-infusion baseline: vitals, ICE/CAPD and labs to compare against (ref §6.1).
        self._bedside(self.course.infused_at - timedelta(hours=1), neuro=True, labs=True)
        tz = timezone.get_current_timezone()
        for slot, hour in _even_hours(self.course.infused_at, cutoff, tz):
            routine = hour % 4 == 2  # 02:00, 06:00 ... 22:00: every 4 h
            if not routine and not self._febrile_watch():
                continue
            self._give_orders(before=slot)
            neuro = routine and (hour in (6, 14, 22) or self._neuro_watch())
            self._bedside(slot, neuro=neuro, labs=hour == 6)
        self._give_orders(before=cutoff)
        return self.rows

    def _febrile_watch(self) -> bool:
        """Vital signs every 2 h with fever (ref §6.1: fever and tachycardia) or CRS >= 2."""
        crs = self.last_moment.crs if self.last_moment else None
        return self.last_temp >= 38.0 or bool(crs and crs.grade >= 2)

    def _neuro_watch(self) -> bool:
        """ICE/CAPD more often during ICANS or CRS (ref §6.1): every 4 h instead of 8."""
        m = self.last_moment
        return bool(m and ((m.icans and m.icans.grade >= 1) or (m.crs and m.crs.grade >= 2)))

    def _new_check(self, at: datetime, delay_min: int) -> BedsideCheck:
        local_hour = at.astimezone(timezone.get_current_timezone()).hour
        nurse = self.day_nurse if 8 <= local_hour < 20 else self.night_nurse
        recorded = min(at + timedelta(minutes=delay_min), self.now)
        check = BedsideCheck(
            course=self.course, observed_at=at, recorded_at=recorded, recorded_by=nurse
        )
        self.rows.checks.append(check)
        return check

    def _add(self, record) -> None:
        self.rows.records.setdefault(type(record), []).append(record)

    def _bedside(self, at: datetime, *, neuro: bool, labs: bool) -> None:
        h = self.hours(at)
        check = self._new_check(at, self.rng.randint(3, 25))
        records = {"vitals": self.body.vitals(h)}
        records["symptoms"] = self.body.symptoms(h, records["vitals"])
        if neuro:
            uses_capd = self.patient.uses_capd_on(timezone.localdate(at))
            records["neuro"] = self.body.neuro(h, uses_capd)
        if labs:
            records["labs"] = self.body.labs(h)
        for record in records.values():
            record.check_entry = check
            self._add(record)
        self.last_temp = float(records["vitals"].temp_c)
        self.last_moment = self.rows.ledger.record(check, **records)
        self._physician(at)

    def _physician(self, at: datetime) -> None:
        """Orders that follow the graded check (ASCO 2021, reference §7)."""
        m = self.last_moment
        crs = m.crs.grade if m.crs else 0
        icans = m.icans.grade if m.icans else 0
        soon = at + timedelta(hours=1)
        weight = self.plan.weight_kg
        # Tocilizumab from CRS grade 2, or for ICANS with a concurrent CRS fever (ref §7.2,
        # §7.3): 8 mg/kg IV (max 800 mg), 12 mg/kg under 30 kg; repeated after >= 8 h only if
        # worse; at most 3 doses in 24 h and 4 in all (ref §7.1).
        concurrent = icans >= 1 and self.last_temp >= 38.0
        if (crs >= 2 or concurrent) and len(self.toci_doses) < 4:
            last = self.toci_doses[-1] if self.toci_doses else None
            in_24h = sum(1 for t, _ in self.toci_doses if soon - t < timedelta(hours=24))
            if last is None or (
                soon - last[0] >= timedelta(hours=8) and crs > last[1] and in_24h < 3
            ):
                dose = min(weight * (12 if weight < 30 else 8), 800)
                self._order(soon, TOCILIZUMAB, round(dose))
                self.toci_doses.append((soon, crs))
        # Dexamethasone 10 mg IV while CRS is grade 3 (ref §7.2: q6h) or ICANS grade >= 2
        # (§7.3: q6-12h), at the first check 6 h or more after the last dose.
        # Children: 0.5 mg/kg up to 10 mg (paediatric CARTOX, Mahadeo 2019) [M].
        if crs >= 3 or icans >= 2:
            last_dex = self.last_order.get(DEXAMETHASONE)
            given_at = soon + timedelta(minutes=10)  # after the tocilizumab infusion starts
            if last_dex is None or given_at - last_dex >= timedelta(hours=6):
                dose = 10 if self.plan.age_years >= 18 else min(10, round(weight * 0.5))
                self._order(given_at, DEXAMETHASONE, dose)
        # Paracetamol for fever in grade 1 care (ref §7.2): 1 g, or 15 mg/kg under 50 kg; q6h.
        if self.plan.crs and self.plan.crs.antipyretic and self.last_temp >= 38.0:
            last_pcm = self.last_order.get(ANTIPYRETIC)
            if last_pcm is None or at - last_pcm >= timedelta(hours=5, minutes=30):
                dose = 1000 if weight >= 50 else round(weight * 15)
                self._order(at + timedelta(minutes=30), ANTIPYRETIC, dose, route="po")

    def _order(self, at: datetime, drug: str, dose: float, route: str = "iv") -> None:
        self.pending.append((at, Treatment(drug=drug, dose=Decimal(dose), route=route)))
        self.last_order[drug] = at

    def _give_orders(self, *, before: datetime) -> None:
        """Chart each ordered dose due by ``before`` as its own check, at the time given."""
        due = sorted((o for o in self.pending if o[0] <= before), key=lambda o: o[0])
        self.pending = [o for o in self.pending if o[0] > before]
        for at, treatment in due:
            check = self._new_check(at, 5)
            treatment.check_entry = check
            self._add(treatment)
            self.body.given.setdefault(treatment.drug, []).append(self.hours(at))
            self.last_moment = self.rows.ledger.record(check, treatment=treatment)


def _even_hours(start: datetime, end: datetime, tz) -> list[tuple[datetime, int]]:
    """(UTC time, local hour) of the ward's 00:00, 02:00 ... 22:00 in (start, end].

    The rounds follow the wall clock: on a spring-forward night 02:00 happens at 03:00, and
    keeps its place in the 4-hourly round.
    """
    slots, day = [], start.astimezone(tz).date()
    while True:
        for hour in range(0, 24, 2):
            slot = datetime.combine(day, clock(hour), tzinfo=tz).astimezone(UTC)
            if slot > end:
                return slots
            if slot > start and (not slots or slot > slots[-1][0]):
                slots.append((slot, hour))
        day += timedelta(days=1)


# --------------------------------------------------------------------------------------------
# Orchestration.
# --------------------------------------------------------------------------------------------


@dataclass
class SeedResult:
    created: bool
    counts: dict[str, int]
    seconds: float
    message: str = ""


def seed(
    *,
    patients: int = 12,
    units: int = 2,
    days: int = 14,
    seed: int = 2026,
    now: datetime | None = None,
) -> SeedResult:
    """Create the demo users and, unless demo patients exist, the demo hospital."""
    started = time.monotonic()
    now = (now or timezone.now()).astimezone(UTC).replace(second=0, microsecond=0)
    with transaction.atomic():
        existing = TreatmentCourse.objects.filter(patient__mrn__startswith=MRN_PREFIX)
        if existing.exists() or Patient.objects.filter(mrn__startswith=MRN_PREFIX).exists():
            # Run again: refresh the logins, leave units and clinical data alone.
            first = existing.order_by("patient__mrn").values_list("unit", flat=True).first()
            demo_units = list(Unit.objects.filter(courses__in=existing).distinct())
            _ensure_demo_users([u for u in demo_units if u.pk == first], demo_units)
            return SeedResult(
                False,
                {},
                time.monotonic() - started,
                f"Demo data already present: {existing.count()} courses; nothing added.",
            )
        unit_rows = _ensure_units(units)
        _ensure_demo_users(unit_rows[:1], unit_rows)
        nurses = _ensure_unit_nurses(unit_rows)
        counts = _create_hospital(
            patients=patients, units=unit_rows, nurses=nurses, days=days, seed=seed, now=now
        )
    # After a bulk load the planner's statistics are stale until autovacuum catches up; on
    # PostgreSQL that turned a 27 ms save into 260 ms at 1,000 patients. Refresh them now.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return SeedResult(True, counts, time.monotonic() - started)


def _unit_names(count: int) -> list[tuple[str, str]]:
    names = list(FIRST_UNITS[:count])
    number = 1
    while len(names) < count:
        for stem, prefix in UNIT_STEMS:
            candidate = (f"{stem} {number}", f"{prefix}{number}")
            if len(names) < count and candidate not in FIRST_UNITS:
                names.append(candidate)
        number += 1
    return names


def _ensure_units(count: int) -> list[Unit]:
    rows = []
    for name, code in _unit_names(count):
        unit, _ = Unit.objects.get_or_create(code=code, defaults={"name": name})
        rows.append(unit)
    return rows


def _ensure_demo_users(nurse_units: list[Unit], all_units: list[Unit]) -> None:
    """Get or update the three demo logins; the password is reset to the demo password."""
    for username, first, last, role in DEMO_USERS:
        user = User.objects.filter(username=username).first() or User(username=username)
        user.first_name, user.last_name, user.role = first, last, role
        user.email = f"{username}@demo.invalid"
        user.is_staff = user.is_superuser = role == User.Role.ADMIN
        user.is_active = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.units.set(nurse_units if role == User.Role.NURSE else all_units)


def _ensure_unit_nurses(units: list[Unit]) -> dict[int, tuple[User, User]]:
    """A day and a night nurse per unit, for ``recorded_by``; only demo-nurse can log in."""
    demo_nurse = User.objects.get(username="demo-nurse")
    given_names = [name for pair in zip(FEMALE_NAMES, MALE_NAMES, strict=True) for name in pair]
    nurses = {}
    for index, unit in enumerate(units):
        pair = []
        for shift_index, shift in enumerate(("day", "night")):
            if index == 0 and shift == "day":
                pair.append(demo_nurse)
                continue
            number = index * 2 + shift_index
            user, created = User.objects.get_or_create(
                username=f"demo-{unit.code}-{shift}-nurse",
                defaults={
                    "first_name": given_names[number % len(given_names)],
                    "last_name": FAMILY_NAMES[(number * 7 + 3) % len(FAMILY_NAMES)],
                    "role": User.Role.NURSE,
                },
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                user.units.set([unit])
            pair.append(user)
        nurses[unit.pk] = tuple(pair)
    return nurses


def _create_hospital(*, patients, units, nurses, days, seed, now) -> dict[str, int]:
    tz = timezone.get_current_timezone()
    today = now.astimezone(tz).date()
    scripted = scripted_plans(days, random.Random(f"cartmonitor-demo:{seed}:scripted"))
    entries = []  # (plan, patient, course, rng)
    # Product -> the protocol version new courses start on, schedules loaded once.
    versions = {
        product: services.protocol_version_for(product)
        for product in TreatmentCourse.Product.values
    }
    prefetch_related_objects([v for v in versions.values() if v], "schedules")
    for index in range(patients):
        # One generator per patient: a course does not change when --patients does.
        rng = random.Random(f"cartmonitor-demo:{seed}:{index}")
        plan = scripted[index] if index < len(scripted) else random_plan(days, rng)
        unit = units[index % len(units)]
        patient = _make_patient(index, plan, today, rng)
        infused = _infusion_time(plan.day, today, now, tz, rng)
        course = TreatmentCourse(
            patient=patient,
            unit=unit,
            product=plan.product,
            indication=plan.indication,
            infused_at=infused,
            created_at=infused - timedelta(days=1),
            protocol_version=versions.get(plan.product),
        )
        entries.append((plan, patient, course, rng))
    Patient.objects.bulk_create([e[1] for e in entries], batch_size=BATCH_SIZE)
    for _, patient, course, _ in entries:
        course.patient = patient  # picks up the new primary key
    TreatmentCourse.objects.bulk_create([e[2] for e in entries], batch_size=BATCH_SIZE)

    counts = {"units": len(units), "patients": len(entries), "courses": len(entries)}
    physician = User.objects.get(username="demo-care")
    for start in range(0, len(entries), COURSES_PER_CHUNK):
        chunk = []
        for plan, patient, course, rng in entries[start : start + COURSES_PER_CHUNK]:
            simulator = CourseSimulator(
                plan=plan,
                patient=patient,
                course=course,
                nurses=nurses[course.unit_id],
                rng=rng,
                now=now,
            )
            rows = simulator.run()
            rows.ledger.review_flags(now=now, by=physician)
            chunk.append(rows)
        _write_chunk(chunk, now, counts)
    return counts


def _write_chunk(chunk: list[CourseRows], now: datetime, counts: dict[str, int]) -> None:
    """Insert one chunk of courses; each bulk insert sets the keys the next one needs."""

    def insert(model, rows):
        model.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        label = str(model._meta.verbose_name_plural)
        counts[label] = counts.get(label, 0) + len(rows)

    insert(BedsideCheck, [c for rows in chunk for c in rows.checks])
    for model in (VitalSigns, SymptomCheck, NeuroAssessment, LabResult, Treatment):
        insert(model, [r for rows in chunk for r in rows.records.get(model, ())])
    insert(GradeSnapshot, [s for rows in chunk for s in rows.ledger.snapshots])
    insert(Flag, [f for rows in chunk for f in rows.ledger.flags])
    insert(CourseStatus, [rows.ledger.status(now) for rows in chunk])


def _make_patient(index: int, plan: PatientPlan, today: date, rng: random.Random) -> Patient:
    female = plan.sex == Patient.Sex.FEMALE
    given_names = FEMALE_NAMES if female else MALE_NAMES
    whole = int(plan.age_years)
    birthday = _years_before(today, whole) - timedelta(days=int((plan.age_years - whole) * 365))
    return Patient(
        mrn=f"{MRN_PREFIX}{index + 1:06d}",
        # Each family name is used once before any repeats, and a repeated family name gets a
        # different given name: two "Maya Papadopoulos" on one ward is a wrong-patient risk
        # even in a demo.
        given_name=given_names[(index + index // len(FAMILY_NAMES) * 7) % len(given_names)],
        family_name=FAMILY_NAMES[(index * 17) % len(FAMILY_NAMES)],
        date_of_birth=birthday,
        sex=plan.sex,
        weight_kg=_dec(plan.weight_kg, 1),
    )


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _infusion_time(day: int, today: date, now: datetime, tz, rng: random.Random) -> datetime:
    """A morning infusion ``day`` days ago; today's is kept before now."""
    minutes = rng.randrange(8 * 60 + 30, 11 * 60 + 30, 15)
    local = datetime.combine(
        today - timedelta(days=day), clock(minutes // 60, minutes % 60), tzinfo=tz
    )
    infused = local.astimezone(UTC)
    if infused > now - timedelta(minutes=30):
        # Seeded before the morning round: day 0's infusion is earlier today.
        midnight = datetime.combine(today, clock(0), tzinfo=tz).astimezone(UTC)
        infused = max(midnight, now - timedelta(minutes=90))
    return infused

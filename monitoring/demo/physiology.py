"""Physiology: what a demo patient shows at a given hour, given the plan and treatments so far."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from monitoring import grading
from monitoring.demo.plans import PatientPlan
from monitoring.models import (
    CAPD_ITEM_FIELDS,
    LabResult,
    NeuroAssessment,
    SymptomCheck,
    VitalSigns,
)

Oxygen = VitalSigns.Oxygen

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

"""Assemble a course's clinical state at a moment, and grade it.

A grade belongs to a moment of a course, not to one form (ASTCT grades the patient's state:
fever now or earlier-and-masked, the vasopressors and oxygen running now, the latest neuro
assessment). This module turns time-ordered records into the grading library's plain inputs.
It runs no queries: ``services`` loads the records once, and ``seed_demo`` feeds them from
memory, so one code path grades both live checks and demo histories.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitoring import grading
from monitoring.grading import CRSInputs, ICANSInputs

FEVER_C = 38.0  # ASTCT: >= 38.0 °C (reference §1.2.1)
# A CRS episode ends after this long without fever, hypotension or support (see episode_start).
EPISODE_GAP = timedelta(hours=24)
NEWS2_MIN_AGE = 16  # NEWS2 is not validated under 16 years (reference §8.3)
MASKING_DRUGS = frozenset(
    # ASTCT: antipyretic or anti-cytokine therapy (e.g. tocilizumab or steroids), §1.2.2.
    {"tocilizumab", "dexamethasone", "methylprednisolone", "anakinra", "siltuximab", "antipyretic"}
)


@dataclass
class _Series:
    """Records of one type in clinical-time order, searchable by time."""

    times: list[datetime] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)

    def add(self, at: datetime, record: Any) -> None:
        index = bisect_right(self.times, at)
        self.times.insert(index, at)
        self.records.insert(index, record)

    def upto(self, at: datetime) -> list[tuple[datetime, Any]]:
        end = bisect_right(self.times, at)
        return list(zip(self.times[:end], self.records[:end], strict=True))

    def latest(self, at: datetime, has=lambda record: True):
        for when, record in reversed(self.upto(at)):
            if has(record):
                return when, record
        return None, None


@dataclass
class Moment:
    """Everything graded at one moment: results plus the inputs, stored on the snapshot."""

    crs: grading.CRSResult | None
    icans: grading.ICANSResult | None
    news2: Any
    inputs: dict

    def snapshot_fields(self) -> dict:
        review = [
            *(self.crs.review_reasons if self.crs else ()),
            *(self.icans.review_reasons if self.icans else ()),
        ]
        return {
            "crs_grade": self.crs.grade if self.crs else None,
            "crs_reasons": list(self.crs.reasons) if self.crs else [],
            "crs_needs_review": bool(self.crs and self.crs.needs_review),
            "icans_grade": self.icans.grade if self.icans else None,
            "icans_reasons": list(self.icans.reasons) if self.icans else [],
            "icans_needs_review": bool(self.icans and self.icans.needs_review),
            "review_reasons": review,
            "news2_total": self.news2.total if self.news2 else None,
            "news2_risk": self.news2.risk if self.news2 else "",
            "inputs": self.inputs,
            "rule_version": grading.RULE_VERSION,
        }


class Timeline:
    """One course's vital signs, neuro assessments and treatments, ordered by clinical time."""

    def __init__(self, *, age_at, infused_at: datetime | None = None):
        self.age_at = age_at
        # CRS and ICANS are toxicities of the infused cells: moments before day 0 are a
        # baseline, charted but not graded, and a pre-infusion fever starts no CRS episode.
        self.infused_at = infused_at
        self.vitals = _Series()
        self.neuro = _Series()
        self.treatments = _Series()
        self.symptoms = _Series()

    def crs_inputs(self, at: datetime, *, sbp_threshold: int | None = None):
        """CRSInputs at ``at`` and a JSON-able record of what was used, or (None, {})."""
        latest_at, latest = self.vitals.latest(at)
        if latest is None:
            return None, {}
        temp_at, with_temp = self.vitals.latest(at, lambda v: v.temp_c is not None)
        temperature = float(with_temp.temp_c) if with_temp else None
        episode_start = self.episode_start(at, sbp_threshold=sbp_threshold)
        fevers = [
            when
            for when, v in self.vitals.upto(at)
            if _febrile(v) and episode_start is not None and when >= episode_start
        ]
        earlier_fevers = [when for when in fevers if temp_at is None or when < temp_at]
        first_fever = fevers[0] if fevers else None
        # Therapy after the episode's first fever masks it (§1.2.2); without a fever, therapy in
        # the episode or the day before it may hide one (§1.5.3: a clinician must confirm).
        since = first_fever or (episode_start - EPISODE_GAP if episode_start else None)
        masking = [
            (when, t.drug)
            for when, t in self.treatments.upto(at)
            if t.drug in MASKING_DRUGS and since is not None and when >= since
        ]
        sbp_at, with_sbp = self.vitals.latest(at, lambda v: v.sbp_mmhg is not None)
        age = self.age_at(at)
        hypotension = bool(with_sbp) and grading.is_hypotensive(
            with_sbp.sbp_mmhg, age, threshold=sbp_threshold
        )
        inputs = CRSInputs(
            temperature_c=temperature,
            fever_earlier=bool(earlier_fevers),
            fever_masking_therapy=bool(masking),
            hypotension=hypotension,
            vasopressors=latest.vasopressors_count,
            vasopressin=latest.vasopressin,
            oxygen=latest.oxygen_support,
            oxygen_flow_l_min=(
                float(latest.oxygen_flow_l_min) if latest.oxygen_flow_l_min is not None else None
            ),
            airway_protection_only=latest.oxygen_for_airway_protection,
        )
        used = {
            "temperature_c": temperature,
            "temperature_at": _iso(temp_at),
            "episode_start": _iso(episode_start),
            "first_fever_at": _iso(first_fever),
            "fever_earlier": inputs.fever_earlier,
            "fever_masking_therapy": [f"{drug} at {_iso(when)}" for when, drug in masking],
            "sbp_mmhg": with_sbp.sbp_mmhg if with_sbp else None,
            "sbp_at": _iso(sbp_at),
            "hypotension_threshold_mmhg": sbp_threshold or grading.hypotension_threshold_mmhg(age),
            "hypotension": hypotension,
            "vasopressors": inputs.vasopressors,
            "vasopressin": inputs.vasopressin,
            "oxygen": str(inputs.oxygen),
            "oxygen_flow_l_min": inputs.oxygen_flow_l_min,
            "airway_protection_only": inputs.airway_protection_only,
            "support_at": _iso(latest_at),
        }
        return inputs, used

    def episode_start(self, at: datetime, *, sbp_threshold: int | None = None):
        """When the CRS episode still running at ``at`` began, or None if none is running.

        ASTCT lets masked fever stand in for fever "once a patient who has CRS" is treated, but
        does not say when CRS has ended (reference §1.2.2, §1.5.4). We close an episode after
        24 hours without fever, hypotension, vasopressors or oxygen — the usual "resolved for
        24 h" reading [M] — so one dose of paracetamol cannot mask fever for the whole course.
        """
        cursor, start = at, None
        for when, vitals in reversed(self.vitals.upto(at)):
            if self.infused_at is not None and when < self.infused_at:
                break
            if not self._abnormal(vitals, when, sbp_threshold):
                continue
            if cursor - when >= EPISODE_GAP:
                break
            start = cursor = when
        return start

    def _abnormal(self, vitals, when: datetime, sbp_threshold: int | None) -> bool:
        hypotensive = vitals.sbp_mmhg is not None and grading.is_hypotensive(
            vitals.sbp_mmhg, self.age_at(when), threshold=sbp_threshold
        )
        return (
            _febrile(vitals)
            or hypotensive
            or vitals.vasopressors_count > 0
            or vitals.vasopressin
            or vitals.oxygen_support != "room_air"
        )

    def icans_inputs(self, at: datetime):
        """ICANSInputs from the latest neuro assessment at ``at``, or (None, {})."""
        neuro_at, neuro = self.neuro.latest(at)
        if neuro is None:
            return None, {}
        inputs = ICANSInputs(
            ice_score=neuro.ice_total,
            capd_score=neuro.capd_total,
            consciousness=neuro.consciousness,
            seizure=neuro.seizure,
            motor_weakness=neuro.motor_weakness,
            cerebral_edema=neuro.cerebral_edema,
            consciousness_attributable_to=neuro.consciousness_attributable_to or None,
            consciousness_other_cause=neuro.consciousness_other_cause,
        )
        used = {
            "assessed_at": _iso(neuro_at),
            "ice_score": neuro.ice_total,
            "capd_score": neuro.capd_total,
            "consciousness": neuro.consciousness,
            "seizure": neuro.seizure,
            "motor_weakness": neuro.motor_weakness,
            "cerebral_edema": neuro.cerebral_edema,
            "unable_to_assess_reason": neuro.unable_to_assess_reason,
            "consciousness_attributable_to": neuro.consciousness_attributable_to or None,
            "consciousness_other_cause": neuro.consciousness_other_cause,
        }
        return inputs, used

    def news2_at(self, at: datetime):
        """NEWS2 from the latest vital signs (adults only), or None."""
        if self.age_at(at) < NEWS2_MIN_AGE:
            return None
        _, vitals = self.vitals.latest(at)
        if vitals is None:
            return None
        _, neuro = self.neuro.latest(at)
        # NEWS2 scores new confusion like any other loss of alertness (reference §8.1).
        symptoms_at, symptoms = self.symptoms.latest(at)
        new_confusion = symptoms_at == at and symptoms.confusion
        alert = not new_confusion and (neuro is None or neuro.consciousness == "alert")
        return grading.news2(
            respiration_rate=vitals.resp_rate_per_min,
            spo2_pct=vitals.spo2_pct,
            on_oxygen=vitals.oxygen_support != "room_air",
            systolic_bp=vitals.sbp_mmhg,
            pulse=vitals.heart_rate_bpm,
            consciousness_alert=alert,
            temperature_c=float(vitals.temp_c) if vitals.temp_c is not None else None,
        )

    def grade_at(self, at: datetime, *, sbp_threshold: int | None = None) -> Moment:
        """Grade CRS, ICANS and NEWS2 at ``at`` from the records up to then."""
        if self.infused_at is not None and at < self.infused_at:
            return Moment(
                crs=None,
                icans=None,
                news2=self.news2_at(at),
                inputs={"age_years": round(self.age_at(at), 2), "baseline": True},
            )
        crs_in, crs_used = self.crs_inputs(at, sbp_threshold=sbp_threshold)
        icans_in, icans_used = self.icans_inputs(at)
        age = self.age_at(at)
        return Moment(
            crs=grading.grade_crs(crs_in) if crs_in else None,
            icans=grading.grade_icans(icans_in) if icans_in else None,
            news2=self.news2_at(at),
            inputs={"age_years": round(age, 2), "crs": crs_used, "icans": icans_used},
        )


def _febrile(vitals) -> bool:
    return vitals.temp_c is not None and float(vitals.temp_c) >= FEVER_C


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None

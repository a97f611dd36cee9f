"""Cytokine release syndrome (CRS) grade.

Source: ASTCT consensus grading, Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638,
CRS grade table as reproduced in the clinical reference §1.1 [V: S2a, S2b, S2e, S3], with the
engine rules of §1.2 and the open cases of §1.5. Rule version ``astct-2019.1``.

- Fever >= 38.0 °C is the entry criterion (§1.2.1 [V: S2a, S3]); once antipyretic or
  anti-cytokine therapy has been given after a documented fever, fever is no longer required
  (masked fever, §1.2.2 [V: S2a]).
- The grade is the worse of the hypotension and hypoxia domains (§1.2.3 [V: S2a]); fever alone
  is grade 1 whatever the temperature (§1.2.4).
- Hypoxia is graded by device and flow, not SpO2 (§1.2.6); vasopressin never counts toward
  "multiple vasopressors" (§1.2.7 [V: S2a, S2e]).
- Organ toxicity, fatigue, headache and tremor are not inputs: they do not change the ASTCT
  grade (§1.2.5 [V: S3], §0).
- Cases the criteria do not settle (§1.5) still get a grade, with ``needs_review`` set so a
  clinician confirms it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from monitoring.grading.common import (
    POSITIVE_PRESSURE,
    RULE_VERSION,
    TEMPERATURE_RANGE_C,
    Oxygen,
    coerce_choice,
    require_bool,
    require_int,
    require_number,
)
from monitoring.grading.reasons import Reason

FEVER_C = 38.0  # ">= 38 °C": 38.0 itself is fever (ref §1.2.1)
LOW_FLOW_MAX_L_MIN = 6.0  # low flow is <= 6 L/min, high flow > 6 (ref §1.2.6 [V: S2a, S2f])
MAX_VASOPRESSORS = 10
MAX_FLOW_L_MIN = 80.0  # above any high-flow cannula; a larger number is a typing slip


def _device(oxygen: Oxygen) -> Reason:
    return Reason(f"device.{oxygen.value}")


@dataclass(frozen=True, kw_only=True)
class CRSInputs:
    """Bedside findings for one CRS grading; plain strings are accepted for ``oxygen``."""

    temperature_c: float | None = None  # latest temperature, °C
    fever_earlier: bool = False  # fever >= 38.0 °C documented earlier in this course
    fever_masking_therapy: bool = False  # antipyretic/anti-cytokine therapy given since
    hypotension: bool = False  # by the protocol's definition (see is_hypotensive)
    vasopressors: int = 0  # vasopressors running, vasopressin NOT counted
    vasopressin: bool = False
    oxygen: Oxygen | str = Oxygen.ROOM_AIR
    oxygen_flow_l_min: float | None = None
    # Positive pressure only to protect the airway or for a procedure, without hypoxia
    # (ref §1.2.8 [M], §1.5.6).
    airway_protection_only: bool = False
    # Where each finding came from, per domain ("fever", "hypotension", "hypoxia"), e.g.
    # "SBP 84 mmHg at 14:00 (2 h old)": appended to that domain's reason, so every reason
    # names the time of the value that decided it. Plain text; grading never reads it.
    sources: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.temperature_c is not None:
            require_number("temperature_c", self.temperature_c, *TEMPERATURE_RANGE_C, "°C")
        for name in (
            "fever_earlier",
            "fever_masking_therapy",
            "hypotension",
            "vasopressin",
            "airway_protection_only",
        ):
            require_bool(name, getattr(self, name))
        require_int("vasopressors", self.vasopressors, 0, MAX_VASOPRESSORS)
        oxygen = coerce_choice(Oxygen, self.oxygen, "oxygen")
        object.__setattr__(self, "oxygen", oxygen)
        if self.oxygen_flow_l_min is not None:
            require_number("oxygen_flow_l_min", self.oxygen_flow_l_min, 0, MAX_FLOW_L_MIN, "L/min")
            if oxygen is Oxygen.ROOM_AIR:
                raise ValueError("oxygen_flow_l_min must be None on room_air")
        if self.airway_protection_only and oxygen not in POSITIVE_PRESSURE:
            raise ValueError(
                "airway_protection_only applies only to cpap | bipap | mechanical_ventilation"
            )


@dataclass(frozen=True)
class CRSResult:
    """ASTCT CRS grade with the reasons a nurse reads and any call left to a clinician."""

    grade: int  # 0 = no CRS, 1-4 ASTCT grade
    reasons: tuple[str, ...]  # first one is the criterion that decided
    needs_review: bool
    review_reasons: tuple[str, ...]
    # Grade per domain, in table order: fever (1 if the criterion is met), hypotension, hypoxia.
    domains: Mapping[str, int] = field(hash=False)
    decided_by: tuple[str, ...]  # domains at the final grade; empty when grade 0
    rule_version: str = RULE_VERSION


@dataclass(frozen=True)
class _Domain:
    grade: int
    finding: Reason | None  # what was seen, e.g. "hypoxia on low-flow oxygen 4 L/min"
    review: tuple[Reason, ...] = ()


def _hypotension_domain(inputs: CRSInputs) -> _Domain:
    # A running vasopressor grades by the vasopressor rule whatever the pressure reads.
    if inputs.vasopressors >= 2:
        return _Domain(4, Reason("crs.vasopressors_multiple", count=inputs.vasopressors))
    if inputs.vasopressors == 1:
        if inputs.vasopressin:
            return _Domain(3, Reason("crs.vasopressor_one_plus_vasopressin"))
        return _Domain(3, Reason("crs.vasopressor_one"))
    if inputs.vasopressin:
        # ASTCT says "a vasopressor with or without vasopressin"; read literally vasopressin
        # is itself a vasopressor, so grade 3, but the text does not settle it (ref §1.5.1).
        return _Domain(
            3,
            Reason("crs.vasopressin_alone"),
            (Reason("crs.review.vasopressin_alone"),),
        )
    if inputs.hypotension:
        return _Domain(2, Reason("crs.hypotension"))
    return _Domain(0, None)


def _hypoxia_domain(inputs: CRSInputs) -> _Domain:
    oxygen, flow = inputs.oxygen, inputs.oxygen_flow_l_min
    if oxygen is Oxygen.ROOM_AIR:
        return _Domain(0, None)
    device = _device(oxygen)

    def on(code: str = "crs.hypoxia_flow") -> Reason:
        if flow is None:
            return Reason("crs.hypoxia", device=device)
        return Reason(code, device=device, flow=flow, low_flow_max=LOW_FLOW_MAX_L_MIN)

    if oxygen in POSITIVE_PRESSURE:
        if inputs.airway_protection_only:
            return _Domain(
                0,
                Reason("crs.airway_only", device=device),
                (Reason("crs.review.airway_only"),),
            )
        return _Domain(4, Reason("crs.hypoxia_positive_pressure", device=device))
    if oxygen is Oxygen.HIGH_FLOW:
        if flow is not None and flow <= LOW_FLOW_MAX_L_MIN:
            return _Domain(3, on(), (Reason("crs.review.high_flow_low_rate", flow=flow),))
        return _Domain(3, on())
    if oxygen is Oxygen.BLOW_BY:
        # Blow-by counts as low flow (ref §1.2.6 [V: S2e, S7b]), but a blow-by flow above
        # 6 L/min is "high flow" by the numbers: the criteria do not say which wins (§1.5.5).
        if flow is not None and flow > LOW_FLOW_MAX_L_MIN:
            return _Domain(
                3,
                on("crs.hypoxia_flow_is_high"),
                (Reason("crs.review.blow_by_high_rate", flow=flow),),
            )
        if flow is None:
            return _Domain(2, Reason("crs.hypoxia_blow_by", device=device))
        return _Domain(2, Reason("crs.hypoxia_blow_by_flow", device=device, flow=flow))
    if oxygen is Oxygen.LOW_FLOW:
        if flow is None:
            return _Domain(
                2,
                Reason("crs.hypoxia_no_flow", device=device),
                (Reason("crs.review.low_flow_no_rate"),),
            )
        if flow > LOW_FLOW_MAX_L_MIN:
            return _Domain(3, on("crs.hypoxia_flow_is_high"))
        return _Domain(2, on())
    # Facemask, non-rebreather and Venturi are grade 3 at any flow (ref §1.2.6 [V: S2a, S3]).
    return _Domain(3, on())


def _sourced(domain: _Domain, source: str | None) -> _Domain:
    if not (domain.finding and source):
        return domain
    return _Domain(
        domain.grade, Reason("crs.sourced", finding=domain.finding, source=source), domain.review
    )


def grade_crs(inputs: CRSInputs) -> CRSResult:
    """Grade CRS by the ASTCT 2019 consensus from one set of bedside findings."""
    temp = inputs.temperature_c
    fever_now = temp is not None and temp >= FEVER_C
    masked = not fever_now and inputs.fever_earlier and inputs.fever_masking_therapy
    named = {
        name: _sourced(domain(inputs), inputs.sources.get(name))
        for name, domain in (("hypotension", _hypotension_domain), ("hypoxia", _hypoxia_domain))
    }
    worst = max(d.grade for d in named.values())
    # Worst domain first; on a tie, table order (hypotension before hypoxia).
    ranked = sorted(named, key=lambda name: -named[name].grade)
    domain_review = tuple(r for name in ranked for r in named[name].review)
    reasons: list[Reason] = []
    review: list[Reason] = []

    if fever_now or masked:
        fever_text = (
            Reason("crs.fever", temperature_c=temp) if fever_now else Reason("crs.fever_masked")
        )
        if inputs.sources.get("fever"):
            fever_text = Reason("crs.sourced", finding=fever_text, source=inputs.sources["fever"])
        grade = worst or 1  # fever alone is grade 1 at any temperature (ref §1.2.4)
        if worst == 0:
            reasons.append(Reason("crs.fever_grade_1", fever=fever_text))
            reasons.append(Reason("crs.no_hypotension_no_hypoxia"))
            if masked:
                review.append(Reason("crs.review.masked_no_signs"))
        reasons.extend(
            Reason("crs.finding_grade", finding=named[n].finding, grade=named[n].grade)
            for n in ranked
            if named[n].grade
        )
        if worst:
            reasons.append(Reason("crs.fever_met", fever=fever_text))
        review.extend(domain_review)
    else:
        grade = 0
        if temp is None:
            seen = Reason("crs.no_temperature")
        elif inputs.sources.get("fever"):
            seen = Reason("crs.no_fever_at", temperature_c=temp, source=inputs.sources["fever"])
        else:
            seen = Reason("crs.no_fever", temperature_c=temp)
        reasons.append(Reason("crs.no_crs", seen=seen))
        reasons.extend(
            Reason("crs.finding_if_fever", finding=named[n].finding, grade=named[n].grade)
            for n in ranked
            if named[n].grade
        )
        if worst >= 2:
            # Hypotension or hypoxia without fever: the fever rule decides grade 0, but the
            # published criteria are silent on defervescence without therapy (ref §1.5.2) and
            # on therapy without a documented fever (§1.5.3). A missing temperature is our
            # own addition: grade 0 there only means "fever not shown".
            if inputs.fever_earlier and not inputs.fever_masking_therapy:
                review.append(Reason("crs.review.defervescence"))
            if inputs.fever_masking_therapy and not inputs.fever_earlier:
                review.append(Reason("crs.review.therapy_without_fever"))
            if temp is None:
                review.append(Reason("crs.review.no_temperature"))
            if review:
                review.extend(domain_review)
    # Findings that decide nothing (e.g. airway-protection ventilation) are still shown.
    reasons.extend(d.finding for d in named.values() if d.finding and not d.grade)

    domains = {"fever": int(fever_now or masked)} | {n: d.grade for n, d in named.items()}
    return CRSResult(
        grade=grade,
        reasons=tuple(reasons),
        needs_review=bool(review),
        review_reasons=tuple(review),
        domains=MappingProxyType(domains),
        decided_by=tuple(n for n, g in domains.items() if grade and g == grade),
    )

"""Immune effector cell-associated neurotoxicity syndrome (ICANS) grade, ICE and CAPD totals.

Source: ASTCT consensus grading, Lee DW et al., Biol Blood Marrow Transplant 2019;25:625-638,
as reproduced in the clinical reference. Rule version ``astct-2019.1``.

- ICE score items, 10 points, for age >= 12: ref §2.1 [V: S3, S2b, S17e].
- Adult ICANS table (ICE, consciousness, seizure, motor, ICP/oedema): ref §2.2 [V: S2c, S2d].
  The grade is the most severe domain; ICE 3 with a generalised seizure is grade 3.
- Paediatric table, CAPD for age < 12 (>= 9 is grade 3; 1-8 is grade 1 or 2, split by level
  of consciousness): ref §2.3 [V: S4, S3, S5]. CAPD items and reverse scoring of items 1-4:
  ref §2.3 CAPD table [V: S6b, S6a].

Findings must be those "not attributable to any other cause" (ref §2.2). A depressed level of
consciousness is graded only when it is not attributable to another cause such as sedating
medication (ref §2.2 footnote †, §9 items 4 and 7): callers say so with
``consciousness_attributable_to``; then consciousness does not grade, the ICE/CAPD screen is not
assessable, seizure, motor and oedema still grade, and a clinician must confirm. Tremor,
myoclonus and headache do not change the ICANS grade (ref §2.2 [V: S2c, S2d], §0) and are not
inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from monitoring.grading.common import (
    RULE_VERSION,
    CerebralEdema,
    Consciousness,
    ConsciousnessCause,
    MotorWeakness,
    Seizure,
    coerce_choice,
    require_int,
)
from monitoring.grading.reasons import Reason

# ASTCT/ASCO: CAPD under 12 years, ICE from the 12th birthday (ref §2.3; NCIt says "12 and
# under": we follow ASTCT).
ICE_FROM_AGE_YEARS = 12
ICE_MAX = 10
CAPD_MAX = 32
CAPD_POSITIVE = 9  # ">= 9 = positive screen", ICANS grade 3 (ref §2.3 [V: S6b, S3])


class ICEItem(NamedTuple):
    """One ICE domain: form field name, the domain as ASTCT names it, what is asked (without
    repeating the domain) and maximum points, 1 point per correct answer (ref §2.1)."""

    name: str
    title: str
    task: str
    max_points: int


ICE_ITEMS: tuple[ICEItem, ...] = (
    ICEItem("orientation", "Orientation", "year, month, city, hospital", 4),
    ICEItem("naming", "Naming", "3 objects, e.g. point to clock, pen, button", 3),
    ICEItem("commands", "Following commands", 'a simple command, e.g. "Show me 2 fingers"', 1),
    ICEItem(
        "writing", "Writing", 'a standard sentence, e.g. "Our national bird is the bald eagle"', 1
    ),
    ICEItem("attention", "Attention", "count backwards from 100 by 10", 1),
)

# Cornell Assessment of Pediatric Delirium, wording as in ref §2.3 [V: S6b].
CAPD_ITEMS: tuple[str, ...] = (
    "Does the child make eye contact with the caregiver?",
    "Are the child's actions purposeful?",
    "Is the child aware of his/her surroundings?",
    "Does the child communicate needs and wants?",
    "Is the child restless?",
    "Is the child inconsolable?",
    "Is the child underactive (very little movement while awake)?",
    "Does it take the child a long time to respond to interactions?",
)
# What the nurse ticks for each item, stored as 0-4 in this order.
CAPD_ANSWERS: tuple[str, ...] = ("never", "rarely", "sometimes", "often", "always")
CAPD_REVERSED_ITEMS = 4  # items 1-4 describe normal behaviour, so "always" scores 0

_CONSCIOUSNESS = {
    Consciousness.ALERT: 0,
    Consciousness.AWAKENS_SPONTANEOUSLY: 1,
    Consciousness.AWAKENS_TO_VOICE: 2,
    Consciousness.AWAKENS_TO_TOUCH: 3,
    Consciousness.UNAROUSABLE: 4,
}
_SEIZURE = {
    Seizure.NONE: 0,
    Seizure.RESOLVED_RAPIDLY: 3,
    Seizure.PROLONGED_OR_REPETITIVE: 4,
}
_MOTOR = {MotorWeakness.NONE: 0, MotorWeakness.DEEP_FOCAL: 4}
_EDEMA = {CerebralEdema.NONE: 0, CerebralEdema.FOCAL: 3, CerebralEdema.DIFFUSE: 4}

NOT_ASSESSED_REVIEW = Reason("icans.review.not_assessed")


def _found(domain: str, table: Mapping, value: StrEnum) -> tuple[int, Reason]:
    return table[value], Reason(f"icans.{domain}.{value.value}")


MAX_OTHER_CAUSE_CHARS = 200


@dataclass(frozen=True, kw_only=True)
class ICANSInputs:
    """Neurological findings for one ICANS grading; plain strings are accepted for enums."""

    ice_score: int | None = None  # 0-10, age >= 12
    capd_score: int | None = None  # 0-32, age < 12
    consciousness: Consciousness | str = Consciousness.ALERT
    seizure: Seizure | str = Seizure.NONE
    motor_weakness: MotorWeakness | str = MotorWeakness.NONE
    cerebral_edema: CerebralEdema | str = CerebralEdema.NONE
    # The depressed consciousness has another cause (ref §2.2 †): it is not graded as ICANS.
    consciousness_attributable_to: ConsciousnessCause | str | None = None
    consciousness_other_cause: str = ""  # names the cause when attributable_to is "other"

    def __post_init__(self) -> None:
        for name, enum_cls in (
            ("consciousness", Consciousness),
            ("seizure", Seizure),
            ("motor_weakness", MotorWeakness),
            ("cerebral_edema", CerebralEdema),
        ):
            object.__setattr__(self, name, coerce_choice(enum_cls, getattr(self, name), name))
        if self.ice_score is not None and self.capd_score is not None:
            raise ValueError("give ice_score (age >= 12) or capd_score (age < 12), not both")
        if self.ice_score is not None:
            require_int("ice_score", self.ice_score, 0, ICE_MAX)
            if self.ice_score > 0 and self.consciousness is Consciousness.UNAROUSABLE:
                raise ValueError("an unarousable patient cannot complete the ICE screen")
        if self.capd_score is not None:
            require_int("capd_score", self.capd_score, 0, CAPD_MAX)
        self._check_attribution()

    def _check_attribution(self) -> None:
        other = self.consciousness_other_cause
        if not isinstance(other, str) or len(other) > MAX_OTHER_CAUSE_CHARS:
            raise ValueError(
                f"consciousness_other_cause must be text of at most {MAX_OTHER_CAUSE_CHARS} "
                f"characters, got {other!r}"
            )
        cause = self.consciousness_attributable_to
        if cause is None:
            if other.strip():
                raise ValueError(
                    "consciousness_other_cause is only given with consciousness_attributable_to"
                    "=other"
                )
            return
        cause = coerce_choice(ConsciousnessCause, cause, "consciousness_attributable_to")
        object.__setattr__(self, "consciousness_attributable_to", cause)
        if (cause is ConsciousnessCause.OTHER) != bool(other.strip()):
            raise ValueError(
                "consciousness_other_cause must name the cause when, and only when, "
                "consciousness_attributable_to is other"
            )
        if self.consciousness is Consciousness.ALERT:
            raise ValueError(
                "consciousness_attributable_to needs a depressed level of consciousness; "
                "the patient is alert"
            )
        if self.ice_score is not None or self.capd_score is not None:
            raise ValueError(
                "the ICE/CAPD screen is not assessable when depressed consciousness is "
                "attributable to another cause: give no ice_score or capd_score"
            )

    @property
    def attributed_cause(self) -> Reason | None:
        """What the depressed consciousness is put down to, in words, or None."""
        cause = self.consciousness_attributable_to
        if cause is None:
            return None
        if cause is ConsciousnessCause.OTHER:
            return Reason("icans.cause.other", text=self.consciousness_other_cause.strip())
        return Reason(f"icans.cause.{cause.value}")


@dataclass(frozen=True)
class ICANSResult:
    """ASTCT ICANS grade with the reasons a nurse reads and any call left to a clinician."""

    grade: int  # 0 = no ICANS, 1-4 ASTCT grade
    reasons: tuple[str, ...]  # first one is the domain that decided
    needs_review: bool
    review_reasons: tuple[str, ...]
    # Grade per domain, in table order: ice_or_capd, consciousness, seizure, motor, edema.
    domains: Mapping[str, int] = field(hash=False)
    decided_by: tuple[str, ...]  # domains at the final grade; empty when grade 0
    rule_version: str = RULE_VERSION


def _screen_domain(inputs: ICANSInputs) -> tuple[int, Reason]:
    if inputs.attributed_cause:
        return 0, Reason("icans.screen_not_assessable")
    unarousable = inputs.consciousness is Consciousness.UNAROUSABLE
    if inputs.ice_score is not None:
        ice = inputs.ice_score
        if ice == 0 and unarousable:
            # ICE 0 because unarousable is grade 4; awake with global aphasia is grade 3.
            return 4, Reason("icans.ice_unarousable", score=ice, maximum=ICE_MAX)
        text = Reason("icans.ice", score=ice, maximum=ICE_MAX)
        return (0 if ice == 10 else 1 if ice >= 7 else 2 if ice >= 3 else 3), text
    if inputs.capd_score is not None:
        capd = inputs.capd_score
        if capd >= CAPD_POSITIVE:
            return 3, Reason(
                "icans.capd_positive", score=capd, maximum=CAPD_MAX, positive=CAPD_POSITIVE
            )
        # 1-8 is grade 1 or 2; level of consciousness separates them (ref §2.3 [V: S4]).
        return (1 if capd else 0), Reason("icans.capd", score=capd, maximum=CAPD_MAX)
    if unarousable:
        return 4, Reason("icans.unable_unarousable")
    return 0, Reason("icans.screen_not_assessed")


def grade_icans(inputs: ICANSInputs) -> ICANSResult:
    """Grade ICANS by the ASTCT 2019 consensus: the worst of the five domains."""
    cause = inputs.attributed_cause
    consciousness = _found("consciousness", _CONSCIOUSNESS, inputs.consciousness)
    if cause:
        # Depressed consciousness with another cause is not ICANS (ref §2.2 †).
        consciousness = (
            0,
            Reason("icans.attributed", consciousness=consciousness[1], cause=cause),
        )
    found = {
        "ice_or_capd": _screen_domain(inputs),
        "consciousness": consciousness,
        "seizure": _found("seizure", _SEIZURE, inputs.seizure),
        "motor": _found("motor", _MOTOR, inputs.motor_weakness),
        "edema": _found("edema", _EDEMA, inputs.cerebral_edema),
    }
    grade = max(g for g, _ in found.values())
    review: list[Reason] = []
    not_assessed = inputs.ice_score is None and inputs.capd_score is None
    if cause:
        review.append(
            Reason(
                "icans.review.attributed",
                consciousness=Reason(f"icans.consciousness.{inputs.consciousness.value}"),
                cause=cause,
            )
        )
    elif not_assessed and inputs.consciousness is not Consciousness.UNAROUSABLE:
        review.append(NOT_ASSESSED_REVIEW)

    if grade == 0:
        findings = [text for _, text in found.values()]
        code = "icans.no_icans_assessed" if not_assessed else "icans.no_icans"
        reasons: tuple[Reason, ...] = (Reason(code, findings=findings),)
    else:
        # Worst domain first; on a tie, table order.
        ranked = sorted((item for item in found.values() if item[0]), key=lambda item: -item[0])
        reasons = tuple(Reason("icans.finding_grade", finding=text, grade=g) for g, text in ranked)
        if cause:  # say what was left out, even though other domains decided
            reasons += (found["consciousness"][1], found["ice_or_capd"][1])
        elif review:  # say that the screen is missing, even though other domains decided
            reasons += (Reason("icans.screen_not_assessed"),)
    return ICANSResult(
        grade=grade,
        reasons=reasons,
        needs_review=bool(review),
        review_reasons=tuple(review),
        domains=MappingProxyType({name: g for name, (g, _) in found.items()}),
        decided_by=tuple(name for name, (g, _) in found.items() if grade and g == grade),
    )


def ice_total(orientation: int, naming: int, commands: int, writing: int, attention: int) -> int:
    """Return the ICE score (0-10) from its five item scores, each checked against its maximum."""
    points = {
        "orientation": orientation,
        "naming": naming,
        "commands": commands,
        "writing": writing,
        "attention": attention,
    }
    return sum(require_int(item.name, points[item.name], 0, item.max_points) for item in ICE_ITEMS)


def capd_total(answers: Sequence[int]) -> int:
    """Return the CAPD total (0-32) from 8 answers, 0 = never ... 4 = always, as ticked."""
    if isinstance(answers, str | bytes) or len(answers) != len(CAPD_ITEMS):
        raise ValueError(f"capd answers must be {len(CAPD_ITEMS)} values, one per CAPD item")
    total = 0
    for number, answer in enumerate(answers, start=1):
        value = require_int(f"capd answer {number}", answer, 0, len(CAPD_ANSWERS) - 1)
        # Items 1-4 ask about normal behaviour, so "never" is the worst answer (ref §2.3).
        total += (4 - value) if number <= CAPD_REVERSED_ITEMS else value
    return total

"""What a patient or caregiver at home is told the moment a check-in is saved, and the flag a
confused answer raises for the team (issue 15 §2). Pure functions over plain values: no Django.

Sources (docs/clinical-rules.md "Home monitoring"):
- Fever: ASTCT defines fever as a temperature ≥ 38.0 °C, 38.0 itself included (reference §1.2
  rule 1; §0). The CAR-T labels' patient advice (June 2025 labels, reference §6.2) tells
  patients to call their team for fever. The threshold is the protocol version's
  ``home_call_temperature_c`` (default 38.0 °C).
- Confusion or difficulty speaking are early ICANS signs (reference §0; ICE items §2.1): call at
  once, do not drive (the labels' no-driving advice, reference §6.2), go to an emergency
  department if the team cannot be reached. A wrong answer in the caregiver's guided screen
  counts as confusion. It is flagged for the team's review, never graded: the screen is not an
  ICE score taken by a trained assessor.
- Feeling faint, or trouble breathing, and a systolic pressure below the protocol's limit from
  a home cuff (bispecific home-monitoring guidance asks patients to call for SBP < 90 mmHg,
  reference §1.3, S17d): call the team now, like fever.

The instruction never says "no action" when any of these is present; which words are shown is
the page's (templates/monitoring/home/checkin_done.html), in the reader's language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from monitoring.flag_rules import URGENT, FlagSpec

# Instruction codes (HomeCheckIn.Instruction), most urgent first.
CALL_NEURO = "call_neuro"  # "Call now; do not drive; go to the emergency department if …"
CALL_NOW = "call_now"  # "Call your team now on <number>"
NO_ACTION = "no_action"  # "No action now; next check-in at …"

# Symptoms (SymptomCheck fields) that send the person to the phone at once.
NEURO_SYMPTOMS = frozenset({"confusion", "difficulty_speaking"})
CALL_SYMPTOMS = frozenset({"low_blood_pressure", "breathing_difficulty"})

FAHRENHEIT_OFFSET = Decimal("32")
FAHRENHEIT_SCALE = Decimal("1.8")


def fahrenheit_to_celsius(temp_f: Decimal) -> Decimal:
    """°F → °C, to the thermometer's 0.1 °C (100.4 °F → 38.0 °C)."""
    return ((Decimal(temp_f) - FAHRENHEIT_OFFSET) / FAHRENHEIT_SCALE).quantize(Decimal("0.1"))


def celsius_to_fahrenheit(temp_c: Decimal) -> Decimal:
    return (Decimal(temp_c) * FAHRENHEIT_SCALE + FAHRENHEIT_OFFSET).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class Instruction:
    """What to do now: the code, and why (reason codes: "fever", a symptom's field name,
    "neuro_screen", "low_sbp"); ``next_checkin_at`` is when the next check-in is due."""

    code: str
    reasons: tuple[str, ...]
    next_checkin_at: datetime | None  # None: the protocol sets no home schedule

    @property
    def call_now(self) -> bool:
        return self.code != NO_ACTION


def instruction(
    *,
    temp_c: Decimal | None,
    call_at_c: Decimal,
    symptoms: Iterable[str] = (),
    screen_wrong: int = 0,
    sbp_mmhg: int | None = None,
    sbp_limit_mmhg: int | None = None,
    now: datetime,
    every: timedelta | None,
) -> Instruction:
    """The instruction shown after a check-in (most urgent first): confusion, difficulty
    speaking or a wrong screen answer → CALL_NEURO; a temperature ≥ ``call_at_c``, feeling
    faint, trouble breathing or SBP below ``sbp_limit_mmhg`` → CALL_NOW; else NO_ACTION."""
    ticked = set(symptoms)
    neuro = sorted(ticked & NEURO_SYMPTOMS) + (["neuro_screen"] if screen_wrong else [])
    call = []
    if temp_c is not None and Decimal(temp_c) >= Decimal(call_at_c):
        call.append("fever")
    call += sorted(ticked & CALL_SYMPTOMS)
    if sbp_mmhg is not None and sbp_limit_mmhg is not None and sbp_mmhg < sbp_limit_mmhg:
        call.append("low_sbp")
    code = CALL_NEURO if neuro else CALL_NOW if call else NO_ACTION
    return Instruction(code, tuple(neuro + call), now + every if every else None)


def home_neuro_flag(
    *, symptoms: Iterable[str] = (), wrong_items: Iterable[str] = (), who: str
) -> FlagSpec | None:
    """The urgent flag for the team's review when confusion or difficulty speaking is reported
    at home, or the guided screen has a wrong answer; None otherwise. ``who`` is "patient" or
    "caregiver"; ``wrong_items`` the screen's items answered wrongly (HomeNeuroScreen)."""
    reported = sorted(set(symptoms) & NEURO_SYMPTOMS)
    wrong = list(wrong_items)
    if not reported and not wrong:
        return None
    parts = [name.replace("_", " ") for name in reported]
    findings = [{"code": f"symptom.{name}", "params": {}} for name in reported]
    if wrong:
        parts.append(f"guided screen answered wrongly: {', '.join(wrong)}")
        items = [{"code": f"home.screen.{item}", "params": {}} for item in wrong]
        findings.append({"code": "home.screen_wrong", "params": {"items": items}})
    return FlagSpec(
        "home_confusion",
        URGENT,
        f"Reported at home by the {who}: " + "; ".join(parts),
        {
            "code": "flag.home_confusion",
            "params": {"who": {"code": f"home.who.{who}", "params": {}}, "findings": findings},
        },
    )

"""Shared vocabulary of the grading library: enums, the rule version and input checks.

Source: ASTCT consensus grading (Lee et al., Biol Blood Marrow Transplant 2019;25:625-638),
as summarised in the project's clinical reference (/work/shared/clinical/reference.md):
CRS grade table §1.1 (oxygen devices, [V: S2a, S2b, S2e, S3]) and adult ICANS table §2.2
(consciousness, seizure, motor, oedema, [V: S2c, S2d]). Rule version ``astct-2019.1``.

The enum values are the strings the forms and other tools send, so plain strings work
everywhere a member is expected (StrEnum members compare equal to their value).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import TypeVar

# Stored next to every grade snapshot so a later rule change can be told apart from history.
RULE_VERSION = "astct-2019.1"

# Plausibility limits shared by the CRS grader, NEWS2 and the protocol thresholds, so one
# typo (e.g. 83.8 °C for 38.3 °C) is rejected the same way everywhere.
TEMPERATURE_RANGE_C = (25.0, 45.0)
SBP_RANGE_MMHG = (0.0, 350.0)
# Oldest plausible age; beyond it the value is a units slip (e.g. months typed as years).
MAX_AGE_YEARS = 130


class Oxygen(StrEnum):
    """Oxygen support, as the ASTCT CRS hypoxia row names it (ref §1.1; blow-by §9.3)."""

    ROOM_AIR = "room_air"
    BLOW_BY = "blow_by"
    LOW_FLOW = "low_flow"
    HIGH_FLOW = "high_flow"
    FACEMASK = "facemask"
    NONREBREATHER = "nonrebreather"
    VENTURI = "venturi"
    CPAP = "cpap"
    BIPAP = "bipap"
    MECHANICAL_VENTILATION = "mechanical_ventilation"


# Positive pressure is the CRS grade-4 hypoxia criterion (ref §1.1 [V: S2a]).
POSITIVE_PRESSURE = frozenset({Oxygen.CPAP, Oxygen.BIPAP, Oxygen.MECHANICAL_VENTILATION})


class Consciousness(StrEnum):
    """Depressed level of consciousness (ref §2.2); ``alert`` is kept apart per ref §9.2."""

    ALERT = "alert"
    AWAKENS_SPONTANEOUSLY = "awakens_spontaneously"
    AWAKENS_TO_VOICE = "awakens_to_voice"
    AWAKENS_TO_TOUCH = "awakens_to_touch"
    UNAROUSABLE = "unarousable"


class ConsciousnessCause(StrEnum):
    """Another cause of a depressed level of consciousness, which takes it out of ICANS.

    ASTCT grades depressed consciousness only when "not attributable to another cause (e.g.
    sedating medication)" (ref §2.2 footnote †); the reference asks for sedation and the
    attribution to be recorded (§9 items 4 and 7).
    """

    SEDATION = "sedation"
    POST_ICTAL = "post_ictal"
    OTHER = "other"


class Seizure(StrEnum):
    """Seizure domain of ICANS (ref §2.2 [V: S2c, S2d])."""

    NONE = "none"
    RESOLVED_RAPIDLY = "resolved_rapidly"
    PROLONGED_OR_REPETITIVE = "prolonged_or_repetitive"


class MotorWeakness(StrEnum):
    """Motor findings domain of ICANS; tremor and myoclonus are not in it (ref §2.2)."""

    NONE = "none"
    DEEP_FOCAL = "deep_focal"


class CerebralEdema(StrEnum):
    """Raised ICP / cerebral oedema domain of ICANS (ref §2.2 [V: S2c, S2d])."""

    NONE = "none"
    FOCAL = "focal"
    DIFFUSE = "diffuse"


E = TypeVar("E", bound=StrEnum)


def coerce_choice(enum_cls: type[E], value: object, field: str) -> E:
    """Return ``value`` as a member of ``enum_cls``, or raise ValueError naming the choices."""
    if isinstance(value, str):
        try:
            return enum_cls(value)
        except ValueError:
            pass
    allowed = " | ".join(member.value for member in enum_cls)
    raise ValueError(f"{field} must be one of {allowed}, got {value!r}")


def require_bool(field: str, value: object) -> bool:
    """Return ``value`` if it is a real bool; 0/1 or "yes" are refused to catch form slips."""
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be True or False, got {value!r}")
    return value


def require_int(field: str, value: object, low: int, high: int) -> int:
    """Return ``value`` if it is an int (not a bool) within ``low``-``high`` inclusive."""
    # bool is a subclass of int; True would silently become a score of 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be a whole number from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{field} must be from {low} to {high}, got {value}")
    return value


def require_number(field: str, value: object, low: float, high: float, unit: str) -> float:
    """Return ``value`` as a float if it is a finite number within ``low``-``high`` inclusive."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field} must be a number in {unit}, got {value!r}")
    # Compare before isnan: an int too large for a float makes math.isnan raise OverflowError.
    if not low <= value <= high or math.isnan(value):
        raise ValueError(f"{field} must be between {low:g} and {high:g} {unit}, got {value!r}")
    return float(value)

"""What a check-in at home tells the person, and the flag for the team (monitoring/home_rules.py).

Sources: fever ≥ 38.0 °C, 38.0 included (ASTCT, reference §1.2 rule 1 and §0); confusion and
difficulty speaking are early ICANS signs (reference §0, §2.1) and the labels forbid driving
(reference §6.2); call for SBP < 90 mmHg at home (reference §1.3, S17d). docs/clinical-rules.md
"Home monitoring".
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from monitoring import home_rules
from monitoring.home_rules import CALL_NEURO, CALL_NOW, NO_ACTION

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EVERY = timedelta(hours=8)


@pytest.mark.parametrize(
    ("temp_c", "symptoms", "screen_wrong", "sbp", "expected", "reasons"),
    [
        # Fever: ≥ 38.0 °C calls; 37.9 does not (§1.2 rule 1: 38.0 itself counts).
        (Decimal("38.0"), (), 0, None, CALL_NOW, ("fever",)),
        (Decimal("37.9"), (), 0, None, NO_ACTION, ()),
        (Decimal("40.1"), (), 0, None, CALL_NOW, ("fever",)),
        (None, (), 0, None, NO_ACTION, ()),
        # Confusion or difficulty speaking, ticked or found by the screen (§0, §2.1).
        (Decimal("36.8"), ("confusion",), 0, None, CALL_NEURO, ("confusion",)),
        (Decimal("36.8"), ("difficulty_speaking",), 0, None, CALL_NEURO, ("difficulty_speaking",)),
        (Decimal("36.8"), (), 1, None, CALL_NEURO, ("neuro_screen",)),
        # The neuro instruction wins over fever, and keeps fever among its reasons.
        (
            Decimal("38.6"),
            ("confusion",),
            2,
            None,
            CALL_NEURO,
            ("confusion", "neuro_screen", "fever"),
        ),
        # Feeling faint or trouble breathing: call now, as the home page says.
        (Decimal("36.8"), ("low_blood_pressure",), 0, None, CALL_NOW, ("low_blood_pressure",)),
        (Decimal("36.8"), ("breathing_difficulty",), 0, None, CALL_NOW, ("breathing_difficulty",)),
        # Headache, tremor, tiredness alone: no call (recorded; the team sees them).
        (Decimal("36.8"), ("headache", "tremor", "fatigue"), 0, None, NO_ACTION, ()),
        # A home cuff: SBP < 90 mmHg calls (§1.3, S17d); 90 does not.
        (Decimal("36.8"), (), 0, 89, CALL_NOW, ("low_sbp",)),
        (Decimal("36.8"), (), 0, 90, NO_ACTION, ()),
    ],
)
def test_the_instruction_after_a_check_in(temp_c, symptoms, screen_wrong, sbp, expected, reasons):
    told = home_rules.instruction(
        temp_c=temp_c,
        call_at_c=Decimal("38.0"),
        symptoms=symptoms,
        screen_wrong=screen_wrong,
        sbp_mmhg=sbp,
        sbp_limit_mmhg=90,
        now=NOW,
        every=EVERY,
    )
    assert (told.code, told.reasons) == (expected, reasons)
    assert told.call_now == (expected != NO_ACTION)
    assert told.next_checkin_at == NOW + EVERY


def test_the_protocol_sets_the_temperature_to_call_at():
    told = home_rules.instruction(
        temp_c=Decimal("38.2"), call_at_c=Decimal("38.3"), now=NOW, every=EVERY
    )
    assert told.code == NO_ACTION


@pytest.mark.parametrize(
    ("fahrenheit", "celsius"),
    [
        (Decimal("100.4"), Decimal("38.0")),  # the usual US fever line is ASTCT's 38.0 °C
        (Decimal("98.6"), Decimal("37.0")),
        (Decimal("86"), Decimal("30.0")),
        (Decimal("113"), Decimal("45.0")),
        (Decimal("101.3"), Decimal("38.5")),
    ],
)
def test_fahrenheit_becomes_celsius_to_a_tenth(fahrenheit, celsius):
    assert home_rules.fahrenheit_to_celsius(fahrenheit) == celsius
    assert home_rules.celsius_to_fahrenheit(celsius) == fahrenheit.quantize(Decimal("0.1"))


@pytest.mark.parametrize(
    ("symptoms", "wrong", "message"),
    [
        (("confusion",), (), "Reported at home by the caregiver: confusion"),
        (
            ("difficulty_speaking", "headache"),
            (),
            "Reported at home by the caregiver: difficulty speaking",
        ),
        (
            (),
            ("year", "counting"),
            "Reported at home by the caregiver: guided screen answered wrongly: year, counting",
        ),
    ],
)
def test_confusion_at_home_raises_an_urgent_flag_for_review(symptoms, wrong, message):
    flag = home_rules.home_neuro_flag(symptoms=symptoms, wrong_items=wrong, who="caregiver")
    assert (flag.kind, flag.severity, flag.message) == ("home_confusion", 3, message)


def test_no_flag_without_confusion():
    assert home_rules.home_neuro_flag(symptoms=("headache",), who="patient") is None

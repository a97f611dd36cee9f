"""Gates before the next step-up dose (monitoring.dose_gates), table-driven.

Sources: TECVAYLI and EPKINLY US prescribing information — withhold until CRS / ICANS resolves
(TECVAYLI §2.5, EPKINLY §2.6); restart after a dose delay (TECVAYLI §2.3 Table 2: step-up
dose 1 more than 7 days → step-up dose 1; step-up dose 2 8–28 days → step-up dose 2, more than
28 days → step-up dose 1; EPKINLY §2.3: 0.16 mg more than 8 days → repeat 0.16 mg, 0.8 mg
14 days or less → 48 mg, more than 14 days → repeat from 0.16 mg; ELREXFIO 2023 PI: 12 mg more
than 14 days → 12 mg; 32 mg 14 days or less → 76 mg, more than 14 to 28 days → 32 mg, more than
28 days → 12 mg). How many hours CRS must have resolved is a centre choice
(docs/clinical-rules.md).
"""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.dose_gates import GradePoint, gate_problems, restart_rules_problems

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def h(hours):
    return T + timedelta(hours=hours)


TEC_SUD2 = [{"after_days": 7, "restart_at": 1}]
TEC_FIRST = [{"after_days": 7, "restart_at": 2}, {"after_days": 28, "restart_at": 1}]
EPK_SUD2 = [{"after_days": 8, "restart_at": 1}]
EPK_FIRST_FULL = [{"after_days": 14, "restart_at": 1}]
ELR_SUD2 = [{"after_days": 14, "restart_at": 1}]
ELR_FIRST = [{"after_days": 14, "restart_at": 2}, {"after_days": 28, "restart_at": 1}]

CLEAR_CASES = [
    # (what, CRS grades at hours, clear hours, at hour, expected codes, until hour)
    ("never had CRS", [(0, 0), (4, 0)], 24, 10, [], None),
    ("CRS 1 now: withhold until resolved (label)", [(0, 0), (4, 1)], 0, 10, ["crs_active"], None),
    ("resolved now, label's bare rule (0 h)", [(0, 1), (4, 0)], 0, 5, [], None),
    ("resolved 6 h ago, centre wants 24 h", [(0, 1), (4, 0)], 24, 10, ["crs_recent"], 28),
    ("resolved 24 h ago exactly: met", [(0, 1), (4, 0)], 24, 28, [], None),
    (
        "later CRS again restarts the clock",
        [(0, 1), (4, 0), (8, 2), (12, 0)],
        24,
        30,
        ["crs_recent"],
        36,
    ),
    ("grades after the moment do not count", [(0, 0), (20, 2)], 24, 10, [], None),
    ("ungraded moments are skipped", [(0, 1), (2, None), (4, 0)], 0, 5, [], None),
    ("no gate on this step", [(0, 3)], None, 1, [], None),
]


@pytest.mark.parametrize(("what", "grades", "hours", "at", "codes", "until"), CLEAR_CASES)
def test_crs_gate(what, grades, hours, at, codes, until):
    points = [GradePoint(h(t), g, 0) for t, g in grades]
    problems = gate_problems(
        at=h(at),
        points=points,
        crs_clear_hours=hours,
        icans_clear_hours=None,
        restart_rules=[],
        previous_at=None,
    )
    assert [p.code for p in problems] == codes, what
    assert (problems[0].until if problems else None) == (h(until) if until is not None else None)


def test_icans_gate_is_checked_like_crs():
    points = [GradePoint(h(0), 0, 2), GradePoint(h(3), 0, 0)]
    problems = gate_problems(
        at=h(5),
        points=points,
        crs_clear_hours=24,
        icans_clear_hours=12,
        restart_rules=[],
        previous_at=None,
    )
    assert [p.code for p in problems] == ["icans_recent"]
    assert problems[0].until == h(15)


RESTART_CASES = [
    # (label table row, rules, days since the previous dose, restart at or None)
    ("TECVAYLI SUD1, 7 days: continue", TEC_SUD2, 7, None),
    ("TECVAYLI SUD1, 8 days: restart at SUD1", TEC_SUD2, 8, 1),
    ("TECVAYLI SUD2, 8 days: repeat SUD2", TEC_FIRST, 8, 2),
    ("TECVAYLI SUD2, 28 days: repeat SUD2", TEC_FIRST, 28, 2),
    ("TECVAYLI SUD2, 29 days: restart at SUD1", TEC_FIRST, 29, 1),
    ("EPKINLY 0.16 mg, 8 days: continue", EPK_SUD2, 8, None),
    ("EPKINLY 0.16 mg, 9 days: repeat 0.16 mg", EPK_SUD2, 9, 1),
    ("EPKINLY 0.8 mg, 14 days: give 48 mg", EPK_FIRST_FULL, 14, None),
    ("EPKINLY 0.8 mg, 15 days: repeat from 0.16 mg", EPK_FIRST_FULL, 15, 1),
    ("ELREXFIO 12 mg, 14 days: give 32 mg", ELR_SUD2, 14, None),
    ("ELREXFIO 12 mg, 15 days: restart at 12 mg", ELR_SUD2, 15, 1),
    ("ELREXFIO 32 mg, 14 days: give 76 mg", ELR_FIRST, 14, None),
    ("ELREXFIO 32 mg, 15 days: repeat 32 mg", ELR_FIRST, 15, 2),
    ("ELREXFIO 32 mg, 28 days: repeat 32 mg", ELR_FIRST, 28, 2),
    ("ELREXFIO 32 mg, 29 days: restart at 12 mg", ELR_FIRST, 29, 1),
]


@pytest.mark.parametrize(("what", "rules", "days", "restart_at"), RESTART_CASES)
def test_restart_after_a_delay(what, rules, days, restart_at):
    problems = gate_problems(
        at=T + timedelta(days=days),
        points=[],
        crs_clear_hours=None,
        icans_clear_hours=None,
        restart_rules=rules,
        previous_at=T,
    )
    found = [p.params["restart_at"] for p in problems if p.code == "restart"]
    assert found == ([restart_at] if restart_at else []), what


@pytest.mark.parametrize(
    ("rules", "ok"),
    [
        ([{"after_days": 7, "restart_at": 1}], True),
        ([{"after_days": 0, "restart_at": 1}], False),
        ([{"after_days": 7, "restart_at": 4}], False),
        ([{"after_days": 7}], False),
        ("7>1", False),
    ],
)
def test_restart_rules_are_validated(rules, ok):
    assert (restart_rules_problems(rules, 3) == []) is ok


SPACING_CASES = [
    # (what, previous dose at, gap in the schedule's days, this dose at, too soon?)
    # TECVAYLI §2.1 Table 1: step-up dose 1 on day 1, step-up dose 2 on day 4 (gap 3 days).
    ("day 4 at 08:00 after day 1 at 09:00: on its day", T + timedelta(hours=1), 3, h(72), False),
    ("day 3 at 23:00: a day early", T, 3, h(63), True),
    ("same day as the previous dose", T, 3, h(2), True),
    ("later than the schedule (a delay): the restart rules decide", T, 3, h(24 * 6), False),
    ("no gap in the schedule (a restart repeats a step)", T, 0, h(1), False),
    ("no previous dose", None, 3, h(1), False),
]


@pytest.mark.parametrize(("what", "previous", "gap", "at", "too_soon"), SPACING_CASES)
def test_a_dose_before_its_day_in_the_schedule_is_a_gate_not_met(what, previous, gap, at, too_soon):
    problems = gate_problems(
        at=at,
        points=[],
        crs_clear_hours=None,
        icans_clear_hours=None,
        restart_rules=[],
        previous_at=previous,
        gap_days=gap,
    )
    assert [p.code for p in problems] == (["too_soon"] if too_soon else []), what
    if too_soon:
        assert problems[0].until == datetime(2026, 3, 5, 0, 0, tzinfo=UTC)

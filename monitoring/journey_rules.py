"""The treatment journey's rules as plain data and pure functions (no Django): the phases in
order, the protocol defaults for their expected durations, conditioning and follow-up visits,
and when a follow-up visit counts as due, overdue, missed or done (and late), and a baseline
item as done, stale or missing.

Sources (docs/clinical-rules.md, "Treatment journey"): the phases and manufacturing taking 2–4
weeks are from the documents issue 14 quotes; fludarabine/cyclophosphamide conditioning with
the last dose at D−3 is the labels' usual regimen (reference §4.2 mentions fludarabine; the
reference gives no days: the centre must check them); the acute window is the protocol's
monitoring window (reference §6.2: at least 2 weeks); neuro reassessment at 1, 3 and 6 months
(reference §4.5, §6.1) gives D+28, D+90 and D+180. Everything here is a default a centre edits.
"""

from __future__ import annotations

from datetime import date, timedelta

# The journey in order. The first five are recorded with their dates (journey.record_phase);
# infusion, acute monitoring, follow-up and ended follow from the course itself.
PHASES = (
    "referral",
    "collection",
    "manufacturing",
    "bridging",
    "conditioning",
    "infusion",
    "acute_monitoring",
    "follow_up",
    "ended",
)
RECORDED_PHASES = PHASES[:5]
OPTIONAL_PHASES = ("bridging",)

# Expected duration of a phase in days (low, high). Manufacturing: 2–4 weeks (issue 14's
# documents). The reference is silent on the others: a centre sets them on its protocol.
DEFAULT_PHASE_DAYS: dict[str, tuple[int, int]] = {"manufacturing": (14, 28)}
PHASE_DAYS_RANGE = (0, 365)

# Conditioning (lymphodepletion): the regimen and its days relative to day 0.
DEFAULT_CONDITIONING_REGIMEN = "Fludarabine/cyclophosphamide"
DEFAULT_CONDITIONING_DAYS = (-5, -3)
CONDITIONING_DAY_RANGE = (-14, -1)

# How far ahead a course may be registered with a planned day 0: collection and manufacturing
# take weeks, sometimes a slot months away. Courses under monitoring keep services' limits.
PLANNED_AHEAD_DAYS = 180

# Follow-up visits: day after day 0, ± days the visit still counts as on time, what is asked.
VISIT_DAY_RANGE = (1, 5 * 365)
VISIT_WINDOW_RANGE = (0, 60)
VISIT_ASKS_MAX = 300
DEFAULT_VISITS = (
    (14, 2, "Vital signs, ICE, CBC; driving and distance advice ends"),
    (28, 3, "Neuro reassessment (ICE, handwriting), CBC, IgG"),
    (90, 14, "Neuro reassessment, CBC, IgG, disease response"),
    (180, 14, "Neuro reassessment, CBC, IgG, disease response"),
    (365, 30, "CBC, IgG, disease response, late effects"),
)

# Phases a planned course dates from its planned day 0 until they are recorded (the protocol's
# conditioning days): moving the planned day 0 moves them, not once recorded.
DAY0_PHASES = ("conditioning",)

# Pre-infusion baseline: ICE and weight always; a handwriting sample if the protocol asks; the
# labs it names. A baseline taken more than a week before day 0 no longer counts (services:
# EARLIEST_BEFORE_INFUSION, the earliest a course's baseline check may be).
BASELINE_VALID_DAYS = 7
DEFAULT_BASELINE_LABS = ("crp_mg_l", "ferritin_ng_ml", "anc_10e9_l", "platelets_10e9_l")


def default_visits() -> list[dict]:
    """A fresh copy of the default follow-up visits (a JSONField default)."""
    return [{"day": d, "window_days": w, "asks": a} for d, w, a in DEFAULT_VISITS]


def default_baseline_labs() -> list[str]:
    return list(DEFAULT_BASELINE_LABS)


def phase_days(settings: dict, phase: str) -> tuple[int, int] | None:
    """A phase's expected (low, high) days: the protocol's, else the default, else None."""
    value = (settings or {}).get(phase)
    if value:
        return int(value[0]), int(value[1])
    return DEFAULT_PHASE_DAYS.get(phase)


def visit_state(
    due_on: date, window_days: int, today: date, *, done: bool, missed: bool = False
) -> str:
    """ "done"; "missed" (recorded missed, with why: no longer overdue); else "upcoming" before
    its window, "due" inside it, "overdue" after it."""
    if done:
        return "done"
    if missed:
        return "missed"
    if today < due_on - timedelta(days=window_days):
        return "upcoming"
    if today <= due_on + timedelta(days=window_days):
        return "due"
    return "overdue"


def window_opened(due_on: date, window_days: int, today: date) -> bool:
    """A visit can be recorded missed once its window has opened (due or overdue), not before:
    nobody misses a visit that is not yet due."""
    return today >= due_on - timedelta(days=window_days)


def done_late(due_on: date, window_days: int, done_on: date) -> bool:
    """A visit done after its window closed (e.g. one recorded missed, then seen later)."""
    return done_on > due_on + timedelta(days=window_days)


def baseline_state(taken_on: date | None, day0: date) -> str:
    """ "missing", "stale" (more than BASELINE_VALID_DAYS before day 0: repeat it) or "done"."""
    if taken_on is None:
        return "missing"
    if (day0 - taken_on).days > BASELINE_VALID_DAYS:
        return "stale"
    return "done"


def current_phase(
    status: str, recorded: list[str], *, follow_up_ended: bool, ended_statuses=()
) -> str:
    """The phase a course is in: before day 0 the latest recorded phase (referral if none);
    under monitoring, acute monitoring; monitoring completed, follow-up until it is ended;
    monitoring discontinued, transferred out or died: ended."""
    if status == "planned":
        started = [p for p in RECORDED_PHASES if p in recorded]
        return started[-1] if started else "referral"
    if status == "monitoring":
        return "acute_monitoring"
    if status == "completed" and not follow_up_ended:
        return "follow_up"
    return "ended"

"""Gates before the next dose of a step-up schedule: plain values in, problems out.

Sources (docs/clinical-rules.md, "T-cell engagers: step-up dosing, windows and gates"):
- TECVAYLI (teclistamab) and EPKINLY (epcoritamab) US prescribing information, and those of
  the other shipped templates (ELREXFIO, TALVEY, LYNOZYFIC, IMDELLTRA): withhold the drug until
  CRS resolves, and until ICANS resolves (§2.5 / §2.6 of each label). How long CRS
  or ICANS must have been resolved before the next dose is not in the labels: the protocol's
  ``crs_clear_hours`` / ``icans_clear_hours`` are the centre's choice (0 = resolved now).
- Restarting after a dose delay: TECVAYLI Table 2 (step-up dose 1, more than 7 days: restart at
  step-up dose 1; step-up dose 2, 8 to 28 days: repeat step-up dose 2, more than 28 days:
  restart at step-up dose 1); EPKINLY Table (0.16 mg on C1D1, more than 8 days: repeat 0.16 mg;
  0.8 mg, more than 14 days: repeat from 0.16 mg); ELREXFIO 2023 table (12 mg, more than 14
  days: 12 mg; 32 mg, more than 14 days: 32 mg, more than 28 days: 12 mg). The protocol's
  ``restart_rules`` on the step hold them; a table a label copy did not show is left empty.
- Too soon: each label gives the schedule's days (Table 1: e.g. TECVAYLI day 1, 4, 7); a dose on
  a calendar day before the previous dose's day plus the schedule's gap (the steps'
  ``day_offset`` difference) is a gate not met. The labels give no earlier day, so a dose given
  earlier than the schedule needs the same override with a reason as any unmet gate.

No Django here: ``monitoring.dosing`` assembles the values and renders the problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class GradePoint:
    """One graded moment of the course: the effective CRS and ICANS grades (None: not graded)."""

    at: datetime
    crs: int | None
    icans: int | None


@dataclass(frozen=True)
class Problem:
    """A gate not met. ``code`` picks the message (monitoring.dosing.problem_text); ``until``
    is when it will be met by time alone (None: not by time alone, e.g. CRS still present)."""

    code: str  # "crs_active", "crs_recent", "icans_active", "icans_recent", "restart", "too_soon"
    params: dict = field(default_factory=dict)
    until: datetime | None = None


def resolved_since(points: list[GradePoint], domain: str, at: datetime):
    """(active grade or None, resolved since or None) of ``domain`` at ``at``.

    Active: the latest graded moment at or before ``at`` has grade ≥ 1. Resolved since: the
    first moment graded 0 after the last moment ≥ 1 (None when there never was one).
    """
    graded = sorted(
        (p for p in points if p.at <= at and getattr(p, domain) is not None), key=lambda p: p.at
    )
    last_bad = None
    for index, point in enumerate(graded):
        if getattr(point, domain) >= 1:
            last_bad = index
    if last_bad is None:
        return None, None
    if last_bad == len(graded) - 1:
        return getattr(graded[last_bad], domain), None
    return None, graded[last_bad + 1].at


def clear_problem(points, domain: str, hours: int | None, at: datetime) -> Problem | None:
    """The gate "``domain`` resolved for at least ``hours`` h" at ``at`` (None hours: no gate)."""
    if hours is None:
        return None
    grade, since = resolved_since(points, domain, at)
    if grade is not None:
        return Problem(f"{domain}_active", {"grade": grade, "hours": hours})
    if since is None:
        return None
    until = since + timedelta(hours=hours)
    if at < until:
        return Problem(f"{domain}_recent", {"since": since, "hours": hours}, until=until)
    return None


def restart_problem(rules, previous_at: datetime | None, at: datetime) -> Problem | None:
    """A delay since the previous dose longer than a rule's days: restart at its step."""
    if previous_at is None or not rules:
        return None
    waited = at - previous_at
    exceeded = [rule for rule in rules if waited > timedelta(days=rule["after_days"])]
    if not exceeded:
        return None
    rule = max(exceeded, key=lambda rule: rule["after_days"])
    return Problem(
        "restart",
        {
            "days": waited.days,
            "limit": rule["after_days"],
            "restart_at": rule["restart_at"],
            "previous": previous_at,
        },
    )


def spacing_problem(previous_at: datetime | None, gap_days: int | None, at: datetime):
    """A dose on a calendar day before the previous dose's day plus the schedule's gap. Both
    times in the centre's local time (calendar days are the label's unit: day 1, day 4)."""
    if previous_at is None or not gap_days or gap_days < 0:
        return None
    earliest = previous_at.date() + timedelta(days=gap_days)
    if at.date() >= earliest:
        return None
    until = datetime.combine(earliest, datetime.min.time(), tzinfo=at.tzinfo)
    return Problem(
        "too_soon", {"previous": previous_at, "days": gap_days, "earliest": earliest}, until=until
    )


def gate_problems(
    *,
    at: datetime,
    points: list[GradePoint],
    crs_clear_hours: int | None,
    icans_clear_hours: int | None,
    restart_rules,
    previous_at: datetime | None,
    gap_days: int | None = None,
) -> list[Problem]:
    """Every gate before a dose that is not met at ``at`` (``gap_days``: the schedule's days
    between the previous dose given and this one; local times for the calendar day)."""
    problems = [
        clear_problem(points, "crs", crs_clear_hours, at),
        clear_problem(points, "icans", icans_clear_hours, at),
        restart_problem(restart_rules, previous_at, at),
        spacing_problem(previous_at, gap_days, at),
    ]
    return [problem for problem in problems if problem is not None]


def restart_rules_problems(rules, step_count: int) -> list[str]:
    """What is wrong with a step's restart rules (English; forms and services translate)."""
    if not isinstance(rules, list):
        return ["Restart rules must be a list."]
    problems = []
    for rule in rules:
        if not isinstance(rule, dict) or set(rule) != {"after_days", "restart_at"}:
            problems.append("Each restart rule needs after_days and restart_at.")
            continue
        days, step = rule["after_days"], rule["restart_at"]
        if type(days) is not int or not 1 <= days <= 365:
            problems.append("A restart delay must be 1-365 days.")
        if type(step) is not int or not 1 <= step <= step_count:
            problems.append("A restart must name one of the steps.")
    return problems

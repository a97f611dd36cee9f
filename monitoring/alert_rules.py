"""Who is told about a flag, and when: the escalation ladder's defaults and its plain rules.

Pure values, no Django: the protocol version holds each centre's own limits and ladder
(``ProtocolVersion.ack_limit_for``/``ladder``), and these are the defaults it starts from.

Sources. NEWS2 (RCP 2017, Chart 4 — reference §8.2) sets the response by severity: the
emergency threshold asks that the team be told *immediately*, the urgent threshold for an
*urgent* assessment, lower scores for the nurse in charge to decide. ASCO 2021 (reference §7)
asks the CAR-T physician to be told *now* of any CRS ≥ 2 or any ICANS. No guideline gives
minutes; the defaults below (critical 5, urgent 15, warning 60 minutes) are this project's
reading of "immediately / urgent / this shift" and every centre must set its own. Info flags
never page anyone. (``ACK_MINUTES_SOURCE`` says this in short on the protocol version page.)
"""

from __future__ import annotations

from datetime import timedelta

from monitoring.flag_rules import CRITICAL, INFO, URGENT, WARNING

# The tiers a ladder may climb, lowest first (code, label).
BEDSIDE_NURSE = "bedside_nurse"
CHARGE_NURSE = "charge_nurse"
APP_FELLOW = "app_fellow"
ATTENDING = "attending"
TIERS = [
    (BEDSIDE_NURSE, "Bedside nurse"),
    (CHARGE_NURSE, "Charge nurse"),
    (APP_FELLOW, "CAR-T APP / fellow"),
    (ATTENDING, "Attending physician"),
]
TIER_LABELS = dict(TIERS)
DEFAULT_LADDER = [BEDSIDE_NURSE, CHARGE_NURSE, APP_FELLOW, ATTENDING]

# Minutes a flag may wait unacknowledged before the next tier is told, by severity.
DEFAULT_ACK_MINUTES = {CRITICAL: 5, URGENT: 15, WARNING: 60}
ACK_MINUTES_RANGE = (1, 24 * 60)
SEVERITIES_THAT_ESCALATE = (WARNING, URGENT, CRITICAL)
assert INFO not in SEVERITIES_THAT_ESCALATE
SEVERITY_WORDS = {CRITICAL: "critical", URGENT: "urgent", WARNING: "warning"}
ACK_MINUTES_SOURCE = (
    "No guideline gives minutes. NEWS2 (RCP 2017) asks for an immediate response at its "
    "emergency threshold and an urgent one at its urgent threshold; ASCO 2021 asks that the "
    "CAR-T physician be told now of CRS ≥ 2 or any ICANS. The defaults (critical 5, urgent 15, "
    "warning 60 min) are this project's reading of “immediately / urgent / this shift”: every "
    "centre sets its own."
)

# An overdue check tells the unit's nurse in charge once it is this late (protocol default).
DEFAULT_OVERDUE_GRACE_MINUTES = 30
OVERDUE_GRACE_RANGE = (0, 12 * 60)
OVERDUE_TIER = CHARGE_NURSE

# A failed delivery (e-mail, push, webhook) is tried again after these waits, then given up
# and shown as failed: about 15 minutes in all, by which time the ladder has moved on.
RETRY_BACKOFF = [timedelta(seconds=s) for s in (30, 60, 120, 300, 600)]
MAX_ATTEMPTS = len(RETRY_BACKOFF) + 1


class Problem(str):
    """A validation message: its English text (a ``str``, as before), its ``code`` and its
    ``params``, so the web app can show it in the reader's language
    (``monitoring.alert_rule_messages``), as grading's reasons are."""

    code: str
    params: dict

    def __new__(cls, code: str, english: str, **params):
        problem = super().__new__(cls, english)
        problem.code, problem.params = code, params
        return problem


def ack_minutes(severity: int, minutes_by_severity: dict) -> int:
    """The minutes a flag of an escalating severity may wait (the protocol's, else the default)."""
    return int(minutes_by_severity.get(str(severity)) or DEFAULT_ACK_MINUTES[severity])


def ack_limit(severity: int, minutes_by_severity: dict) -> timedelta | None:
    """How long a flag of this severity may wait unacknowledged; None: it never escalates."""
    if severity not in SEVERITIES_THAT_ESCALATE:
        return None
    return timedelta(minutes=ack_minutes(severity, minutes_by_severity))


def ack_minutes_problems(minutes_by_severity) -> list[tuple[int | None, str]]:
    """What is wrong with a protocol's minutes by severity ({"4": 5, "3": 15, "2": 60}; a
    missing severity takes its default), as (severity it concerns or None, message): each
    within ACK_MINUTES_RANGE, and a more severe flag never waits longer than a milder one."""
    if not isinstance(minutes_by_severity, dict):
        return [
            (
                None,
                Problem(
                    "ack.not_a_dict", "Give the minutes as critical, urgent and warning values."
                ),
            )
        ]
    low, high = ACK_MINUTES_RANGE
    keys = {str(severity): severity for severity in SEVERITIES_THAT_ESCALATE}
    problems: list[tuple[int | None, str]] = []
    for key, value in minutes_by_severity.items():
        severity = keys.get(str(key))
        if severity is None:
            problems.append(
                (
                    None,
                    Problem(
                        "ack.not_escalating",
                        f"Only critical, urgent and warning flags escalate (got {key}).",
                        got=str(key),
                    ),
                )
            )
        elif type(value) is not int or not low <= value <= high:
            word = SEVERITY_WORDS[severity].capitalize()
            problems.append(
                (
                    severity,
                    Problem(
                        "ack.out_of_range",
                        f"{word} must be between {low} and {high} min (got {value}).",
                        severity=severity,
                        low=low,
                        high=high,
                        got=str(value),
                    ),
                )
            )
    if problems:
        return problems
    for milder, worse in ((URGENT, CRITICAL), (WARNING, URGENT)):
        wait, worse_wait = (ack_minutes(s, minutes_by_severity) for s in (milder, worse))
        if wait < worse_wait:
            problems.append(
                (
                    milder,
                    Problem(
                        "ack.out_of_order",
                        f"{SEVERITY_WORDS[milder].capitalize()} ({wait} min) must not be "
                        f"shorter than {SEVERITY_WORDS[worse]} ({worse_wait} min): a more "
                        "severe flag never waits longer for an answer.",
                        milder=milder,
                        wait=wait,
                        worse=worse,
                        worse_wait=worse_wait,
                    ),
                )
            )
    return problems


def ladder_problems(ladder) -> list[tuple[int | None, str]]:
    """What is wrong with an escalation ladder (tier codes, lowest first), as (position it
    concerns or None, message): at least one tier, known tiers, each tier once."""
    if not isinstance(ladder, list):
        return [(None, Problem("ladder.not_a_list", "Give the ladder as a list of tiers."))]
    if not ladder:
        return [(0, Problem("ladder.empty", "Choose at least one tier."))]
    problems: list[tuple[int | None, str]] = []
    seen = set()
    for position, tier in enumerate(ladder):
        if not isinstance(tier, str) or tier not in TIER_LABELS:
            problems.append(
                (position, Problem("ladder.unknown", f"Unknown tier: {tier!r}.", tier=repr(tier)))
            )
        elif tier in seen:
            problems.append(
                (
                    position,
                    Problem(
                        "ladder.twice",
                        f"{TIER_LABELS[tier]} is chosen twice: each tier once.",
                        tier=tier,
                    ),
                )
            )
        else:
            seen.add(tier)
    return problems


def ack_minutes_text(minutes_by_severity: dict) -> str:
    """ "critical 5, urgent 15, warning 60 min" (defaults where the protocol sets none)."""
    parts = [
        f"{SEVERITY_WORDS[severity]} {ack_minutes(severity, minutes_by_severity)}"
        for severity in reversed(SEVERITIES_THAT_ESCALATE)
    ]
    return ", ".join(parts) + " min"


def ladder_text(ladder: list[str]) -> str:
    """ "Bedside nurse → Charge nurse → …" (an empty ladder is the default one)."""
    return " → ".join(TIER_LABELS.get(tier, tier) for tier in ladder or DEFAULT_LADDER)


def retry_after(attempts: int) -> timedelta | None:
    """The wait before the next try after ``attempts`` failed ones; None: give up."""
    if attempts < 1 or attempts > len(RETRY_BACKOFF):
        return None
    return RETRY_BACKOFF[attempts - 1]

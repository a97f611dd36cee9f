"""Who is told about a flag, and when: the escalation ladder's defaults and its plain rules.

Pure values, no Django: the protocol version holds each centre's own limits and ladder
(``ProtocolVersion.ack_limit_for``/``ladder``), and these are the defaults it starts from.

Sources. NEWS2 (RCP 2017, Chart 4 — reference §8.2) sets the response by severity: the
emergency threshold asks that the team be told *immediately*, the urgent threshold for an
*urgent* assessment, lower scores for the nurse in charge to decide. ASCO 2021 (reference §7)
asks the CAR-T physician to be told *now* of any CRS ≥ 2 or any ICANS. No guideline gives
minutes; the defaults below (critical 5, urgent 15, warning 60 minutes) are this project's
reading of "immediately / urgent / this shift" and every centre must set its own. Info flags
never page anyone.
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

# An overdue check tells the unit's nurse in charge once it is this late (protocol default).
DEFAULT_OVERDUE_GRACE_MINUTES = 30
OVERDUE_GRACE_RANGE = (0, 12 * 60)
OVERDUE_TIER = CHARGE_NURSE

# A failed delivery (e-mail, push, webhook) is tried again after these waits, then given up
# and shown as failed: about 15 minutes in all, by which time the ladder has moved on.
RETRY_BACKOFF = [timedelta(seconds=s) for s in (30, 60, 120, 300, 600)]
MAX_ATTEMPTS = len(RETRY_BACKOFF) + 1


def ack_limit(severity: int, minutes_by_severity: dict) -> timedelta | None:
    """How long a flag of this severity may wait unacknowledged; None: it never escalates."""
    if severity not in SEVERITIES_THAT_ESCALATE:
        return None
    minutes = minutes_by_severity.get(str(severity)) or DEFAULT_ACK_MINUTES[severity]
    return timedelta(minutes=int(minutes))


def retry_after(attempts: int) -> timedelta | None:
    """The wait before the next try after ``attempts`` failed ones; None: give up."""
    if attempts < 1 or attempts > len(RETRY_BACKOFF):
        return None
    return RETRY_BACKOFF[attempts - 1]

"""alert_rules' validation messages (``alert_rules.Problem``: a code and its params) in the
reader's language: alert_rules imports no Django, so the protocol form and the service that
check escalation settings show its problems through this table."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from monitoring.models.alerts import TIER_LABELS
from monitoring.models.grades import Flag

MESSAGES = {
    "ack.not_a_dict": _("Give the minutes as critical, urgent and warning values."),
    "ack.not_escalating": _("Only critical, urgent and warning flags escalate (got %(got)s)."),
    "ack.out_of_range": _("%(severity)s must be between %(low)s and %(high)s min (got %(got)s)."),
    "ack.out_of_order": _(
        "%(milder)s (%(wait)s min) must not be shorter than %(worse)s (%(worse_wait)s min): a "
        "more severe flag never waits longer for an answer."
    ),
    "ladder.not_a_list": _("Give the ladder as a list of tiers."),
    "ladder.empty": _("Choose at least one tier."),
    "ladder.unknown": _("Unknown tier: %(tier)s."),
    "ladder.twice": _("%(tier)s is chosen twice: each tier once."),
}


def _severity(severity: int) -> str:
    """A flag severity as a word in the reader's language ("critical")."""
    return str(Flag.Severity(severity).label).lower()


def render(problem) -> str:
    """An alert_rules problem as text in the active language (plain text as it is)."""
    template = MESSAGES.get(getattr(problem, "code", None))
    if template is None:
        return str(problem)
    params = dict(problem.params)
    if "severity" in params:
        params["severity"] = _severity(params["severity"]).capitalize()
    if "milder" in params:
        params["milder"] = _severity(params["milder"]).capitalize()
        params["worse"] = _severity(params["worse"])
    if problem.code == "ladder.twice":
        params["tier"] = str(TIER_LABELS.get(params["tier"], params["tier"]))
    return str(template) % params

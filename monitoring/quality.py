"""Quality measures for the programme lead (issue 12 §6): how fast flags are acknowledged, how
often they escalate, how often checks run overdue, and how long from the first fever to the
first tocilizumab — the measures CAR-T programmes report for accreditation.

Read from the records (nothing is stored), over a set of units and a period of local dates, in a
fixed number of queries whatever the number of patients; the arithmetic is in Python.

Definitions (docs/quality-measures.md says them in full; the page says them in short):

- **Weeks** are ISO weeks, Monday to Sunday, in the local time zone; the first and last week of a
  period may be partial. A course counts on the unit it is on now.
- **Time to acknowledgement**: for each flag of severity warning or worse raised in the week, its
  first acknowledgement (``FlagAcknowledgement``, or ``Flag.acknowledged_at`` for a flag
  acknowledged before each acknowledgement was kept) minus its ``raised_at``. The severity is
  the flag's at that first acknowledgement (a flag that got worse later counts once, at its
  first answer); a flag nobody acknowledged counts at its severity now, as **never
  acknowledged** while unresolved and **resolved without acknowledgement** once resolved —
  both counted apart, never dropped. Median and 90th percentile by the nearest-rank method.
- **Escalations by tier**: ``EscalationStep`` rows of the week with step ≥ 1, by the tier told;
  step 0 (the lowest tier told at once, when a flag is raised or gets worse) is counted apart as
  **first notices**.
- **Overdue checks**: ``OverdueAlert`` rows of the week (an overdue check past its protocol's
  grace reported to the nurse in charge, once per due time) per 100 bedside checks recorded
  that week (``BedsideCheck`` by observation time). A ratio of two counts in the same week, not
  the share of checks that were late: one alert is about a check that was *not* done.
- **First fever to first tocilizumab**: per course, its first fever after the infusion (a
  current vital-signs record — not amended away, not entered in error — with a temperature ≥
  ``grading.FEVER_C``), to the first current tocilizumab dose at or after it
  (``registry.treatment_rows``); by the week of the first fever. Febrile courses never given
  tocilizumab after it are counted apart: fever alone is often not treated with tocilizumab.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, Min, Q
from django.db.models.functions import TruncDate
from django.utils import formats, timezone
from django.utils.translation import gettext

from monitoring import alert_rules, grading, registry
from monitoring.display import DASH
from monitoring.models import (
    BedsideCheck,
    EscalationStep,
    Flag,
    FlagAcknowledgement,
    OverdueAlert,
    VitalSigns,
)
from monitoring.models.alerts import TIER_CHOICES

DEFAULT_WEEKS = 12
MAX_WEEKS = 104
TOCILIZUMAB = "tocilizumab"
TOTAL = None  # the week key of the whole period
SEVERITIES = [Flag.Severity.CRITICAL, Flag.Severity.URGENT, Flag.Severity.WARNING]
URGENT_PLUS = "urgent_plus"  # critical and urgent together (the chart)
ALL = "all"


# --- Percentiles (pure) ---------------------------------------------------------------------


def percentile(values, p: int) -> float | None:
    """The p-th percentile by the nearest-rank method: the value at rank ⌈p·n/100⌉ of the
    sorted values (always one of them; the median of an even count is the lower middle one).
    None when there are no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))  # integer ceiling: no float rounding
    return ordered[rank - 1]


def minutes_text(minutes: float | None) -> str:
    """ "—", "2.5 min", "14 min", "3 h 05 min"."""
    if minutes is None:
        return DASH
    if minutes < 10:
        return f"{formats.number_format(minutes, 1)} min"  # "2,5 min" in Spanish
    if minutes < 120:
        return f"{round(minutes)} min"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min"


@dataclass
class Times:
    """Minutes measured in one week and group, and what could not be measured: ``never`` (a flag
    nobody acknowledged; a febrile course not given tocilizumab) and ``resolved`` (a flag
    resolved without acknowledgement)."""

    minutes: list[float] = field(default_factory=list)
    never: int = 0
    resolved: int = 0

    @property
    def n(self) -> int:
        return len(self.minutes)

    @property
    def median(self) -> float | None:
        return percentile(self.minutes, 50)

    @property
    def p90(self) -> float | None:
        return percentile(self.minutes, 90)

    @property
    def median_text(self) -> str:
        return minutes_text(self.median)

    @property
    def p90_text(self) -> str:
        return minutes_text(self.p90)


# --- The period -----------------------------------------------------------------------------


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_label(week: date | None) -> str:
    """ "2026-W49 · 30 Nov", or "Whole period" (in the reader's language)."""
    if week is None:
        return gettext("Whole period")
    year, number, _ = week.isocalendar()
    return f"{year}-W{number:02d} · {formats.date_format(week, 'd M')}"


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class Period:
    """Local dates, both included."""

    start: date
    end: date

    @classmethod
    def default(cls, today: date) -> Period:
        """The last 12 ISO weeks, this one (so far) included."""
        return cls(monday(today) - timedelta(weeks=DEFAULT_WEEKS - 1), today)

    @property
    def weeks(self) -> list[date]:
        """The Monday of each ISO week the period touches."""
        first, last = monday(self.start), monday(self.end)
        return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return _midnight(self.start), _midnight(self.end + timedelta(days=1))


# --- The report -----------------------------------------------------------------------------


@dataclass
class Report:
    period: Period
    units: list
    ack: dict = field(default_factory=lambda: defaultdict(Times))  # (week, group) -> Times
    first_notices: Counter = field(default_factory=Counter)  # week -> count
    escalations: Counter = field(default_factory=Counter)  # (week, tier) -> count
    overdue: Counter = field(default_factory=Counter)  # week -> alerts
    checks: Counter = field(default_factory=Counter)  # week -> bedside checks
    fever: dict = field(default_factory=lambda: defaultdict(Times))  # week -> Times

    @property
    def weeks(self) -> list[date]:
        return self.period.weeks

    @property
    def rows_weeks(self) -> list[date | None]:
        return [*self.weeks, TOTAL]

    def overdue_rate(self, week) -> float | None:
        """Overdue alerts per 100 checks recorded (None with no check recorded)."""
        checks = self.checks[week]
        return round(100 * self.overdue[week] / checks, 1) if checks else None

    # Groups of the time to acknowledgement: severities, critical+urgent, all, each unit.
    def ack_groups(self) -> list[tuple[object, str]]:
        groups = [(severity, str(Flag.Severity(severity).label)) for severity in SEVERITIES]
        groups += [
            (URGENT_PLUS, gettext("Critical and urgent")),
            (ALL, gettext("All (warning or worse)")),
        ]
        return groups + [
            (("unit", unit.pk), gettext("Unit: %(unit)s") % {"unit": unit.name})
            for unit in self.units
        ]

    # Rows for the page's tables (templates cannot look up tuple keys).
    def ack_rows(self) -> list[dict]:
        return [
            {
                "week": week_label(week),
                "total": week is TOTAL,
                "severities": [self.ack[(week, severity)] for severity in SEVERITIES],
                "all": self.ack[(week, ALL)],
                "units": [self.ack[(week, ("unit", unit.pk))] for unit in self.units],
            }
            for week in self.rows_weeks
        ]

    def escalation_rows(self) -> list[dict]:
        return [
            {
                "week": week_label(week),
                "total": week is TOTAL,
                "first": self.first_notices[week],
                "tiers": [self.escalations[(week, code)] for code, _ in alert_rules.TIERS],
                "escalations": sum(self.escalations[(week, code)] for code, _ in alert_rules.TIERS),
            }
            for week in self.rows_weeks
        ]

    def overdue_rows(self) -> list[dict]:
        return [
            {
                "week": week_label(week),
                "total": week is TOTAL,
                "alerts": self.overdue[week],
                "checks": self.checks[week],
                "rate": self.overdue_rate(week),
            }
            for week in self.rows_weeks
        ]

    def fever_rows(self) -> list[dict]:
        return [
            {"week": week_label(week), "total": week is TOTAL, "times": self.fever[week]}
            for week in self.rows_weeks
        ]

    def chart_data(self) -> dict:
        """What static/js/quality_charts.js draws: per week, the median and 90th percentile
        minutes to acknowledge critical and urgent flags; escalations by tier."""
        labels = [week_label(week).split(" · ")[0] for week in self.weeks]
        urgent = [self.ack[(week, URGENT_PLUS)] for week in self.weeks]
        return {
            "ack": {
                "labels": labels,
                "median": [_round(t.median) for t in urgent],
                "p90": [_round(t.p90) for t in urgent],
            },
            "escalations": {
                "labels": labels,
                "datasets": [
                    {
                        "label": str(label),
                        "data": [self.escalations[(week, code)] for week in self.weeks],
                    }
                    for code, label in TIER_CHOICES
                ],
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# --- Loading (a fixed number of queries) ----------------------------------------------------


def build(units: list, period: Period) -> Report:
    """Every measure over ``units`` and ``period``: seven queries, whatever the patients."""
    report = Report(period=period, units=list(units))
    unit_ids = [unit.pk for unit in report.units]
    start, end = period.bounds
    _acknowledgements(report, unit_ids, start, end)
    _escalations(report, unit_ids, start, end)
    _overdue(report, unit_ids, start, end)
    _fever_to_tocilizumab(report, unit_ids, start, end)
    return report


def _add(counter: Counter, week, count: int, *keys) -> None:
    """Count into the week and into the whole period."""
    for when in (week, TOTAL):
        counter[(when, *keys) if keys else when] += count


def _acknowledgements(report: Report, unit_ids, start, end) -> None:
    raised = Flag.objects.filter(
        course__unit__in=unit_ids,
        raised_at__gte=start,
        raised_at__lt=end,
        severity__gte=Flag.Severity.WARNING,
    )
    first: dict[int, tuple[datetime, int]] = {}
    acknowledgements = (
        FlagAcknowledgement.objects.filter(flag__in=raised.values("pk"))
        .order_by("acknowledged_at", "pk")
        .values_list("flag_id", "acknowledged_at", "severity")
    )
    for flag_id, at, severity in acknowledgements:
        first.setdefault(flag_id, (at, severity))
    rows = raised.values_list(
        "pk", "severity", "status", "raised_at", "acknowledged_at", "course__unit_id"
    )
    for pk, severity, status, raised_at, acknowledged_at, unit_id in rows:
        answered = first.get(pk) or ((acknowledged_at, severity) if acknowledged_at else None)
        if answered:
            severity = answered[1]
        if severity < Flag.Severity.WARNING:
            continue  # an info flag when it was answered: it pages no one
        groups = [severity, ALL, ("unit", unit_id)]
        if severity >= Flag.Severity.URGENT:
            groups.append(URGENT_PLUS)
        for week in (monday(timezone.localdate(raised_at)), TOTAL):
            for group in groups:
                times = report.ack[(week, group)]
                if answered:
                    waited = (answered[0] - raised_at).total_seconds() / 60
                    times.minutes.append(max(waited, 0.0))
                elif status == Flag.Status.RESOLVED:
                    times.resolved += 1
                else:
                    times.never += 1


def _days(queryset, field_name: str, start, end, *group):
    """Counts per local day (and ``group`` fields) of the rows in [start, end)."""
    return (
        queryset.filter(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
        .annotate(day=TruncDate(field_name, tzinfo=timezone.get_current_timezone()))
        .values("day", *group)
        .order_by()
    )


def _escalations(report: Report, unit_ids, start, end) -> None:
    steps = _days(
        EscalationStep.objects.filter(course__unit__in=unit_ids), "at", start, end, "tier"
    ).annotate(
        first=Count("pk", filter=Q(step=0)),
        later=Count("pk", filter=Q(step__gte=1)),
    )
    for row in steps:
        week = monday(row["day"])
        _add(report.first_notices, week, row["first"])
        _add(report.escalations, week, row["later"], row["tier"])


def _overdue(report: Report, unit_ids, start, end) -> None:
    for counter, queryset, field_name in (
        (report.overdue, OverdueAlert.objects, "alerted_at"),
        (report.checks, BedsideCheck.objects, "observed_at"),
    ):
        rows = _days(queryset.filter(course__unit__in=unit_ids), field_name, start, end)
        for row in rows.annotate(n=Count("pk")):
            _add(counter, monday(row["day"]), row["n"])


def _fever_to_tocilizumab(report: Report, unit_ids, start, end) -> None:
    first_fevers = dict(
        VitalSigns.objects.current()
        .filter(
            check_entry__course__unit__in=unit_ids,
            temp_c__gte=Decimal(str(grading.FEVER_C)),
            check_entry__observed_at__gte=F("check_entry__course__infused_at"),
        )
        .values("check_entry__course_id")
        .annotate(first=Min("check_entry__observed_at"))
        .filter(first__gte=start, first__lt=end)
        .values_list("check_entry__course_id", "first")
        .order_by()
    )
    doses = registry.treatment_rows(list(first_fevers), drugs=[TOCILIZUMAB])
    for course_id, fever_at in first_fevers.items():
        given = next((row.at for row in doses[course_id] if row.at >= fever_at), None)
        for week in (monday(timezone.localdate(fever_at)), TOTAL):
            times = report.fever[week]
            if given is None:
                times.never += 1
            else:
                times.minutes.append((given - fever_at).total_seconds() / 60)


# --- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS = ["week_start", "measure", "group", "n", "median_minutes", "p90_minutes", "value"]


def _csv_week(week) -> str:
    return week.isoformat() if week else "total"


def csv_rows(report: Report):
    """One row per week × measure × group (the whole period last, week_start "total")."""
    for week in report.rows_weeks:
        when = _csv_week(week)
        for group, label in report.ack_groups():
            times = report.ack[(week, group)]
            yield [
                when,
                "time_to_acknowledgement",
                label,
                times.n,
                _round(times.median),
                _round(times.p90),
                "",
            ]
            yield [when, "never_acknowledged", label, "", "", "", times.never]
            yield [when, "resolved_without_acknowledgement", label, "", "", "", times.resolved]
        yield [when, "first_notices", "All tiers", "", "", "", report.first_notices[week]]
        for code, label in alert_rules.TIERS:
            yield [when, "escalations", label, "", "", "", report.escalations[(week, code)]]
        yield [when, "overdue_alerts", "All", "", "", "", report.overdue[week]]
        yield [when, "checks_recorded", "All", "", "", "", report.checks[week]]
        rate = report.overdue_rate(week)
        yield [
            when,
            "overdue_alerts_per_100_checks",
            "All",
            report.checks[week],
            "",
            "",
            "" if rate is None else rate,
        ]
        times = report.fever[week]
        yield [
            when,
            "first_fever_to_tocilizumab",
            "All",
            times.n,
            _round(times.median),
            _round(times.p90),
            "",
        ]
        yield [when, "febrile_courses_without_tocilizumab", "All", "", "", "", times.never]

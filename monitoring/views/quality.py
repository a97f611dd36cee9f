"""The programme's quality measures (monitoring/quality.py) for the care team and admins: a
page with charts and tables, and the same numbers as a CSV (audited as an export).

Aggregates only — no patient is named — over the user's units (``access.selected_unit`` picks
one) and a period of local dates (the last 12 weeks by default, at most 104)."""

from __future__ import annotations

import csv
import json

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.views.decorators.http import require_GET

from cartmonitor.db_router import replica_reads
from monitoring import grading, quality, registry, services
from monitoring.access import requires, selected_unit, visible_units
from monitoring.forms.quality import QualityForm
from monitoring.models import AuditEvent, Flag, User
from monitoring.models.alerts import TIER_CHOICES


def _filters(request):
    """(form, period, units shown, unit chosen); bad dates keep the default period."""
    units = visible_units(request.user)
    unit = selected_unit(request.GET.getlist("unit"), units)
    form = QualityForm(request.GET)
    today = timezone.localdate()
    period = form.period(today) if form.is_valid() else quality.Period.default(today)
    return form, period, [unit] if unit else units, unit, units


def _page(request, form, period, shown, unit, units, *, status=200):
    report = quality.build(shown, period)
    return render(
        request,
        "monitoring/quality/quality.html",
        {
            "form": form,
            "report": report,
            "units": units,
            "selected_unit": unit,
            "period": period,
            "max_weeks": quality.MAX_WEEKS,
            "fever_c": grading.FEVER_C,
            # JSON in a data- attribute, read by static/js/quality_charts.js (the CSP scanner in
            # tests/web/test_security.py refuses any <script> without src).
            "chart_data": json.dumps(report.chart_data(), separators=(",", ":")),
            "tiers": [label for _, label in TIER_CHOICES],
            # The by-severity table's column headings, beside each cell on a phone.
            "severity_labels": [Flag.Severity(s).label for s in quality.SEVERITIES],
        },
        status=status,
    )


@requires(User.can_view_quality)
@require_GET
@replica_reads()
def quality_page(request):
    """Median and 90th percentile time to acknowledgement, escalations by tier, overdue checks
    and first fever to first tocilizumab, by ISO week."""
    form, period, shown, unit, units = _filters(request)
    return _page(request, form, period, shown, unit, units, status=200 if form.is_valid() else 400)


@requires(User.can_view_quality)
@require_GET
@replica_reads()
def quality_csv(request):
    """The page's numbers, one row per week × measure × group (UTF-8 with BOM)."""
    form, period, shown, unit, units = _filters(request)
    if not form.is_valid():
        return _page(request, form, period, shown, unit, units, status=400)
    report = quality.build(shown, period)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="cartmonitor-quality-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"'
    )
    response["Cache-Control"] = "no-store"
    response.write("\ufeff")  # the BOM makes Excel read UTF-8
    writer = csv.writer(response)
    writer.writerow(quality.CSV_COLUMNS)
    with translation.override("en"):  # an export is English whoever downloads it
        for row in quality.csv_rows(report):
            writer.writerow([registry.spreadsheet_safe(value) for value in row])
    services.audit(
        request.user,
        AuditEvent.Action.EXPORTED,
        summary=f"Quality measures CSV exported ({period.start} to {period.end}; "
        f"{unit.name if unit else 'all their units'})",
        details={
            "format": "quality_csv",
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "unit": unit.pk if unit else None,
            "units": [u.pk for u in shown],
        },
    )
    return response

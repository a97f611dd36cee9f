"""The course page's "Infection prevention" section, read in three queries whatever the
course's length: the prophylaxis checklist with where each item stands (infection_rules),
immunoglobulin replacement, infections; IgG and blood counts come from the course's labs
(course_page.current_records), as two charts with their tables (``charts``): drawn on the
course page from its charts' JSON, as tables on the infection page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from monitoring import infection, infection_rules
from monitoring.course_page import _chart, _line, _series
from monitoring.models import ImmunoglobulinDose, Infection, ProphylaxisCourse
from monitoring.models.courses import day_label

State = infection_rules.ItemState
STATE_LABELS = {
    State.NOT_YET: gettext_lazy("not yet due"),
    State.DUE: gettext_lazy("due — not started"),
    State.ACTIVE: gettext_lazy("running"),
    State.COMPLETED: gettext_lazy("completed"),
    State.STOPPED: gettext_lazy("stopped early, with a reason"),
    State.LAPSED: gettext_lazy("lapsed — stopped early without a reason"),
    State.WHERE_INDICATED: gettext_lazy("where indicated — not started"),
    State.BY_CONDITION: gettext_lazy("starts on a condition — not started"),
    State.OVER: gettext_lazy("its planned period has passed"),
}
# Bootstrap badge per state: flagged states stand out.
STATE_CLASSES = {
    State.DUE: "text-bg-warning",
    State.LAPSED: "text-bg-warning",
    State.ACTIVE: "text-bg-success",
    State.COMPLETED: "text-bg-secondary",
}
COUNT_FIELDS = ("anc_10e9_l", "lymphocytes_10e9_l", "platelets_10e9_l", "igg_mg_dl")


@dataclass
class ChecklistRow:
    status: infection_rules.ItemStatus
    records: list  # this item's current records, oldest first
    start_text: str
    stop_text: str

    @property
    def item(self) -> dict:
        return self.status.item

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.status.state])

    @property
    def state_class(self) -> str:
        return STATE_CLASSES.get(self.status.state, "text-bg-light border")


def _when(day0: date, day: int | None, words: str) -> str:
    if day is None:
        return words
    return f"{day_label(day)} ({words})" if words else day_label(day)


def section(course, *, today: date) -> dict:
    """What the section shows but its charts (``charts``)."""
    prophylaxis = list(ProphylaxisCourse.objects.current().filter(course=course))
    doses = list(ImmunoglobulinDose.objects.current().filter(course=course))
    infections = list(Infection.objects.current().filter(course=course))
    by_item = {}
    for row in prophylaxis:
        by_item.setdefault(row.item, []).append(row)
    items = infection.checklist(course)
    statuses = infection_rules.checklist_status(
        items, infection._given(prophylaxis), day0=course.infusion_date, today=today
    )
    rows = [
        ChecklistRow(
            status=status,
            records=by_item.get(status.item["code"], []),
            start_text=_when(
                course.infusion_date, status.item.get("start_day"), status.item.get("start_when")
            ),
            stop_text=_when(
                course.infusion_date, status.item.get("stop_day"), status.item.get("stop_when")
            ),
        )
        for status in statuses
    ]
    known = {item["code"] for item in items}
    version = course.protocol_version
    return {
        "checklist": rows,
        # Records of an item no longer on the version's checklist (the course moved versions).
        "other_prophylaxis": [row for row in prophylaxis if row.item not in known],
        "doses": doses,
        "infections": infections,
        "threshold": version.igg_replace_below_mg_dl if version else None,
        "products": list(version.igg_replace_products) if version else [],
        "anc_below": version.neutropenia_anc_10e9_l if version else None,
    }


def charts(record, version, *, points: bool = True) -> list[dict]:
    """Blood counts and IgG by day since infusion (the course page's chart format, with
    tables); without ``points`` only whether each has anything to draw, as
    ``CoursePage.chart_specs``."""
    labs = record.records["labs"]

    def series(attr):
        return record.series(labs, attr, points=points)

    counts = [
        _series(_("ANC ×10⁹/L"), series("anc_10e9_l"), "#c92a2a"),
        _series(_("Lymphocytes ×10⁹/L"), series("lymphocytes_10e9_l"), "#1864ab"),
        _series(_("Platelets ×10⁹/L"), series("platelets_10e9_l"), "#5c940d", axis="y2"),
    ]
    if version is not None:
        counts.append(
            _line(
                _("Neutropenia: ANC < %(anc)s") % {"anc": f"{version.neutropenia_anc_10e9_l:g}"},
                float(version.neutropenia_anc_10e9_l),
                "#c92a2a",
            )
        )
    igg = [_series(_("IgG mg/dL"), series("igg_mg_dl"), "#862e9c")]
    if version is not None and version.igg_replace_below_mg_dl:
        igg.append(
            _line(
                _("Replace below %(igg)s mg/dL") % {"igg": version.igg_replace_below_mg_dl},
                version.igg_replace_below_mg_dl,
                "#862e9c",
            )
        )
    return [
        _chart(
            "counts",
            _("Blood counts"),
            {
                "y": {"title": "×10⁹/L (ANC, lymphocytes)", "beginAtZero": True},
                "y2": {"title": "×10⁹/L (platelets)", "beginAtZero": True},
            },
            counts,
        ),
        _chart("igg", _("Immunoglobulin G"), {"y": {"title": "mg/dL", "beginAtZero": True}}, igg),
    ]

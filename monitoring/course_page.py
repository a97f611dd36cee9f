"""A course's record read for the page: charts by day since infusion, the day-by-day grid,
treatments and the tocilizumab summary. Only current records count (amended and
entered-in-error ones are shown in the checks list, never charted)."""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import F
from django.utils import timezone

from monitoring import grading
from monitoring.models import (
    LabResult,
    NeuroAssessment,
    Treatment,
    VitalSigns,
)
from monitoring.models.courses import day_label
from monitoring.timeline import FEVER_C  # its owner until grading exports it

# Oxygen support as the ASTCT hypoxia domain ranks it (grade 0/2/3/4 → level 0-3).
OXYGEN_LEVELS = ["Room air", "Low flow ≤ 6 L/min", "High flow / mask", "Positive pressure"]
_HYPOXIA_GRADE_TO_LEVEL = {0: 0, 2: 1, 3: 2, 4: 3}
CAPD_DELIRIUM = 9  # CAPD ≥ 9 is a positive screen, ICANS grade 3 (reference §2.3)
MAX_GRID_DAYS = 400  # longer than any monitoring window (at most 365 days)
MIN_BAND_DAYS = 1 / 96  # 15 minutes: the latest grade band is drawn however recent it is


@dataclass
class DayRow:
    """One calendar day of the course (D+n), from its current records and snapshots."""

    day: int
    date: date
    tmax: float | None = None
    sbp_min: int | None = None
    support: tuple | None = None  # (level, flow, label) of the most oxygen support
    vasopressors: int = 0
    vasopressin: bool = False
    ice_min: int | None = None
    capd_max: int | None = None  # CAPD: higher is worse
    crs: int | None = None  # effective (confirmed where a clinician confirmed)
    crs_computed: int | None = None
    icans: int | None = None
    icans_computed: int | None = None
    treatments: Counter = field(default_factory=Counter)

    @property
    def label(self) -> str:
        return day_label(self.day)

    @property
    def febrile(self) -> bool:
        """The day's highest temperature is a fever by ASTCT (reference §1.2.1)."""
        return self.tmax is not None and self.tmax >= FEVER_C

    @property
    def treatment_text(self) -> str:
        return " · ".join(f"{drug} ×{n}" if n > 1 else drug for drug, n in self.treatments.items())


class CoursePage:
    """What the course page shows, built in memory (no queries) from the course's snapshots
    and its current records (``current_records``)."""

    def __init__(self, course, *, snapshots, records: dict, confirmations=(), now: datetime):
        self.course = course
        self.now = now
        self.infusion_date = course.infusion_date
        self.zone = timezone.get_current_timezone()
        self._moments: dict[datetime, tuple[float, str, int]] = {}
        self._days: dict[date, tuple[datetime, datetime]] = {}
        by_snapshot = defaultdict(list)
        for confirmation in confirmations:  # newest first
            by_snapshot[confirmation.snapshot_id].append(confirmation)
        for snapshot in snapshots:
            snapshot.confirmation_list = by_snapshot.get(snapshot.pk, [])
        self.snapshots = sorted(snapshots, key=lambda s: (s.observed_at, s.pk))
        # kind -> [(observed_at, record)], oldest first; current records only (see
        # current_records): superseded and entered-in-error ones are never charted or counted.
        self.records = defaultdict(
            list,
            {
                kind: [(record.observed_at, record) for record in rows]
                for kind, rows in records.items()
            },
        )

    # Positions on the time axis -------------------------------------------------------------

    def _moment(self, at: datetime) -> tuple[float, str, int]:
        """(position, "D+n HH:MM", n) of a time; every series of a check shares it, and each
        is converted to the local zone once."""
        if at not in self._moments:
            local = at.astimezone(self.zone)
            day = (local.date() - self.infusion_date).days
            start, end = self._day_bounds(local.date())
            position = round(day + (at.astimezone(UTC) - start) / (end - start), 4)
            self._moments[at] = (position, f"{day_label(day)} {local:%H:%M}", day)
        return self._moments[at]

    def position(self, at: datetime) -> float:
        """Days since the start of the infusion day (D+0), in the local zone: D+2 at noon is
        2.5. A day is measured from local midnight to local midnight, 23 or 25 h across DST."""
        return self._moment(at)[0]

    def moment_label(self, at: datetime) -> str:
        return self._moment(at)[1]

    def day_of(self, at: datetime) -> int:
        """n of D+n: calendar days since the infusion date, in the local zone."""
        return self._moment(at)[2]

    def _day_bounds(self, day: date) -> tuple[datetime, datetime]:
        if day not in self._days:
            self._days[day] = (_local_midnight(day), _local_midnight(day + timedelta(days=1)))
        return self._days[day]

    def _point(self, at: datetime, value, label: str | None = None) -> list:
        point = [self.position(at), float(value), self.moment_label(at)]
        return [*point, label] if label else point

    # What the page shows --------------------------------------------------------------------

    @property
    def latest_snapshot(self):
        status = getattr(self.course, "status_row", None)
        wanted = status.latest_snapshot_id if status else None
        for snapshot in reversed(self.snapshots):
            if snapshot.pk == wanted:
                return snapshot
        return self.snapshots[-1] if self.snapshots else None

    def x_range(self) -> tuple[int, int]:
        times = [s.observed_at for s in self.snapshots]
        low = min([0.0, *(self.position(t) for t in times[:1])])
        end = self.now if self.course.status == self.course.Status.MONITORING else None
        high_at = max(
            [t for t in (end, times[-1] if times else None) if t is not None], default=self.now
        )
        return math.floor(low), max(math.ceil(self.position(high_at)), 1)

    def charts(self, *, sbp_threshold: int) -> dict:
        """Chart specs for static/js/course_charts.js: points are [x, y, "D+n HH:MM", label?]."""
        vitals = self.records["vitals"]
        neuro = self.records["neuro"]
        labs = self.records["labs"]

        def series(rows, attr):
            return [
                self._point(at, getattr(r, attr)) for at, r in rows if getattr(r, attr) is not None
            ]

        oxygen = [self._point(at, _oxygen_level(v)[0], v.oxygen_label) for at, v in vitals]
        charts = [
            _chart(
                "temperature",
                "Temperature",
                {"y": {"title": "°C", "suggestedMin": 35.5, "suggestedMax": 40.5}},
                [
                    _series("Temperature °C", series(vitals, "temp_c"), "#c92a2a"),
                    _line(f"Fever ≥ {FEVER_C:.1f} °C", FEVER_C, "#c92a2a"),
                ],
            ),
            _chart(
                "haemodynamics",
                "Blood pressure and heart rate",
                {
                    "y": {"title": "mmHg", "suggestedMin": 40, "suggestedMax": 160},
                    "y2": {"title": "/min", "suggestedMin": 40, "suggestedMax": 160},
                },
                [
                    _series("Systolic BP", series(vitals, "sbp_mmhg"), "#1864ab"),
                    _series("Diastolic BP", series(vitals, "dbp_mmhg"), "#74c0fc"),
                    _series("Heart rate", series(vitals, "heart_rate_bpm"), "#862e9c", axis="y2"),
                    _line(f"Hypotension: SBP < {sbp_threshold}", sbp_threshold, "#1864ab"),
                ],
            ),
            _chart(
                "oxygen",
                "SpO₂ and oxygen support",
                {
                    "y": {"title": "SpO₂ %", "suggestedMin": 85, "max": 100},
                    "y2": {"title": "support", "min": 0, "max": 3, "labels": OXYGEN_LEVELS},
                },
                [
                    _series("SpO₂ %", series(vitals, "spo2_pct"), "#0b7285"),
                    _series("Oxygen support", oxygen, "#e8590c", axis="y2", stepped=True),
                ],
            ),
        ]
        ice, capd = series(neuro, "ice_total"), series(neuro, "capd_total")
        if ice or not capd:
            charts.append(
                _chart(
                    "ice",
                    "ICE score (10 = normal)",
                    {"y": {"title": "ICE", "min": 0, "max": 10}},
                    [_series("ICE", ice, "#2b8a3e")],
                )
            )
        if capd:
            charts.append(
                _chart(
                    "capd",
                    "CAPD (≥ 9: delirium)",
                    {"y": {"title": "CAPD", "min": 0, "max": 32}},
                    [_series("CAPD", capd, "#2b8a3e"), _line("CAPD ≥ 9", CAPD_DELIRIUM, "#c92a2a")],
                )
            )
        charts.append(
            _chart(
                "markers",
                "CRP and ferritin",
                {
                    "y": {"title": "CRP mg/L", "suggestedMin": 0},
                    "y2": {"title": "ferritin ng/mL", "type": "logarithmic"},
                },
                [
                    _series("CRP mg/L", series(labs, "crp_mg_l"), "#5f3dc4"),
                    _series("Ferritin ng/mL", series(labs, "ferritin_ng_ml"), "#a61e4d", axis="y2"),
                ],
            )
        )
        x_min, x_max = self.x_range()
        return {"x": {"min": x_min, "max": x_max}, "bands": self.bands(x_max), "charts": charts}

    def bands(self, x_max: float) -> list[dict]:
        """CRS and ICANS effective grades as [from, to, grade] steps along the time axis.

        Each grade holds until the next snapshot; the last one until now while the course is
        monitored (never into the future), to the end of the axis once it is over.
        """
        if self.course.status == self.course.Status.MONITORING:
            last = self.position(self.now)
        else:
            last = x_max
        bands = []
        for label, attr in (("CRS", "crs_effective"), ("ICANS", "icans_effective")):
            segments = []
            for index, snapshot in enumerate(self.snapshots):
                grade = getattr(snapshot, attr)
                start = self.position(snapshot.observed_at)
                following = self.snapshots[index + 1 : index + 2]
                if following:
                    end = self.position(following[0].observed_at)
                else:  # at least visible when it was observed a moment ago (or clock skew)
                    end = max(last, start + MIN_BAND_DAYS)
                if grade is None or end <= start:
                    continue
                if segments and segments[-1][2] == grade and segments[-1][1] == start:
                    segments[-1][1] = end
                else:
                    segments.append([start, end, grade])
            bands.append({"label": label, "segments": segments})
        return bands

    def days(self) -> list[DayRow]:
        """The day-by-day grid, oldest first, every day from day 0 (or an earlier baseline) to
        today, days without records included: a gap in monitoring shows."""
        rows: dict[int, DayRow] = {}

        def new_row(day: int) -> DayRow:
            return DayRow(day, self.infusion_date + timedelta(days=day))

        def row(at: datetime) -> DayRow:
            day = self.day_of(at)
            return rows[day] if day in rows else rows.setdefault(day, new_row(day))

        for at, v in self.records["vitals"]:
            day = row(at)
            if v.temp_c is not None:
                day.tmax = max(float(v.temp_c), day.tmax or float(v.temp_c))
            if v.sbp_mmhg is not None:
                day.sbp_min = min(v.sbp_mmhg, day.sbp_min or v.sbp_mmhg)
            level = _oxygen_level(v)
            if day.support is None or level[:2] > day.support[:2]:
                day.support = (*level, v.oxygen_label)
            day.vasopressors = max(day.vasopressors, v.vasopressors_count)
            day.vasopressin = day.vasopressin or v.vasopressin
        for at, n in self.records["neuro"]:
            day = row(at)
            if n.ice_total is not None:
                day.ice_min = min(n.ice_total, 10 if day.ice_min is None else day.ice_min)
            if n.capd_total is not None:
                day.capd_max = max(n.capd_total, day.capd_max or 0)
        for at, t in self.records["treatment"]:
            row(at).treatments[t.drug_label] += 1
        for snapshot in self.snapshots:
            day = row(snapshot.observed_at)
            for name in ("crs", "icans"):
                for target, value in (
                    (name, getattr(snapshot, f"{name}_effective")),
                    (f"{name}_computed", getattr(snapshot, f"{name}_grade")),
                ):
                    if value is not None:
                        setattr(day, target, max(value, getattr(day, target) or 0))
        if rows:
            last = max(
                max(rows),
                self.course.day_number(self.now)
                if self.course.status == self.course.Status.MONITORING
                else max(rows),
            )
            # From day 0 (or a baseline before), but never more than MAX_GRID_DAYS of empty
            # rows: a day 0 decades ago (typed before the database refused it) would make
            # this page build tens of thousands of rows.
            first = max(min(*rows, 0), last - MAX_GRID_DAYS)
            for day in range(first, last + 1):
                if day not in rows:
                    rows[day] = new_row(day)
        return [rows[day] for day in sorted(rows)]

    def treatments(self) -> list[dict]:
        """Treatments given, oldest first; tocilizumab doses numbered for the limit of 4."""
        rows, dose_number = [], 0
        for at, t in self.records["treatment"]:
            number = None
            if t.drug == Treatment.Drug.TOCILIZUMAB:
                dose_number += 1
                number = dose_number
            rows.append(
                {
                    "at": at,
                    "moment": self.moment_label(at),
                    "treatment": t,
                    "dose": plain_number(t.dose),
                    "by": t.recorded_by or t.check_entry.recorded_by,
                    "toci_dose": number,
                }
            )
        return rows

    def tocilizumab_times(self) -> list[datetime]:
        return [at for at, t in self.records["treatment"] if t.drug == Treatment.Drug.TOCILIZUMAB]


# What the charts, the grid and the treatment list read: current records only.
CHARTED = {
    "vitals": VitalSigns,
    "neuro": NeuroAssessment,
    "labs": LabResult,
    "treatment": Treatment,
}


def current_records(course, kinds=tuple(CHARTED)) -> dict[str, list]:
    """The course's current records of these kinds, oldest first, each with its clinical time
    as ``observed_at`` (one query per kind; no per-check managers, no user joins but for
    treatments, which show who recorded them)."""
    records = {}
    for kind in kinds:
        rows = (
            CHARTED[kind]
            .objects.current()
            .filter(check_entry__course=course)
            .annotate(observed_at=F("check_entry__observed_at"))
            .order_by("check_entry__observed_at", "pk")
        )
        if kind == "treatment":
            rows = rows.select_related("recorded_by", "check_entry__recorded_by")
        records[kind] = list(rows)
    return records


def _local_midnight(day: date) -> datetime:
    # In UTC: Python subtracts two aware datetimes of the same zone as wall-clock time, which
    # would make every day 24 h long, the 23- and 25-hour days of a DST change included.
    return timezone.make_aware(datetime.combine(day, time.min)).astimezone(UTC)


def _oxygen_level(vitals) -> tuple[int, float]:
    """(ASTCT hypoxia level 0-3, flow) of one vital-signs record, by the grading library."""
    flow = float(vitals.oxygen_flow_l_min) if vitals.oxygen_flow_l_min is not None else None
    return _hypoxia_level(vitals.oxygen_support, flow), flow or 0.0


@functools.lru_cache(maxsize=256)  # a handful of device/flow pairs per course
def _hypoxia_level(oxygen: str, flow: float | None) -> int:
    result = grading.grade_crs(grading.CRSInputs(oxygen=oxygen, oxygen_flow_l_min=flow))
    return _HYPOXIA_GRADE_TO_LEVEL[result.domains["hypoxia"]]


def _chart(key: str, title: str, axes: dict, datasets: list) -> dict:
    return {
        "id": f"chart-{key}",
        "title": title,
        "axes": axes,
        "datasets": datasets,
        "empty": not any(d.get("data") for d in datasets),
    }


def _series(label: str, data: list, color: str, *, axis: str = "y", stepped: bool = False):
    return {"label": label, "data": data, "color": color, "axis": axis, "stepped": stepped}


def _line(label: str, value: float, color: str) -> dict:
    """A horizontal reference line (e.g. fever 38.0 °C) across the whole time axis."""
    return {"label": label, "line": value, "color": color, "axis": "y"}


def tocilizumab_summary(course, dose_times: list[datetime], now: datetime) -> dict:
    """The usual dose for the weight and what one more dose now would mean (reference §7.1)."""
    weight = float(course.patient.weight_kg)
    return {
        "weight_kg": course.patient.weight_kg,
        "mg_per_kg": grading.mg_per_kg(weight),
        "usual_mg": grading.usual_dose_mg(weight),
        "max_mg": grading.tocilizumab.MAX_DOSE_MG,
        "given": len(dose_times),
        "in_24h": sum(1 for at in dose_times if now - timedelta(hours=24) < at <= now),
        "max_24h": grading.tocilizumab.MAX_DOSES_PER_24H,
        "max_total": grading.tocilizumab.MAX_DOSES_TOTAL,
        "warnings_now": grading.dose_limit_warnings(dose_times, now),
        "capped": weight * grading.mg_per_kg(weight) > grading.tocilizumab.MAX_DOSE_MG,
    }


def age_label(patient, today: date) -> str:
    age = patient.age_on(today)
    if age < 2:
        return f"{int(age * 12)} months"
    return f"{int(age)} years"


def plain_number(number) -> str:
    """A Decimal without trailing zeros or exponent: 1000, 7.5, 0.25 (not 1000.00, 1E+3)."""
    return format(number.normalize(), "f")

"""A course's record read for the page: the state now (latest values, treatment totals),
charts by day since infusion, one line per day and each day's summary, treatments and the
tocilizumab summary. Only current records count (amended and entered-in-error ones are shown
in a day's checks, never charted or summed).

The page renders bounded work: it lists days, never checks (a day's checks load on demand,
``views.care_team.course_day``), and it draws no point: it names the charts (``chart_outline``)
and static/js/course_charts.js fetches their series once as JSON (``views.care_team.
course_charts``), which the browser keeps until the next save changes them (``charts_etag``);
each chart's table of values loads when it is opened (``views.care_team.course_chart_table``).
The series carry one point per reading, built here in memory from one query per record kind,
and nothing that moves with the clock: the page says where now is.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from monitoring import grading, registry
from monitoring.models import (
    BedsideCheck,
    GradeSnapshot,
    LabResult,
    NeuroAssessment,
    Treatment,
    VitalSigns,
)
from monitoring.models.courses import CheckSetting, day_label
from monitoring.models.records import AmendableRecord
from monitoring.timeline import FEVER_C, age_text  # FEVER_C: its owner until grading exports it

# Oxygen support as the ASTCT hypoxia domain ranks it (grade 0/2/3/4 → level 0-3).
OXYGEN_LEVELS = ["Room air", "Low flow ≤ 6 L/min", "High flow / mask", "Positive pressure"]
_HYPOXIA_GRADE_TO_LEVEL = {0: 0, 2: 1, 3: 2, 4: 3}
CAPD_DELIRIUM = 9  # CAPD ≥ 9 is a positive screen, ICANS grade 3 (reference §2.3)
MAX_GRID_DAYS = 400  # longer than any monitoring window (at most 365 days)
MIN_BAND_DAYS = 1 / 96  # 15 minutes: the latest grade band is drawn however recent it is
# Markers the state-now panel shows when measured (the rest stay in each day's checks).
LAB_SHOWN = (
    "crp_mg_l",
    "ferritin_ng_ml",
    "il6_pg_ml",
    "fibrinogen_mg_dl",
    "d_dimer_ug_ml_feu",
    "anc_10e9_l",
    "platelets_10e9_l",
)
# The bedside values the state-now panel shows, in its order.
VITAL_KEYS = ("temp", "hr", "rr", "bp", "spo2", "oxygen", "pressors")
# Bump when the charts' JSON changes shape: browsers holding the old one fetch it again.
CHARTS_FORMAT = "2"
# The snapshot fields that only the grade now shows (reasons, inputs: JSON, the bulk of a
# row); the bands, the day lines and the confirmation form's moments do without them.
SNAPSHOT_DETAIL = (
    "crs_reasons",
    "icans_reasons",
    "review_reasons",
    "news2_missing",
    "inputs",
    "confirmation_carried",
)


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


@dataclass
class DayLine:
    """One day's line on the course page (D+n), before its checks are opened."""

    day: int
    date: date
    crs: int | None = None  # highest effective grade of the day
    icans: int | None = None
    checks: int = 0
    # Checks away from the ward that day: "clinic" / "phone" -> how many (BedsideCheck.setting).
    away: dict = field(default_factory=dict)
    flags: int = 0  # raised that day
    worst_flag: int = 0  # the most severe of them (Flag.Severity), 0 when none

    @property
    def label(self) -> str:
        return day_label(self.day)

    @property
    def away_labels(self) -> list[tuple[str, int]]:
        """[("Clinic visit", 1), ("Phone call", 2)] in the choices' order, as shown."""
        return [
            (label, self.away[value]) for value, label in CheckSetting.choices if value in self.away
        ]


class CheckLine(NamedTuple):
    """One check as the day lines count it (``check_lines``)."""

    observed_at: datetime
    setting: str  # CheckSetting
    crs: int | None  # the effective grades of its moment (None: not graded)
    icans: int | None


@dataclass(frozen=True)
class LatestValue:
    label: str
    text: str
    at: datetime
    moment: str  # "D+n HH:MM"
    age: str  # "40 min": how long ago, at the page's now
    marker: bool = False  # a lab marker (else a bedside value)


@dataclass(frozen=True)
class DrugTotalNow:
    """A drug given since day 0: "3 doses · 30 mg", when last and how many in 24 h."""

    drug: str  # Treatment.Drug code, or the name of an "other" drug
    label: str
    text: str
    last_at: datetime
    last_moment: str
    last_age: str
    in_24h: int


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

    def age(self, at: datetime) -> str:
        """How long before the page's now ("40 min", "3 h 05 min"); 0 min for a clock skew."""
        return age_text(max(self.now - at, timedelta(0)))

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

    def x_range(self) -> tuple[int, int]:
        """The time axis from day 0 (or an earlier first moment) to the end of the day of the
        last moment; the page moves its end on to today while the course is monitored
        (``now_position``), so that the series need not change as the clock moves."""
        times = [s.observed_at for s in self.snapshots]
        low = min([0.0, *(self.position(t) for t in times[:1])])
        high = math.ceil(self.position(times[-1])) if times else 1
        return math.floor(low), max(high, 1)

    def now_position(self) -> float | None:
        """Where now is on the time axis while the course is monitored (the dashed line, and
        where the grade now ends), else None. The page gives it to the charts: the series do
        not change as the clock moves, so the browser may keep them."""
        if self.course.status != self.course.Status.MONITORING:
            return None
        return self.position(self.now)

    def series(self, rows, attr: str, *, points: bool = True) -> list:
        """One value of a record kind over time: [x, y, "D+n HH:MM"] per current reading.
        Without ``points``, a single placeholder when there is any reading (``chart_outline``
        only asks whether a chart has anything to draw)."""
        if not points:
            return [True] if any(getattr(r, attr) is not None for _, r in rows) else []
        return [self._point(at, getattr(r, attr)) for at, r in rows if getattr(r, attr) is not None]

    def charts(self, specs: list[dict]) -> dict:
        """What static/js/course_charts.js draws, as views.care_team.course_charts sends it:
        the time axis, the grade bands and the chart specs (``chart_specs``, and infection
        prevention's), nothing that moves with the clock."""
        x_min, x_max = self.x_range()
        return {"x": {"min": x_min, "max": x_max}, "bands": self.bands(), "charts": specs}

    def chart_specs(self, *, sbp_threshold: int, points: bool = True) -> list[dict]:
        """Chart specs for static/js/course_charts.js: points are [x, y, "D+n HH:MM", label?].
        Without ``points`` only which charts there are and whether each has anything to draw
        (``chart_outline``): the course page names the charts without building their points.

        One marker per chart: CRP and ferritin rise by different factors (a 20-fold CRP rise
        beside a 30 % ferritin rise), so each gets its own panel on a linear axis from 0, where
        a doubling looks like a doubling.
        """
        vitals = self.records["vitals"]
        neuro = self.records["neuro"]
        labs = self.records["labs"]

        def series(rows, attr):
            return self.series(rows, attr, points=points)

        if points:
            oxygen = [
                self._point(at, _oxygen_level(v)[0], v.oxygen_label)
                for at, v in vitals
                if v.oxygen_support
            ]
        else:
            oxygen = [True] if any(v.oxygen_support for _, v in vitals) else []
        charts = [
            _chart(
                "temperature",
                _("Temperature"),
                {"y": {"title": "°C", "suggestedMin": 35.5, "suggestedMax": 40.5}},
                [
                    _series(_("Temperature °C"), series(vitals, "temp_c"), "#c92a2a"),
                    _line(_("Fever ≥ %(t)s °C") % {"t": f"{FEVER_C:.1f}"}, FEVER_C, "#c92a2a"),
                ],
            ),
            _chart(
                "haemodynamics",
                _("Blood pressure and heart rate"),
                {
                    "y": {"title": "mmHg", "suggestedMin": 40, "suggestedMax": 160},
                    "y2": {"title": "/min", "suggestedMin": 40, "suggestedMax": 160},
                },
                [
                    _series(_("Systolic BP"), series(vitals, "sbp_mmhg"), "#1864ab"),
                    _series(_("Diastolic BP"), series(vitals, "dbp_mmhg"), "#74c0fc"),
                    _series(
                        _("Heart rate"), series(vitals, "heart_rate_bpm"), "#862e9c", axis="y2"
                    ),
                    _line(
                        _("Hypotension: SBP < %(sbp)s") % {"sbp": sbp_threshold},
                        sbp_threshold,
                        "#1864ab",
                    ),
                ],
            ),
            _chart(
                "oxygen",
                _("SpO₂ and oxygen support"),
                {
                    "y": {"title": "SpO₂ %", "suggestedMin": 85, "max": 100},
                    # Two short lines per level: the long names overlapped on a phone. A
                    # quarter level of room above and below keeps "Room air" off the time axis
                    # and the top level's label clear of the grade bands.
                    "y2": {"min": -0.25, "max": 3.25, "labels": oxygen_ticks()},
                },
                [
                    _series(_("SpO₂ %"), series(vitals, "spo2_pct"), "#0b7285"),
                    _series(_("Oxygen support"), oxygen, "#e8590c", axis="y2", stepped=True),
                ],
            ),
        ]
        ice, capd = series(neuro, "ice_total"), series(neuro, "capd_total")
        if ice or not capd:
            charts.append(
                _chart(
                    "ice",
                    _("ICE score (10 = normal)"),
                    {"y": {"title": "ICE", "min": 0, "max": 10}},
                    [_series("ICE", ice, "#2b8a3e")],
                )
            )
        if capd:
            charts.append(
                _chart(
                    "capd",
                    _("CAPD (≥ 9: delirium)"),
                    {"y": {"title": "CAPD", "min": 0, "max": 32}},
                    [
                        _series("CAPD", capd, "#2b8a3e"),
                        _line("CAPD ≥ 9", CAPD_DELIRIUM, "#c92a2a"),
                    ],
                )
            )
        charts += [
            _chart(
                "crp",
                "CRP",
                {"y": {"title": "mg/L", "beginAtZero": True}},
                [_series("CRP mg/L", series(labs, "crp_mg_l"), "#5f3dc4")],
            ),
            _chart(
                "ferritin",
                _("Ferritin"),
                {"y": {"title": "ng/mL", "beginAtZero": True}},
                [_series(_("Ferritin ng/mL"), series(labs, "ferritin_ng_ml"), "#a61e4d")],
            ),
        ]
        return charts

    def bands(self) -> list[dict]:
        """CRS and ICANS effective grades as [from, to, grade] steps along the time axis.

        Each grade holds until the next snapshot. The last one holds on: while the course is
        monitored until now (never into the future), once it is over to the end of the axis.
        Where now is moves with the clock, so its segment ends here 15 minutes after it began
        (MIN_BAND_DAYS: visible however recent) and ``current``, the grade that holds now,
        tells static/js/course_charts.js to carry it on to now or to the end of the axis.
        """
        bands = []
        for label, attr in (("CRS", "crs_effective"), ("ICANS", "icans_effective")):
            segments = []
            current = None
            for index, snapshot in enumerate(self.snapshots):
                grade = getattr(snapshot, attr)
                start = self.position(snapshot.observed_at)
                following = self.snapshots[index + 1 : index + 2]
                if following:
                    end = self.position(following[0].observed_at)
                else:
                    end = round(start + MIN_BAND_DAYS, 4)
                    current = grade
                if grade is None or end <= start:
                    continue
                if segments and segments[-1][2] == grade and segments[-1][1] == start:
                    segments[-1][1] = end
                else:
                    segments.append([start, end, grade])
            bands.append({"label": label, "segments": segments, "current": current})
        return bands

    def day_rows(self) -> dict[int, DayRow]:
        """A summary of each day with records, by day number (D+n): the highest temperature,
        lowest systolic pressure, most oxygen support, vasopressors, worst ICE/CAPD, highest
        grades and the treatments given."""
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
            # A check that did not record oxygen (a phone call, a check-in at home) says
            # nothing about the support that day.
            if v.oxygen_support:
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
        return rows

    def day_lines(self, *, checks: list[CheckLine], flags: list) -> list[DayLine]:
        """One line per day, newest first, from today (while monitored) back to day 0 or an
        earlier baseline, days without checks included (a gap in monitoring shows): the
        highest grades, how many checks and flags. Never more than MAX_GRID_DAYS + 1 lines: a
        day 0 decades ago (typed before the database refused it) would build tens of
        thousands."""
        lines: dict[int, DayLine] = {}

        def line(at: datetime) -> DayLine:
            day = self.day_of(at)
            if day not in lines:
                lines[day] = DayLine(day, self.infusion_date + timedelta(days=day))
            return lines[day]

        for check in checks:
            entry = line(check.observed_at)
            entry.checks += 1
            if check.setting != CheckSetting.WARD:
                entry.away[check.setting] = entry.away.get(check.setting, 0) + 1
            for name, grade in (("crs", check.crs), ("icans", check.icans)):
                if grade is not None:
                    setattr(entry, name, max(grade, getattr(entry, name) or 0))
        for flag in flags:
            entry = line(flag.raised_at)
            entry.flags += 1
            entry.worst_flag = max(entry.worst_flag, flag.severity)
        monitored = self.course.status == self.course.Status.MONITORING
        last = max([*lines, self.course.day_number(self.now) if monitored else 0])
        first = max(min([*lines, 0]), last - MAX_GRID_DAYS)
        return [
            lines.get(day) or DayLine(day, self.infusion_date + timedelta(days=day))
            for day in range(last, first - 1, -1)
        ]

    def latest_values(self) -> list[LatestValue]:
        """The last value of each vital sign, the oxygen support and vasopressors, ICE/CAPD
        and each marker ever measured, each with its own time (a value is as old as the check
        that measured it, not the latest check). Read newest first: each value is worded once,
        and the reading stops when every value has been found."""
        found: dict[str, LatestValue] = {}

        def wanted(key: str) -> bool:
            return key not in found

        def keep(key: str, label: str, text: str, at: datetime) -> None:
            moment, age = self.moment_label(at), self.age(at)
            found[key] = LatestValue(label, text, at, moment, age, marker=key in LAB_SHOWN)

        for at, v in reversed(self.records["vitals"]):
            if wanted("temp") and v.temp_c is not None:
                keep("temp", _("Temperature"), f"{v.temp_c} °C", at)
            if wanted("hr") and v.heart_rate_bpm is not None:
                keep("hr", _("Heart rate"), f"{v.heart_rate_bpm}/min", at)
            if wanted("rr") and v.resp_rate_per_min is not None:
                keep("rr", _("Respiratory rate"), f"{v.resp_rate_per_min}/min", at)
            if wanted("bp") and v.sbp_mmhg is not None:
                bp = f"{v.sbp_mmhg}/{v.dbp_mmhg if v.dbp_mmhg is not None else '–'} mmHg"
                keep("bp", _("Blood pressure"), bp, at)
            if wanted("spo2") and v.spo2_pct is not None:
                keep("spo2", "SpO₂", f"{v.spo2_pct} %", at)
            if wanted("oxygen") and v.oxygen_support:
                keep("oxygen", _("Oxygen support"), v.oxygen_label, at)
            if wanted("pressors"):
                pressors = str(v.vasopressors_count) if v.vasopressors_count else _("none")
                if v.vasopressin:
                    pressors = _("%(n)s + vasopressin") % {"n": v.vasopressors_count}
                keep("pressors", _("Vasopressors"), pressors, at)
            if len(found) == len(VITAL_KEYS):
                break
        for at, n in self.records["neuro"][-1:]:
            label = "CAPD" if n.capd_total is not None else "ICE"
            keep("neuro", label, f"{n.score_label} · {n.consciousness_label}", at)
        for at, lab in reversed(self.records["labs"]):
            for name in LAB_SHOWN:
                value = getattr(lab, name)
                if wanted(name) and value is not None:
                    field_label = str(lab._meta.get_field(name).verbose_name)
                    keep(name, field_label[:1].upper() + field_label[1:], plain_number(value), at)
            if all(name in found for name in LAB_SHOWN):
                break
        order = [*VITAL_KEYS, "neuro", *LAB_SHOWN]
        return [found[key] for key in order if key in found]

    def treatment_totals(self) -> list[DrugTotalNow]:
        """Each drug given since day 0 with its doses, total and last dose: steroids and
        tocilizumab first (registry.summarise_treatments adds the doses up)."""
        rows = [
            registry.TreatmentRow(at, t.drug, t.dose, t.dose_unit, t.drug_other)
            for at, t in self.records["treatment"]
        ]
        drugs, other = registry.summarise_treatments(rows, infused_at=self.course.infused_at)
        known = dict(registry.REGISTRY_DRUGS)
        last: dict[str, datetime] = {}
        in_24h: dict[str, int] = defaultdict(int)
        for at, t in self.records["treatment"]:
            # Keyed as registry.summarise_treatments keys them: its drugs by code, others by name.
            key = t.drug if t.drug in known else t.drug_other or t.drug.capitalize()
            last[key] = at
            if self.now - timedelta(hours=24) < at <= self.now:
                in_24h[key] += 1
        counted = [(total.drug, total.label, total.text) for total in drugs.values() if total.doses]
        for name, doses in other.items():
            counted.append(
                (name, name, ngettext("%(n)s dose", "%(n)s doses", doses) % {"n": doses})
            )
        totals = []
        for key, label, text in counted:
            at = last[key]
            totals.append(
                DrugTotalNow(key, label, text, at, self.moment_label(at), self.age(at), in_24h[key])
            )
        return totals

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


# A record's own bookkeeping (what it corrects, who recorded and changed it, when and why):
# the day's checks show it; the charts and the state now read only its values. Its owner is
# the record model; the key and the status (``current()`` filters on it) stay loaded.
BOOKKEEPING = tuple(sorted(AmendableRecord.BOOKKEEPING_FIELDS - {"id", "status"}))


def current_records(course, kinds=tuple(CHARTED)) -> dict[str, list]:
    """The course's current records of these kinds, oldest first, each with its clinical time
    as ``observed_at`` (one query per kind; no per-check managers, no user joins but for
    treatments, which show who recorded them; no bookkeeping but theirs)."""
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
        else:
            rows = rows.defer(*BOOKKEEPING)
        records[kind] = list(rows)
    return records


def check_lines(course) -> list[CheckLine]:
    """Every check of the course, oldest first, as the day lines count them: its time, where
    it was done and the effective grades of its moment (one query, plain values: a course's
    hundreds of checks and their snapshots are not built as objects)."""
    rows = (
        BedsideCheck.objects.filter(course=course)
        .order_by("observed_at", "pk")
        .values_list(
            "observed_at",
            "setting",
            "snapshot__crs_grade",
            "snapshot__crs_confirmed_grade",
            "snapshot__icans_grade",
            "snapshot__icans_confirmed_grade",
        )
    )
    effective = GradeSnapshot.effective_grade
    return [
        CheckLine(at, setting, effective(crs, crs_confirmed), effective(icans, icans_confirmed))
        for at, setting, crs, crs_confirmed, icans, icans_confirmed in rows
    ]


def oxygen_ticks() -> list[list[str]]:
    """The oxygen support axis's levels (OXYGEN_LEVELS), each in two short lines."""
    return [
        [_("Room"), _("air")],
        [_("Low flow"), "≤ 6 L/min"],
        [_("High flow"), _("/ mask")],
        [_("Positive"), _("pressure")],
    ]


def chart_table(spec: dict) -> dict:
    """A chart's series as a table for screen readers (and anyone who wants the numbers):
    one row per time, newest first, one column per series; reference lines are named in
    the caption."""
    series = [d for d in spec["datasets"] if "line" not in d]
    rows: dict[tuple[float, str], list[str]] = {}
    for column, dataset in enumerate(series):
        for point in dataset["data"]:
            cells = rows.setdefault((point[0], point[2]), [""] * len(series))
            cells[column] = point[3] if len(point) > 3 else f"{point[1]:g}"
    return {
        "columns": [d["label"] for d in series],
        "lines": [d["label"] for d in spec["datasets"] if "line" in d],
        "rows": [(moment, cells) for (_x, moment), cells in sorted(rows.items(), reverse=True)],
    }


def chart_outline(specs: list[dict]) -> list[dict]:
    """What the course page shows of each chart before its points load: its id (the canvas
    static/js/course_charts.js draws on), its key (the address of its table of values), its
    title and whether it has anything to draw."""
    return [
        {
            "id": spec["id"],
            "key": spec["id"].removeprefix("chart-"),
            "title": spec["title"],
            "empty": spec["empty"],
        }
        for spec in specs
    ]


def charts_etag(course, *, language: str, today: date) -> str:
    """The version of a course's charts, from what changes them, without a query of its own
    (``access.get_course_for`` has read the course with its patient and status row):

    - the status row's ``updated_at``: every write that changes the course's records, grades
      or their confirmations (a save, a correction, an entered-in-error mark, a regrade, a
      protocol move, the end of monitoring) refreshes it (``services.refresh_status``);
    - the infusion time (every position), the course's status, its protocol version (the
      reference lines) and the date of birth (the age-based hypotension line);
    - the language of the words, and the day (the patient's age, and with it the hypotension
      line, moves with the calendar);
    - CHARTS_FORMAT, for a release that changes the JSON itself.
    """
    status = getattr(course, "status_row", None)
    parts = (
        CHARTS_FORMAT,
        course.pk,
        status.updated_at.isoformat() if status else "-",
        course.infused_at.isoformat(),
        course.status,
        course.protocol_version_id,
        course.patient.date_of_birth.isoformat(),
        language,
        today.isoformat(),
    )
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return f'"{digest[:32]}"'


def day_bounds(course, day: int) -> tuple[datetime, datetime]:
    """The start and end of D+day: local midnight to local midnight (23 or 25 h across DST)."""
    date_ = course.infusion_date + timedelta(days=day)
    return _local_midnight(date_), _local_midnight(date_ + timedelta(days=1))


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
        months = int(age * 12)
        return ngettext("%(n)s month", "%(n)s months", months) % {"n": months}
    years = int(age)
    return ngettext("%(n)s year", "%(n)s years", years) % {"n": years}


def plain_number(number) -> str:
    """A Decimal without trailing zeros or exponent: 1000, 7.5, 0.25 (not 1000.00, 1E+3)."""
    return format(number.normalize(), "f")

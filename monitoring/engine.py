"""The course engine: grading, regrading, flags and the status row of one course, in memory.

Everything that decides what a course's grades, flags and status are lives here, below the
services and above the pure grading library:

- ``CourseEngine.record`` grades the moment of a new check (``timeline.Timeline``), and says
  which flags it raises: grade flags, record flags (symptoms, vital signs, markers) and
  deterioration flags (new oxygen need, new hypotension, vasopressors, a fall in ICE/CAPD, a
  seizure), whatever the ASTCT grade.
- ``CourseEngine.regrade`` recomputes later moments after a late entry or a correction and says
  what changed, so the caller keeps the earlier version (a regrade never erases what a nurse
  was shown).
- ``carry_confirmations`` carries a clinician's confirmed grade to later moments that rest on
  the same findings.
- ``FlagBook`` is where "one flag per condition" is enforced, and ``status_values`` computes the
  course's denormalised status row.

It runs no queries and writes nothing: ``services`` loads a course's records, flags and
snapshots, calls the engine and saves what it returns; ``demo`` feeds it from memory. So the
demo hospital shows exactly what a nurse entering the same checks would have been shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import translation

from monitoring import alert_rules, flag_rules, grading, infection_rules, schedule
from monitoring.display import dash
from monitoring.flag_rules import FlagSpec
from monitoring.models import CourseStatus, Flag, GradeSnapshot, TreatmentCourse
from monitoring.timeline import DEFAULT_WINDOWS, Moment, Timeline, Windows

# The record kinds a check may hold, and the ones a protocol schedules ("done" when recorded).
RECORD_KINDS = ("vitals", "symptoms", "neuro", "labs", "treatment")
SCHEDULED_KINDS = ("vitals", "neuro", "labs", "symptoms")


@dataclass(frozen=True)
class Rules:
    """What a protocol version sets for grading a course, as plain values."""

    windows: Windows = DEFAULT_WINDOWS
    sbp_threshold: int | None = None
    thresholds: grading.VitalThresholds | None = None
    rise_factor: float = grading.DEFAULT_RISE_FACTOR
    severity_for: Callable[[str], int] = flag_rules.DETERIORATION_SEVERITY.__getitem__
    # Neutropenic fever (flag_rules.neutropenic_fever_flags): the protocol's fever, its ANC
    # threshold (×10⁹/L) and how long an ANC counts.
    fever_c: float = grading.FEVER_C
    anc_below: float = float(infection_rules.DEFAULT_ANC_THRESHOLD)
    anc_valid: timedelta = timedelta(hours=infection_rules.DEFAULT_ANC_VALID_HOURS)

    @classmethod
    def for_version(cls, version) -> Rules:
        if version is None:
            return cls()
        return cls(
            windows=version.windows(),
            sbp_threshold=version.sbp_low_mmhg,
            thresholds=version.thresholds(),
            rise_factor=float(version.marker_rise_factor),
            severity_for=version.deterioration_severity_for,
            fever_c=float(version.temperature_high_c),
            anc_below=float(version.neutropenia_anc_10e9_l),
            anc_valid=timedelta(hours=version.anc_valid_hours),
        )


class FlagBook:
    """A course's unresolved flags by kind: where "one flag per condition" is enforced.

    The same condition updates its flag instead of raising a duplicate; a worse severity
    escalates it, records when it got worse (the wait counts from then) and re-opens it if it
    had been acknowledged; a milder one keeps the worst message, so the flag still says what
    happened until a clinician resolves it. ``touched`` is what the caller must save.
    """

    def __init__(self, course, unresolved=()):
        self.course = course
        self.open = {flag.kind: flag for flag in unresolved}
        self.touched: dict[int, tuple[Flag, set[str]]] = {}  # id(flag) -> fields changed
        self.created: list[Flag] = []

    def raise_flag(self, spec: FlagSpec, *, snapshot, now: datetime) -> Flag:
        flag = self.open.get(spec.kind)
        if flag is None:
            flag = Flag(
                course=self.course,
                kind=spec.kind,
                severity=spec.severity,
                message=spec.message,
                message_data=spec.data,
                raised_message=spec.message,
                raised_at=now,
            )
            self.open[spec.kind] = flag
            self.created.append(flag)
            start_ladder(flag, now)
        fields = self.touched.setdefault(id(flag), (flag, set()))[1]
        if spec.severity > flag.severity:
            flag.severity, flag.message, flag.status = spec.severity, spec.message, Flag.Status.OPEN
            flag.message_data = spec.data
            flag.worsened_at = now
            fields |= {"severity", "message", "message_data", "status", "worsened_at"}
            fields |= start_ladder(flag, now)
        elif spec.severity == flag.severity:
            flag.message, flag.message_data = spec.message, spec.data
            fields |= {"message", "message_data"}
        flag.snapshot, flag.updated_at = snapshot, now
        fields |= {"snapshot", "updated_at"}
        return flag

    def unresolved(self) -> list[Flag]:
        return [flag for flag in self.open.values() if flag.status != Flag.Status.RESOLVED]


LADDER_FIELDS = {"ladder_round", "ladder_step", "ladder_tier", "escalate_at"}


def start_ladder(flag: Flag, now: datetime) -> set[str]:
    """(Re)start the flag's escalation ladder: a new round whose first step — telling the
    lowest tier on call — is due at once (``monitoring.escalation`` climbs it). A flag too mild
    to page anyone (alert_rules.SEVERITIES_THAT_ESCALATE) has no ladder. Returns the fields
    changed, for the caller to save."""
    flag.ladder_round += 1
    flag.ladder_step, flag.ladder_tier = 0, ""
    flag.escalate_at = now if flag.severity in alert_rules.SEVERITIES_THAT_ESCALATE else None
    return set(LADDER_FIELDS)


@dataclass
class Revision:
    """A moment whose grade a late entry or a correction changed: old and new values."""

    snapshot: GradeSnapshot
    before: dict
    after: dict

    def summary(self, label: Callable[[datetime], str]) -> str:
        """ "CRS at D+3 08:00 3 → 2"."""
        parts = []
        for domain in ("crs", "icans"):
            old, new = self.before[f"{domain}_effective"], self.after[f"{domain}_effective"]
            if old != new:
                parts.append(f"{domain.upper()} {dash(old)} → {dash(new)}")
        changed = ", ".join(parts) or "reasons revised"
        return f"at {label(self.snapshot.observed_at)}: {changed}"


@dataclass
class CourseEngine:
    """One course's grading, regrading and flags, fed records in any order."""

    course: TreatmentCourse
    age_at: Callable[[datetime], float]
    rules: Rules = field(default_factory=Rules)
    label: Callable[[datetime], str] = lambda at: f"{at:%Y-%m-%d %H:%M}"
    unresolved: Iterable[Flag] = ()

    def __post_init__(self) -> None:
        self.timeline = Timeline(
            age_at=self.age_at,
            infused_at=self.course.infused_at,
            windows=self.rules.windows,
            sbp_threshold=self.rules.sbp_threshold,
            label=self.label,
        )
        self.book = FlagBook(self.course, self.unresolved)

    def add(self, at: datetime, kind: str, record) -> None:
        self.timeline.series(kind).add(at, record)

    # --- One new check ------------------------------------------------------------------------

    def grade(self, at: datetime) -> Moment:
        return self.timeline.grade_at(at)

    def check_flags(
        self, at: datetime, moment: Moment, records: dict, snapshot=None
    ) -> list[FlagSpec]:
        """Every flag a check's moment and records raise: grades (following a clinician's
        grade carried to ``snapshot``), records, deterioration.

        A flag's ``message`` is stored in English whatever the writer's language: it is how a
        flag is recognised when the next check raises it again, and the record the audit keeps
        (readers see it in their language through ``message_data``). So the labels of choices
        it quotes (oxygen devices, seizures) are read in English here.
        """
        with translation.override("en"):
            return self._check_flags(at, moment, records, snapshot)

    def _check_flags(self, at, moment, records, snapshot) -> list[FlagSpec]:
        carried = snapshot.confirmation_carried if snapshot is not None else {}
        confirmed = {domain: getattr(snapshot, f"{domain}_confirmed_grade") for domain in carried}
        previous = self.timeline.labs.upto(at - timedelta.resolution)
        previous_markers = {}
        for name in flag_rules.RISING_MARKERS:
            for when, labs in reversed(previous):
                if getattr(labs, name) is not None:
                    previous_markers[name] = (float(getattr(labs, name)), when)
                    break
        return [
            *flag_rules.grade_flags(moment, confirmed),
            *flag_rules.record_flags(
                age_years=self.age_at(at),
                vitals=records.get("vitals"),
                symptoms=records.get("symptoms"),
                labs=records.get("labs"),
                previous_markers=previous_markers,
                thresholds=self.rules.thresholds,
                rise_factor=self.rules.rise_factor,
            ),
            *self.deterioration(at, records),
            *self.neutropenic_fever(at, records),
        ]

    def neutropenic_fever(self, at: datetime, records: dict) -> list[FlagSpec]:
        """A check that brings a temperature or an ANC: fever (the latest temperature still
        current, the protocol's point window) with a recent ANC (the latest within the
        protocol's ANC window) below the threshold. Raised beside the grades; changes none."""
        vitals, labs = records.get("vitals"), records.get("labs")
        if not (
            (vitals is not None and vitals.temp_c is not None)
            or (labs is not None and labs.anc_10e9_l is not None)
        ):
            return []
        temp_at, temp = self.timeline.vitals.latest(
            at, lambda v: v.temp_c is not None, since=at - self.rules.windows.point
        )
        anc_at, anc = self.timeline.labs.latest(
            at, lambda r: r.anc_10e9_l is not None, since=at - self.rules.anc_valid
        )
        if temp is None or anc is None:
            return []
        return flag_rules.neutropenic_fever_flags(
            temp_c=float(temp.temp_c),
            temp_label=self.label(temp_at),
            anc=float(anc.anc_10e9_l),
            anc_label=self.label(anc_at),
            fever_c=self.rules.fever_c,
            anc_below=self.rules.anc_below,
        )

    def deterioration(self, at: datetime, records: dict) -> list[FlagSpec]:
        """Compare this check's vitals and neuro with the last ones before it (issue 10 §5)."""
        before = at - timedelta.resolution
        previous, current = {}, {}
        vitals = records.get("vitals")
        if vitals is not None and (
            vitals.oxygen_support or vitals.vasopressors_count or vitals.vasopressin
        ):
            _, last = self.timeline.support_at(before)
            if last is not None:
                previous |= _support_values(last)
            current |= _support_values(vitals)
        if vitals is not None and vitals.sbp_mmhg is not None:
            _, last = self.timeline.vitals.latest(before, lambda v: v.sbp_mmhg is not None)
            previous["hypotensive"] = bool(last) and self._hypotensive(last, at)
            current["hypotensive"] = self._hypotensive(vitals, at)
            current["sbp_label"] = f"SBP {vitals.sbp_mmhg} mmHg at {self.label(at)}"
            current |= {"sbp": vitals.sbp_mmhg, "at_label": self.label(at)}
        neuro = records.get("neuro")
        if neuro is not None:
            _, last = self.timeline.neuro.latest(before)
            if last is not None:
                previous |= {"ice": last.ice_total, "capd": last.capd_total}
            current |= {
                "ice": neuro.ice_total,
                "capd": neuro.capd_total,
                "seizure": neuro.seizure,
                "seizure_label": neuro.get_seizure_display(),
            }
        return flag_rules.deterioration_flags(
            previous=previous, current=current, severity_for=self.rules.severity_for
        )

    def _hypotensive(self, vitals, at: datetime) -> bool:
        return grading.is_hypotensive(
            vitals.sbp_mmhg, self.age_at(at), threshold=self.rules.sbp_threshold
        )

    def raise_flags(self, specs: Iterable[FlagSpec], *, snapshot, now: datetime) -> None:
        for spec in specs:
            self.book.raise_flag(spec, snapshot=snapshot, now=now)

    # --- Regrading ----------------------------------------------------------------------------

    def regrade(self, snapshots: list[GradeSnapshot], *, now: datetime) -> list[GradeSnapshot]:
        """Recompute ``snapshots`` (in clinical order) from the records held now.

        Changed snapshots are updated in place and returned (the caller, which knows what
        was shown before, says what changed: ``Revision``). A confirmation the change
        overtakes raises a "needs review" flag (the confirmation stands: it is the
        clinician's). The latest moment's grade flags are raised again, since the course's
        current state may have changed.
        """
        changed = []
        for snapshot in snapshots:
            fields = self.grade(snapshot.observed_at).snapshot_fields()
            for spec in _confirmation_overtaken(snapshot, fields, self.label):
                self.book.raise_flag(spec, snapshot=snapshot, now=now)
            if any(getattr(snapshot, name) != value for name, value in fields.items()):
                for name, value in fields.items():
                    setattr(snapshot, name, value)
                snapshot.computed_at = now
                changed.append(snapshot)
        if changed:
            latest = snapshots[-1]
            self.raise_flags(
                flag_rules.grade_flags(self.grade(latest.observed_at)), snapshot=latest, now=now
            )
        return changed


def carry_confirmations(snapshots: list[GradeSnapshot], label) -> list[GradeSnapshot]:
    """Carry each confirmed grade forward to later moments that rest on the same findings.

    A clinician confirms (or overrides) the grade of one moment. The next check may change
    nothing that grade rests on — a neuro-only check twenty minutes later grades CRS from the
    same temperature, pressure and oxygen records. Until a new finding changes the inputs of
    that domain, the confirmation carries: the moment shows the confirmed grade, marked as
    carried from the confirmed moment, and asks for no second review. Any new record of the
    domain (a new temperature, pressure, support or neuro assessment), or a value going stale,
    ends the carry. ``snapshots`` must be the course's snapshots in clinical order; returns
    those whose carried confirmation changed (their fields are updated in place).
    """
    changed = []
    previous = None
    for snapshot in snapshots:
        before = (
            snapshot.crs_confirmed_grade,
            snapshot.icans_confirmed_grade,
            dict(snapshot.confirmation_carried),
        )
        carried = {}
        for domain in ("crs", "icans"):
            own = domain not in snapshot.confirmation_carried and (
                getattr(snapshot, f"{domain}_confirmed_grade") is not None
            )
            if own:
                continue
            grade = None
            if previous is not None and _findings(previous, domain) == _findings(snapshot, domain):
                grade = getattr(previous, f"{domain}_confirmed_grade")
            if grade is not None:
                source = previous.confirmation_carried.get(domain)
                carried[domain] = source or {
                    "from": previous.observed_at.isoformat(),
                    "label": label(previous.observed_at),
                    "grade": grade,
                }
            setattr(snapshot, f"{domain}_confirmed_grade", grade)
        snapshot.confirmation_carried = carried
        after = (snapshot.crs_confirmed_grade, snapshot.icans_confirmed_grade, carried)
        if after != before:
            changed.append(snapshot)
        previous = snapshot
    return changed


# Values that change with the graded moment but not with the findings.
_MOMENT_KEYS = {"stale"}


def _findings(snapshot: GradeSnapshot, domain: str):
    """What a domain's grade rests on: the records used and their values (not their age)."""
    used = (snapshot.inputs or {}).get(domain)
    if not used:
        return None
    return {key: value for key, value in used.items() if key not in _MOMENT_KEYS}


def status_values(
    *,
    snapshots: list[GradeSnapshot],
    unresolved: list[Flag],
    timeline: Timeline,
) -> dict:
    """The denormalised status of a course: its latest grades (confirmed where a clinician
    gave one), the worst grades of the course, its unresolved flags (how many, the worst, the
    board's leads) and when each check type was last done. ``snapshots`` are all of the
    course's, in any order."""
    open_severities = [flag.severity for flag in unresolved]
    latest = max(snapshots, key=lambda s: (s.observed_at, s.pk or 0), default=None)
    neuro = timeline.neuro.records[-1] if timeline.neuro.records else None
    return {
        "latest_snapshot": latest,
        "crs_grade": latest.crs_effective if latest else None,
        "icans_grade": latest.icans_effective if latest else None,
        "needs_review": bool(latest and latest.needs_review),
        "max_crs_grade": _max(s.crs_effective for s in snapshots),
        "max_icans_grade": _max(s.icans_effective for s in snapshots),
        "last_check_at": latest.observed_at if latest else None,
        "open_flag_count": len(open_severities),
        "worst_open_severity": max(open_severities, default=0),
        **flag_leads(unresolved),
        **{f"last_{kind}_at": timeline.series(kind).last_time() for kind in SCHEDULED_KINDS},
        "neuro_changed": neuro_changed(neuro),
    }


def flag_leads(unresolved) -> dict:
    """The flag board's order keys of a course (``CourseStatus.open_lead_*``/``acked_lead_*``):
    its leading unacknowledged flag and its leading acknowledged one, each the most severe,
    then the one waiting longest (since raised, or since it last got worse) — the order of
    ``board.FLAG_ORDER`` within each status. Every write of a course's flags keeps them: with
    the rest of the status row (``status_values``), or alone after an acknowledgement
    (``services.refresh_flag_leads``)."""
    values = {}
    for prefix, status in (("open", Flag.Status.OPEN), ("acked", Flag.Status.ACKNOWLEDGED)):
        flags = [flag for flag in unresolved if flag.status == status]
        lead = min(flags, key=lambda flag: (-flag.severity, flag.waiting_since), default=None)
        values[f"{prefix}_lead_severity"] = lead.severity if lead else None
        values[f"{prefix}_lead_since"] = lead.waiting_since if lead else None
    return values


def apply_status(status: CourseStatus, values: dict, *, deferrals: dict) -> CourseStatus:
    """Set a status row's values and its due marks (schedule.due_marks reads the row)."""
    for name, value in values.items():
        setattr(status, name, value)
    status.deferrals = deferrals
    for name, value in schedule.due_marks(status.course, status).items():
        setattr(status, name, value)
    return status


def neuro_changed(assessment) -> bool:
    """Any ICE point lost, or any CAPD point: protocols may check neuro more often."""
    if assessment is None:
        return False
    return (assessment.ice_total is not None and assessment.ice_total < 10) or bool(
        assessment.capd_total
    )


def _max(values):
    return max((v for v in values if v is not None), default=None)


def shown(snapshot: GradeSnapshot) -> dict:
    """What a nurse reads of a moment's grade: computed, effective, and the reasons."""
    return {
        "crs_grade": snapshot.crs_grade,
        "icans_grade": snapshot.icans_grade,
        "crs_effective": snapshot.crs_effective,
        "icans_effective": snapshot.icans_effective,
        "crs_reasons": list(snapshot.crs_reasons),
        "icans_reasons": list(snapshot.icans_reasons),
    }


def _confirmation_overtaken(snapshot: GradeSnapshot, fields: dict, label) -> list[FlagSpec]:
    """A clinician confirmed a grade, and a late entry has since changed the computed one:
    the confirmation stands (it is theirs), but they must look again."""
    specs = []
    for domain in ("crs", "icans"):
        if domain in snapshot.confirmation_carried:
            continue  # a carried confirmation is re-decided by carry_confirmations
        confirmed = getattr(snapshot, f"{domain}_confirmed_grade")
        before, after = getattr(snapshot, f"{domain}_grade"), fields[f"{domain}_grade"]
        if confirmed is not None and before != after:
            specs.append(
                FlagSpec(
                    "needs_review",
                    flag_rules.WARNING,
                    f"{domain.upper()} at {label(snapshot.observed_at)}: computed grade "
                    f"changed {dash(before)} → {dash(after)} after a late entry; the "
                    f"confirmed grade {confirmed} needs a clinician's second look",
                    {
                        "code": "flag.confirmation_overtaken",
                        "params": {
                            "domain": domain.upper(),
                            "at": label(snapshot.observed_at),
                            "before": dash(before),
                            "after": dash(after),
                            "confirmed": confirmed,
                        },
                    },
                )
            )
    return specs


def _support_values(vitals) -> dict:
    pressors = vitals.vasopressors_count
    label = f"{pressors} vasopressor{'s' if pressors != 1 else ''}" + (
        " + vasopressin" if vitals.vasopressin else ""
    )
    return {
        "oxygen": vitals.oxygen_support,
        "flow": vitals.oxygen_flow_l_min,
        "oxygen_label": vitals.oxygen_label if vitals.oxygen_support else "oxygen not recorded",
        "oxygen_airway": vitals.oxygen_for_airway_protection,
        "vasopressors": pressors,
        "vasopressin": vitals.vasopressin,
        "pressor_label": label,
    }

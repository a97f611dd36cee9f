"""The bedside, simulated: schedule, checks, grades and the physician's orders of a course."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from decimal import Decimal

from django.utils import timezone

from monitoring import escalation, grading, services
from monitoring.demo.physiology import ANTIPYRETIC, DEXAMETHASONE, TOCILIZUMAB, Physiology
from monitoring.demo.plans import PatientPlan
from monitoring.engine import (
    CourseEngine,
    Rules,
    apply_status,
    carry_confirmations,
    start_ladder,
    status_values,
)
from monitoring.models import (
    BedsideCheck,
    CheckSetting,
    CourseStatus,
    Flag,
    GradeSnapshot,
    Patient,
    Treatment,
    TreatmentCourse,
    User,
    VitalSigns,
)
from monitoring.timeline import Moment

# --------------------------------------------------------------------------------------------
# The write path, in memory: the course engine fed as services.record_check feeds it.
# --------------------------------------------------------------------------------------------


class CourseLedger:
    """Grades, snapshots, flags and status of one course, from ``engine.CourseEngine`` fed
    exactly as ``services.record_check`` feeds it for checks entered in order."""

    def __init__(self, course: TreatmentCourse, patient: Patient):
        self.course = course
        # The zone once per course, not per call: the engine asks the age at every record, and
        # looking the current zone up each time was a tenth of seeding a large hospital. Both
        # the age and the label ("D+3 14:00") depend only on the moment while the zone stays
        # the same, as it does for a whole seeding, and the engine asks them again and again
        # of the same few moments: each is computed once a moment (functools.cache).
        zone = timezone.get_current_timezone()
        self.engine = CourseEngine(
            course=course,
            age_at=functools.cache(lambda at: patient.age_on(timezone.localdate(at, zone))),
            rules=Rules.for_version(course.protocol_version),
            label=functools.cache(services.moment_label(course)),
        )
        self.snapshots: list[GradeSnapshot] = []

    @property
    def flags(self) -> list[Flag]:
        return self.engine.book.created

    def record(self, check: BedsideCheck, **records) -> Moment:
        """Grade the course at ``check`` and raise flags, like ``services.record_check``."""
        at, now = check.observed_at, check.recorded_at
        records = {kind: record for kind, record in records.items() if record is not None}
        for kind, record in records.items():
            self.engine.add(at, kind, record)
        moment = self.engine.grade(at)
        snapshot = GradeSnapshot(
            check_entry=check,
            course=self.course,
            observed_at=at,
            computed_at=now,
            **moment.snapshot_fields(),
        )
        carry_confirmations([*self.snapshots[-1:], snapshot], self.engine.label)
        self.snapshots.append(snapshot)
        self.engine.raise_flags(
            self.engine.check_flags(at, moment, records, snapshot), snapshot=snapshot, now=now
        )
        return moment

    def review_flags(self, *, now: datetime, by: User) -> None:
        """A care team has been at work: a flag last raised over 2 h ago was acknowledged 35
        minutes after (so an escalation is never hidden behind an earlier acknowledgement);
        one not raised again for 24 h was resolved. Recent ones stay open, as a shift finds."""
        for flag in self.flags:
            seen = flag.updated_at + timedelta(minutes=35)
            if flag.updated_at < now - timedelta(hours=24):
                flag.status = Flag.Status.RESOLVED
                flag.acknowledged_at = seen
                flag.resolved_at = flag.updated_at + timedelta(hours=24)
                flag.acknowledged_by = flag.resolved_by = by
                flag.resolve_reason = REVIEWED_RESOLVED
            elif flag.updated_at < now - timedelta(hours=2):
                flag.status = Flag.Status.ACKNOWLEDGED
                flag.acknowledged_at = seen
                flag.acknowledged_by = by
                flag.acknowledge_note = REVIEWED_ACKNOWLEDGED
            if flag.status == Flag.Status.OPEN:
                # Escalation starts with the demo: the lowest tier on call is told when the
                # first worker runs, and the ladder climbs from there while nobody answers.
                start_ladder(flag, now)
            else:
                escalation.stop(flag)

    def status(self, now: datetime) -> CourseStatus:
        """As services.refresh_status after the last check, from what is held here.

        The snapshots may not be saved yet: the latest is the last by (time, key), and
        ``demo.bulk`` gives keys in list order, so while the status is computed unsaved
        snapshots are numbered in that order (two checks at one moment pick the same one)."""
        status = CourseStatus(
            course=self.course,
            updated_at=max((s.computed_at for s in self.snapshots), default=now),
        )
        unsaved = [s for s in self.snapshots if s.pk is None]
        for number, snapshot in enumerate(unsaved, start=1):
            snapshot.pk = number
        try:
            values = status_values(
                snapshots=self.snapshots,
                unresolved=[f for f in self.flags if f.status != Flag.Status.RESOLVED],
                timeline=self.engine.timeline,
            )
        finally:
            for snapshot in unsaved:
                snapshot.pk = None
        return apply_status(status, values, deferrals={})


@dataclass
class SimulatedCourse:
    """One course's unsaved rows, in the order they are written: checks, records by model,
    snapshots, flags and the status row (which points at its latest snapshot)."""

    checks: list[BedsideCheck]
    records: dict[type, list]
    snapshots: list[GradeSnapshot]
    flags: list[Flag]
    status: CourseStatus


def simulate_course(
    *,
    plan: PatientPlan,
    patient: Patient,
    course: TreatmentCourse,
    nurses: tuple[User, User],
    rng: random.Random,
    now: datetime,
    physician: User,
) -> SimulatedCourse:
    """A course from infusion to ``now``, graded, its flags reviewed by ``physician``; runs no
    queries (``course`` and ``patient`` are saved, the protocol's schedules loaded)."""
    rows = CourseSimulator(
        plan=plan, patient=patient, course=course, nurses=nurses, rng=rng, now=now
    ).run()
    ledger = rows.ledger
    ledger.review_flags(now=now, by=physician)
    return SimulatedCourse(
        rows.checks, rows.records, ledger.snapshots, ledger.flags, ledger.status(now)
    )


# An outpatient's day (PatientPlan.outpatient_from_day): a clinic visit, then an evening call.
CLINIC_HOUR, PHONE_HOUR = 10, 18
REVIEWED_RESOLVED = "Reviewed on the ward round; condition resolved."
REVIEWED_ACKNOWLEDGED = "Seen at the bedside; plan discussed with the nurse."


# --------------------------------------------------------------------------------------------
# The bedside: schedule, checks and the physician's orders.
# --------------------------------------------------------------------------------------------


@dataclass
class CourseRows:
    """Unsaved rows of one course: checks, their records by model, and the graded ledger."""

    ledger: CourseLedger
    checks: list[BedsideCheck] = field(default_factory=list)
    records: dict[type, list] = field(default_factory=dict)


class CourseSimulator:
    """Walks one course from infusion to now, charting, grading and treating as it goes."""

    def __init__(
        self,
        *,
        plan: PatientPlan,
        patient: Patient,
        course: TreatmentCourse,
        nurses: tuple[User, User],
        rng: random.Random,
        now: datetime,
    ):
        self.plan, self.patient, self.course = plan, patient, course
        self.day_nurse, self.night_nurse = nurses
        self.rng, self.now = rng, now
        self.body = Physiology(plan, rng)
        self.rows = CourseRows(CourseLedger(course, patient))
        self.pending: list[tuple[datetime, Treatment]] = []  # ordered, not yet given
        self.last_order: dict[str, datetime] = {}
        self.last_moment: Moment | None = None
        self.last_temp = 37.0
        self.toci_doses: list[tuple[datetime, int]] = []  # (time, CRS grade when given)

    def hours(self, at: datetime) -> float:
        return (at - self.course.infused_at).total_seconds() / 3600

    def run(self) -> CourseRows:
        cutoff = self.now - timedelta(hours=self.plan.overdue_h)
        # Pre-infusion baseline: vitals, ICE/CAPD and labs to compare against (ref §6.1).
        self._bedside(self.course.infused_at - timedelta(hours=1), neuro=True, labs=True)
        tz = timezone.get_current_timezone()
        for slot, hour in _even_hours(self.course.infused_at, cutoff, tz):
            if self._outpatient(slot):
                self._give_orders(before=slot)
                if hour == CLINIC_HOUR:
                    self._bedside(slot, neuro=True, labs=True, setting=CheckSetting.CLINIC)
                elif hour == PHONE_HOUR:
                    self._phone_call(slot)
                continue
            routine = hour % 4 == 2  # 02:00, 06:00 ... 22:00: every 4 h
            if not routine and not self._febrile_watch():
                continue
            self._give_orders(before=slot)
            neuro = routine and (hour in (6, 14, 22) or self._neuro_watch())
            self._bedside(slot, neuro=neuro, labs=hour == 6)
        self._give_orders(before=cutoff)
        return self.rows

    def _febrile_watch(self) -> bool:
        """Vital signs every 2 h with fever (ref §6.1: fever and tachycardia) or CRS >= 2."""
        crs = self.last_moment.crs if self.last_moment else None
        return self.last_temp >= grading.FEVER_C or bool(crs and crs.grade >= 2)

    def _neuro_watch(self) -> bool:
        """ICE/CAPD more often during ICANS or CRS (ref §6.1): every 4 h instead of 8."""
        m = self.last_moment
        return bool(m and ((m.icans and m.icans.grade >= 1) or (m.crs and m.crs.grade >= 2)))

    def _outpatient(self, at: datetime) -> bool:
        first = self.plan.outpatient_from_day
        return first is not None and self.course.day_number(at) >= first

    def _phone_call(self, at: datetime) -> None:
        """The evening call: symptoms and the temperature taken at home, nothing measured
        (what a phone check may record: monitoring.models.courses.REMOTE_CHECKS)."""
        h = self.hours(at)
        check = self._new_check(at, self.rng.randint(2, 10), setting=CheckSetting.PHONE)
        measured = self.body.vitals(h)
        records = {
            "vitals": VitalSigns(temp_c=measured.temp_c),
            "symptoms": self.body.symptoms(h, measured),
        }
        for record in records.values():
            record.check_entry = check
            self._add(record)
        self.last_temp = float(measured.temp_c)
        self.last_moment = self.rows.ledger.record(check, **records)

    def _new_check(
        self, at: datetime, delay_min: int, setting: str = CheckSetting.WARD
    ) -> BedsideCheck:
        local_hour = at.astimezone(timezone.get_current_timezone()).hour
        nurse = self.day_nurse if 8 <= local_hour < 20 else self.night_nurse
        recorded = min(at + timedelta(minutes=delay_min), self.now)
        if setting == CheckSetting.WARD and self._outpatient(at):
            setting = CheckSetting.CLINIC
        check = BedsideCheck(
            course=self.course,
            observed_at=at,
            recorded_at=recorded,
            recorded_by=nurse,
            setting=setting,
        )
        self.rows.checks.append(check)
        return check

    def _add(self, record) -> None:
        """A record of its check, typed as the write path types it: by the check's nurse, when
        the check was typed (not when the demo was seeded)."""
        record.recorded_at = record.check_entry.recorded_at
        record.recorded_by = record.check_entry.recorded_by
        self.rows.records.setdefault(type(record), []).append(record)

    def _bedside(
        self, at: datetime, *, neuro: bool, labs: bool, setting: str = CheckSetting.WARD
    ) -> None:
        h = self.hours(at)
        check = self._new_check(at, self.rng.randint(3, 25), setting=setting)
        records = {"vitals": self.body.vitals(h)}
        records["symptoms"] = self.body.symptoms(h, records["vitals"])
        if neuro:
            uses_capd = self.patient.uses_capd_on(timezone.localdate(at))
            records["neuro"] = self.body.neuro(h, uses_capd)
        if labs:
            records["labs"] = self.body.labs(h)
        for record in records.values():
            record.check_entry = check
            self._add(record)
        self.last_temp = float(records["vitals"].temp_c)
        self.last_moment = self.rows.ledger.record(check, **records)
        self._physician(at)

    def _physician(self, at: datetime) -> None:
        """Orders that follow the graded check (ASCO 2021, reference §7)."""
        m = self.last_moment
        crs = m.crs.grade if m.crs else 0
        icans = m.icans.grade if m.icans else 0
        soon = at + timedelta(hours=1)
        weight = self.plan.weight_kg
        # Tocilizumab from CRS grade 2, or for ICANS with a concurrent CRS fever (ref §7.2,
        # §7.3): 8 mg/kg IV (max 800 mg), 12 mg/kg under 30 kg; repeated after >= 8 h only if
        # worse; at most 3 doses in 24 h and 4 in all (ref §7.1).
        concurrent = icans >= 1 and self.last_temp >= grading.FEVER_C
        if (crs >= 2 or concurrent) and len(self.toci_doses) < 4:
            last = self.toci_doses[-1] if self.toci_doses else None
            in_24h = sum(1 for t, _ in self.toci_doses if soon - t < timedelta(hours=24))
            if last is None or (
                soon - last[0] >= timedelta(hours=8) and crs > last[1] and in_24h < 3
            ):
                dose = min(weight * (12 if weight < 30 else 8), 800)
                self._order(soon, TOCILIZUMAB, round(dose))
                self.toci_doses.append((soon, crs))
        # Dexamethasone 10 mg IV while CRS is grade 3 (ref §7.2: q6h) or ICANS grade >= 2
        # (§7.3: q6-12h), at the first check 6 h or more after the last dose.
        # Children: 0.5 mg/kg up to 10 mg (paediatric CARTOX, Mahadeo 2019) [M].
        if crs >= 3 or icans >= 2:
            last_dex = self.last_order.get(DEXAMETHASONE)
            given_at = soon + timedelta(minutes=10)  # after the tocilizumab infusion starts
            if last_dex is None or given_at - last_dex >= timedelta(hours=6):
                dose = 10 if self.plan.age_years >= 18 else min(10, round(weight * 0.5))
                self._order(given_at, DEXAMETHASONE, dose)
        # Paracetamol for fever in grade 1 care (ref §7.2): 1 g, or 15 mg/kg under 50 kg; q6h.
        if self.plan.crs and self.plan.crs.antipyretic and self.last_temp >= grading.FEVER_C:
            last_pcm = self.last_order.get(ANTIPYRETIC)
            if last_pcm is None or at - last_pcm >= timedelta(hours=5, minutes=30):
                dose = 1000 if weight >= 50 else round(weight * 15)
                self._order(at + timedelta(minutes=30), ANTIPYRETIC, dose, route="po")

    def _order(self, at: datetime, drug: str, dose: float, route: str = "iv") -> None:
        self.pending.append((at, Treatment(drug=drug, dose=Decimal(dose), route=route)))
        self.last_order[drug] = at

    def _give_orders(self, *, before: datetime) -> None:
        """Chart each ordered dose due by ``before`` as its own check, at the time given."""
        due = sorted((o for o in self.pending if o[0] <= before), key=lambda o: o[0])
        self.pending = [o for o in self.pending if o[0] > before]
        for at, treatment in due:
            check = self._new_check(at, 5)
            treatment.check_entry = check
            self._add(treatment)
            self.body.given.setdefault(treatment.drug, []).append(self.hours(at))
            self.last_moment = self.rows.ledger.record(check, treatment=treatment)


def _even_hours(start: datetime, end: datetime, tz) -> list[tuple[datetime, int]]:
    """(UTC time, local hour) of the ward's 00:00, 02:00 ... 22:00 in (start, end].

    The rounds follow the wall clock: on a spring-forward night 02:00 happens at 03:00, and
    keeps its place in the 4-hourly round.
    """
    slots, day = [], start.astimezone(tz).date()
    while True:
        for hour in range(0, 24, 2):
            slot = datetime.combine(day, clock(hour), tzinfo=tz).astimezone(UTC)
            if slot > end:
                return slots
            if slot > start and (not slots or slot > slots[-1][0]):
                slots.append((slot, hour))
        day += timedelta(days=1)

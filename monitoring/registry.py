"""Registry summary of a course: what CIBMTR/EBMT cellular-therapy forms ask about CRS and ICANS.

The arithmetic is pure (plain rows in, frozen dataclasses out); ``summaries_for`` loads the rows
of any number of courses in two queries. Every number is derived from the records on read, so it
follows amendments, entries in error and clinicians' confirmations without being stored.

Definitions (tested in tests/unit/test_registry.py):

- **Grade.** The *effective* grade of each ``GradeSnapshot``: the clinician's confirmed grade
  where one was given, else the computed one (DESIGN: "the grade the registry gets is the
  confirmed one"). Snapshots not graded yet (no vitals / no neuro assessment) are skipped.
  Snapshots observed before the infusion moment are baseline checks, not CRS or ICANS.
- **Episode.** Starts at a snapshot with grade >= 1 while no episode is running. It runs through
  the following snapshots, and *resolves at the first snapshot with grade 0 after which the grade
  stays 0 for at least 24 hours* (``RESOLUTION_HOURS``). A grade >= 1 within 24 h of that first
  0 is the same episode (a dip, e.g. fever held down by paracetamol); a grade >= 1 24 h or more
  after it starts a new episode. "Stays 0" is judged on the records and on the clock: an episode
  whose latest grade is 0 but not yet for 24 h is still running (``resolving_since`` says since
  when). This is the 24-hour reading ``timeline.EPISODE_GAP`` uses for CRS episodes.
- **Onset** is the first episode's onset; **onset day** is D+n (calendar days from the local
  infusion date). **Maximum grade** is over all episodes; its date is the first time it was
  reached. **Resolution** is the last episode's resolution (none while one is running).
  **Duration** is the time from onset to resolution added up over the episodes, in days to one
  decimal (so a dip inside an episode counts, the gaps between episodes do not); none while an
  episode is running.
- **Treatments.** Current records from day 0 (the local infusion date) on: one record is one
  dose. Totals are in mg (g x 1000, µg / 1000); a dose in "units" cannot be converted and is
  counted apart (``unconverted_doses``).
- **Therapy for CRS or ICANS** (``therapy_rows``). A dose counts as therapy for an episode of a
  domain when it treats it: it was given during the episode (onset to resolution, or still
  running), or it belongs to a course of that drug — doses no more than ``CONTINUED_GAP`` (36 h)
  apart — that was started before the onset and continued into the episode (CIBMTR's
  instructions: prophylactic drugs are reported only when continued after the diagnosis). The
  whole course counts then, its taper after resolution included. Prophylaxis stopped before the
  onset is not CRS or ICANS therapy: it is listed apart (``not_counted``). Drugs per domain
  (``THERAPY_DRUGS``): tocilizumab, corticosteroids, anakinra and siltuximab for both (ASCO 2021,
  reference §7.2–7.3), levetiracetam for ICANS only. The registry totals (``drugs``, the CSV's
  dose columns) are the doses counted as therapy for CRS or ICANS, each dose once.
- **Doses** (T-cell engagers' step-up and treatment doses): the doses *given* (planned, held
  and cancelled doses were not given), with their step and local date, and how many were given
  while a gate before them was not met, over a physician's override.
- **Infections**: the current infection records (a corrected one in its corrected form; one
  entered in error is not counted), with site, organism, CTCAE grade, onset and resolution.
- **Phases** of the treatment journey (``journey.phase_history``): the phases in force (a
  corrected phase with its corrected dates; nothing planned), each with the date it started —
  referral to conditioning as recorded, the infusion and acute monitoring from day 0, follow-up
  from the end of monitoring, the end (the follow-up's recorded end, or the course's end when it
  was discontinued, transferred out or died) — with the conditioning regimen and why it ended.
- **ICU transfer** is not in the data model: it is reported as not recorded, never guessed.
- **ICD-10-CM** suggestions for the maximum grades: D89.83- (CRS) and G92.0- (ICANS). They are
  suggestions for a coder, who codes from the clinician's documentation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext

from monitoring import journey, journey_rules
from monitoring.models import (
    CheckSetting,
    CourseDose,
    CoursePhase,
    GradeSnapshot,
    Infection,
    Phase,
    Treatment,
)
from monitoring.models.dosing import STEP_LABELS

RESOLUTION_HOURS = 24
ICU_NOT_RECORDED = "not recorded"

# ICD-10-CM (CMS/CDC), D89.83- since FY2021 and G92.0- since FY2022. Grade 5 (death) exists in
# ICD-10-CM, but grades here come from GradeSnapshot, which stores 0-4.
ICD10_CRS = {
    1: ("D89.831", "Cytokine release syndrome, grade 1"),
    2: ("D89.832", "Cytokine release syndrome, grade 2"),
    3: ("D89.833", "Cytokine release syndrome, grade 3"),
    4: ("D89.834", "Cytokine release syndrome, grade 4"),
    5: ("D89.835", "Cytokine release syndrome, grade 5"),
}
ICD10_ICANS = {
    1: ("G92.01", "Immune effector cell-associated neurotoxicity syndrome, grade 1"),
    2: ("G92.02", "Immune effector cell-associated neurotoxicity syndrome, grade 2"),
    3: ("G92.03", "Immune effector cell-associated neurotoxicity syndrome, grade 3"),
    4: ("G92.04", "Immune effector cell-associated neurotoxicity syndrome, grade 4"),
    5: ("G92.05", "Immune effector cell-associated neurotoxicity syndrome, grade 5"),
}
ICD10_NOTE = (
    "Suggestions for the coder only. ICD-10-CM asks to code first the underlying cause "
    "(e.g. T80.82-, complication of immune effector cellular therapy)."
)

# Drugs the registry forms ask about, in the order the summary and the CSV show them.
REGISTRY_DRUGS = [
    ("tocilizumab", "Tocilizumab"),
    ("dexamethasone", "Dexamethasone"),
    ("methylprednisolone", "Methylprednisolone"),
    ("anakinra", "Anakinra"),
    ("siltuximab", "Siltuximab"),
    ("levetiracetam", "Levetiracetam"),
]
CORTICOSTEROIDS = ("dexamethasone", "methylprednisolone")
# Which drugs count as therapy of which domain (reference §7.2 CRS, §7.3 ICANS): levetiracetam
# treats or prevents seizures, an ICANS domain, and is never CRS therapy.
THERAPY_DRUGS = {
    "CRS": ("tocilizumab", *CORTICOSTEROIDS, "anakinra", "siltuximab"),
    "ICANS": ("tocilizumab", *CORTICOSTEROIDS, "anakinra", "siltuximab", "levetiracetam"),
}
# Doses of one drug no more than this far apart are one continued course of it: daily dosing,
# with room for a late dose. Our reading of "continued after the diagnosis" (CIBMTR), not a
# number from a source.
CONTINUED_GAP = timedelta(hours=36)
TO_MG = {"mg": Decimal(1), "g": Decimal(1000), "mcg": Decimal("0.001")}


# --- Plain rows in --------------------------------------------------------------------------


@dataclass(frozen=True)
class GradePoint:
    """One snapshot's grades: effective (confirmed or computed) and computed."""

    at: datetime
    crs: int | None
    icans: int | None
    crs_computed: int | None = None
    icans_computed: int | None = None
    crs_confirmed: bool = False
    icans_confirmed: bool = False


@dataclass(frozen=True)
class TreatmentRow:
    at: datetime
    drug: str
    dose: Decimal
    dose_unit: str
    drug_other: str = ""


@dataclass(frozen=True)
class DoseRow:
    """A dose given: its step's label, when, and whether a physician overrode a gate."""

    at: datetime
    label: str
    overridden: bool = False

    @property
    def date(self) -> date:
        return timezone.localdate(self.at)

    @property
    def shown_label(self) -> str:
        """The label in the reader's language when it is one of the usual ones."""
        return gettext(self.label) if self.label in STEP_LABELS else self.label


@dataclass(frozen=True)
class InfectionRow:
    """A current infection record (codes as stored; labels in the reader's language)."""

    site: str
    organism_type: str
    severity: int
    onset_on: date
    resolved_on: date | None = None
    site_other: str = ""
    organism: str = ""

    def _record(self) -> Infection:
        return Infection(
            site=self.site,
            site_other=self.site_other,
            organism_type=self.organism_type,
            organism=self.organism,
            severity=self.severity,
        )

    @property
    def site_label(self) -> str:
        return str(self._record().site_label)

    @property
    def organism_label(self) -> str:
        return self._record().organism_label

    @property
    def severity_label(self) -> str:
        return str(self._record().get_severity_display())

    @property
    def text(self) -> str:
        """ "Bloodstream: Escherichia coli (Bacterial), CTCAE grade 3, onset 2026-05-02"."""
        text = (
            f"{self.site_label}: {self.organism_label}, CTCAE grade {self.severity}, "
            f"onset {self.onset_on.isoformat()}"
        )
        return text + (f", resolved {self.resolved_on.isoformat()}" if self.resolved_on else "")


# --- Frozen results out ---------------------------------------------------------------------


@dataclass(frozen=True)
class Episode:
    onset_at: datetime
    max_grade: int
    max_grade_at: datetime
    resolved_at: datetime | None  # None: still running
    resolving_since: datetime | None = None  # grade 0 since then, not yet for 24 h

    @property
    def duration_days(self) -> float | None:
        if self.resolved_at is None:
            return None
        return round((self.resolved_at - self.onset_at).total_seconds() / 86400, 1)


@dataclass(frozen=True)
class DrugTotal:
    drug: str
    label: str
    doses: int = 0
    total_mg: Decimal | None = None  # None when no dose could be converted to mg
    unconverted_doses: int = 0  # doses in "units"
    first_at: datetime | None = None

    @property
    def text(self) -> str:
        """ "2 doses · 1120 mg", or "—" when none was given."""
        if not self.doses:
            return "—"
        parts = [f"{self.doses} dose{'s' if self.doses != 1 else ''}"]
        if self.total_mg is not None:
            parts.append(f"{mg(self.total_mg)} mg")
        if self.unconverted_doses:
            parts.append(f"{self.unconverted_doses} in units, not added")
        return " · ".join(parts)


@dataclass(frozen=True)
class DomainSummary:
    """CRS or ICANS over a course."""

    domain: str  # "CRS" or "ICANS"
    infusion_date: date
    assessed: bool  # at least one graded snapshot after the infusion
    episodes: tuple[Episode, ...] = ()
    overridden: int = 0  # snapshots whose confirmed grade differs from the computed one
    # Registry drugs given as therapy for this domain's episodes (see the module docstring).
    therapy: dict[str, DrugTotal] = field(default_factory=dict)

    @property
    def therapy_given(self) -> list[DrugTotal]:
        return [total for total in self.therapy.values() if total.doses]

    @property
    def onset_at(self) -> datetime | None:
        return self.episodes[0].onset_at if self.episodes else None

    @property
    def onset_day(self) -> int | None:
        return _day(self.onset_at, self.infusion_date) if self.episodes else None

    @property
    def max_grade(self) -> int | None:
        if not self.assessed:
            return None
        return max((e.max_grade for e in self.episodes), default=0)

    @property
    def max_grade_at(self) -> datetime | None:
        grade = self.max_grade
        if not grade:
            return None
        return next(e.max_grade_at for e in self.episodes if e.max_grade == grade)

    @property
    def max_grade_day(self) -> int | None:
        at = self.max_grade_at
        return _day(at, self.infusion_date) if at else None

    @property
    def ongoing(self) -> bool:
        return bool(self.episodes) and self.episodes[-1].resolved_at is None

    @property
    def resolved_at(self) -> datetime | None:
        if not self.episodes or self.ongoing:
            return None
        return self.episodes[-1].resolved_at

    @property
    def duration_days(self) -> float | None:
        if not self.episodes or self.ongoing:
            return None
        seconds = sum((e.resolved_at - e.onset_at).total_seconds() for e in self.episodes)
        return round(seconds / 86400, 1)  # rounded once, after adding up

    @property
    def icd10(self) -> tuple[str, str] | None:
        table = ICD10_CRS if self.domain == "CRS" else ICD10_ICANS
        return table.get(self.max_grade or 0)


@dataclass(frozen=True)
class RegistrySummary:
    course_id: int
    mrn: str
    product: str
    infused_at: datetime
    crs: DomainSummary
    icans: DomainSummary
    drugs: dict[str, DrugTotal]
    other_drugs: dict[str, int] = field(default_factory=dict)  # name -> doses
    icu_transfer: str = ICU_NOT_RECORDED
    as_of: datetime | None = None
    # Registry drugs from day 0 not counted as CRS or ICANS therapy: prophylaxis stopped before
    # an onset, or doses outside any episode.
    not_counted: dict[str, DrugTotal] = field(default_factory=dict)
    # How many checks were done in each setting (BedsideCheck.setting code -> count).
    checks_by_setting: dict[str, int] = field(default_factory=dict)
    doses_given: tuple[DoseRow, ...] = ()  # in the order given
    infections: tuple[InfectionRow, ...] = ()  # by onset
    phases: tuple[journey.PhaseRow, ...] = ()  # the journey's phases in force, in order

    @property
    def phase_starts(self) -> dict[str, date]:
        """The date each phase the course went through started, by phase code."""
        return {row.phase: row.started_on for row in self.phases if row.started_on}

    @property
    def end_reason(self) -> str:
        """Why the journey ended ("" while it goes on)."""
        return next((row.detail for row in self.phases if row.phase == Phase.ENDED), "")

    @property
    def conditioning_regimen(self) -> str:
        return next(
            (row.record.regimen for row in self.phases if row.phase == Phase.CONDITIONING), ""
        )

    @property
    def gate_overrides(self) -> int:
        return sum(1 for dose in self.doses_given if dose.overridden)

    @property
    def checks_by_setting_text(self) -> str:
        """ "ward 10; clinic 3; phone 2", in the choices' order (codes: stable for registries)."""
        return "; ".join(
            f"{code} {self.checks_by_setting[code]}"
            for code in CheckSetting.values
            if code in self.checks_by_setting
        )

    @property
    def not_counted_given(self) -> list[DrugTotal]:
        return [total for total in self.not_counted.values() if total.doses]

    @property
    def treatment_table(self) -> list[dict]:
        """One row per registry drug given from day 0: as CRS therapy, as ICANS therapy, in
        all as therapy (with its first dose), and not counted as therapy."""
        rows = []
        for name, label in REGISTRY_DRUGS:
            totals = {
                "crs": self.crs.therapy.get(name),
                "icans": self.icans.therapy.get(name),
                "therapy": self.drugs.get(name),
                "not_counted": self.not_counted.get(name),
            }
            if any(total and total.doses for total in totals.values()):
                rows.append({"label": label, **totals})
        return rows

    @property
    def infusion_date(self) -> date:
        return timezone.localdate(self.infused_at)

    @property
    def tocilizumab_doses(self) -> int:
        return self.drugs["tocilizumab"].doses

    @property
    def steroids(self) -> list[DrugTotal]:
        return [self.drugs[name] for name in CORTICOSTEROIDS]

    @property
    def icd10_note(self) -> str:
        return ICD10_NOTE


# --- The arithmetic -------------------------------------------------------------------------


def _day(at: datetime, infusion_date: date) -> int:
    return (timezone.localdate(at) - infusion_date).days


def episodes(points: list[tuple[datetime, int]], *, now: datetime) -> tuple[Episode, ...]:
    """Episodes of one domain from (time, grade) in clinical order (see the module docstring)."""
    gap = timedelta(hours=RESOLUTION_HOURS)
    found: list[Episode] = []
    onset = max_at = zero_since = None
    top = 0
    for at, grade in points:
        if grade >= 1:
            if onset is not None and zero_since is not None and at - zero_since >= gap:
                found.append(Episode(onset, top, max_at, resolved_at=zero_since))
                onset = None
            if onset is None:
                onset, top, max_at = at, grade, at
            elif grade > top:
                top, max_at = grade, at
            zero_since = None
        elif onset is not None and zero_since is None:
            zero_since = at
    if onset is not None:
        if zero_since is not None and now - zero_since >= gap:
            found.append(Episode(onset, top, max_at, resolved_at=zero_since))
        else:
            found.append(Episode(onset, top, max_at, resolved_at=None, resolving_since=zero_since))
    return tuple(found)


def summarise_domain(
    points: list[GradePoint], *, domain: str, infused_at: datetime, now: datetime
) -> DomainSummary:
    """One domain's summary from the course's grade points (any order)."""
    key = domain.lower()
    graded = sorted(
        (p for p in points if p.at >= infused_at and getattr(p, key) is not None),
        key=lambda p: p.at,
    )
    overridden = sum(
        1
        for p in graded
        if getattr(p, f"{key}_confirmed") and getattr(p, key) != getattr(p, f"{key}_computed")
    )
    return DomainSummary(
        domain=domain,
        infusion_date=timezone.localdate(infused_at),
        assessed=bool(graded),
        episodes=episodes([(p.at, getattr(p, key)) for p in graded], now=now),
        overridden=overridden,
    )


def summarise_treatments(rows: list[TreatmentRow], *, infused_at: datetime):
    """(registry drugs by name, other drugs' dose counts by name) from day 0 on."""
    day0 = timezone.localdate(infused_at)
    doses: dict[str, int] = defaultdict(int)
    totals: dict[str, Decimal] = {}
    unconverted: dict[str, int] = defaultdict(int)
    first: dict[str, datetime] = {}
    other: dict[str, int] = defaultdict(int)
    known = dict(REGISTRY_DRUGS)
    for row in sorted(rows, key=lambda r: r.at):
        if timezone.localdate(row.at) < day0:
            continue  # the baseline window before day 0 is not treatment of CRS/ICANS
        if row.drug not in known:
            name = row.drug_other or row.drug.replace("_", " ").capitalize()
            other[name] += 1
            continue
        doses[row.drug] += 1
        first.setdefault(row.drug, row.at)
        factor = TO_MG.get(row.dose_unit)
        if factor is None:
            unconverted[row.drug] += 1
        else:
            totals[row.drug] = totals.get(row.drug, Decimal(0)) + row.dose * factor
    drugs = {
        name: DrugTotal(
            drug=name,
            label=label,
            doses=doses[name],
            total_mg=totals.get(name),
            unconverted_doses=unconverted[name],
            first_at=first.get(name),
        )
        for name, label in REGISTRY_DRUGS
    }
    return drugs, dict(sorted(other.items()))


def continued_courses(rows: list[TreatmentRow]) -> list[list[TreatmentRow]]:
    """One drug's doses split into continued courses: doses no more than CONTINUED_GAP apart."""
    courses: list[list[TreatmentRow]] = []
    for row in sorted(rows, key=lambda r: r.at):
        if courses and row.at - courses[-1][-1].at <= CONTINUED_GAP:
            courses[-1].append(row)
        else:
            courses.append([row])
    return courses


def _treats(course: list[TreatmentRow], episode: Episode) -> bool:
    """A dose of the course falls within the episode (onset to resolution, or still running)."""
    return any(
        episode.onset_at <= row.at
        and (episode.resolved_at is None or row.at <= episode.resolved_at)
        for row in course
    )


def therapy_rows(
    rows: list[TreatmentRow], episodes: tuple[Episode, ...], *, domain: str, infused_at: datetime
) -> list[TreatmentRow]:
    """The doses from day 0 that count as therapy for ``domain``'s episodes: given during an
    episode, or part of a continued course of the drug that runs into one (module docstring)."""
    day0 = timezone.localdate(infused_at)
    counted = []
    for drug in THERAPY_DRUGS[domain]:
        doses = [r for r in rows if r.drug == drug and timezone.localdate(r.at) >= day0]
        for course in continued_courses(doses):
            if any(_treats(course, episode) for episode in episodes):
                counted.extend(course)
    return sorted(counted, key=lambda r: r.at)


def summarise(
    *,
    course_id: int,
    mrn: str,
    product: str,
    infused_at: datetime,
    points: list[GradePoint],
    treatments: list[TreatmentRow],
    now: datetime,
) -> RegistrySummary:
    """The registry summary of one course from its plain rows."""
    _, other = summarise_treatments(treatments, infused_at=infused_at)
    domains, counted = {}, set()
    for domain in ("CRS", "ICANS"):
        summary = summarise_domain(points, domain=domain, infused_at=infused_at, now=now)
        rows = therapy_rows(treatments, summary.episodes, domain=domain, infused_at=infused_at)
        counted |= {id(row) for row in rows}
        therapy, _ = summarise_treatments(rows, infused_at=infused_at)
        domains[domain] = replace(summary, therapy=therapy)
    known = dict(REGISTRY_DRUGS)
    drugs, _ = summarise_treatments(
        [row for row in treatments if id(row) in counted], infused_at=infused_at
    )
    not_counted, _ = summarise_treatments(
        [row for row in treatments if row.drug in known and id(row) not in counted],
        infused_at=infused_at,
    )
    return RegistrySummary(
        course_id=course_id,
        mrn=mrn,
        product=product,
        infused_at=infused_at,
        crs=domains["CRS"],
        icans=domains["ICANS"],
        drugs=drugs,
        other_drugs=other,
        as_of=now,
        not_counted=not_counted,
    )


# --- Loading rows ---------------------------------------------------------------------------


def summaries_for(courses, *, ids=None, now: datetime | None = None) -> dict[int, RegistrySummary]:
    """Registry summaries of ``courses`` (with ``patient`` loaded), by course id: five queries
    (snapshots, treatments, doses given, infections, journey phases).

    The snapshots and treatments of all the courses are read at once, so a CSV of many courses
    costs what one does. ``ids`` may be a ``values("pk")`` queryset of the same courses: it then
    stays a subquery instead of a bound parameter per course.
    """
    now = now or timezone.now()
    courses = list(courses)
    if ids is None:
        ids = [course.pk for course in courses]
    points: dict[int, list[GradePoint]] = defaultdict(list)
    snapshots = (
        GradeSnapshot.objects.filter(course_id__in=ids)
        .annotate(
            crs_eff=Coalesce("crs_confirmed_grade", "crs_grade"),
            icans_eff=Coalesce("icans_confirmed_grade", "icans_grade"),
        )
        .order_by("observed_at", "pk")
        .values_list(
            "course_id",
            "observed_at",
            "crs_eff",
            "icans_eff",
            "crs_grade",
            "icans_grade",
            "crs_confirmed_grade",
            "icans_confirmed_grade",
            "check_entry__setting",  # one snapshot per check: no query of its own
        )
    )
    settings: dict[int, dict[str, int]] = defaultdict(dict)
    for course_id, at, crs, icans, crs_c, icans_c, crs_conf, icans_conf, where in snapshots:
        settings[course_id][where] = settings[course_id].get(where, 0) + 1
        points[course_id].append(
            GradePoint(
                at=at,
                crs=crs,
                icans=icans,
                crs_computed=crs_c,
                icans_computed=icans_c,
                crs_confirmed=crs_conf is not None,
                icans_confirmed=icans_conf is not None,
            )
        )
    treatments = treatment_rows(ids)
    doses, infections, phases = dose_rows(ids), infection_rows(ids), phase_rows(ids)
    return {
        course.pk: replace(
            summarise(
                course_id=course.pk,
                mrn=course.patient.mrn,
                product=course.product_label,
                infused_at=course.infused_at,
                points=points[course.pk],
                treatments=treatments[course.pk],
                now=now,
            ),
            checks_by_setting=settings[course.pk],
            doses_given=tuple(doses[course.pk]),
            infections=tuple(infections[course.pk]),
            phases=tuple(journey.phase_history(course, phases[course.pk])),
        )
        for course in courses
    }


def phase_rows(ids) -> dict[int, list[CoursePhase]]:
    """The journey phases in force of the courses ``ids`` (not the rows a correction
    superseded), by course id: one query."""
    found: dict[int, list[CoursePhase]] = defaultdict(list)
    for row in CoursePhase.objects.current().filter(course_id__in=ids).order_by("pk"):
        found[row.course_id].append(row)
    return found


def dose_rows(ids) -> dict[int, list[DoseRow]]:
    """The doses given of the courses ``ids``, in the order given, by course id: one query."""
    found: dict[int, list[DoseRow]] = defaultdict(list)
    rows = (
        CourseDose.objects.filter(course_id__in=ids, status=CourseDose.Status.GIVEN)
        .order_by("given_at", "pk")
        .values_list("course_id", "given_at", "step__label", "override_reason")
    )
    for course_id, at, label, override in rows:
        found[course_id].append(DoseRow(at=at, label=label, overridden=bool(override)))
    return found


def infection_rows(ids) -> dict[int, list[InfectionRow]]:
    """The current infection records of the courses ``ids``, by onset, by course id: one query."""
    found: dict[int, list[InfectionRow]] = defaultdict(list)
    fields = ["site", "organism_type", "severity", "onset_on", "resolved_on", "site_other"]
    rows = (
        Infection.objects.current()
        .filter(course_id__in=ids)
        .order_by("onset_on", "pk")
        .values_list("course_id", *fields, "organism")
    )
    for course_id, *values in rows:
        found[course_id].append(InfectionRow(*values))
    return found


def treatment_rows(ids, *, drugs=None) -> dict[int, list[TreatmentRow]]:
    """The current treatment records of the courses ``ids`` (a list or a ``values("pk")``
    queryset), oldest first, by course id: one query. ``drugs`` narrows them to these drugs."""
    treatments: dict[int, list[TreatmentRow]] = defaultdict(list)
    rows = Treatment.objects.current().filter(check_entry__course_id__in=ids)
    if drugs is not None:
        rows = rows.filter(drug__in=drugs)
    rows = (
        rows.annotate(course_pk=F("check_entry__course_id"), at=F("check_entry__observed_at"))
        .order_by("at", "pk")
        .values_list("course_pk", "at", "drug", "dose", "dose_unit", "drug_other")
    )
    for course_id, at, drug, dose, unit, other in rows:
        treatments[course_id].append(
            TreatmentRow(at=at, drug=drug, dose=dose, dose_unit=unit, drug_other=other)
        )
    return treatments


def summary_for(course, *, now: datetime | None = None) -> RegistrySummary:
    return summaries_for([course], now=now)[course.pk]


# --- The registry CSV -----------------------------------------------------------------------

NOT_ASSESSED = "not assessed"


def _domain_columns(name: str) -> list[str]:
    return [
        f"{name} onset date",
        f"{name} onset day (D+n)",
        f"{name} maximum grade",
        f"{name} maximum grade date",
        f"{name} resolution date",
        f"{name} duration (days)",
        f"{name} episodes",
        f"{name} ongoing",
        f"{name} grades overridden by clinician",
        f"{name} ICD-10-CM suggestion",
    ]


# One column per phase of the journey, in its order (journey_rules.PHASES).
PHASE_COLUMNS = {
    "referral": "Phase start: referral",
    "collection": "Phase start: collection",
    "manufacturing": "Phase start: manufacturing",
    "bridging": "Phase start: bridging",
    "conditioning": "Phase start: conditioning",
    "infusion": "Phase start: infusion",
    "acute_monitoring": "Phase start: acute monitoring",
    "follow_up": "Phase start: follow-up",
    "ended": "Phase start: ended",
}
assert tuple(PHASE_COLUMNS) == journey_rules.PHASES

CSV_COLUMNS = [
    "MRN",
    "Unit",
    "Product",
    "Indication",
    "Infusion date",
    "Course status",
    "Care setting",
    "Checks by setting",
    *_domain_columns("CRS"),
    *_domain_columns("ICANS"),
    "Tocilizumab doses",
    *[f"{label} {what}" for _, label in REGISTRY_DRUGS[1:] for what in ("doses", "total (mg)")],
    "Doses not convertible to mg",
    "CRS therapy",
    "ICANS therapy",
    "Not counted as CRS/ICANS therapy",
    "Other treatments",
    "ICU transfer",
    "Summary as of",
    # Added last (issue 14) so that the columns a registry import already maps keep their place.
    "Doses given",
    "Dose dates",
    "Gate overrides",
    "Infections",
    "Infection list",
    "Product class",
    "Day 0 is",
    # The journey's phases (issue 14 §4, "Exports follow"): the date each started (ISO; empty
    # for a phase the course did not go through), why the journey ended, the regimen.
    *PHASE_COLUMNS.values(),
    "Journey end reason",
    "Conditioning regimen",
]


def _date(value: datetime | None) -> str:
    return timezone.localdate(value).isoformat() if value else ""


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def mg(value: Decimal | None) -> str:
    """A dose total without float noise or exponent: 1000, 12.5."""
    if value is None:
        return ""
    return format(value.normalize(), "f")


def therapy_text(totals) -> str:
    """ "Tocilizumab x2 (1120 mg); Dexamethasone x3 (30 mg)": the doses of each drug given."""
    parts = []
    for total in totals:
        text = f"{total.label} x{total.doses}"
        amounts = [f"{mg(total.total_mg)} mg"] if total.total_mg is not None else []
        if total.unconverted_doses:
            amounts.append(f"{total.unconverted_doses} in units")
        parts.append(text + (f" ({' + '.join(amounts)})" if amounts else ""))
    return "; ".join(parts)


def _domain_values(domain: DomainSummary) -> list:
    if not domain.assessed:
        return ["", "", NOT_ASSESSED, "", "", "", 0, "", domain.overridden, ""]
    icd = domain.icd10
    return [
        _date(domain.onset_at),
        domain.onset_day if domain.onset_day is not None else "",
        domain.max_grade,
        _date(domain.max_grade_at),
        _date(domain.resolved_at),
        domain.duration_days if domain.duration_days is not None else "",
        len(domain.episodes),
        "yes" if domain.ongoing else "no",
        domain.overridden,
        f"{icd[0]} {icd[1]}" if icd else "",
    ]


def csv_row(course, summary: RegistrySummary) -> list:
    """One course as the values of ``CSV_COLUMNS`` (numbers stay numbers; dates are ISO). In
    English whoever downloads it (docs/translations.md: exports are read by other systems)."""
    with translation.override("en"):
        return _csv_values(course, summary)


def _csv_values(course, summary: RegistrySummary) -> list:
    drug_values = []
    for name, _ in REGISTRY_DRUGS[1:]:
        total = summary.drugs[name]
        drug_values += [total.doses, mg(total.total_mg) if total.doses else 0]
    unconverted = "; ".join(
        f"{d.label}: {d.unconverted_doses}" for d in summary.drugs.values() if d.unconverted_doses
    )
    others = "; ".join(f"{name} x{count}" for name, count in summary.other_drugs.items())
    return [
        course.patient.mrn,
        course.unit.name,
        course.product_label,
        course.indication,
        summary.infusion_date.isoformat(),
        course.get_status_display(),
        course.get_care_setting_display(),
        summary.checks_by_setting_text,
        *_domain_values(summary.crs),
        *_domain_values(summary.icans),
        summary.tocilizumab_doses,
        *drug_values,
        unconverted,
        therapy_text(summary.crs.therapy_given),
        therapy_text(summary.icans.therapy_given),
        therapy_text(summary.not_counted_given),
        others,
        summary.icu_transfer,
        timezone.localtime(summary.as_of).isoformat(timespec="minutes"),
        len(summary.doses_given),
        "; ".join(f"{dose.label} {dose.date.isoformat()}" for dose in summary.doses_given),
        summary.gate_overrides,
        len(summary.infections),
        "; ".join(row.text for row in summary.infections),
        course.product.get_product_class_display(),
        course.day_zero_label,
        *(_iso(summary.phase_starts.get(phase)) for phase in PHASE_COLUMNS),
        summary.end_reason,
        summary.conditioning_regimen,
    ]


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection): free text
# such as an indication or an MRN typed "=HYPERLINK(...)" must stay text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value

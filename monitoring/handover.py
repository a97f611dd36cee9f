"""The shift handover's read model: per patient, the facts the next shift needs, in five queries.

Rendered by ``views/exports.handover``; like ``course_page``, it reads and never writes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import F, OuterRef, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils.translation import gettext

from monitoring.models import (
    BedsideCheck,
    Flag,
    HandoverNote,
    NeuroAssessment,
    Treatment,
    TreatmentCourse,
    VitalSigns,
)
from monitoring.registry import CORTICOSTEROIDS, TO_MG, DrugTotal
from monitoring.schedule import due_checks, duration_words

DUE_SHOWN = 3  # the handover lists the next few checks, most pressing first
NEURO_SHOWN = 3  # and the last few ICE/CAPD scores, for their trend


@dataclass(frozen=True)
class NeuroPoint:
    at: datetime
    label: str
    score: int | None
    capd: bool


@dataclass(frozen=True)
class DueLine:
    label: str
    next_due: datetime
    overdue: str  # "1 h 05 min" when overdue, else ""
    deferred_reason: str


@dataclass(frozen=True)
class Vitals:
    """The last vital signs recorded (current records only), and when."""

    at: datetime
    age: str  # "2 h 05 min" since they were taken
    temp_c: Decimal | None
    heart_rate: int | None
    resp_rate: int | None
    sbp: int | None
    dbp: int | None
    spo2: int | None


@dataclass(frozen=True)
class Support:
    """Oxygen and vasopressors as last recorded: a record that leaves oxygen blank carries the
    earlier one forward (as the grading timeline does), so this may be older than the vitals."""

    at: datetime
    age: str
    oxygen: str  # "Low-flow nasal cannula 4 L/min"
    vasopressors: int  # not counting vasopressin (ASTCT)
    vasopressin: bool


@dataclass(frozen=True)
class HandoverBlock:
    """One patient on the handover sheet."""

    course: object
    status: object
    neuro: list[NeuroPoint]  # up to 3, oldest first
    neuro_trend: str  # "worse" / "better" / "unchanged" / ""
    flags: list[Flag]
    tocilizumab_24h: int
    tocilizumab_course: int
    due: list[DueLine]
    note: HandoverNote | None
    name_alert: bool = False  # another patient on this sheet has the same family name
    vitals: Vitals | None = None
    support: Support | None = None
    steroids: tuple[DrugTotal, ...] = ()  # dexamethasone, methylprednisolone: those given
    steroids_24h: int = 0  # steroid doses in the last 24 h


def neuro_trend(points: list[NeuroPoint]) -> str:
    """Direction of the scored ICE/CAPD values: ICE falls when worse, CAPD rises."""
    scored = [p for p in points if p.score is not None]
    if len(scored) < 2 or scored[0].capd != scored[-1].capd:
        return ""
    change = scored[-1].score - scored[0].score
    if change == 0:
        return "unchanged"
    worse = change > 0 if scored[-1].capd else change < 0
    return "worse" if worse else "better"


def latest_vitals(ids: list[int], *, now: datetime) -> tuple[dict, dict]:
    """Per course, the last vital signs and the last oxygen/vasopressor record, in one query.

    Each course's two records are found by walking its checks' (course, time) index back from
    ``now`` (a subquery per course that stops at the first match), not by ranking every record
    of the course: a sheet's cost does not grow with the length of its patients' stays.
    """
    last = (
        VitalSigns.objects.current()
        .filter(check_entry__course_id=OuterRef("pk"), check_entry__observed_at__lte=now)
        .order_by("-check_entry__observed_at", "-pk")
    )
    courses = TreatmentCourse.objects.filter(pk__in=ids).order_by()  # members of a union
    # One IN over the union of both lists, not two INs joined by OR: PostgreSQL turns the
    # union into a join on the few ids, and the OR into a filter over every vital-signs row
    # of the hospital (116 ms at 10,000 patients).
    last_ids = courses.annotate(last=Subquery(last.values("pk")[:1])).values("last")
    support_ids = courses.annotate(
        last=Subquery(last.exclude(oxygen_support="").values("pk")[:1])
    ).values("last")
    rows = VitalSigns.objects.filter(pk__in=last_ids.union(support_ids)).annotate(
        course_pk=F("check_entry__course_id"), at=F("check_entry__observed_at")
    )
    # The latest of a course's (one or two) rows is its last record; the latest of those that
    # recorded oxygen is its last oxygen/vasopressor record (it may be the same row).
    vitals: dict[int, Vitals] = {}
    support: dict[int, Support] = {}
    for row in sorted(rows, key=lambda row: (row.at, row.pk)):
        age = duration_words(now - row.at)
        vitals[row.course_pk] = Vitals(
            row.at,
            age,
            row.temp_c,
            row.heart_rate_bpm,
            row.resp_rate_per_min,
            row.sbp_mmhg,
            row.dbp_mmhg,
            row.spo2_pct,
        )
        if row.oxygen_support:
            support[row.course_pk] = Support(
                row.at, age, row.oxygen_label, row.vasopressors_count, row.vasopressin
            )
    return vitals, support


def steroid_totals(doses: list[tuple[datetime, str, Decimal, str]]) -> tuple[DrugTotal, ...]:
    """Per corticosteroid given, its doses and milligrams (as the registry summary counts)."""
    totals = []
    for drug in CORTICOSTEROIDS:
        given = [(dose, unit) for _, name, dose, unit in doses if name == drug]
        if not given:
            continue
        converted = [dose * TO_MG[unit] for dose, unit in given if unit in TO_MG]
        totals.append(
            DrugTotal(
                drug=drug,
                label=Treatment.Drug(drug).label,
                doses=len(given),
                total_mg=sum(converted, Decimal(0)) if converted else None,
                unconverted_doses=len(given) - len(converted),
            )
        )
    return tuple(totals)


def handover_blocks(courses: list, *, now: datetime) -> list[HandoverBlock]:
    """The handover facts of ``courses`` in five queries, whatever their number."""
    if not courses:
        return []
    ids = [course.pk for course in courses]
    # Each course's last NEURO_SHOWN assessments, found by walking its checks' (course, time)
    # index back, one subquery per place (the last, the one before, …), their ids in one IN:
    # ranking every assessment of the courses with a window read the whole table on
    # PostgreSQL (27 ms at 10,000 patients, 2.5 ms this way).
    latest = (
        NeuroAssessment.objects.current()
        .filter(check_entry__course_id=OuterRef("pk"))
        .order_by("-check_entry__observed_at", "-pk")
        .values("pk")
    )
    courses_here = TreatmentCourse.objects.filter(pk__in=ids)
    places = [
        courses_here.annotate(neuro=Subquery(latest[place : place + 1]))
        .order_by()  # a member of a union (SQLite refuses its ordering)
        .values("neuro")
        for place in range(NEURO_SHOWN)
    ]
    neuro_rows = (
        NeuroAssessment.objects.filter(pk__in=places[0].union(*places[1:]))
        .annotate(course_pk=F("check_entry__course_id"), at=F("check_entry__observed_at"))
        .values_list("course_pk", "at", "ice_total", "capd_total")
    )
    neuro: dict[int, list[NeuroPoint]] = {}
    for course_id, at, ice, capd in neuro_rows:
        if ice is not None:
            point = NeuroPoint(at, f"ICE {ice}/10", ice, capd=False)
        elif capd is not None:
            point = NeuroPoint(at, f"CAPD {capd}/32", capd, capd=True)
        else:
            point = NeuroPoint(at, gettext("not assessable"), None, capd=False)
        neuro.setdefault(course_id, []).append(point)
    toci: dict[int, list[datetime]] = {}
    steroids: dict[int, list[tuple[datetime, str, Decimal, str]]] = {}
    for course_id, at, drug, dose, unit in (
        Treatment.objects.current()
        .filter(
            # The courses' checks as a subquery: SQLite then reads the doses through the
            # checks' index, where a join on course scanned every dose of the hospital.
            check_entry__in=BedsideCheck.objects.filter(course_id__in=ids),
            drug__in=[Treatment.Drug.TOCILIZUMAB, *CORTICOSTEROIDS],
        )
        .values_list(
            "check_entry__course_id", "check_entry__observed_at", "drug", "dose", "dose_unit"
        )
    ):
        if drug == Treatment.Drug.TOCILIZUMAB:
            toci.setdefault(course_id, []).append(at)
        else:
            steroids.setdefault(course_id, []).append((at, drug, dose, unit))
    vitals, support = latest_vitals(ids, now=now)
    flags: dict[int, list[Flag]] = {}
    for flag in (
        Flag.objects.unresolved().filter(course_id__in=ids).order_by("-severity", "raised_at", "pk")
    ):
        flags.setdefault(flag.course_id, []).append(flag)
    notes = {
        note.course_id: note
        for note in HandoverNote.objects.filter(course_id__in=ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=F("course_id"),
                order_by=[F("written_at").desc(), F("pk").desc()],
            )
        )
        .filter(rank=1)
        .select_related("written_by")
    }
    day_ago = now - timedelta(hours=24)
    family_names = Counter(course.patient.family_name.casefold() for course in courses)
    blocks = []
    for course in courses:
        status = getattr(course, "status_row", None)
        points = sorted(neuro.get(course.pk, []), key=lambda p: p.at)
        doses = toci.get(course.pk, [])
        steroid_doses = steroids.get(course.pk, [])
        blocks.append(
            HandoverBlock(
                course=course,
                status=status,
                neuro=points,
                neuro_trend=neuro_trend(points),
                flags=flags.get(course.pk, []),
                tocilizumab_24h=sum(1 for at in doses if day_ago < at <= now),
                tocilizumab_course=len(doses),
                due=[
                    DueLine(
                        due.label,
                        due.next_due,
                        duration_words(due.overdue_by) if due.is_overdue else "",
                        due.deferred_reason,
                    )
                    for due in due_checks(course, status, now=now)[:DUE_SHOWN]
                ],
                note=notes.get(course.pk),
                name_alert=family_names[course.patient.family_name.casefold()] > 1,
                vitals=vitals.get(course.pk),
                support=support.get(course.pk),
                steroids=steroid_totals(steroid_doses),
                steroids_24h=sum(1 for at, *_ in steroid_doses if day_ago < at <= now),
            )
        )
    return blocks

"""The shift handover's read model: per patient, the facts the next shift needs, in four queries.

Rendered by ``views/exports.handover``; like ``course_page``, it reads and never writes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from monitoring.models import Flag, HandoverNote, NeuroAssessment, Treatment
from monitoring.schedule import due_checks, human_duration

DUE_SHOWN = 3  # the handover lists the next few checks, most pressing first


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


def handover_blocks(courses: list, *, now: datetime) -> list[HandoverBlock]:
    """The handover facts of ``courses`` in four queries, whatever their number."""
    if not courses:
        return []
    ids = [course.pk for course in courses]
    latest_first = [F("check_entry__observed_at").desc(), F("pk").desc()]
    neuro_rows = (
        NeuroAssessment.objects.current()
        .filter(check_entry__course_id__in=ids)
        .annotate(
            course_pk=F("check_entry__course_id"),
            at=F("check_entry__observed_at"),
            rank=Window(
                RowNumber(), partition_by=F("check_entry__course_id"), order_by=latest_first
            ),
        )
        .filter(rank__lte=3)
        .values_list("course_pk", "at", "ice_total", "capd_total")
    )
    neuro: dict[int, list[NeuroPoint]] = {}
    for course_id, at, ice, capd in neuro_rows:
        if ice is not None:
            point = NeuroPoint(at, f"ICE {ice}/10", ice, capd=False)
        elif capd is not None:
            point = NeuroPoint(at, f"CAPD {capd}/32", capd, capd=True)
        else:
            point = NeuroPoint(at, "not assessable", None, capd=False)
        neuro.setdefault(course_id, []).append(point)
    toci: dict[int, list[datetime]] = {}
    for course_id, at in (
        Treatment.objects.current()
        .filter(check_entry__course_id__in=ids, drug=Treatment.Drug.TOCILIZUMAB)
        .values_list("check_entry__course_id", "check_entry__observed_at")
    ):
        toci.setdefault(course_id, []).append(at)
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
                        human_duration(due.overdue_by) if due.is_overdue else "",
                        due.deferred_reason,
                    )
                    for due in due_checks(course, status, now=now)[:DUE_SHOWN]
                ],
                note=notes.get(course.pk),
                name_alert=family_names[course.patient.family_name.casefold()] > 1,
            )
        )
    return blocks

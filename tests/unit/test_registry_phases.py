"""The journey's phases the registry exports (issue 14 §4; monitoring/registry.py "Phases",
journey.phase_history): which phases a course went through and the date each started, why the
journey ended, the conditioning regimen. The phases and their order are issue 14's
(docs/clinical-rules.md, "Treatment journey"). Plain rows in, no database."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from monitoring import journey, registry
from monitoring.models import CoursePhase, TreatmentCourse

INFUSED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # day 0
DAY0 = timezone.localdate(INFUSED)


def d(n: int) -> date:
    """Day n relative to day 0 (D-10 is ``d(-10)``)."""
    return DAY0 + timedelta(days=n)


def at(n: int) -> datetime:
    return INFUSED + timedelta(days=n)


def phase(code, start, end=None, *, regimen="", note=""):
    return CoursePhase(phase=code, started_on=start, ended_on=end, regimen=regimen, note=note)


RECORDED = [
    phase("referral", d(-60)),
    phase("collection", d(-50), d(-50)),
    phase("manufacturing", d(-49), d(-20)),
    phase("conditioning", d(-5), d(-3), regimen="Fludarabine/cyclophosphamide"),
]

SCENARIOS = [
    pytest.param(
        "planned",
        None,
        "",
        RECORDED[:2],
        {"referral": d(-60), "collection": d(-50)},
        "",
        id="planned: only what was recorded, day 0 is a plan",
    ),
    pytest.param(
        "monitoring",
        None,
        "",
        RECORDED,
        {
            "referral": d(-60),
            "collection": d(-50),
            "manufacturing": d(-49),
            "conditioning": d(-5),
            "infusion": d(0),
            "acute_monitoring": d(0),
        },
        "",
        id="under monitoring: the recorded phases, then day 0",
    ),
    pytest.param(
        "completed",
        at(20),
        "Window over",
        [],
        {"infusion": d(0), "acute_monitoring": d(0), "follow_up": d(20)},
        "",
        id="monitoring completed: follow-up from its end; the end of monitoring is no end",
    ),
    pytest.param(
        "completed",
        at(20),
        "Window over",
        [phase("ended", d(200), note="Lost to follow-up")],
        {
            "infusion": d(0),
            "acute_monitoring": d(0),
            "follow_up": d(20),
            "ended": d(200),
        },
        "Lost to follow-up",
        id="follow-up ended, with its reason",
    ),
    pytest.param(
        "died",
        at(5),
        "Grade 4 ICANS",
        RECORDED[:1],
        {"referral": d(-60), "infusion": d(0), "acute_monitoring": d(0), "ended": d(5)},
        "Grade 4 ICANS",
        id="died during monitoring: no follow-up",
    ),
    pytest.param(
        "discontinued",
        at(-10),
        "Manufacturing failed",
        RECORDED[:3],
        {"referral": d(-60), "collection": d(-50), "manufacturing": d(-49), "ended": d(-10)},
        "Manufacturing failed",
        id="planned course ended before its day 0: no infusion",
    ),
]


@pytest.mark.parametrize(
    ("status", "ended_at", "end_reason", "recorded", "starts", "reason"), SCENARIOS
)
def test_phases_a_course_went_through(status, ended_at, end_reason, recorded, starts, reason):
    course = TreatmentCourse(
        status=status, infused_at=INFUSED, monitoring_ended_at=ended_at, end_reason=end_reason
    )
    summary = registry.summarise(
        course_id=1,
        mrn="MRN1",
        product="Axicabtagene ciloleucel",
        infused_at=INFUSED,
        points=[],
        treatments=[],
        now=at(300),
    )
    summary = replace(summary, phases=tuple(journey.phase_history(course, recorded)))

    assert summary.phase_starts == starts
    assert list(summary.phase_starts) == [p for p in registry.PHASE_COLUMNS if p in starts]
    assert summary.end_reason == reason
    regimen = "Fludarabine/cyclophosphamide" if "conditioning" in starts else ""
    assert summary.conditioning_regimen == regimen


def test_a_phase_period_ends_when_recorded_and_acute_monitoring_at_its_end():
    course = TreatmentCourse(status="completed", infused_at=INFUSED, monitoring_ended_at=at(20))

    rows = {row.phase: row for row in journey.phase_history(course, RECORDED)}

    assert (rows["manufacturing"].started_on, rows["manufacturing"].ended_on) == (d(-49), d(-20))
    assert (rows["referral"].started_on, rows["referral"].ended_on) == (d(-60), None)
    assert (rows["acute_monitoring"].started_on, rows["acute_monitoring"].ended_on) == (
        d(0),
        d(20),
    )
    assert rows["follow_up"].ended_on is None  # still in follow-up

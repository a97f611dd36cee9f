"""Which doses the registry counts as CRS or ICANS therapy (issue 10 §7; monitoring/registry.py).

CIBMTR's instructions report a prophylactic drug as therapy only when it is continued after the
diagnosis: a dose counts for an episode when given during it, or when it belongs to a course of
that drug (doses ≤ 36 h apart) started before the onset and continued into it. Drugs per domain
follow ASCO 2021 (reference §7.2 CRS, §7.3 ICANS): levetiracetam is ICANS therapy only.
Plain rows in, no database."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from monitoring import registry
from monitoring.registry import GradePoint, TreatmentRow

INFUSED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # day 0


def h(hours: float) -> datetime:
    return INFUSED + timedelta(hours=hours)


def dose(hours, drug, amount="10"):
    return TreatmentRow(at=h(hours), drug=drug, dose=Decimal(amount), dose_unit="mg")


def summary(*, crs=(), icans=(), treatments=(), now_hours=24 * 30):
    """crs / icans: (hours, grade) points of each domain."""
    points = [GradePoint(at=h(t), crs=g, icans=None) for t, g in crs]
    points += [GradePoint(at=h(t), crs=None, icans=g) for t, g in icans]
    return registry.summarise(
        course_id=1,
        mrn="MRN1",
        product="Axicabtagene ciloleucel",
        infused_at=INFUSED,
        points=points,
        treatments=list(treatments),
        now=h(now_hours),
    )


def doses(totals: dict) -> dict:
    return {name: total.doses for name, total in totals.items() if total.doses}


# CRS from 60 h to 100 h (resolved: 0 for 24 h after), on a course with grades from 4 h.
CRS_60_TO_100 = ((4, 0), (60, 1), (72, 2), (100, 0), (130, 0))
ICANS_110_TO_140 = ((4, 0), (110, 1), (120, 2), (140, 0), (170, 0))

SCENARIOS = [
    pytest.param(
        CRS_60_TO_100,
        (),
        [dose(2, "dexamethasone"), dose(26, "dexamethasone")],
        {},
        {},
        {"dexamethasone": 2},
        id="prophylactic steroid stopped 34 h before onset: not CRS therapy",
    ),
    pytest.param(
        CRS_60_TO_100,
        (),
        [dose(t, "dexamethasone") for t in (2, 26, 50, 74)],
        {"dexamethasone": 4},
        {},
        {},
        id="prophylactic steroid continued after onset: the whole course counts",
    ),
    pytest.param(
        CRS_60_TO_100,
        (),
        [dose(64, "tocilizumab", "560"), dose(72, "tocilizumab", "560")],
        {"tocilizumab": 2},
        {},
        {},
        id="tocilizumab given during the episode",
    ),
    pytest.param(
        CRS_60_TO_100,
        (),
        [dose(t, "methylprednisolone", "500") for t in (80, 92, 104, 116, 128)],
        {"methylprednisolone": 5},
        {},
        {},
        id="a taper that runs on past resolution is still the episode's therapy",
    ),
    pytest.param(
        CRS_60_TO_100,
        (),
        [dose(80, "dexamethasone"), dose(200, "dexamethasone")],
        {"dexamethasone": 1},
        {},
        {"dexamethasone": 1},
        id="a new course days after resolution treats nothing",
    ),
    pytest.param(
        CRS_60_TO_100,
        (),
        [dose(60, "tocilizumab", "560")],
        {"tocilizumab": 1},
        {},
        {},
        id="a dose at the moment of onset counts",
    ),
    pytest.param(
        CRS_60_TO_100,
        (),
        [dose(59.9, "tocilizumab", "560")],
        {},
        {},
        {"tocilizumab": 1},
        id="a single dose before onset, not continued, is not therapy",
    ),
    pytest.param(
        CRS_60_TO_100,
        (),
        [dose(20, "dexamethasone"), dose(56, "dexamethasone"), dose(80, "dexamethasone")],
        {"dexamethasone": 3},
        {},
        {},
        id="36 h apart is still one continued course",
    ),
    pytest.param(
        CRS_60_TO_100,
        (),
        [dose(20, "dexamethasone"), dose(57, "dexamethasone"), dose(80, "dexamethasone")],
        {"dexamethasone": 2},
        {},
        {"dexamethasone": 1},
        id="more than 36 h apart: the earlier dose was a course of its own",
    ),
    pytest.param(
        CRS_60_TO_100,
        ICANS_110_TO_140,
        [dose(t, "levetiracetam", "750") for t in range(0, 181, 12)],
        {},
        {"levetiracetam": 16},
        {},
        id="seizure prophylaxis continued into ICANS: ICANS therapy, never CRS",
    ),
    pytest.param(
        CRS_60_TO_100,
        (),
        [dose(t, "levetiracetam", "750") for t in (70, 82)],
        {},
        {},
        {"levetiracetam": 2},
        id="levetiracetam during CRS alone is not CRS therapy",
    ),
    pytest.param(
        ((4, 0), (96, 3), (110, 0), (120, 0)),
        ((4, 0), (100, 2), (130, 0), (160, 0)),
        [dose(98, "dexamethasone"), dose(104, "dexamethasone")],
        {"dexamethasone": 2},
        {"dexamethasone": 2},
        {},
        id="a steroid during overlapping CRS and ICANS counts for both, once in the totals",
    ),
    pytest.param(
        (),
        (),
        [dose(-20, "dexamethasone"), dose(10, "anakinra", "100")],
        {},
        {},
        {"anakinra": 1},
        id="nothing graded: doses from day 0 are not therapy; before day 0 not listed at all",
    ),
]


@pytest.mark.parametrize(("crs", "icans", "treatments", "for_crs", "for_icans", "apart"), SCENARIOS)
def test_doses_are_attributed_to_the_episode_they_treat(
    crs, icans, treatments, for_crs, for_icans, apart
):
    result = summary(crs=crs, icans=icans, treatments=treatments)

    assert doses(result.crs.therapy) == for_crs
    assert doses(result.icans.therapy) == for_icans
    assert doses(result.not_counted) == apart
    # The registry totals (the CSV's dose columns) are the doses given as therapy, each dose
    # once (in these scenarios the doses counted for both domains are the same ones).
    drugs = set(for_crs) | set(for_icans)
    assert doses(result.drugs) == {d: max(for_crs.get(d, 0), for_icans.get(d, 0)) for d in drugs}


def test_an_episode_still_running_counts_every_dose_since_its_onset():
    result = summary(crs=((4, 0), (60, 2), (70, 2)), treatments=[dose(65, "tocilizumab", "560")])

    assert result.crs.ongoing
    assert doses(result.crs.therapy) == {"tocilizumab": 1}


def test_the_totals_and_texts_the_page_and_csv_show():
    result = summary(
        crs=CRS_60_TO_100,
        treatments=[
            dose(2, "dexamethasone"),  # prophylaxis, stopped
            dose(64, "tocilizumab", "560"),
            dose(72, "tocilizumab", "560"),
            dose(74, "dexamethasone"),
        ],
    )

    assert result.drugs["tocilizumab"].total_mg == Decimal(1120)
    assert result.drugs["dexamethasone"].doses == 1  # the prophylactic dose is not therapy
    assert registry.therapy_text(result.crs.therapy_given) == (
        "Tocilizumab x2 (1120 mg); Dexamethasone x1 (10 mg)"
    )
    assert registry.therapy_text(result.not_counted_given) == "Dexamethasone x1 (10 mg)"
    assert result.drugs["tocilizumab"].text == "2 doses · 1120 mg"
    rows = {row["label"]: row for row in result.treatment_table}
    assert set(rows) == {"Tocilizumab", "Dexamethasone"}
    assert rows["Dexamethasone"]["not_counted"].text == "1 dose · 10 mg"

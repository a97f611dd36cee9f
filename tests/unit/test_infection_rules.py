"""Infection prevention rules, table-driven (monitoring/infection_rules.py, flag_rules).

Sources: reference §4.6 — antiviral from lymphodepletion to ≥ 1 year (EHA/EBMT, S10d); PJP from
D+14 for 18 months (Stanford, S14a); IgG replacement below 400 mg/dL (Stanford, S14a);
neutropenic fever: ASCO 2021 (S3) with ANC < 0.5 ×10⁹/L, the ICAHT cut-off of §4.2 (S10b).
"""

from datetime import date, timedelta

import pytest

from monitoring import flag_rules, infection_rules
from monitoring.infection_rules import Given, ItemState

DAY0 = date(2026, 3, 10)
ANTIVIRAL, PJP, ANTIFUNGAL, HBV = infection_rules.DEFAULT_PROPHYLAXIS


def on(day):
    return DAY0 + timedelta(days=day)


@pytest.mark.parametrize(
    ("item", "records", "today", "state"),
    [
        # antiviral: D-5 to D+365 (EHA/EBMT, S10d)
        (ANTIVIRAL, [], -6, ItemState.NOT_YET),
        (ANTIVIRAL, [], -5, ItemState.DUE),
        (ANTIVIRAL, [], 3, ItemState.DUE),
        (ANTIVIRAL, [Given(on(-5))], 3, ItemState.ACTIVE),
        (ANTIVIRAL, [Given(on(-5), on(2))], 3, ItemState.LAPSED),
        (ANTIVIRAL, [Given(on(-5), on(2), "renal injury")], 3, ItemState.STOPPED),
        (ANTIVIRAL, [Given(on(-5), on(365))], 366, ItemState.COMPLETED),
        (ANTIVIRAL, [Given(on(-5), on(2)), Given(on(4))], 5, ItemState.ACTIVE),  # restarted
        (ANTIVIRAL, [Given(on(-5), on(9))], 3, ItemState.ACTIVE),  # stop date still ahead
        (ANTIVIRAL, [], 400, ItemState.OVER),
        # PJP: D+14 to D+548 (Stanford, S14a)
        (PJP, [], 13, ItemState.NOT_YET),
        (PJP, [], 14, ItemState.DUE),
        # "where indicated" items are never due, but lapse once started (S14a)
        (HBV, [], 10, ItemState.WHERE_INDICATED),
        (HBV, [Given(on(-5), on(30))], 40, ItemState.LAPSED),
        (ANTIFUNGAL, [], 10, ItemState.WHERE_INDICATED),
        (ANTIFUNGAL, [Given(on(3), on(10))], 12, ItemState.LAPSED),  # no planned end: a reason
        ({**ANTIFUNGAL, "where_indicated": False}, [], 10, ItemState.BY_CONDITION),
    ],
)
def test_where_a_checklist_item_stands(item, records, today, state):
    assert infection_rules.item_status(item, records, day0=DAY0, today=on(today)).state == state


@pytest.mark.parametrize(
    ("latest", "threshold", "product", "products", "doses", "reason"),
    [
        ((310, on(28)), 400, "axi-cel", [], [], "low"),  # Stanford: < 400 mg/dL (S14a)
        ((400, on(28)), 400, "axi-cel", [], [], None),  # the threshold itself is not below
        ((310, on(28)), 400, "axi-cel", [], [on(29)], None),  # planned after the draw
        ((310, on(28)), 400, "axi-cel", [], [on(20)], "low"),  # given before it: still low
        ((310, on(28)), None, "axi-cel", [], [], None),  # no threshold on the protocol
        (None, 400, "teclistamab", ["teclistamab"], [], "product"),  # centre's product list
        (None, 400, "teclistamab", ["teclistamab"], [on(1)], None),
        (None, 400, "axi-cel", ["teclistamab"], [], None),
    ],
)
def test_when_an_immunoglobulin_replacement_is_wanted(
    latest, threshold, product, products, doses, reason
):
    need = infection_rules.igg_replacement_need(
        latest_igg=latest,
        threshold=threshold,
        product=product,
        products=products,
        replacement_dates=doses,
        day0=DAY0,
    )
    assert (need.reason if need else None) == reason


@pytest.mark.parametrize(
    ("temp", "anc", "flagged"),
    [
        (38.0, 0.49, True),  # fever ≥ 38.0 °C (ASTCT, reference §1.2) with ANC < 0.5
        (37.9, 0.1, False),
        (38.5, 0.5, False),  # 500/µL is not below 500
        (39.0, None, False),  # no recent count: nothing to say
        (None, 0.1, False),
    ],
)
def test_neutropenic_fever(temp, anc, flagged):
    specs = flag_rules.neutropenic_fever_flags(
        temp_c=temp,
        temp_label="D+3 14:00",
        anc=anc,
        anc_label="D+3 06:00",
        fever_c=38.0,
        anc_below=0.5,
    )
    assert bool(specs) is flagged
    if specs:
        assert specs[0].severity == flag_rules.URGENT
        assert "not only CRS" in specs[0].message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"code": "Bad Code"}, "a code of lower-case"),
        ({"start_day": None, "start_when": ""}, "say when it starts"),
        ({"stop_day": -9}, "it must stop after it starts"),
        ({"start_day": 5000}, "must be a day from"),
        ({"where_indicated": "yes"}, "is yes or no"),
        ({"label": ""}, "a label is required"),
        ({"colour": "red"}, "unknown settings"),
    ],
)
def test_a_bad_checklist_is_refused_with_a_message(change, problem):
    problems = infection_rules.checklist_problems([{**ANTIVIRAL, **change}])
    assert any(problem in text % params for text, params in problems)


def test_the_default_checklist_is_valid_and_codes_must_be_unique():
    assert infection_rules.checklist_problems(infection_rules.DEFAULT_PROPHYLAXIS) == []
    assert infection_rules.checklist_problems([ANTIVIRAL, ANTIVIRAL])

"""Infection prevention as protocol data and plain rules: the prophylaxis checklist, where each
item stands on a given day, the IgG replacement policy and neutropenic fever.

Pure Python over plain values (no Django, no queries), so the write path, the worker's sweep,
the course page and the demo decide alike. Defaults come from the project's clinical reference
§4.6 (infection prophylaxis and neutropenic fever) and the sources it cites; where the reference
is silent the value is a centre choice and docs/clinical-rules.md says so. Decision support, not
orders: each centre reviews the checklist on its protocol version.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

# --- Protocol data ---------------------------------------------------------------------------

# One checklist item (ProtocolVersion.prophylaxis): when it starts and stops, as a day relative
# to day 0 (the infusion; an engager's first dose) or a condition in words, and whether it is
# given only "where indicated" (the app cannot know an HBV serology or a mould history: such an
# item is never flagged as due, only as lapsed once started).
ITEM_KEYS = (
    "code",
    "label",
    "drugs",
    "start_day",
    "start_when",
    "stop_day",
    "stop_when",
    "where_indicated",
)
DAY_RANGE = (-60, 3 * 365)  # from bridging/conditioning to three years after day 0
CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
TEXT_LIMITS = {"label": 100, "drugs": 300, "start_when": 200, "stop_when": 200}

# Reference §4.6; each item's source is in docs/clinical-rules.md ("Infection prevention").
DEFAULT_PROPHYLAXIS = [
    {
        # EHA/EBMT (S10d): from lymphodepletion (Flu/Cy D−5) until ≥ 1 year after infusion
        # and/or CD4 > 0.2 ×10⁹/L.
        "code": "antiviral",
        "label": "Antiviral (HSV/VZV)",
        "drugs": "aciclovir 800 mg twice daily or valaciclovir 500 mg twice daily",
        "start_day": -5,
        "start_when": "from lymphodepletion",
        "stop_day": 365,
        "stop_when": "≥ 1 year after infusion and/or CD4 > 0.2 ×10⁹/L",
        "where_indicated": False,
    },
    {
        # Stanford (S14a): atovaquone from D+14, co-trimoxazole once no grade ≥ 3 cytopenia
        # after D+28; 18 months or until CD4 > 200/µL. Some programs start before conditioning
        # (S17c): a centre choice.
        "code": "pjp",
        "label": "PJP",
        "drugs": "co-trimoxazole (TMP-SMX); atovaquone 1500 mg daily while cytopenic",
        "start_day": 14,
        "start_when": "",
        "stop_day": 548,
        "stop_when": "18 months or until CD4 > 200/µL",
        "where_indicated": False,
    },
    {
        # Stanford (S14a), ASCO (S3): fluconazole during severe mucositis or neutropenia;
        # mould-active prophylaxis with prior mould infection, prolonged neutropenia or
        # high-dose steroids.
        "code": "antifungal",
        "label": "Antifungal",
        "drugs": "fluconazole; posaconazole (mould-active) where indicated",
        "start_day": None,
        "start_when": "severe mucositis or neutropenia; high-dose steroids; prior mould infection",
        "stop_day": None,
        "stop_when": "when the indication has passed",
        "where_indicated": True,
    },
    {
        # Stanford (S14a): entecavir if HBsAg, anti-HBc or HBV DNA positive, from before
        # lymphodepletion for ≥ 12 months.
        "code": "hbv",
        "label": "Hepatitis B",
        "drugs": "entecavir",
        "start_day": -5,
        "start_when": "before lymphodepletion, if HBsAg, anti-HBc or HBV DNA positive",
        "stop_day": 365,
        "stop_when": "≥ 12 months",
        "where_indicated": True,
    },
]


def default_prophylaxis() -> list[dict]:
    """A fresh copy of the default checklist (a model field's default)."""
    return copy.deepcopy(DEFAULT_PROPHYLAXIS)


# Stanford (S14a): IVIG 0.5 g/kg if IgG < 400 mg/dL with sinopulmonary infection(s).
DEFAULT_IGG_THRESHOLD_MG_DL = 400
IGG_THRESHOLD_RANGE = (100, 1500)  # mg/dL
# Neutropenia: ANC below 0.5 ×10⁹/L (500/µL), the ICAHT cut-off of reference §4.2 (EHA/EBMT,
# S10b). Reference §4.6 (ASCO, S3) says "if neutropenic" without a number: a centre choice.
DEFAULT_ANC_THRESHOLD = Decimal("0.5")
ANC_THRESHOLD_RANGE = (Decimal("0.1"), Decimal("2.0"))  # ×10⁹/L
# How recent an ANC counts for neutropenic fever: labs are drawn daily while inpatient
# (reference §5.1, §6.1 [C]), so a day's count plus half a day's grace. A centre choice.
DEFAULT_ANC_VALID_HOURS = 36
ANC_VALID_HOURS_RANGE = (6, 7 * 24)


def _(text: str) -> str:
    """Marks a message for translation (makemessages extracts ``_``) without importing Django:
    the caller translates it (models.protocols.validate_prophylaxis)."""
    return text


def checklist_problems(items) -> list[tuple[str, dict]]:
    """What is wrong with a prophylaxis checklist, as (English template, params) pairs for the
    caller to translate. Empty: it is valid."""
    if not isinstance(items, list):
        return [(_("The prophylaxis checklist must be a list of items."), {})]
    problems, codes, where = [], set(), {"n": 0}

    def problem(text: str, **params) -> None:
        problems.append((text, {**where, **params}))

    for number, item in enumerate(items, start=1):
        where["n"] = number
        if not isinstance(item, dict) or set(item) - set(ITEM_KEYS):
            problem(
                _("Item %(n)s: unknown settings (allowed: %(keys)s)."), keys=", ".join(ITEM_KEYS)
            )
            continue
        code = item.get("code")
        if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
            problem(_("Item %(n)s: a code of lower-case letters, digits and _ is required."))
        elif code in codes:
            problem(_("Item %(n)s: the code %(code)s is used twice."), code=code)
        codes.add(code)
        for key, limit in TEXT_LIMITS.items():
            value = item.get(key, "")
            if not isinstance(value, str) or len(value) > limit:
                problem(
                    _("Item %(n)s: %(key)s must be text of at most %(limit)s characters."),
                    key=key,
                    limit=limit,
                )
        if not str(item.get("label", "")).strip():
            problem(_("Item %(n)s: a label is required."))
        days = {}
        for key in ("start_day", "stop_day"):
            value = item.get(key)
            if value is not None and (
                type(value) is not int or not DAY_RANGE[0] <= value <= DAY_RANGE[1]
            ):
                problem(
                    _("Item %(n)s: %(key)s must be a day from %(low)s to %(high)s."),
                    key=key,
                    low=DAY_RANGE[0],
                    high=DAY_RANGE[1],
                )
            else:
                days[key] = value
        if item.get("start_day") is None and not str(item.get("start_when", "")).strip():
            problem(_("Item %(n)s: say when it starts (a day or a condition)."))
        if item.get("stop_day") is None and not str(item.get("stop_when", "")).strip():
            problem(_("Item %(n)s: say when it stops (a day or a condition)."))
        if (
            days.get("start_day") is not None
            and days.get("stop_day") is not None
            and days["stop_day"] <= days["start_day"]
        ):
            problem(_("Item %(n)s: it must stop after it starts."))
        if not isinstance(item.get("where_indicated", False), bool):
            problem(_("Item %(n)s: 'where indicated' is yes or no."))
    return problems


def products_problems(products) -> list[tuple[str, dict]]:
    if not isinstance(products, list) or not all(
        isinstance(p, str) and 0 < len(p) <= 32 for p in products
    ):
        return [
            (_("The products for immunoglobulin replacement must be a list of product codes."), {})
        ]
    return []


# --- Where each checklist item stands ---------------------------------------------------------


class ItemState:
    NOT_YET = "not_yet"  # its start day has not come
    DUE = "due"  # start reached, not started: flagged
    ACTIVE = "active"
    COMPLETED = "completed"  # stopped on or after its planned end
    STOPPED = "stopped"  # stopped early, with a reason
    LAPSED = "lapsed"  # stopped before its planned end without a reason: flagged
    WHERE_INDICATED = "where_indicated"  # conditional, not started
    BY_CONDITION = "by_condition"  # starts on a condition, not started
    OVER = "over"  # its planned end has passed, never started


FLAGGED_STATES = (ItemState.DUE, ItemState.LAPSED)


@dataclass(frozen=True)
class Given:
    """One prophylaxis record as plain values (a current ProphylaxisCourse)."""

    started_on: date
    stopped_on: date | None = None
    stop_reason: str = ""
    drug: str = ""


@dataclass(frozen=True)
class ItemStatus:
    item: dict
    state: str
    start_on: date | None  # the planned start date (day 0 + start_day)
    end_on: date | None  # the planned end date (day 0 + stop_day)
    latest: Given | None

    @property
    def flagged(self) -> bool:
        return self.state in FLAGGED_STATES


def item_status(item: dict, records: list[Given], *, day0: date, today: date) -> ItemStatus:
    """Where one checklist item stands today. ``records`` are the course's current records of
    the item; the latest started one decides (a restart after a lapse makes it active again)."""
    start_on = _on(day0, item.get("start_day"))
    end_on = _on(day0, item.get("stop_day"))
    latest = max(records, key=lambda r: (r.started_on, r.stopped_on or date.max), default=None)

    def status(state: str) -> ItemStatus:
        return ItemStatus(item, state, start_on, end_on, latest)

    if latest is None:
        if item.get("where_indicated"):
            return status(ItemState.WHERE_INDICATED)
        if start_on is None:
            return status(ItemState.BY_CONDITION)
        if today < start_on:
            return status(ItemState.NOT_YET)
        if end_on is not None and today >= end_on:
            return status(ItemState.OVER)
        return status(ItemState.DUE)
    if latest.stopped_on is None or latest.stopped_on > today:
        return status(ItemState.ACTIVE)
    if end_on is not None and latest.stopped_on >= end_on:
        return status(ItemState.COMPLETED)
    if latest.stop_reason.strip():
        return status(ItemState.STOPPED)
    return status(ItemState.LAPSED)


def checklist_status(
    items: list[dict], records: dict[str, list[Given]], *, day0: date, today: date
) -> list[ItemStatus]:
    return [
        item_status(item, records.get(item["code"], []), day0=day0, today=today) for item in items
    ]


def _on(day0: date, day: int | None) -> date | None:
    return None if day is None else day0 + timedelta(days=day)


# --- Immunoglobulin G -------------------------------------------------------------------------


@dataclass(frozen=True)
class IgGNeed:
    """Why a replacement is wanted and none is planned: a low level or the product's policy."""

    reason: str  # "low" or "product"
    igg_mg_dl: float | None = None
    drawn_on: date | None = None
    threshold: int | None = None


def igg_replacement_need(
    *,
    latest_igg: tuple[float, date] | None,
    threshold: int | None,
    product: str,
    products: list[str],
    replacement_dates: list[date],
    day0: date,
) -> IgGNeed | None:
    """A replacement the protocol asks for and nothing planned or given covers, or None.

    The latest IgG below the threshold needs a replacement planned (or given) on or after the
    day it was drawn; a course on a product the protocol lists needs one from day 0 on."""
    if latest_igg is not None and threshold is not None:
        value, drawn_on = latest_igg
        if value < threshold and not any(on >= drawn_on for on in replacement_dates):
            return IgGNeed("low", value, drawn_on, threshold)
    if product in products and not any(on >= day0 for on in replacement_dates):
        return IgGNeed("product")
    return None


# --- Neutropenic fever ------------------------------------------------------------------------


def is_neutropenic(anc_10e9_l: float, threshold: float) -> bool:
    """ANC below the protocol's threshold (default 0.5 ×10⁹/L, i.e. < 500/µL)."""
    return anc_10e9_l < threshold

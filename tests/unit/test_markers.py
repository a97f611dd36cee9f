"""Inflammatory-marker rules (clinical reference §5.1 and §4.1)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitoring.grading import (
    DEFAULT_RISE_FACTOR,
    ferritin_hlh_alert,
    hypofibrinogenaemia,
    marker_rise,
)

T0 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def test_the_default_rise_factor_is_the_template_2_0():
    # Not from a guideline: the reference gives no CRS rise factor; 2.0 echoes IEC-HS's
    # ">2x baseline and rapidly rising" [M] (ref §4.1). Each centre sets its own.
    assert DEFAULT_RISE_FACTOR == 2.0


def test_a_rise_reports_ratio_hours_and_a_sentence():
    rise = marker_rise(
        4200, T0, 9100, hours(14), factor=DEFAULT_RISE_FACTOR, marker="ferritin", unit="ng/mL"
    )
    assert rise is not None
    assert rise.reason == "ferritin 4,200 → 9,100 ng/mL (×2.2 in 14 h)"
    assert rise.ratio == pytest.approx(9100 / 4200)
    assert rise.hours_apart == 14
    assert (rise.previous_value, rise.current_value) == (4200, 9100)


@pytest.mark.parametrize(
    ("previous", "current", "apart_h", "factor", "window_h", "rises"),
    [
        (100, 200, 12, 2.0, 24, True),  # exactly ×2 counts: current ≥ previous × factor
        (100, 199, 12, 2.0, 24, False),  # just under ×2
        (100, 300, 24, 2.0, 24, True),  # the window edge is inside
        (100, 300, 24.5, 2.0, 24, False),  # outside the window
        (100, 300, 30, 2.0, 48, True),  # a centre's longer window
        (100, 250, 6, 3.0, 24, False),  # a centre's stricter factor
        (100, 50, 6, 2.0, 24, False),  # a fall is never a rise
        (100, 200, 0, 2.0, 24, True),  # two results at the same time
        (0.5, 1.5, 10, 1.5, 24, True),  # fractional values and factor
    ],
    ids=[
        "exactly-double",
        "just-under",
        "window-edge",
        "outside-window",
        "longer-window",
        "stricter-factor",
        "fall",
        "same-time",
        "fractional",
    ],
)
def test_a_rise_needs_the_factor_within_the_window(
    previous, current, apart_h, factor, window_h, rises
):
    rise = marker_rise(previous, T0, current, hours(apart_h), factor=factor, window_hours=window_h)
    assert (rise is not None) is rises


def test_the_default_wording_needs_no_marker_or_unit():
    rise = marker_rise(100, T0, 200, hours(24), factor=2.0)
    assert rise.reason == "marker 100 → 200 (×2.0 in 24 h)"


def test_results_in_different_time_zones_are_compared_by_instant():
    # 08:00 at UTC+2 is 06:00 UTC, the same instant as T0: 4 h apart, not 6.
    plus_two = timezone(timedelta(hours=2))
    rise = marker_rise(10, datetime(2025, 3, 1, 8, tzinfo=plus_two), 30, hours(4), factor=2.0)
    assert rise.hours_apart == 4


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((100, datetime(2025, 3, 1), 200, hours(1)), {}, "previous_at must be timezone-aware"),  # noqa: DTZ001
        ((100, T0, 200, datetime(2025, 3, 2)), {}, "current_at must be timezone-aware"),  # noqa: DTZ001
        ((100, "2025-03-01", 200, hours(1)), {}, "previous_at must be a datetime"),
        ((100, T0, 200, hours(-1)), {}, "current_at must not be before previous_at"),
        ((0, T0, 200, hours(1)), {}, "previous_value must be greater than 0"),
        ((-1, T0, 200, hours(1)), {}, "previous_value must be between 0 and"),
        ((100, T0, -5, hours(1)), {"unit": "mg/L"}, "current_value must be between 0 and .* mg/L"),
        ((100, T0, 200, hours(1)), {"factor": 1.0}, "factor must be a number greater than 1"),
        ((100, T0, 200, hours(1)), {"factor": True}, "factor must be a number greater than 1"),
        ((100, T0, 200, hours(1)), {"window_hours": 0}, "window_hours must be greater than 0"),
        ((100, T0, 200, hours(1)), {"window_hours": "24"}, "window_hours must be a number"),
    ],
    ids=[
        "naive-previous",
        "naive-current",
        "string-time",
        "current-before-previous",
        "zero-baseline",
        "negative-previous",
        "negative-current",
        "factor-1",
        "factor-bool",
        "window-0",
        "window-string",
    ],
)
def test_invalid_inputs_raise(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        marker_rise(*args, **({"factor": 2.0} | kwargs))


@pytest.mark.parametrize(
    ("ferritin_ng_ml", "alert"),
    [
        (9_999, False),  # ref §4.1, §5.1 [V: S21]: ≥ 10,000 suggests HLH
        (10_000, True),
        (10_000.0, True),
        (85_000, True),
    ],
    ids=["9999", "10000", "10000.0", "85000"],
)
def test_ferritin_hlh_alert_at_10000(ferritin_ng_ml, alert):
    assert ferritin_hlh_alert(ferritin_ng_ml) is alert


@pytest.mark.parametrize(
    ("fibrinogen_mg_dl", "low"),
    [
        (149.9, True),  # ref §4.1, §5.1 [M]: < 150 mg/dL (1.5 g/L)
        (150, False),
        (320, False),
    ],
    ids=["149.9", "150", "320"],
)
def test_hypofibrinogenaemia_below_150(fibrinogen_mg_dl, low):
    assert hypofibrinogenaemia(fibrinogen_mg_dl) is low


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (ferritin_hlh_alert, -1, "ferritin_ng_ml must be between 0 and .* ng/mL"),
        (ferritin_hlh_alert, "12000", "ferritin_ng_ml must be a number"),
        (hypofibrinogenaemia, -1, "fibrinogen_mg_dl must be between 0 and 10000 mg/dL"),
    ],
    ids=["ferritin-negative", "ferritin-string", "fibrinogen-negative"],
)
def test_invalid_lab_values_raise(check, value, message):
    with pytest.raises(ValueError, match=message):
        check(value)

"""Issue 12 §6: the programme lead's quality page — time from flag to acknowledgement by
severity and unit, escalations by tier, overdue checks per 100 checks, first fever to first
tocilizumab — by ISO week, with a CSV. The scenario runs through the real services (checks
raise the flags, people acknowledge them at known times, the ladder climbs) and the tests
assert the numbers a lead would read."""

import csv
import io
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from monitoring import escalation, quality, services
from monitoring.models import AuditEvent, Flag, OnCallShift, OverdueAlert, User, VitalSigns
from tests.factories import ROOM_AIR, CourseFactory, UserFactory
from tests.web.test_security import csp_violations

PAGE = reverse("monitoring:quality")
CSV = reverse("monitoring:quality-csv")
MONDAY = date(2026, 3, 2)  # ISO week 2026-W10
NORMAL = {"heart_rate_bpm": 80, "resp_rate_per_min": 16, "sbp_mmhg": 120, "dbp_mmhg": 70}
FEVER = {**ROOM_AIR, **NORMAL, "spo2_pct": 98, "temp_c": 38.6}  # CRS 1: two warning flags
FEVER_LOW_BP = {**FEVER, "sbp_mmhg": 82}  # CRS 2: urgent flags
TOCILIZUMAB = {"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"}
PERIOD = {"start": "2026-03-02", "end": "2026-03-15"}  # W10 and W11


def moment(day: int, hour: int, minute: int = 0) -> datetime:
    """A local moment of the fortnight: day 0 is Monday 2 March 2026."""
    midnight = timezone.make_aware(datetime.combine(MONDAY + timedelta(days=day), time.min))
    return midnight + timedelta(hours=hour, minutes=minute)


class Clock:
    """Moves the wall clock: flags are raised and acknowledged "now"."""

    def __init__(self):
        self.traveller = time_machine.travel(moment(0, 0), tick=False)
        self.machine = self.traveller.start()

    def to(self, when: datetime) -> datetime:
        self.machine.move_to(when)
        return when

    def stop(self):
        self.traveller.stop()


@pytest.fixture
def clock():
    running = Clock()
    yield running
    running.stop()


@pytest.fixture
def team(ward_a, nurse, care_team_member):
    """The ward's rota: the nurse at the bedside, a charge nurse, an attending; no fellow."""
    charge = UserFactory(username="cora", role=User.Role.CHARGE_NURSE, units=[ward_a])
    attending = UserFactory(username="att", role=User.Role.CARE_TEAM, units=[ward_a])
    for tier, user in (
        ("bedside_nurse", nurse),
        ("charge_nurse", charge),
        ("attending", attending),
    ):
        OnCallShift.objects.create(
            unit=ward_a, tier=tier, user=user, starts_at=moment(-1, 0), ends_at=None
        )
    return {"nurse": nurse, "charge": charge, "attending": attending, "care": care_team_member}


def check(clock, course, by, when, **sections):
    """A check at ``when`` (observed and recorded then); the ladder's first step at once."""
    clock.to(when)
    services.record_check(course=course, by=by, observed_at=when, **sections)
    for flag in Flag.objects.filter(course=course, escalate_at=when):
        escalation.step(flag.pk, flag.ladder_round, now=when)


def flag(course, kind) -> Flag:
    return Flag.objects.get(course=course, kind=kind)


def acknowledge(clock, course, kind, when, by):
    clock.to(when)
    services.acknowledge_flag(flag=flag(course, kind), by=by)


def report(units, start=MONDAY, end=MONDAY + timedelta(days=13)):
    return quality.build(units, quality.Period(start, end))


W10, W11 = MONDAY, MONDAY + timedelta(weeks=1)


@pytest.fixture
def scenario(clock, ward_a, team):
    """Three courses on ward A in week 10, one worsening in week 11."""
    nurse, care = team["nurse"], team["care"]
    a, b, c = (CourseFactory(unit=ward_a, infused_at=moment(-2, 8)) for _ in range(3))
    # A: fever at 08:00 -> CRS and vital-sign warnings; answered after 10 and 40 minutes.
    check(clock, a, nurse, moment(0, 8), vitals=FEVER)
    acknowledge(clock, a, "crs", moment(0, 8, 10), care)
    acknowledge(clock, a, "vital_sign", moment(0, 8, 40), care)
    # B: fever and low blood pressure at 09:00 -> urgent CRS and hypotension, a warning.
    check(clock, b, nurse, moment(0, 9), vitals=FEVER_LOW_BP)
    acknowledge(clock, b, "crs", moment(0, 9, 4), care)
    acknowledge(clock, b, "hypotension", moment(0, 9, 20), care)
    # B's vital-sign warning is never answered: it climbs the ladder (60 min a rung).
    warning = flag(b, "vital_sign")
    for hours in (10, 11):
        clock.to(moment(0, hours))
        escalation.step(warning.pk, warning.ladder_round, now=moment(0, hours))
    # C: fever at 10:00; its CRS flag resolved without acknowledgement, the other answered.
    check(clock, c, nurse, moment(0, 10), vitals=FEVER)
    acknowledge(clock, c, "vital_sign", moment(0, 10, 30), care)
    clock.to(moment(0, 10, 45))
    services.resolve_flag(flag=flag(c, "crs"), by=care, reason="Paracetamol given, reviewed")
    # Week 11: A's blood pressure falls -> its CRS flag gets worse (counted once, in week
    # 10, at its first answer) and a new hypotension flag, answered after 6 minutes.
    check(clock, a, nurse, moment(7, 8), vitals=FEVER_LOW_BP)
    acknowledge(clock, a, "crs", moment(7, 8, 2), care)
    acknowledge(clock, a, "hypotension", moment(7, 8, 6), care)
    clock.to(moment(13, 12))
    return {"a": a, "b": b, "c": c}


# --- Time to acknowledgement ------------------------------------------------------------------


def test_time_to_acknowledgement_by_severity_and_week(scenario, ward_a):
    result = report([ward_a])

    warnings = result.ack[(W10, Flag.Severity.WARNING)]
    assert sorted(warnings.minutes) == [10, 30, 40]  # A's CRS, C's and A's vital sign
    assert (warnings.median, warnings.p90) == (30, 40)
    assert (warnings.never, warnings.resolved) == (1, 1)  # B's vital sign; C's CRS
    urgent = result.ack[(W10, Flag.Severity.URGENT)]
    assert sorted(urgent.minutes) == [4, 20]
    assert (urgent.median, urgent.p90) == (4, 20)  # nearest rank: the lower middle value
    assert result.ack[(W11, Flag.Severity.URGENT)].minutes == [6]  # A's new hypotension flag
    assert result.ack[(W11, Flag.Severity.WARNING)].n == 0  # A's CRS counted in week 10 only
    assert result.ack[(W10, Flag.Severity.CRITICAL)].n == 0
    whole = result.ack[(quality.TOTAL, quality.ALL)]
    assert (whole.n, whole.never, whole.resolved) == (6, 1, 1)
    assert sorted(whole.minutes) == [4, 6, 10, 20, 30, 40]
    assert (whole.median, whole.p90) == (10, 40)
    assert result.ack[(W10, ("unit", ward_a.pk))].n == 5


def test_another_units_flags_are_not_counted(scenario, clock, ward_a, ward_b, outsider):
    other = CourseFactory(unit=ward_b, infused_at=moment(-2, 8))
    check(clock, other, outsider, moment(1, 8), vitals=FEVER)

    assert report([ward_a]).ack[(quality.TOTAL, quality.ALL)].never == 1  # B's, not ward B's
    assert report([ward_b]).ack[(quality.TOTAL, quality.ALL)].never == 2


# --- Escalations --------------------------------------------------------------------------------


def test_escalations_by_tier_count_the_climbs_and_first_notices_apart(scenario, ward_a):
    result = report([ward_a])

    assert result.first_notices[W10] == 7  # every flag raised in week 10 told the bedside nurse
    assert result.first_notices[W11] == 2  # A's new hypotension flag, and its CRS got worse
    assert result.escalations[(W10, "charge_nurse")] == 1  # B's warning after 60 min
    assert result.escalations[(W10, "attending")] == 1  # no fellow on call: skipped to the top
    assert result.escalations[(W10, "app_fellow")] == 0
    rows = {row["week"]: row for row in result.escalation_rows()}
    assert rows["Whole period"]["escalations"] == 2


# --- Overdue checks -----------------------------------------------------------------------------


def test_overdue_alerts_per_100_checks(scenario, ward_a):
    for hours in (3, 5, 7):
        OverdueAlert.objects.create(
            course=scenario["b"],
            check_type="vitals",
            due_at=moment(1, hours),
            alerted_at=moment(1, hours, 30),
        )

    result = report([ward_a])

    assert (result.overdue[W10], result.checks[W10]) == (3, 3)
    assert result.overdue_rate(W10) == 100.0
    assert (result.overdue[W11], result.checks[W11]) == (0, 1)
    assert result.overdue_rate(W11) == 0.0
    assert result.overdue_rate(quality.TOTAL) == 75.0


# --- First fever to first tocilizumab -----------------------------------------------------------


def test_first_fever_to_first_tocilizumab(clock, ward_a, nurse, care_team_member):
    courses = [CourseFactory(unit=ward_a, infused_at=moment(-1, 8)) for _ in range(5)]
    given_90, given_120, untreated, prophylaxis, mistaken = courses
    check(clock, given_90, nurse, moment(0, 8), vitals=FEVER)
    check(clock, given_90, care_team_member, moment(0, 9, 30), treatment=TOCILIZUMAB)
    check(clock, given_90, care_team_member, moment(1, 9), treatment=TOCILIZUMAB)  # 2nd dose
    check(clock, given_120, nurse, moment(0, 9), vitals=FEVER)
    check(clock, given_120, care_team_member, moment(0, 11), treatment=TOCILIZUMAB)
    check(clock, untreated, nurse, moment(0, 10), vitals=FEVER)
    # Given before any fever (prophylaxis), then fever in week 11 and nothing after it.
    check(clock, prophylaxis, care_team_member, moment(0, 7), treatment=TOCILIZUMAB)
    check(clock, prophylaxis, nurse, moment(7, 7), vitals=FEVER)
    # A fever typed by mistake (entered in error) does not count; the real one a day later does.
    check(clock, mistaken, nurse, moment(0, 6), vitals=FEVER)
    record = VitalSigns.objects.get(check_entry__course=mistaken)
    clock.to(moment(0, 6, 30))
    services.mark_entered_in_error(record=record, reason="Wrong patient", by=nurse)
    check(clock, mistaken, nurse, moment(8, 6), vitals=FEVER)
    check(clock, mistaken, care_team_member, moment(8, 6, 45), treatment=TOCILIZUMAB)
    clock.to(moment(13, 12))

    result = report([ward_a])

    week10 = result.fever[W10]
    assert sorted(week10.minutes) == [90, 120]
    assert (week10.median, week10.p90, week10.never) == (90, 120, 1)
    week11 = result.fever[W11]
    assert (week11.minutes, week11.never) == ([45], 1)


def test_a_fever_before_the_infusion_is_not_the_first_fever(clock, ward_a, nurse):
    course = CourseFactory(unit=ward_a, infused_at=moment(2, 8))
    check(clock, course, nurse, moment(0, 8), vitals=FEVER)  # a baseline check, day -2

    assert report([ward_a]).fever[quality.TOTAL].never == 0


# --- The page and the CSV -----------------------------------------------------------------------


def test_the_page_shows_the_numbers_with_charts_and_tables(scenario, care_client):
    response = care_client.get(PAGE, PERIOD)

    page = response.content.decode()
    assert response.status_code == 200
    row = page[page.index("2026-W10 · 02 Mar") :]
    row = re.sub(r"\s+<", "<", row[: row.index("</tr>")])
    # Each cell carries its column's name, shown beside it when the table stacks on a phone.
    urgent = '<td data-label="Urgent">4.0 min<br><span class="text-muted">p90 20 min · n 2</span>'
    assert urgent + "</td>" in row
    assert (
        '<td data-label="Warning">30 min<br><span class="text-muted">p90 40 min · n 3</span>' in row
    )
    assert 'id="chart-ack"' in page
    assert 'id="chart-escalations"' in page
    assert "data-charts=" in page
    assert "nearest-rank" in page
    assert "vendor/chartjs/chart.umd.min.js" in page
    assert "js/quality_charts.js" in page


def test_the_chart_data_has_one_point_per_week_and_gaps_stay_gaps(scenario, ward_a):
    data = report([ward_a]).chart_data()

    assert data["ack"]["labels"] == ["2026-W10", "2026-W11"]
    assert data["ack"]["median"] == [4.0, 6.0]  # critical and urgent flags
    assert data["escalations"]["datasets"][1] == {"label": "Charge nurse", "data": [1, 0]}
    empty = report([ward_a], W11 + timedelta(weeks=1), W11 + timedelta(weeks=2)).chart_data()
    assert empty["ack"]["median"] == [None, None]


def test_the_csv_has_a_row_per_week_measure_and_group_and_is_audited(
    scenario, care_client, care_team_member, ward_a
):
    response = care_client.get(CSV, PERIOD)

    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('cartmonitor-quality-20260302-20260315.csv"')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == quality.CSV_COLUMNS
    by_key = {(r[0], r[1], r[2]): r for r in rows[1:]}
    assert by_key[("2026-03-02", "time_to_acknowledgement", "Warning")][3:6] == [
        "3",
        "30.0",
        "40.0",
    ]
    assert by_key[("2026-03-02", "never_acknowledged", "Warning")][6] == "1"
    assert by_key[("2026-03-02", "escalations", "Attending physician")][6] == "1"
    assert by_key[("2026-03-02", "first_notices", "All tiers")][6] == "7"
    assert by_key[("total", "time_to_acknowledgement", "Unit: Ward A")][3] == "6"
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.user == care_team_member
    assert event.details["format"] == "quality_csv"
    assert (
        event.summary == "Quality measures CSV exported (2026-03-02 to 2026-03-15; all their units)"
    )


def test_no_csv_cell_starts_like_a_spreadsheet_formula(care_client, ward_a):
    ward_a.name = "=HYPERLINK(1)"
    ward_a.save()

    rows = list(csv.reader(io.StringIO(care_client.get(CSV).content.decode("utf-8-sig"))))

    assert ["Unit: =HYPERLINK(1)"] in [[r[2]] for r in rows]
    assert not [cell for row in rows for cell in row if cell[:1] in "=+-@\t\r" and cell]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-03-15", "end": "2026-03-02"}, "The start date must not be after the end"),
        ({"start": "2020-01-01", "end": "2026-03-02"}, "At most 104 weeks at once"),
        ({"start": "2026-02-30"}, "Enter a valid date."),
        ({"end": "1999-12-31"}, "Give a date between 2000-01-01 and 2100-12-31."),
    ],
)
def test_bad_dates_say_why_and_keep_the_default_period(care_client, course, params, message):
    response = care_client.get(PAGE, params)

    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert "showing the last 12 weeks instead" in page
    assert f'value="{next(iter(params.values()))}"' in page  # what was typed is kept
    assert page.count("<tr>") + page.count('<tr class="fw-semibold') > 12
    assert care_client.get(CSV, params).status_code == 400
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_the_default_period_is_the_last_12_iso_weeks():
    period = quality.Period.default(date(2026, 3, 12))  # a Thursday

    assert (period.start, period.end) == (date(2025, 12, 22), date(2026, 3, 12))
    assert len(period.weeks) == 12
    assert period.weeks[-1] == date(2026, 3, 9)


def test_weeks_are_local_iso_weeks(settings, clock, ward_a, nurse):
    settings.TIME_ZONE = "Europe/Berlin"
    timezone.activate("Europe/Berlin")
    course = CourseFactory(unit=ward_a, infused_at=moment(-3, 8))
    sunday_night_utc = datetime(2026, 3, 8, 23, 30, tzinfo=UTC)
    check(clock, course, nurse, sunday_night_utc, vitals=FEVER)  # 00:30 on Monday in Berlin
    clock.to(moment(13, 12))

    result = report([ward_a])
    timezone.deactivate()

    assert result.checks[W11] == 1
    assert result.checks[W10] == 0


# --- Access ---------------------------------------------------------------------------------------


def test_nurses_and_charge_nurses_cannot_open_the_quality_page(nurse_client, client, ward_a):
    client.force_login(UserFactory(role=User.Role.CHARGE_NURSE, units=[ward_a]))

    assert nurse_client.get(PAGE).status_code == 403
    assert nurse_client.get(CSV).status_code == 403
    assert client.get(PAGE).status_code == 403


def test_the_unit_filter_takes_only_the_users_units(care_client, ward_a, ward_b):
    assert care_client.get(PAGE, {"unit": ward_a.pk}).status_code == 200
    assert care_client.get(PAGE, {"unit": ward_b.pk}).status_code == 404
    assert care_client.get(CSV, {"unit": "x"}).status_code == 404


def test_an_admin_sees_every_unit_and_may_pick_one(admin_client_, scenario, ward_a, ward_b):
    page = admin_client_.get(PAGE, PERIOD).content.decode()

    assert "Ward A" in page
    assert "Ward B" in page
    picked = admin_client_.get(PAGE, {**PERIOD, "unit": ward_b.pk}).content.decode()
    assert "Quality measures — Ward B" in picked
    assert "· n 2</span>" not in picked  # ward A's flags are not ward B's


def test_the_page_costs_the_same_queries_for_3_or_20_courses(
    django_assert_max_num_queries, clock, client, ward_a, team
):
    def add_courses(n):
        for _ in range(n):
            course = CourseFactory(unit=ward_a, infused_at=moment(-2, 8))
            check(clock, course, team["nurse"], moment(0, 8), vitals=FEVER)
            check(clock, course, team["care"], moment(0, 9), treatment=TOCILIZUMAB)
            acknowledge(clock, course, "crs", moment(0, 9, 30), team["care"])
        clock.to(moment(13, 12))

    add_courses(3)
    client.force_login(team["care"])  # now: the clock moved on since the fixtures
    with django_assert_max_num_queries(12) as few:
        client.get(PAGE, PERIOD)
    add_courses(17)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(PAGE, PERIOD).content.decode()
    assert "· n 20</span>" in page  # all twenty CRS flags were counted


# --- Percentiles (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "median", "p90", "text"),
    [
        ([], None, None, "—"),
        ([7], 7, 7, "7.0 min"),
        ([5, 1, 3], 3, 5, "3.0 min"),  # odd: the middle one
        ([4, 1, 3, 2], 2, 4, "2.0 min"),  # even: the lower middle one (nearest rank)
        (list(range(1, 11)), 5, 9, "5.0 min"),  # rank ⌈0.9·10⌉ = 9
        (list(range(1, 31)), 15, 27, "15 min"),  # ⌈0.9·30⌉ = 27, not 28 from float rounding
        ([0.5, 200], 0.5, 200, "0.5 min"),
    ],
)
def test_percentiles_by_nearest_rank(values, median, p90, text):
    assert quality.percentile(values, 50) == median
    assert quality.percentile(values, 90) == p90
    assert quality.minutes_text(quality.percentile(values, 50)) == text


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(None, "—"), (0, "0.0 min"), (9.94, "9.9 min"), (10, "10 min"), (119.4, "119 min"),
     (120, "2 h 00 min"), (185, "3 h 05 min")],
)  # fmt: skip
def test_minutes_read_as_people_say_them(minutes, text):
    assert quality.minutes_text(minutes) == text


def test_the_page_needs_no_inline_script_or_style(scenario, care_client):
    assert csp_violations(care_client.get(PAGE, PERIOD).content.decode()) == []

"""The patient's course: the state now first (grades with their age, open flags most severe
first, due checks, treatment totals, the last values), then charts by day since infusion with
grade bands and a table of each chart's values, then one line per day whose checks load on
demand (the day partial) — current records only — and a clinician confirming or overriding a
computed grade. Constant queries for 1 day or 28 days of data; the page lists no check."""

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.course_page import CoursePage
from monitoring.models import (
    AuditEvent,
    CourseStatus,
    Flag,
    GradeConfirmation,
    GradeSnapshot,
    TreatmentCourse,
    User,
    VitalSigns,
)
from tests.factories import ICE_10, ROOM_AIR, CourseFactory, UserFactory, active_now
from tests.home_helpers import home_client, make_home_user
from tests.web.test_security import csp_violations

LOW_FLOW_4 = {**ROOM_AIR, "oxygen_support": "low_flow", "oxygen_flow_l_min": 4}


def course_url(course) -> str:
    return reverse("monitoring:patient-course", args=[course.patient.public_id])


def confirm_url(course) -> str:
    return reverse("monitoring:care-grade-confirm", args=[course.patient.public_id])


def charts_url(course) -> str:
    return reverse("monitoring:course-charts", args=[course.patient.public_id])


def table_url(course, key: str) -> str:
    return reverse("monitoring:course-chart-table", args=[course.patient.public_id, key])


def chart_data(client, course, **headers) -> dict:
    """The charts' JSON that static/js/course_charts.js fetches (views.care_team.course_charts)."""
    response = client.get(charts_url(course), headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)  # json.loads: a decimal comma would not parse


def page_now(page: str) -> float | None:
    """Where the page says now is on the charts' time axis (none once monitoring is over)."""
    found = re.search(r'id="course-charts"[^>]*? data-now="([^"]*)"', page)
    return float(found.group(1)) if found else None


def table_partial(client, course, key: str) -> str:
    """A chart's table of values as htmx loads it into "Values as a table" when opened."""
    response = client.get(table_url(course, key), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def day_url(course, day: int) -> str:
    return reverse("monitoring:course-day", args=[course.patient.public_id, day])


def day_partial(client, course, day: int) -> str:
    """A day's checks as htmx loads them into its line on the course page."""
    response = client.get(day_url(course, day), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def section(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return page[start : page.index("</section>", start)]


def chart(data: dict, key: str) -> dict:
    return next(c for c in data["charts"] if c["id"] == f"chart-{key}")


def values(spec: dict, label: str) -> list[float]:
    return [point[1] for point in next(d for d in spec["datasets"] if d["label"] == label)["data"]]


def local(course, day: int, hour: int, minute: int = 0):
    """D+day at hour:minute, local time."""
    start = timezone.localtime(course.infused_at).replace(hour=0, minute=0, second=0, microsecond=0)
    return start + timedelta(days=day, hours=hour, minutes=minute)


def fill_days(course, nurse, days: int) -> None:
    """Six checks a day for ``days`` days, ending before now: vitals every time, ICE twice a
    day, labs every morning, a tocilizumab dose and a dexamethasone dose on the first day."""
    first = local(course, 0, 12)
    for n in range(days * 6):
        at = first + timedelta(hours=4 * n)
        if at > timezone.now():
            break
        febrile = n % 12 in (1, 2)
        sections = {
            "vitals": {
                **(LOW_FLOW_4 if febrile else ROOM_AIR),
                "temp_c": 38.6 if febrile else 37.0,
                "sbp_mmhg": 100 + n % 7,
                "dbp_mmhg": 60,
                "heart_rate_bpm": 90,
                "spo2_pct": 95,
            }
        }
        if n % 3 == 0:
            sections["neuro"] = {**ICE_10, "ice_attention": n % 2}
        if n % 6 == 1:
            sections["labs"] = {"crp_mg_l": 40 + n, "ferritin_ng_ml": 800 + n}
        services.record_check(course=course, by=nurse, observed_at=at, **sections)
    services.record_check(
        course=course,
        by=nurse,
        observed_at=first + timedelta(hours=5),
        treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"},
    )
    services.record_check(
        course=course,
        by=nurse,
        observed_at=first + timedelta(hours=6),
        treatment={"drug": "dexamethasone", "dose": 10, "dose_unit": "mg", "route": "iv"},
    )


@pytest.fixture
def graded(course, nurse):
    """D+2: fever on 4 L/min low-flow oxygen (CRS 2), with an ICE screen 10/10."""
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 9, 30),
        vitals={
            **LOW_FLOW_4,
            "temp_c": 38.6,
            "sbp_mmhg": 104,
            "dbp_mmhg": 62,
            "heart_rate_bpm": 112,
            "spo2_pct": 94,
        },
        neuro=ICE_10,
    )
    return GradeSnapshot.objects.get(check_entry=check)


# --- What the page shows -----------------------------------------------------------------------


def test_the_header_says_who_what_which_day_and_the_grades_now_with_reasons(
    care_client, course, graded
):
    page = care_client.get(course_url(course)).content.decode()
    age = int(course.patient.age_on(timezone.localdate()))

    for text in (
        "Ada Lovelace",
        course.patient.mrn,
        f"{age} years",
        "70.0 kg",
        "Axicabtagene ciloleucel (Yescarta)",
        "D+3",
        "Ward A",
        f"{course.protocol_version.protocol} v{course.protocol_version.number}",
        "CRS 2",
        # Each deciding value names its time (issue 10 §1).
        "hypoxia on low-flow oxygen 4 L/min (recorded at D+2 09:30, this check) → grade 2",
        "ICANS 0",
    ):
        assert text in page, text


def test_the_charts_are_by_day_since_infusion_with_fractional_times(care_client, course, graded):
    data = chart_data(care_client, course)

    temperature = chart(data, "temperature")
    (x, y, moment) = temperature["datasets"][0]["data"][0]
    assert y == 38.6
    assert moment == "D+2 09:30"
    assert x == pytest.approx(2 + 9.5 / 24, abs=1e-3)
    # D+0 to the end of the last moment's day (D+2); the page carries it on to today (D+3),
    # where it says now is.
    assert data["x"] == {"min": 0, "max": 3}
    assert 3 < page_now(care_client.get(course_url(course)).content.decode()) < 4
    assert {d["label"] for d in temperature["datasets"]} == {"Temperature °C", "Fever ≥ 38.0 °C"}
    oxygen = chart(data, "oxygen")["datasets"][1]["data"][0]
    assert oxygen[1] == 1  # low flow ≤ 6 L/min on the ASTCT ladder
    assert oxygen[3] == "Low-flow nasal cannula 4 L/min"
    assert {c["id"] for c in data["charts"]} == {
        "chart-temperature",
        "chart-haemodynamics",
        "chart-oxygen",
        "chart-ice",
        "chart-crp",
        "chart-ferritin",
        # Infection prevention's, drawn in its own section (monitoring/infection_page.py).
        "chart-counts",
        "chart-igg",
    }


def test_positions_follow_the_local_calendar_day_across_a_dst_change(settings):
    settings.TIME_ZONE = "Europe/Paris"
    paris = ZoneInfo("Europe/Paris")
    # Infused on Friday 27 March 2026: D+2 is Sunday 29 March, a 23-hour day (clocks go
    # forward at 02:00), so noon is 11 real hours into it.
    course = TreatmentCourse(infused_at=datetime(2026, 3, 27, 10, 0, tzinfo=paris))
    record = CoursePage(
        course, snapshots=[], records={}, now=datetime(2026, 3, 30, 9, 0, tzinfo=paris)
    )
    noon = datetime(2026, 3, 29, 12, 0, tzinfo=paris)
    last_minute = datetime(2026, 3, 29, 23, 59, tzinfo=paris)

    assert record.position(noon) == pytest.approx(2 + 11 / 23, abs=1e-4)
    assert record.moment_label(noon) == "D+2 12:00"
    assert record.day_of(last_minute) == course.day_number(last_minute) == 2
    assert 2.99 < record.position(last_minute) < 3


def test_the_grade_bands_follow_the_snapshots(care_client, course, nurse, graded):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 15),
        vitals={**ROOM_AIR, "temp_c": 37.0},
    )

    data = chart_data(care_client, course)
    bands = {b["label"]: b["segments"] for b in data["bands"]}

    (start, end, grade), (start_0, end_0, grade_0) = bands["CRS"]
    assert (grade, grade_0) == (2, 0)
    assert start == pytest.approx(2 + 9.5 / 24, abs=1e-3)
    assert end == start_0 == pytest.approx(2 + 15 / 24, abs=1e-3)
    # The grade now holds on: static/js/course_charts.js carries it to where the page says now
    # is (never later); the series end it 15 minutes on, visible however recent it is.
    assert end_0 == pytest.approx(start_0 + 1 / 96, abs=1e-3)
    assert {b["label"]: b["current"] for b in data["bands"]} == {"CRS": 0, "ICANS": 0}
    now = timezone.localtime()
    at_now = page_now(care_client.get(course_url(course)).content.decode())
    assert at_now == pytest.approx(3 + (now.hour + now.minute / 60) / 24, abs=1e-2)
    assert bands["ICANS"][0][2] == 0


def test_a_child_under_12_gets_a_capd_chart_instead_of_ice(care_client, nurse, ward_a):
    child = CourseFactory(
        unit=ward_a,
        patient__date_of_birth=timezone.localdate().replace(year=timezone.localdate().year - 7),
        patient__weight_kg=22,
    )
    well = {f"capd_item_{n}": 0 if n > 4 else 4 for n in range(1, 9)}
    delirious = {f"capd_item_{n}": 2 for n in range(1, 9)}
    for items in (well, delirious):
        services.record_check(
            course=child,
            by=nurse,
            observed_at=timezone.now(),
            neuro={**items, **{k: v for k, v in ICE_10.items() if not k.startswith("ice")}},
        )

    page = care_client.get(course_url(child)).content.decode()
    data = chart_data(care_client, child)

    assert "chart-ice" not in {c["id"] for c in data["charts"]}
    assert 'id="chart-capd"' in page
    assert 'id="chart-ice"' not in page
    assert values(chart(data, "capd"), "CAPD") == [0, 16]
    # A day's summary shows the worst CAPD: the highest.
    assert "CAPD 16/32" in day_partial(care_client, child, child.day_number())


def test_an_opened_day_summarises_its_worst_values(care_client, course, nurse, graded):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 14),
        vitals={
            **ROOM_AIR,
            "temp_c": 39.1,
            "sbp_mmhg": 86,
            "dbp_mmhg": 50,
            "vasopressors_count": 1,
            "vasopressin": True,
        },
        neuro={**ICE_10, "ice_naming": 1},
    )
    services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 15),
        treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"},
    )

    facts = day_partial(care_client, course, 2)
    facts = facts[facts.index('<dl class="day-facts">') : facts.index("</dl>")]
    pairs = dict(
        zip(
            [text_of(t) for t in re.findall(r"<dt>(.*?)</dt>", facts, re.S)],
            [text_of(d) for d in re.findall(r"<dd[^>]*>(.*?)</dd>", facts, re.S)],
            strict=True,
        )
    )

    assert pairs == {
        "T max": "39.1 °C",
        "Lowest SBP": "86 mmHg",
        "Most O₂ support": "Low-flow nasal cannula 4 L/min",
        "Vasopressors": "1 + vasopressin",
        "Worst ICE / CAPD": "ICE 8/10",
        "Max CRS": "3",
        "Max ICANS": "1",
        "Treatments": "Tocilizumab",
    }
    # The course page has a line for every day from day 0 to today, even without records,
    # newest first.
    lines = re.findall(
        r'<details class="day-line" id="day-(-?\d+)"',
        care_client.get(course_url(course)).content.decode(),
    )
    assert lines == ["3", "2", "1", "0"]


def test_superseded_and_entered_in_error_records_are_not_charted(
    care_client, course, nurse, graded
):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 12),
        vitals={**ROOM_AIR, "temp_c": 40.4},
    )
    typo = VitalSigns.objects.get(temp_c=40.4)
    services.amend_record(record=typo, values={"temp_c": 37.4}, reason="typo", by=nurse)
    services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 13),
        vitals={**ROOM_AIR, "temp_c": 41.9},
    )
    services.mark_entered_in_error(
        record=VitalSigns.objects.get(temp_c=41.9), reason="wrong patient", by=nurse
    )

    page = care_client.get(course_url(course)).content.decode()
    day = day_partial(care_client, course, 2)
    facts = day[: day.index("</dl>")]

    assert values(chart(chart_data(care_client, course), "temperature"), "Temperature °C") == [
        38.6,
        37.4,
    ]
    assert "40.4" not in facts
    assert "41.9" not in facts
    assert "38.6" in facts
    assert "40.4" not in section(page, "latest")
    assert "T 40.4 °C" in day  # the day's checks still show every record
    assert "T 41.9 °C" in day


def test_treatments_are_listed_with_doses_and_times(care_client, course, nurse, graded):
    for hour, drug, dose in (
        (10, "tocilizumab", 560),
        (11, "dexamethasone", 10),
        (19, "tocilizumab", 560),
    ):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=local(course, 2, hour),
            treatment={"drug": drug, "dose": dose, "dose_unit": "mg", "route": "iv"},
        )

    page = care_client.get(course_url(course)).content.decode()
    table = page[page.index('id="treatments-given"') :]

    assert table.index("D+2 10:00") < table.index("D+2 11:00") < table.index("D+2 19:00")
    assert "560 mg" in table
    assert "10 mg" in table
    assert "dose 2" in table
    assert "Given so far: <strong>2 of 4</strong>" in page
    assert "usual dose <strong>560 mg</strong>" in page


# --- The state now first ----------------------------------------------------------------------


def test_the_state_now_comes_before_the_charts_and_the_days(care_client, course, graded):
    page = care_client.get(course_url(course)).content.decode()

    order = ["grades", "flags", "due", "treatments", "latest", "charts", "days"]
    positions = [page.index(f'id="{name}"') for name in order]
    assert positions == sorted(positions)


def test_the_grades_say_how_old_they_are(care_client, course, nurse):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(minutes=40),
        vitals={**LOW_FLOW_4, "temp_c": 38.6},
    )

    grades = text_of(section(care_client.get(course_url(course)).content.decode(), "grades"))

    assert "CRS now · 40 min ago CRS 2" in grades
    assert "ICANS now · 40 min ago" in grades


def test_open_flags_are_most_severe_first_then_newest_and_resolved_ones_apart(
    care_client, course, care_team_member
):
    now = timezone.now()

    kinds = iter(Flag.Kind)  # one unresolved flag per kind

    def flag(message, severity, minutes_ago, **extra):
        return Flag.objects.create(
            course=course,
            kind=next(kinds),
            severity=severity,
            message=message,
            raised_at=now - timedelta(minutes=minutes_ago),
            **extra,
        )

    flag("old warning", Flag.Severity.WARNING, 300)
    flag("new warning", Flag.Severity.WARNING, 10)
    flag("old critical", Flag.Severity.CRITICAL, 600)
    flag("urgent", Flag.Severity.URGENT, 5)
    # Worse since 2 min ago: newer than the warning raised 10 min ago.
    flag("info made worse", Flag.Severity.WARNING, 900, worsened_at=now - timedelta(minutes=2))
    flag(
        "resolved critical",
        Flag.Severity.CRITICAL,
        1,
        status=Flag.Status.RESOLVED,
        resolved_at=now,
        resolved_by=care_team_member,
        resolve_reason="settled",
    )

    page = care_client.get(course_url(course)).content.decode()
    flags = section(page, "flags")
    open_list = flags[
        flags.index('id="open-flags"') : flags.index("</ul>", flags.index('id="open-flags"'))
    ]
    messages = re.findall(r'<span class="flag-message[^"]*">(.*?)</span>', open_list)

    assert messages == ["old critical", "urgent", "info made worse", "new warning", "old warning"]
    resolved = flags[flags.index("<details") :]
    assert "resolved critical" in resolved
    assert "resolved critical" not in open_list
    assert "1 resolved flag" in text_of(resolved)
    # The acknowledge and resolve actions come back to the flags.
    assert 'name="next" value="' + course_url(course) + '#flags"' in open_list


def test_due_checks_say_when_and_what_is_overdue(care_client, course, nurse):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=9),
        vitals={**ROOM_AIR, "temp_c": 37.0},
    )

    due = text_of(section(care_client.get(course_url(course)).content.decode(), "due"))

    # Vital signs every 4 h on the default protocol: 5 h overdue; neuro never done since day 0.
    assert re.search(r"Vital signs overdue 5 h", due), due
    assert re.search(r"Neuro assessment \(ICE/CAPD\) overdue", due), due


def test_treatment_totals_count_steroids_and_tocilizumab(care_client, course, nurse):
    for hour, drug, dose in (
        (1, "dexamethasone", 10),
        (7, "dexamethasone", 10),
        (8, "tocilizumab", 560),
    ):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=timezone.now() - timedelta(hours=30 - hour),
            treatment={"drug": drug, "dose": dose, "dose_unit": "mg", "route": "iv"},
        )

    totals = section(care_client.get(course_url(course)).content.decode(), "treatments")
    lines = [
        text_of(li) for li in re.findall(r"<li>(.*?)</li>", totals[: totals.index("</ul>")], re.S)
    ]

    assert lines[0] == "Tocilizumab 1 of 4 doses · 1 in the last 24 h"
    assert lines[1].startswith("Tocilizumab 1 dose · 560 mg · last D+")
    assert lines[2].startswith("Dexamethasone 2 doses · 20 mg · last D+")
    assert lines[2].endswith("(23 h ago) · 1 in 24 h")


def test_the_last_values_each_carry_their_own_time(care_client, course, nurse):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 9),
        vitals={**ROOM_AIR, "temp_c": 38.2, "spo2_pct": 93},
        labs={"crp_mg_l": 85, "ferritin_ng_ml": 2400},
    )
    services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 15),
        vitals={**LOW_FLOW_4, "temp_c": 37.4, "vasopressors_count": 1},
    )

    rows = {
        text_of(th): text_of(rest)
        for th, rest in re.findall(
            r'<th scope="row"[^>]*>(.*?)</th>(.*?)</tr>',
            section(care_client.get(course_url(course)).content.decode(), "latest"),
            re.S,
        )
    }

    assert rows["Temperature"].startswith("37.4 °C D+2 15:00")
    assert rows["SpO₂"].startswith("93 % D+2 09:00")  # not measured at 15:00
    assert rows["Oxygen support"].startswith("Low-flow nasal cannula 4 L/min D+2 15:00")
    assert rows["Vasopressors"].startswith("1 D+2 15:00")
    assert rows["CRP (mg/L)"].startswith("85 D+2 09:00")
    assert rows["Ferritin (ng/mL)"].startswith("2400 D+2 09:00")


# --- Charts -----------------------------------------------------------------------------------


def test_crp_and_ferritin_each_have_their_own_chart_from_zero(care_client, course, nurse):
    for hour, crp, ferritin in ((6, 5, 1000), (30, 100, 1280)):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=local(course, 0, hour),
            labs={"crp_mg_l": crp, "ferritin_ng_ml": ferritin},
        )

    data = chart_data(care_client, course)

    crp, ferritin = chart(data, "crp"), chart(data, "ferritin")
    assert values(crp, "CRP mg/L") == [5, 100]  # 20-fold
    assert values(ferritin, "Ferritin ng/mL") == [1000, 1280]  # +28 %
    # Linear axes from zero: a 20-fold rise looks 20-fold, a 28 % rise looks 28 %.
    for spec in (crp, ferritin):
        assert list(spec["axes"]) == ["y"]
        assert spec["axes"]["y"]["beginAtZero"] is True
        assert "type" not in spec["axes"]["y"]  # linear


def test_the_grade_now_is_named_for_the_band_and_now_is_marked(care_client, course, graded):
    data = chart_data(care_client, course)
    at_now = page_now(care_client.get(course_url(course)).content.decode())

    assert {b["label"]: b["current"] for b in data["bands"]} == {"CRS": 2, "ICANS": 0}
    now = timezone.localtime()
    assert at_now == pytest.approx(3 + (now.hour + now.minute / 60) / 24, abs=1e-2)
    # The grade now began before now; static/js/course_charts.js carries it on to now.
    assert data["bands"][0]["segments"][-1][0] < at_now


def test_each_chart_has_a_table_of_the_same_values(care_client, course, nurse, graded):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 14),
        vitals={**ROOM_AIR, "temp_c": 37.2, "sbp_mmhg": 98, "dbp_mmhg": 55},
    )

    page = care_client.get(course_url(course)).content.decode()
    data = chart_data(care_client, course)

    for spec in data["charts"]:
        key = spec["id"].removeprefix("chart-")
        # On the page: the chart's canvas, then its table, which loads when it is opened.
        card = page[page.index(f'id="{spec["id"]}"') :]
        opener = card[card.index('<details class="chart-table') : card.index("</details>")]
        assert f'hx-get="{table_url(course, key)}"' in opener
        assert f'href="{table_url(course, key)}"' in opener  # without JavaScript
        table = table_partial(care_client, course, key)
        assert spec["title"] in text_of(table[: table.index("</caption>")])
        head = [text_of(th) for th in re.findall(r'<th scope="col">(.*?)</th>', table)]
        series = [d for d in spec["datasets"] if "line" not in d]
        assert head == ["Time"] + [d["label"] for d in series]
        shown = len(re.findall(r'<th scope="row">', table))
        assert shown == len({p[2] for d in series for p in d["data"]}), spec["id"]
    temperature = table_partial(care_client, course, "temperature")
    rows = re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', temperature)
    assert rows == [("D+2 14:00", "37.2"), ("D+2 09:30", "38.6")]  # newest first
    oxygen = table_partial(care_client, course, "oxygen")
    assert "<td>Low-flow nasal cannula 4 L/min</td>" in oxygen


def test_numbers_for_the_charts_are_never_localized(care_client, course, graded, settings):
    settings.LANGUAGE_CODE = "de"
    settings.USE_THOUSAND_SEPARATOR = True

    page = care_client.get(course_url(course), headers={"Accept-Language": "de"}).content.decode()

    assert "70,0 kg" in page  # the page does follow the German locale
    data = chart_data(care_client, course, **{"Accept-Language": "de"})
    (x, y, moment) = chart(data, "temperature")["datasets"][0]["data"][0]
    assert (y, moment) == (38.6, "D+2 09:30")
    assert x == pytest.approx(2 + 9.5 / 24, abs=1e-3)
    assert "." in page[page.index("data-now=") :][:20]  # where now is: a point, not a comma
    table = care_client.get(table_url(course, "temperature"), headers={"Accept-Language": "de"})
    assert "38.6" in table.content.decode()  # as in the chart's tooltip
    assert f'hx-get="{day_url(course, 2)}"' in page


# --- A day's checks, on demand ------------------------------------------------------------------


def test_a_day_opens_with_its_own_checks_only(care_client, course, nurse, graded):
    other_day = services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 1, 8),
        vitals={**ROOM_AIR, "temp_c": 36.8},
    )
    later = services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 18),
        vitals={**ROOM_AIR, "temp_c": 37.9},
    )

    day = day_partial(care_client, course, 2)

    assert "<html" not in day  # a fragment for the day's line
    assert str(graded.check_entry.public_id) in day
    assert str(later.public_id) in day
    assert str(other_day.public_id) not in day
    assert day.index("D+2 18:00") < day.index("D+2 09:30")  # newest first
    assert "2 checks, newest first" in text_of(day)
    # The check of D+2 09:30 was entered today: its flags were raised today, and are listed
    # on today's line, not on D+2's.
    flags = Flag.objects.filter(course=course)
    today = day_partial(care_client, course, course.day_number())
    assert flags.exists()
    assert all(flag.message in today and flag.message not in day for flag in flags)
    assert "Flags raised this day" not in day


def test_without_javascript_a_day_is_a_page_of_its_own(care_client, course, graded):
    page = care_client.get(course_url(course)).content.decode()
    line = page[page.index('id="day-2"') : page.index("</details>", page.index('id="day-2"'))]

    # The line's body holds a plain link to the day: what a browser without htmx follows.
    assert f'href="{day_url(course, 2)}"' in line
    assert f'hx-get="{day_url(course, 2)}"' in line
    response = care_client.get(day_url(course, 2))
    assert response.status_code == 200
    assert "<nav" in response.content.decode()  # the whole page, with the navigation
    assert f"{course_url(course)}#day-2" in response.content.decode()  # and a way back
    assert str(graded.check_entry.public_id) in response.content.decode()
    assert response["Vary"].count("HX-Request") == 1


def test_a_day_with_nothing_recorded_says_so(care_client, course):
    assert "No check recorded on D+1." in text_of(day_partial(care_client, course, 1))


def test_another_units_user_and_anonymous_cannot_open_a_day(
    course, graded, ward_b, outsider_client
):
    care_b = Client()
    care_b.force_login(UserFactory(role=User.Role.CARE_TEAM, units=[ward_b]))

    for client in (outsider_client, care_b):
        assert client.get(day_url(course, 2)).status_code == 404
        assert client.get(day_url(course, 2), headers={"HX-Request": "true"}).status_code == 404
    anonymous = Client().get(day_url(course, 2))
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("login"))
    # htmx asking without a session is told so (cartmonitor.middleware), and shown nothing.
    htmx = Client().get(day_url(course, 2), headers={"HX-Request": "true"})
    assert htmx.status_code == 401
    assert str(graded.check_entry.public_id) not in htmx.content.decode()


def test_a_day_is_get_only(care_client, course):
    assert care_client.post(day_url(course, 0)).status_code == 405


# --- Confirming or overriding a grade -----------------------------------------------------------


def test_a_clinician_overrides_a_grade_and_both_stay_visible(
    care_client, care_team_member, course, graded
):
    response = care_client.post(
        confirm_url(course),
        {
            "snapshot": graded.pk,
            "domain": "crs",
            "grade": 3,
            "reason": "on a non-rebreather mask between checks",
        },
    )

    assert response.status_code == 302
    assert response.url.endswith("#grades")
    confirmation = GradeConfirmation.objects.get()
    assert (confirmation.computed_grade, confirmation.confirmed_grade) == (2, 3)
    assert confirmation.confirmed_by == care_team_member
    assert confirmation.reason == "on a non-rebreather mask between checks"
    graded.refresh_from_db()
    assert graded.crs_effective == 3
    assert CourseStatus.objects.get(course=course).crs_grade == 3  # summaries use it
    event = AuditEvent.objects.get(action=AuditEvent.Action.GRADE_CONFIRMED)
    assert event.user == care_team_member
    page = care_client.get(course_url(course)).content.decode()
    assert "overridden" in page
    assert "computed 2" in page
    assert "on a non-rebreather mask between checks" in page
    assert chart_data(care_client, course)["bands"][0]["segments"][0][2] == 3  # effective grade


def test_confirming_the_computed_grade_says_confirmed(care_client, course, graded):
    care_client.post(
        confirm_url(course),
        {"snapshot": graded.pk, "domain": "icans", "grade": 0, "reason": "examined: no deficit"},
    )

    page = care_client.get(course_url(course)).content.decode()

    assert GradeConfirmation.objects.get().is_override is False
    assert "Confirmed 0 by" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reason": ""}, "Give the reason for the confirmation or override."),
        ({"reason": "   "}, "Give the reason for the confirmation or override."),
        ({"grade": "5"}, "Select a valid choice"),
        ({"domain": "news2"}, "Select a valid choice"),
        ({"snapshot": "abc"}, "Select a valid choice"),
    ],
)
def test_bad_input_re_renders_the_page_with_a_message_and_saves_nothing(
    care_client, course, graded, change, message
):
    data = {"snapshot": graded.pk, "domain": "crs", "grade": 3, "reason": "clinical call", **change}

    response = care_client.post(confirm_url(course), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "The grade was not confirmed" in page
    assert message in page
    assert not GradeConfirmation.objects.exists()
    assert 'id="course-charts"' in page  # the whole page, not a bare error


def test_a_moment_of_another_course_cannot_be_confirmed(care_client, course, graded, nurse, ward_a):
    other = CourseFactory(unit=ward_a)
    check = services.record_check(
        course=other, by=nurse, observed_at=timezone.now(), vitals={**ROOM_AIR, "temp_c": 38.5}
    )

    response = care_client.post(
        confirm_url(course),
        {"snapshot": check.snapshot.pk, "domain": "crs", "grade": 0, "reason": "x"},
    )

    assert response.status_code == 400
    assert not GradeConfirmation.objects.exists()


def test_the_confirm_link_of_a_check_preselects_its_moment(care_client, course, graded):
    page = care_client.get(course_url(course), {"confirm": graded.pk}).content.decode()

    # The moment's option carries its computed grades for the form's script (data-crs/-icans).
    option = re.search(rf'<option value="{graded.pk}"[^>]*>', page).group()
    assert " selected" in option
    assert f'data-crs="{graded.crs_grade}"' in option
    assert care_client.get(course_url(course), {"confirm": "١"}).status_code == 200


# --- Who may see and do what ------------------------------------------------------------------


def test_only_the_care_team_confirms_grades(nurse_client, admin_client_, course, graded):
    data = {"snapshot": graded.pk, "domain": "crs", "grade": 3, "reason": "x"}

    nurse_page = nurse_client.get(course_url(course)).content.decode()
    assert "Confirm or override a grade" not in nurse_page
    assert nurse_client.post(confirm_url(course), data).status_code == 403
    assert admin_client_.post(confirm_url(course), data).status_code == 403
    assert not GradeConfirmation.objects.exists()


def test_the_care_team_of_another_unit_gets_404(course, graded, ward_b):
    outsider = Client()
    outsider.force_login(UserFactory(role=User.Role.CARE_TEAM, units=[ward_b]))

    assert outsider.get(course_url(course)).status_code == 404
    response = outsider.post(
        confirm_url(course), {"snapshot": graded.pk, "domain": "crs", "grade": 3, "reason": "x"}
    )
    assert response.status_code == 404
    assert not GradeConfirmation.objects.exists()


def test_confirming_is_post_only(care_client, course, graded):
    assert care_client.get(confirm_url(course)).status_code == 405


def test_the_page_is_clean_under_the_content_security_policy(care_client, course, graded):
    page = care_client.get(course_url(course)).content.decode()

    assert csp_violations(page) == []
    assert '<script src="/static/js/course_charts.js" defer></script>' in page


# --- The charts' points: fetched once, kept by the browser until a save changes them -----------


def test_the_page_names_its_charts_and_draws_no_point(care_client, course, graded):
    page = care_client.get(course_url(course)).content.decode()
    charts = section(page, "charts")

    assert "data-charts=" not in page
    assert f'data-charts-url="{charts_url(course)}"' in charts
    assert "38.6" not in charts  # the temperature is in the JSON and the table, not here
    for title in ("Temperature", "Blood pressure and heart rate", "CRP", "Ferritin"):
        assert f"{title}</h3>" in charts or f"{title} <span" in charts, title
    # Nothing measured yet is said on the page, without the points.
    crp = charts[charts.index(">CRP") :]
    assert "nothing recorded yet" in crp[: crp.index("</h3>")]
    temperature = charts[charts.index(">Temperature") :]
    assert "nothing recorded yet" not in temperature[: temperature.index("</h3>")]


def test_the_charts_json_is_kept_until_a_save_changes_it(care_client, course, nurse, graded):
    first = care_client.get(charts_url(course))

    assert first["Cache-Control"] == "private, no-cache"  # kept, and asked again each time
    etag = first["ETag"]
    again = care_client.get(charts_url(course), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag

    # A new check: the next page's fetch gets the new points.
    services.record_check(
        course=course,
        by=nurse,
        observed_at=local(course, 2, 16),
        vitals={**ROOM_AIR, "temp_c": 37.1},
    )
    after_save = care_client.get(charts_url(course), headers={"If-None-Match": etag})
    assert after_save.status_code == 200
    assert after_save["ETag"] != etag
    assert values(chart(after_save.json(), "temperature"), "Temperature °C") == [38.6, 37.1]

    # A record entered in error: gone from the chart.
    etag = after_save["ETag"]
    services.mark_entered_in_error(
        record=VitalSigns.objects.get(temp_c=37.1), reason="wrong patient", by=nurse
    )
    after_error = care_client.get(charts_url(course), headers={"If-None-Match": etag})
    assert after_error.status_code == 200
    assert values(chart(after_error.json(), "temperature"), "Temperature °C") == [38.6]


def test_a_confirmed_grade_a_protocol_move_and_the_language_change_the_charts(
    care_client, care_team_member, admin_user, course, graded
):
    def etag(**headers):
        return care_client.get(charts_url(course), headers=headers)["ETag"]

    seen = [etag()]
    services.confirm_grade(
        snapshot=graded,
        domain="crs",
        grade=3,
        reason="on a mask between checks",
        by=care_team_member,
    )
    seen.append(etag())
    assert chart_data(care_client, course)["bands"][0]["segments"][0][2] == 3
    revised = services.revise_protocol(
        version=course.protocol_version,
        changes={"sbp_low_mmhg": 95},
        schedules={},
        note="SBP 95",
        by=admin_user,
    )
    services.move_course_to_version(
        course=course, version=revised, reason="new limits", by=care_team_member
    )
    seen.append(etag())
    haemodynamics = chart(chart_data(care_client, course), "haemodynamics")
    assert "Hypotension: SBP < 95" in {d["label"] for d in haemodynamics["datasets"]}
    seen.append(etag(**{"Accept-Language": "es"}))

    assert len(set(seen)) == 4
    spanish = chart_data(care_client, course, **{"Accept-Language": "es"})
    assert chart(spanish, "temperature")["title"] == "Temperatura"


@pytest.mark.parametrize("days", [1, 28])
def test_an_unchanged_course_answers_304_without_reading_its_records(
    care_client, nurse, ward_a, django_assert_num_queries, days
):
    infused = timezone.localtime(timezone.now() - timedelta(days=days + 1)).replace(hour=8)
    course = CourseFactory(unit=ward_a, infused_at=infused)
    fill_days(course, nurse, days)
    etag = care_client.get(charts_url(course))["ETag"]
    active_now(care_client)
    # 3: session, user, the course with its patient and status row, whose refresh time the
    # ETag is made of (course_page.charts_etag). Nothing else is read.
    with django_assert_num_queries(3):
        response = care_client.get(charts_url(course), headers={"If-None-Match": etag})
    assert response.status_code == 304


def test_without_javascript_a_charts_table_is_a_page_of_its_own(care_client, course, graded):
    response = care_client.get(table_url(course, "temperature"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "<nav" in page  # the whole page, with the navigation
    assert f'href="{course_url(course)}#chart-temperature"' in page  # and a way back
    assert re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', page) == [("D+2 09:30", "38.6")]
    assert response["Vary"].count("HX-Request") == 1
    assert care_client.get(table_url(course, "no-such-chart")).status_code == 404
    assert care_client.get(table_url(course, "capd")).status_code == 404  # an adult: ICE


def test_the_charts_are_seen_as_the_course_page_is(
    course, graded, ward_b, outsider_client, care_team_member
):
    care_b = Client()
    care_b.force_login(UserFactory(role=User.Role.CARE_TEAM, units=[ward_b]))
    for url in (charts_url(course), table_url(course, "temperature")):
        for client in (outsider_client, care_b):
            assert client.get(url).status_code == 404
        anonymous = Client().get(url)
        assert anonymous.status_code == 302
        assert anonymous.url.startswith(reverse("login"))
        # The patient's own caregiver at home reaches only the home pages.
        home = home_client(make_home_user(course, care_team_member))
        assert home.get(url).status_code == 404
        assert b"38.6" not in home.get(url).content


def test_the_charts_are_get_only(care_client, course):
    assert care_client.post(charts_url(course)).status_code == 405
    assert care_client.post(table_url(course, "temperature")).status_code == 405


# --- Cost -------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 28])
def test_the_course_page_costs_the_same_queries_for_1_or_28_days(
    care_client, nurse_client, nurse, ward_a, django_assert_num_queries, days
):
    # Infused at 08:00 the day before, so all ``days`` × 6 checks lie in the past at any hour.
    infused = timezone.localtime(timezone.now() - timedelta(days=days + 1))
    infused = infused.replace(hour=8, minute=0)
    course = CourseFactory(unit=ward_a, infused_at=infused)
    fill_days(course, nurse, days)
    active_now(nurse_client)  # filling 28 days can outlast the idle session's minute
    active_now(care_client)
    # 23 for a nurse, however many checks: session, user, the course with patient, unit and
    # status (access.get_course_for), its checks with their moments' grades as plain values
    # (the day lines), the grade now in full and the clinicians' confirmations of it (2), the
    # current vital signs, neuro assessments, labs and treatments for the state now, which
    # charts have anything to draw and the treatment totals (4), the flags with who
    # acknowledged and resolved them, every acknowledgement of those flags with who gave it,
    # the protocol version with its protocol and its schedules (due checks: 2), the infection
    # prevention section's prophylaxis, immunoglobulin doses and infections (3), the
    # navigation bar's open-flag and unread-notification counts (2), the treatment journey's
    # phases and follow-up visits done (2), and the handwriting section's baseline and latest
    # samples, without their pictures (2). No check's records and no chart's points: the page
    # lists neither.
    with django_assert_num_queries(23):
        response = nurse_client.get(course_url(course))
    assert response.status_code == 200
    page = response.content.decode()
    assert "data-charts=" not in page
    assert page.count('<th scope="row">D+') == 0  # no chart's values either
    # 24 for the care team: and every moment of the course by its grades, to confirm one.
    with django_assert_num_queries(24):
        response = care_client.get(course_url(course))
    assert response.content.decode().count('<option value="') >= days * 5
    # The charts' JSON: 7, however many checks: session, user, the course (as above), its
    # snapshots' grades (the bands), its current vital signs, neuro assessments and labs (3).
    with django_assert_num_queries(7):
        data = chart_data(care_client, course)
    assert len(chart(data, "temperature")["datasets"][0]["data"]) >= days * 5


def test_the_page_lists_days_not_checks(care_client, nurse, ward_a):
    """A 10-day course is ten lines and today's, each saying how many checks it holds; no
    check is on the page until its day is opened."""
    course = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=10))
    fill_days(course, nurse, 10)
    checks = list(course.checks.all())

    page = care_client.get(course_url(course)).content.decode()

    assert ">details</a>" not in page
    assert not any(str(check.public_id) in page for check in checks)
    days = section(page, "days")
    assert days.count('class="day-line"') == course.day_number() + 1 == 11
    first_day = sum(1 for c in checks if course.day_number(c.observed_at) == 0)
    line = re.search(r'id="day-0".*?</summary>', days, re.S).group()
    assert f"{first_day} checks" in text_of(line)
    assert f"{len(checks)} checks since day 0" in text_of(days)


@pytest.mark.parametrize("checks_per_day", [1, 12])
def test_a_day_costs_the_same_queries_for_1_or_12_checks(
    care_client, nurse, course, django_assert_num_queries, checks_per_day
):
    for n in range(checks_per_day):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=local(course, 1, 1 + n),
            vitals={**ROOM_AIR, "temp_c": 37.2},
            symptoms={"fatigue": True},
            labs={"crp_mg_l": 10 + n},
        )
    active_now(care_client)
    # 11: session, user, the course (access.get_course_for), the day's checks with who
    # recorded them and their snapshots, every record of them (5 kinds, with who recorded
    # and who corrected each), the clinicians' confirmations of the day's grades, and the
    # flags raised that day.
    with django_assert_num_queries(11):
        page = day_partial(care_client, course, 1)
    assert page.count(">details</a>") == checks_per_day

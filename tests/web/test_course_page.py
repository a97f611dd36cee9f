"""The patient's course: header, charts by day since infusion with grade bands, the day-by-day
grid, treatments, flags and checks — current records only — and a clinician confirming or
overriding a computed grade. Constant queries for 1 day or 28 days of data."""

import html
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
    GradeConfirmation,
    GradeSnapshot,
    TreatmentCourse,
    User,
    VitalSigns,
)
from tests.factories import ICE_10, ROOM_AIR, CourseFactory, UserFactory
from tests.web.test_security import csp_violations

LOW_FLOW_4 = {**ROOM_AIR, "oxygen_support": "low_flow", "oxygen_flow_l_min": 4}


def course_url(course) -> str:
    return reverse("monitoring:patient-course", args=[course.patient.public_id])


def confirm_url(course) -> str:
    return reverse("monitoring:care-grade-confirm", args=[course.patient.public_id])


def chart_data(page: str) -> dict:
    """The JSON the page hands to static/js/course_charts.js."""
    raw = re.search(r'id="course-charts"[^>]*data-charts="([^"]*)"', page).group(1)
    return json.loads(html.unescape(raw))


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
    data = chart_data(care_client.get(course_url(course)).content.decode())

    temperature = chart(data, "temperature")
    (x, y, moment) = temperature["datasets"][0]["data"][0]
    assert y == 38.6
    assert moment == "D+2 09:30"
    assert x == pytest.approx(2 + 9.5 / 24, abs=1e-3)
    assert data["x"] == {"min": 0, "max": 4}  # D+0 to the end of today (D+3)
    assert {d["label"] for d in temperature["datasets"]} == {"Temperature °C", "Fever ≥ 38.0 °C"}
    oxygen = chart(data, "oxygen")["datasets"][1]["data"][0]
    assert oxygen[1] == 1  # low flow ≤ 6 L/min on the ASTCT ladder
    assert oxygen[3] == "Low-flow nasal cannula 4 L/min"
    assert {c["id"] for c in data["charts"]} == {
        "chart-temperature",
        "chart-haemodynamics",
        "chart-oxygen",
        "chart-ice",
        "chart-markers",
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

    bands = {
        b["label"]: b["segments"]
        for b in chart_data(care_client.get(course_url(course)).content.decode())["bands"]
    }

    (start, end, grade), (start_0, end_0, grade_0) = bands["CRS"]
    assert (grade, grade_0) == (2, 0)
    assert start == pytest.approx(2 + 9.5 / 24, abs=1e-3)
    assert end == start_0 == pytest.approx(2 + 15 / 24, abs=1e-3)
    now = timezone.localtime()
    assert end_0 == pytest.approx(3 + (now.hour + now.minute / 60) / 24, abs=1e-2)  # not later
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
    data = chart_data(page)

    assert "chart-ice" not in {c["id"] for c in data["charts"]}
    assert values(chart(data, "capd"), "CAPD") == [0, 16]
    assert "CAPD 16/32" in page  # the grid shows the worst CAPD: the highest


def test_the_day_grid_summarises_each_day(care_client, course, nurse, graded):
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

    page = care_client.get(course_url(course)).content.decode()
    grid = page[page.index('id="days"') : page.index('id="treatments"')]
    row = re.search(r"<th scope=\"row\">D\+2</th>(.*?)</tr>", grid, re.S).group(1)
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]

    assert cells[1:] == [
        "39.1",
        "86",
        "Low-flow nasal cannula 4 L/min",
        "1 + vasopressin",
        "ICE 8/10",
        "3",
        "1",
        "Tocilizumab",
    ]
    assert '<th scope="row">D+0</th>' in grid  # every day from day 0, even without records
    assert '<th scope="row">D+3</th>' in grid


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

    assert values(chart(chart_data(page), "temperature"), "Temperature °C") == [38.6, 37.4]
    grid = page[page.index('id="days"') : page.index('id="treatments"')]
    assert "40.4" not in grid
    assert "41.9" not in grid
    assert "38.6" in grid
    assert "T 40.4 °C" in page  # the checks list still shows every record


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
    assert chart_data(page)["bands"][0]["segments"][0][2] == 3  # effective grade drawn


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


# --- Cost -------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 28])
def test_the_course_page_costs_the_same_queries_for_1_or_28_days(
    care_client, nurse, ward_a, django_assert_num_queries, days
):
    course = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=days))
    fill_days(course, nurse, days)
    # session, user, the course with patient, unit and status (access.get_course_for), its
    # checks with who recorded them and their snapshots, every record of the 40 checks listed
    # (5 kinds, with who recorded and who corrected them: 5 queries), the current vital signs,
    # neuro assessments, labs and treatments for the charts, grid and treatment list (4), the
    # clinicians' confirmations, the flags with who acknowledged and resolved them, every
    # acknowledgement of those flags with who gave it (issue 10 §6), the protocol version with
    # its protocol, and the navigation bar's open-flag and unread-notification counts.
    with django_assert_num_queries(19):
        response = care_client.get(course_url(course))
    assert response.status_code == 200
    data = chart_data(response.content.decode())
    assert len(chart(data, "temperature")["datasets"][0]["data"]) >= days * 5


def test_a_long_course_lists_its_latest_40_checks_and_every_one_on_demand(
    care_client, nurse, ward_a
):
    course = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=10))
    fill_days(course, nurse, 10)
    total = course.checks.count()

    page = care_client.get(course_url(course)).content.decode()
    everything = care_client.get(course_url(course), {"checks": "all"}).content.decode()

    assert page.count(">details</a>") == 40
    assert f"Show all {total} checks ({total - 40} older)" in page
    assert everything.count(">details</a>") == total
    assert "Show all" not in everything
    # The charts never depend on how many checks are listed.
    assert chart_data(page) == chart_data(everything)

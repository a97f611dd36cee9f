"""The nurse's bedside check: save any section, see grades; bad input keeps everything."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import (
    BedsideCheck,
    Flag,
    LabResult,
    NeuroAssessment,
    SymptomCheck,
    Treatment,
    VitalSigns,
)
from tests.factories import CourseFactory, active_now, full_check, local_input


def check_url(course):
    return reverse("monitoring:nurse-check", args=[course.patient.public_id])


def test_a_full_check_saves_every_section_and_shows_crs_grade_2_with_its_reason(
    nurse_client, course
):
    response = nurse_client.post(check_url(course), full_check(), follow=True)

    assert response.status_code == 200
    check = BedsideCheck.objects.get(course=course)
    assert VitalSigns.objects.get(check_entry=check).temp_c == Decimal("38.6")
    assert SymptomCheck.objects.get(check_entry=check).fever
    assert NeuroAssessment.objects.get(check_entry=check).ice_total == 10
    assert LabResult.objects.get(check_entry=check).crp_mg_l == Decimal("85")
    assert Treatment.objects.get(check_entry=check).drug == "antipyretic"
    page = response.content.decode()
    assert "CRS 2" in page
    assert "low-flow" in page
    assert "4 L/min" in page
    assert "notify the CAR-T physician now" in page
    assert Flag.objects.filter(course=course, kind="crs", severity=Flag.Severity.URGENT).exists()


def test_one_section_alone_can_be_saved(nurse_client, course):
    response = nurse_client.post(
        check_url(course),
        {
            "observed_at": local_input(timezone.now()),
            "vitals-temperature": "37.1",
            "vitals-temperature_unit": "C",
            "vitals-oxygen_support": "room_air",
            "vitals-vasopressors_count": "0",
        },
    )

    assert response.status_code == 302
    check = BedsideCheck.objects.get(course=course)
    assert VitalSigns.objects.filter(check_entry=check).count() == 1
    assert not NeuroAssessment.objects.exists()
    assert not LabResult.objects.exists()


def test_an_empty_page_saves_nothing_and_says_so(nurse_client, course):
    response = nurse_client.post(
        check_url(course),
        {
            "observed_at": local_input(timezone.now()),
            "vitals-temperature_unit": "C",
            "vitals-oxygen_support": "room_air",
            "vitals-vasopressors_count": "0",
        },
    )

    assert response.status_code == 400
    assert "fill in at least one section" in response.content.decode()
    assert not BedsideCheck.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vitals-temperature", "47", "Temperature must be between 30 and 45 °C"),
        ("vitals-spo2_pct", "40", "between 50 and 100 %"),
        ("vitals-oxygen_flow_l_min", "95", "between 0 and 80 L/min"),
        ("vitals-heart_rate_bpm", "400", "between 20 and 300 /min"),
        ("labs-crp_mg_l", "-3", "between 0 and 1000 mg/L"),
    ],
    ids=["temperature", "spo2", "flow", "heart-rate", "crp"],
)
def test_one_impossible_value_saves_nothing_keeps_the_rest_and_names_the_range(
    nurse_client, course, field, value, message
):
    response = nurse_client.post(check_url(course), full_check(**{field: value}))

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "Nothing was saved" in page
    assert not BedsideCheck.objects.exists()
    assert not VitalSigns.objects.exists()
    assert not LabResult.objects.exists()
    form_page = response.context["page"]
    # Every other value the nurse typed is still there.
    assert form_page.symptoms["fever"].value() is True
    assert form_page.labs["ferritin_ng_ml"].value() == "1450"
    assert form_page.treatment["dose"].value() == "1000"
    assert form_page.vitals["resp_rate_per_min"].value() == "22"
    assert 'value="1450"' in page  # ferritin


def test_fahrenheit_is_converted_to_celsius(nurse_client, course):
    nurse_client.post(
        check_url(course),
        full_check(
            **{
                "vitals-temperature": "100.4",
                "vitals-temperature_unit": "F",
            }
        ),
    )

    # 100.4 °F is exactly 38.0 °C: fever by ASTCT (>= 38.0 °C).
    assert VitalSigns.objects.get().temp_c == Decimal("38.0")


IN_TWO_HOURS = "in two hours"  # resolved when the test runs


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"vitals-oxygen_support": "room_air", "vitals-oxygen_flow_l_min": "3"},
            "cannot be given on room air",
        ),
        ({"vitals-oxygen_flow_l_min": ""}, "Give the flow in L/min"),  # nasal cannula
        ({"observed_at": IN_TWO_HOURS}, "cannot be in the future"),
        ({"neuro-ice_naming": "", "neuro-ice_writing": ""}, "missing: Naming, Writing"),
    ],
    ids=["flow-on-room-air", "cannula-without-flow", "future-time", "incomplete-ice"],
)
def test_an_inconsistent_check_is_refused_with_a_reason_and_saves_nothing(
    nurse_client, course, overrides, message
):
    if overrides.get("observed_at") == IN_TWO_HOURS:
        overrides = {"observed_at": local_input(timezone.now() + timedelta(hours=2))}

    response = nurse_client.post(check_url(course), full_check(**overrides))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not BedsideCheck.objects.exists()


def test_a_late_entry_is_stored_at_its_clinical_time(nurse_client, course):
    three_hours_ago = timezone.now() - timedelta(hours=3)
    nurse_client.post(check_url(course), full_check(observed_at=local_input(three_hours_ago)))

    check = BedsideCheck.objects.get()
    assert abs(check.observed_at - three_hours_ago) < timedelta(minutes=1)
    assert check.recorded_at > check.observed_at + timedelta(hours=2)


def test_unable_to_assess_needs_a_reason_and_no_items(nurse_client, course):
    items = {
        f"neuro-ice_{n}": "" for n in ("orientation", "naming", "commands", "writing", "attention")
    }
    response = nurse_client.post(
        check_url(course), full_check(**items, **{"neuro-unable_to_assess": "on"})
    )
    assert response.status_code == 400
    assert "Say why the screen was not possible" in response.content.decode()

    response = nurse_client.post(
        check_url(course),
        full_check(
            **items,
            **{
                "neuro-unable_to_assess": "on",
                "neuro-unable_to_assess_reason": "Intubated and sedated",
            },
        ),
    )
    assert response.status_code == 302
    assert NeuroAssessment.objects.get().ice_total is None


def test_each_ice_item_is_labelled_once_with_its_points(nurse_client, course):
    page = nurse_client.get(check_url(course)).content.decode()

    assert "Orientation — year, month, city, hospital (4 points)" in page
    assert "Naming — 3 objects, e.g. point to clock, pen, button (3 points)" in page
    assert "Attention — count backwards from 100 by 10 (1 point)" in page
    assert "Orientation (Orientation" not in page
    assert "(1 point each)" not in page


def test_a_child_under_12_is_assessed_with_capd_not_ice(nurse_client, ward_a):
    child = CourseFactory(
        unit=ward_a,
        patient__date_of_birth=timezone.localdate() - timedelta(days=7 * 365),
        patient__weight_kg=24,
        product="tisa-cel",
    )
    page = nurse_client.get(check_url(child)).content.decode()
    assert "CAPD" in page
    assert "eye contact" in page
    assert "ice_orientation" not in page

    # A well child: items 1-4 "always" (reverse-scored to 0), items 5-8 "never" -> CAPD 0.
    answers = {f"neuro-capd_item_{n}": "4" if n <= 4 else "0" for n in range(1, 9)}
    response = nurse_client.post(
        check_url(child),
        {
            "observed_at": local_input(timezone.now()),
            **answers,
            "neuro-consciousness": "alert",
            "neuro-seizure": "none",
            "neuro-motor_weakness": "none",
            "neuro-cerebral_edema": "none",
            "vitals-temperature_unit": "C",
            "vitals-oxygen_support": "room_air",
            "vitals-vasopressors_count": "0",
        },
    )
    assert response.status_code == 302
    assessment = NeuroAssessment.objects.get()
    assert (assessment.capd_total, assessment.ice_total) == (0, None)


def test_ice_items_are_refused_for_a_child(nurse_client, ward_a):
    child = CourseFactory(
        unit=ward_a, patient__date_of_birth=timezone.localdate() - timedelta(days=7 * 365)
    )

    response = nurse_client.post(check_url(child), full_check())

    # The form for a child has no ICE fields, so ICE items posted anyway are ignored and the
    # CAPD is required instead: nothing is saved.
    assert response.status_code == 400
    assert not NeuroAssessment.objects.exists()


def test_oxygen_and_vasopressors_carry_forward_from_the_last_entry(nurse_client, course):
    nurse_client.post(check_url(course), full_check())

    page = nurse_client.get(check_url(course))

    vitals_form = page.context["page"].vitals
    assert vitals_form["oxygen_support"].value() == "low_flow"
    assert vitals_form["oxygen_flow_l_min"].value() == Decimal("4.0")


@pytest.mark.parametrize("earlier_checks", [0, 12])
def test_the_check_page_and_its_result_cost_a_fixed_number_of_queries(
    nurse_client,
    nurse,
    course,
    django_assert_max_num_queries,
    django_assert_num_queries,
    earlier_checks,
):
    for hours_ago in range(earlier_checks, 0, -1):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=timezone.now() - timedelta(hours=hours_ago + 1),
            vitals={"temp_c": 38.4, "oxygen_support": "room_air"},
        )
    active_now(nurse_client)
    # session, user, course (+patient, unit, status), last vital signs, the navigation bar's
    # open-flag and unread-notification counts.
    with django_assert_num_queries(6):
        assert nurse_client.get(check_url(course)).status_code == 200

    # A full check, whatever the course's history: the page's 4 reads; lock the status row
    # (4); the check and 5 records, each with its history row (12); the grading state (4 loads),
    # open flags, earlier markers (2), the snapshot and any later ones (2); new flags with
    # their history rows (10); the status refresh (10); two audit events.
    with django_assert_max_num_queries(55):
        response = nurse_client.post(check_url(course), full_check())
    assert response.status_code == 302

    # session, user, course, check (+snapshot, recorder), 5 record prefetches (each joined
    # with who recorded / amended / struck it, so corrections add no query), the navigation
    # bar's open-flag and unread-notification counts, the flags this check raised and the
    # course's open ones (one query: what to do now is never "routine" while one is urgent),
    # later moments this entry revised.
    with django_assert_num_queries(13):
        assert nurse_client.get(response.url).status_code == 200


def test_the_result_page_gives_the_protocols_own_escalation_text(nurse_client, course):
    version = course.protocol_version
    version.escalation = {"crs": {"2": "CRS 2: bleep the CAR-T fellow on 4321 now."}}
    version.save()

    response = nurse_client.post(check_url(course), full_check(), follow=True)

    assert "bleep the CAR-T fellow on 4321 now" in response.content.decode()


def test_an_entered_in_error_record_never_carries_forward(nurse_client, nurse, course):
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=1),
        vitals={"temp_c": 37.0, "oxygen_support": "room_air", "vasopressors_count": 2},
    )
    services.mark_entered_in_error(
        record=check.vitalsigns_set.get(), reason="Charted on the wrong patient", by=nurse
    )

    vitals_form = nurse_client.get(check_url(course)).context["page"].vitals

    assert vitals_form["vasopressors_count"].value() == 0


def test_a_check_of_one_vital_sign_shows_news2_as_incomplete_not_low_risk(nurse_client, course):
    """NEWS2 scores a full set of observations (RCP 2017 Chart 1): a temperature alone scores
    at least 1, and calling that "low risk" would hide the six parameters nobody measured."""
    response = nurse_client.post(
        check_url(course),
        {
            "observed_at": local_input(timezone.now()),
            "vitals-temperature": "38.6",
            "vitals-temperature_unit": "C",
            "vitals-oxygen_support": "room_air",
            "vitals-vasopressors_count": "0",
        },
        follow=True,
    )

    page = response.content.decode()
    assert "NEWS2 incomplete — at least 1" in page
    assert "respiration rate, SpO₂, systolic blood pressure, pulse not recorded" in page
    assert "low risk" not in page


def test_a_full_set_of_vital_signs_shows_the_news2_score_and_its_risk(nurse_client, course):
    response = nurse_client.post(check_url(course), full_check(), follow=True)

    page = response.content.decode()
    assert "NEWS2 incomplete" not in page
    assert "risk) — a general deterioration score" in page

"""Outpatients (issue 14 §2): a course's care setting, each check's setting (ward, clinic visit,
phone call), what a phone call cannot measure, and today's clinic list on the worklist."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from monitoring import fhir, registry, schedule, services
from monitoring.models import (
    AuditEvent,
    BedsideCheck,
    CareSetting,
    CheckSetting,
    TreatmentCourse,
    VitalSigns,
)
from tests.factories import (
    ROOM_AIR,
    CourseFactory,
    UserFactory,
    active_now,
    full_check,
    local_input,
)


@pytest.fixture
def outpatient(ward_a):
    return CourseFactory(
        unit=ward_a, care_setting=CareSetting.OUTPATIENT, patient__family_name="Clinicvisit"
    )


def check_url(course):
    return reverse("monitoring:nurse-check", args=[course.patient.public_id])


def phone_post(**extra):
    return {
        "observed_at": local_input(timezone.now()),
        "setting": "phone",
        "vitals-temperature": "37.9",
        "vitals-temperature_unit": "C",
        "vitals-oxygen_support": "room_air",
        "vitals-vasopressors_count": "0",
        "symptoms-fatigue": "on",
        **extra,
    }


# --- Services ------------------------------------------------------------------------------


def test_changing_the_care_setting_is_audited_old_to_new_with_the_reason(course, care_team_member):
    services.change_care_setting(
        course=course,
        care_setting="outpatient",
        reason="Discharged to outpatient follow-up",
        by=care_team_member,
    )

    course.refresh_from_db()
    assert course.care_setting == CareSetting.OUTPATIENT
    event = AuditEvent.objects.get(action=AuditEvent.Action.CARE_SETTING_CHANGED)
    assert event.summary == (
        "Care setting inpatient → outpatient (Discharged to outpatient follow-up)"
    )
    assert event.details["care_setting"] == ["inpatient", "outpatient"]
    assert event.user == care_team_member


def test_a_discharge_to_outpatient_frees_the_bed_and_says_so(course, care_team_member):
    course.bed = "7"
    course.save(update_fields=["bed"])

    services.change_care_setting(
        course=course, care_setting="outpatient", reason="Discharged", by=care_team_member
    )

    course.refresh_from_db()
    assert course.bed == ""  # the board and the wall would still show bed 7
    event = AuditEvent.objects.get(action=AuditEvent.Action.CARE_SETTING_CHANGED)
    assert event.summary == "Care setting inpatient → outpatient; bed 7 freed (Discharged)"
    assert event.details["bed"] == ["7", ""]


@pytest.mark.parametrize(
    ("value", "reason", "field", "says"),
    [
        ("home", "why", "care_setting", "Inpatient (inpatient), Outpatient (outpatient)"),
        ("inpatient", "why", "care_setting", "already inpatient"),
        ("outpatient", "  ", "reason", "Say why"),
    ],
)
def test_a_care_setting_change_is_refused_with_the_allowed_choices(
    course, care_team_member, value, reason, field, says
):
    with pytest.raises(ValidationError) as refused:
        services.change_care_setting(
            course=course, care_setting=value, reason=reason, by=care_team_member
        )

    assert says in " ".join(refused.value.message_dict[field])
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CARE_SETTING_CHANGED).exists()


def test_an_ended_course_keeps_its_care_setting(course, care_team_member):
    TreatmentCourse.objects.filter(pk=course.pk).update(
        status=TreatmentCourse.Status.COMPLETED, monitoring_ended_at=timezone.now()
    )
    with pytest.raises(ValidationError, match="has ended"):
        services.change_care_setting(
            course=course, care_setting="outpatient", reason="x", by=care_team_member
        )


def test_a_check_defaults_to_the_course_care_setting(course, outpatient, nurse):
    now = timezone.now()
    ward = services.record_check(course=course, by=nurse, observed_at=now, vitals=ROOM_AIR)
    clinic = services.record_check(course=outpatient, by=nurse, observed_at=now, vitals=ROOM_AIR)

    assert (ward.setting, clinic.setting) == ("ward", "clinic")
    assert "(clinic visit)" in AuditEvent.objects.filter(course=outpatient).latest("pk").summary


def test_an_unknown_check_setting_is_refused_with_the_allowed_choices(course, nurse):
    with pytest.raises(ValidationError) as refused:
        services.record_check(
            course=course,
            by=nurse,
            observed_at=timezone.now(),
            symptoms={"fatigue": True},
            setting="telepathy",
        )

    message = refused.value.message_dict["setting"][0]
    assert "Ward (ward), Clinic visit (clinic), Phone call (phone)" in message
    assert not BedsideCheck.objects.exists()


@pytest.mark.parametrize(
    ("sections", "refused_section", "says"),
    [
        ({"vitals": {"temp_c": 37.5, "heart_rate_bpm": 90}}, "vitals", "heart rate"),
        ({"vitals": {"temp_c": 37.5, "oxygen_support": "room_air"}}, "vitals", "oxygen"),
        ({"vitals": {"spo2_pct": 97}}, "vitals", "SpO₂"),
        ({"labs": {"crp_mg_l": 20}}, "labs", "lab results"),
        ({"neuro": {"consciousness": "alert"}}, "neuro", "neurological assessment"),
    ],
)
def test_a_phone_check_refuses_what_a_call_cannot_measure(
    outpatient, nurse, sections, refused_section, says
):
    with pytest.raises(ValidationError) as refused:
        services.record_check(
            course=outpatient,
            by=nurse,
            observed_at=timezone.now(),
            symptoms={"fatigue": True},
            setting="phone",
            **sections,
        )

    assert says in " ".join(refused.value.message_dict[refused_section])
    assert not BedsideCheck.objects.exists()


@pytest.mark.parametrize(
    ("sections", "refused_section", "says"),
    [
        ({"vitals": {"temp_c": 37.5, "spo2_pct": 97}}, "vitals", "SpO₂"),
        ({"vitals": {"temp_c": 37.5, "oxygen_support": "room_air"}}, "vitals", "oxygen"),
        ({"labs": {"crp_mg_l": 20}}, "labs", "lab results"),
        ({"neuro": {"consciousness": "alert"}}, "neuro", "neurological assessment"),
    ],
)
def test_a_home_entry_refuses_what_a_home_cannot_measure(
    outpatient, nurse, sections, refused_section, says
):
    """At home a cuff gives blood pressure and pulse; nothing gives SpO2, oxygen, ICE or labs."""
    with pytest.raises(ValidationError) as refused:
        services.record_check(
            course=outpatient, by=nurse, observed_at=timezone.now(), setting="home", **sections
        )

    message = " ".join(refused.value.message_dict[refused_section])
    assert says in message
    if refused_section == "vitals":
        assert "systolic BP" in message  # what it may record
        assert "heart rate" in message
    assert not BedsideCheck.objects.exists()


def test_a_home_entry_keeps_a_cuff_reading_and_is_graded_like_any_check(outpatient, nurse):
    check = services.record_check(
        course=outpatient,
        by=nurse,
        observed_at=timezone.now(),
        vitals={"temp_c": 38.4, "sbp_mmhg": 118, "dbp_mmhg": 70, "heart_rate_bpm": 104},
        setting="home",
    )

    assert check.is_remote
    vitals = VitalSigns.objects.get(check_entry=check)
    assert (vitals.sbp_mmhg, vitals.heart_rate_bpm) == (118, 104)
    assert check.snapshot.crs_grade == 1  # fever, no hypotension: ASTCT grade 1


def test_a_phone_check_records_symptoms_home_temperature_and_medicines_taken(outpatient, nurse):
    check = services.record_check(
        course=outpatient,
        by=nurse,
        observed_at=timezone.now(),
        vitals={"temp_c": 38.3},
        symptoms={"fever": True},
        treatment={"drug": "antipyretic", "dose": 1000, "dose_unit": "mg", "route": "po"},
        setting="phone",
    )

    assert check.setting == "phone"
    assert check.is_remote
    vitals = VitalSigns.objects.get(check_entry=check)
    assert vitals.temp_c == Decimal("38.3")
    assert vitals.oxygen_support == ""  # not said on a call: carries forward in grading
    assert check.snapshot.crs_grade == 1  # a fever the patient reports is still a fever


# --- The check page ------------------------------------------------------------------------


def test_the_check_page_offers_the_setting_from_the_care_setting(nurse_client, course, outpatient):
    ward_page = nurse_client.get(check_url(course)).content.decode()
    clinic_page = nurse_client.get(check_url(outpatient)).content.decode()

    assert 'value="ward"  id="id_setting_0" checked' in ward_page
    assert 'value="clinic"  id="id_setting_1" checked' in clinic_page
    assert (
        "By phone: temperature taken at home (no other vital sign), symptoms, treatments."
        in clinic_page
    )


@pytest.mark.parametrize("setting", ["ward", "clinic"])
def test_a_full_check_is_saved_with_its_setting(nurse_client, outpatient, setting):
    response = nurse_client.post(check_url(outpatient), {**full_check(), "setting": setting})

    assert response.status_code == 302
    assert BedsideCheck.objects.get(course=outpatient).setting == setting


def test_a_phone_check_is_saved_from_the_page_without_the_oxygen_it_did_not_ask(
    nurse_client, outpatient
):
    response = nurse_client.post(check_url(outpatient), phone_post())

    assert response.status_code == 302
    check = BedsideCheck.objects.get(course=outpatient)
    assert check.setting == "phone"
    vitals = VitalSigns.objects.get(check_entry=check)
    assert (vitals.temp_c, vitals.oxygen_support) == (Decimal("37.9"), "")
    result = nurse_client.get(response["Location"]).content.decode()
    assert "Phone call" in result


def test_the_phone_check_page_refuses_vital_signs_and_keeps_every_value(nurse_client, outpatient):
    response = nurse_client.post(
        check_url(outpatient), phone_post(**{"vitals-heart_rate_bpm": "95"})
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "A phone call check cannot measure heart rate (/min)" in page
    assert 'value="95"' in page
    assert 'value="37.9"' in page
    assert 'value="phone"  id="id_setting_2" checked' in page
    assert not BedsideCheck.objects.exists()


def test_the_phone_check_page_refuses_a_neuro_screen(nurse_client, outpatient):
    post = {**full_check(), "setting": "phone"}
    response = nurse_client.post(check_url(outpatient), post)

    assert response.status_code == 400
    assert "cannot record a neurological assessment" in response.content.decode()
    assert not BedsideCheck.objects.exists()


def test_the_check_page_refuses_an_unknown_setting(nurse_client, outpatient):
    response = nurse_client.post(check_url(outpatient), phone_post(setting="home"))

    assert response.status_code == 400  # home entries are the patient's own, never staff's
    assert "Select a valid choice" in response.content.decode()


# --- Pages: change care setting, course page, day detail, registry, FHIR ---------------------


def test_the_care_team_discharges_a_patient_to_outpatient_follow_up(care_client, course):
    url = reverse("monitoring:course-care-setting", args=[course.patient.public_id])
    assert (
        "Discharge to outpatient follow-up"
        in care_client.get(course.get_absolute_url()).content.decode()
    )

    refused = care_client.post(url, {"care_setting": "outpatient", "reason": ""})
    assert refused.status_code == 400
    response = care_client.post(
        url, {"care_setting": "outpatient", "reason": "Discharged home, CRS resolved"}
    )

    assert response.status_code == 302
    course.refresh_from_db()
    assert course.is_outpatient
    page = care_client.get(course.get_absolute_url()).content.decode()
    assert "Outpatient" in page
    assert "Admit to the ward" in page


def test_another_unit_cannot_change_the_care_setting(ward_b, course):
    stranger = UserFactory(username="otto", role="care_team", units=[ward_b])
    client = Client()
    client.force_login(stranger)
    url = reverse("monitoring:course-care-setting", args=[course.patient.public_id])

    response = client.post(url, {"care_setting": "outpatient", "reason": "x"})

    assert response.status_code in (403, 404)
    course.refresh_from_db()
    assert course.care_setting == "inpatient"


def test_the_day_detail_and_day_line_show_each_check_setting(care_client, outpatient, nurse):
    now = timezone.now()
    services.record_check(
        course=outpatient, by=nurse, observed_at=now - timedelta(minutes=1), vitals=ROOM_AIR
    )
    services.record_check(
        course=outpatient, by=nurse, observed_at=now, symptoms={"fatigue": True}, setting="phone"
    )
    day = outpatient.day_number(now)

    course_page = care_client.get(outpatient.get_absolute_url()).content.decode()
    detail = care_client.get(
        reverse("monitoring:course-day", args=[outpatient.patient.public_id, day])
    ).content.decode()

    assert "Clinic visit ×1" in course_page
    assert "Phone call ×1" in course_page
    assert "Clinic visit</span>" in detail
    assert "Phone call</span>" in detail


def test_the_registry_csv_and_fhir_say_where_each_check_was_done(outpatient, nurse):
    now = timezone.now()
    services.record_check(
        course=outpatient, by=nurse, observed_at=now - timedelta(hours=3), vitals=ROOM_AIR
    )
    services.record_check(
        course=outpatient, by=nurse, observed_at=now, vitals={"temp_c": 37.2}, setting="phone"
    )
    course = TreatmentCourse.objects.select_related("patient", "unit").get(pk=outpatient.pk)

    with translation.override("en"):
        row = dict(
            zip(
                registry.CSV_COLUMNS,
                registry.csv_row(course, registry.summary_for(course)),
                strict=False,
            )
        )
    assert row["Care setting"] == "Outpatient"
    assert row["Checks by setting"] == "clinic 1; phone 1"

    notes = [
        note["text"]
        for entry in fhir.course_bundle(course)["entry"]
        for note in entry["resource"].get("note", [])
    ]
    assert "Setting: phone call; reported by the patient or carer, not measured by staff." in notes
    assert "Setting: outpatient clinic visit." in notes


# --- Today's clinic list -------------------------------------------------------------------


def test_the_clinic_list_shows_todays_outpatients_only(nurse_client, course, outpatient, ward_a):
    # A course whose monitoring window is over has nothing due at all.
    finished = CourseFactory(
        unit=ward_a,
        care_setting=CareSetting.OUTPATIENT,
        patient__family_name="Windowover",
        infused_at=timezone.now() - timedelta(days=300),
    )
    page = nurse_client.get("/worklist/?list=clinic").content.decode()

    assert "Clinicvisit" in page  # never checked: every check due from day 0
    assert course.patient.family_name not in page  # an inpatient
    assert finished.patient.family_name not in page  # nothing due any more
    assert "Today&#x27;s clinic list" in page or "Today's clinic list" in page
    everyone = nurse_client.get("/worklist/").content.decode()
    assert course.patient.family_name in everyone
    assert "Clinicvisit" in everyone


def test_due_today_counts_overdue_and_before_midnight_only():
    now = timezone.now()
    end = schedule.end_of_day(now)

    def due(at):
        return schedule.Due("vitals", "Vital signs", None, at, timedelta(hours=4), None)

    assert schedule.due_today([due(now - timedelta(hours=1))], now=now)
    assert schedule.due_today([due(end - timedelta(minutes=1))], now=now)
    assert not schedule.due_today([due(end)], now=now)
    assert not schedule.due_today([], now=now)


def test_another_units_outpatients_are_not_on_the_clinic_list(outsider_client, outpatient):
    page = outsider_client.get("/worklist/?list=clinic").content.decode()

    assert "Clinicvisit" not in page
    assert "No outpatient has a check due today" in page


@pytest.mark.parametrize("n_patients", [1, 12])
def test_the_clinic_list_query_budget_does_not_grow_with_patients(
    nurse_client, nurse, ward_a, django_assert_num_queries, n_patients
):
    for course in CourseFactory.create_batch(
        n_patients, unit=ward_a, care_setting=CareSetting.OUTPATIENT
    ):
        services.record_check(
            course=course, by=nurse, observed_at=timezone.now(), vitals={"temp_c": 37.2}
        )
    CourseFactory.create_batch(3, unit=ward_a)  # inpatients: not listed, not loaded
    active_now(nurse_client)
    # session, user, the user's units (unit filter menu), the versions' windows, the count of
    # outpatients due today, the page's courses joined with patient, unit, status row and
    # version, their schedules, the open-flag and unread-notification counts in the
    # navigation bar. Never one per patient.
    with django_assert_num_queries(9):
        response = nurse_client.get("/worklist/?list=clinic")
    assert response.content.decode().count("care-setting") == n_patients


# --- Translations --------------------------------------------------------------------------


def test_the_new_words_are_in_spanish(nurse_client, nurse, outpatient):
    nurse.language = "es"
    nurse.save(update_fields=["language"])
    with translation.override("es"):
        assert str(CheckSetting.PHONE.label) == "Llamada telefónica"
        assert str(CareSetting.OUTPATIENT.label) == "Ambulatorio"
        assert "temperatura" in services.remote_allowed_text("phone")
    page = nurse_client.get("/worklist/?list=clinic").content.decode()
    assert "Lista de consulta de hoy" in page
    assert "Ambulatorio" in page

"""Issue 13 §4, the leftovers (l1): course statuses, check-not-done reasons, flag statuses, check
names and waits, the course action pages, the test notification, the NEWS2 risk word and the
escalation-settings messages read in Spanish for a Spanish user; English reads as before, and
what is stored (deferrals, flag close reasons, audit) stays English whoever wrote it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from monitoring import notification_centre, schedule, services
from monitoring.forms.care_team import GradeConfirmationForm
from monitoring.models import CheckNotDone, Flag, TherapyProduct, TreatmentCourse, User
from monitoring.models.courses import CourseStatus
from tests.factories import UserFactory, full_check, local_input
from tests.web.test_check_page import check_url
from tests.web.test_course_lifecycle import admission
from tests.web.test_protocol_pages import edit_url, form_data


@pytest.fixture(autouse=True)
def _back_to_english():
    yield
    translation.activate("en")


def words(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def client_for(user, language: str) -> Client:
    user.language = language
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    return client


def url(name: str, course) -> str:
    return reverse(f"monitoring:{name}", args=[course.patient.public_id])


# --- 1. Labels ----------------------------------------------------------------------------


def test_course_statuses_reasons_and_flag_statuses_read_in_spanish_and_english():
    with translation.override("es"):
        assert str(TreatmentCourse.Status.MONITORING.label) == "En monitorización"
        assert str(TreatmentCourse.Status.DIED.label) == "Fallecido"
        other = TherapyProduct(code="other", name="Other / investigational", product_class="other")
        assert other.label == "Otro / en investigación"
        # Drug names stay as published.
        axi_cel = TherapyProduct(code="axi-cel", name="Axicabtagene ciloleucel", brand="Yescarta")
        assert axi_cel.label == "Axicabtagene ciloleucel (Yescarta)"
        assert str(CheckNotDone.Reason.REFUSED.label) == "El paciente se negó"
        assert str(Flag.Status.ACKNOWLEDGED.label) == "Reconocida"
    with translation.override("en"):
        assert str(TreatmentCourse.Status.DIED.label) == "Died"
        assert str(CheckNotDone.Reason.REFUSED.label) == "Patient refused"
        assert str(Flag.Status.OPEN.label) == "Open"


def test_an_ended_course_says_its_status_in_spanish(course, care_team_member):
    services.end_monitoring(
        course=course,
        outcome="died",
        ended_at=timezone.now() - timedelta(minutes=5),
        reason="Refractory CRS",
        by=care_team_member,
    )
    response = client_for(care_team_member, "es").get(url("course-end", course), follow=True)

    text = words(response)
    assert "La monitorización de este tratamiento ha terminado (Fallecido)." in text
    assert "(Died)" not in text


def test_ending_monitoring_in_spanish_stores_the_flag_close_reason_in_english(
    course, nurse, care_team_member
):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=2),
        vitals={"temp_c": 38.9, "sbp_mmhg": 85, "heart_rate_bpm": 120, "spo2_pct": 96},
    )
    assert Flag.objects.unresolved().filter(course=course).exists()
    client = client_for(care_team_member, "es")

    response = client.post(
        url("course-end", course),
        {
            "outcome": "died",
            "ended_at": local_input(timezone.now() - timedelta(minutes=5)),
            "reason": "CRS",
        },
        follow=True,
    )

    assert "La monitorización de este tratamiento ha finalizado: Fallecido." in words(response)
    assert "alertas abiertas cerradas." in words(response) or "alerta abierta cerrada." in words(
        response
    )
    assert {f.resolve_reason for f in Flag.objects.filter(course=course)} == {
        "Monitoring ended (died): CRS"
    }


# --- 2. Check names, not-done reasons and waits -------------------------------------------


def test_a_check_not_done_reads_in_spanish_on_the_course_page_and_is_stored_in_english(
    course, nurse
):
    with translation.override("es"):  # a Spanish nurse records it
        services.record_check_not_done(
            course=course, check_type="vitals", reason="refused", by=nurse
        )
    status = CourseStatus.objects.get(course=course)
    assert status.deferrals["vitals"]["reason"] == "Patient refused"

    spanish = words(client_for(nurse, "es").get(url("patient-course", course)))
    assert "Constantes vitales" in spanish
    assert "El paciente se negó" in spanish
    assert "Patient refused" not in spanish

    english = words(client_for(nurse, "en").get(url("patient-course", course)))
    assert "Vital signs" in english
    assert "Patient refused" in english


def test_waits_read_the_same_in_english_and_a_due_check_names_itself_in_the_reader_s_language():
    assert schedule.human_duration(timedelta(hours=2, minutes=5)) == "2 h 05 min"
    with translation.override("en"):
        assert schedule.duration_words(timedelta(hours=2, minutes=5)) == "2 h 05 min"
        assert schedule.duration_words(timedelta(days=3, hours=4)) == "3 d 4 h"
    due = schedule.Due("neuro", "Neuro assessment (ICE/CAPD)", None, timezone.now(), None, None)
    with translation.override("es"):
        assert due.label != due.name  # translated where shown…
        assert "ICE/CAPD" in due.label
    assert due.name == "Neuro assessment (ICE/CAPD)"  # …English where stored


# --- 3. Course action pages ---------------------------------------------------------------


def test_the_action_pages_intros_read_in_spanish_with_spanish_dates(course, care_team_member):
    client = client_for(care_team_member, "es")
    day0 = timezone.localtime(course.infused_at)

    transfer = words(client.get(url("course-transfer", course)))
    assert "Ahora en Ward A. Tras el traslado" in transfer
    infusion = words(client.get(url("course-infusion", course)))
    assert f"Registrado: día 0 {day0:%d/%m/%Y %H:%M}." in infusion
    details = words(client.get(url("patient-details", course)))
    assert f"Registrado: nacido el {course.patient.date_of_birth:%d/%m/%Y}" in details
    ending = words(client.get(url("course-end", course)))
    assert "no tiene ninguna alerta abierta" in ending


def test_the_action_pages_intros_read_as_before_in_english(course, care_team_member):
    client = client_for(care_team_member, "en")
    day0 = timezone.localtime(course.infused_at)
    course.patient.refresh_from_db()
    weight = course.patient.weight_kg  # as stored (a Decimal): printed as before

    assert "Now on Ward A. After the transfer" in words(client.get(url("course-transfer", course)))
    assert f"On file: day 0 {day0:%Y-%m-%d %H:%M}. Every D+n" in words(
        client.get(url("course-infusion", course))
    )
    assert f"On file: born {course.patient.date_of_birth:%Y-%m-%d}, {weight} kg." in words(
        client.get(url("patient-details", course))
    )
    assert "and it has no open flag." in words(client.get(url("course-end", course)))


def test_starting_a_course_and_correcting_details_say_so_in_spanish(ward_a, care_team_member):
    client = client_for(care_team_member, "es")

    started = client.post(
        reverse("monitoring:course-start"), admission(**{"course-unit": ward_a.pk}), follow=True
    )
    assert "tratamiento con Axicabtagene ciloleucel (Yescarta) iniciado, día 0" in words(started)
    course = TreatmentCourse.objects.get(patient__mrn="MRN-NEW-1")

    corrected = client.post(
        url("patient-details", course),
        {"date_of_birth": "1970-07-25", "weight_kg": "60.0", "reason": "Weighed today"},
        follow=True,
    )
    assert "Datos corregidos." in words(corrected)


def test_starting_a_course_says_so_in_english_as_before(ward_a, care_team_member):
    client = client_for(care_team_member, "en")

    started = client.post(
        reverse("monitoring:course-start"), admission(**{"course-unit": ward_a.pk}), follow=True
    )

    assert "Rosalind Franklin: Axicabtagene ciloleucel (Yescarta) course started, day 0 " in (
        words(started)
    )


def test_the_grade_choices_read_in_the_reader_s_language():
    choices = GradeConfirmationForm.base_fields["grade"].choices
    with translation.override("es"):
        assert [str(label) for _value, label in choices][1:] == [f"Grado {n}" for n in range(5)]
    with translation.override("en"):
        assert [str(label) for _value, label in choices][1:] == [f"Grade {n}" for n in range(5)]


# --- 4. The test notification -------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "title", "body"),
    [
        ("es", "cartmonitor: notificación de prueba", "Pidió una prueba desde su perfil a las "),
        ("en", "cartmonitor: test notification", "You asked for a test from your profile at "),
    ],
)
def test_the_test_notification_is_written_in_the_recipient_s_language(
    ward_a, language, title, body
):
    user = UserFactory(role=User.Role.NURSE, units=[ward_a], language=language)
    with translation.override("en" if language == "es" else "es"):  # whoever clicks, whatever
        notification = notification_centre.send_test_notification(user)
    assert notification.title == title
    assert notification.body.startswith(body)


# --- 5. The NEWS2 risk word ---------------------------------------------------------------


def test_the_news2_risk_word_reads_in_spanish(nurse, course):
    client = client_for(nurse, "es")
    response = client.post(check_url(course), full_check(), follow=True)

    text = words(response)
    assert re.search(r"NEWS2 \d+ \(riesgo (bajo|bajo-medio|medio|alto)\)", text), text[-2000:]
    english = words(client_for(nurse, "en").get(url("patient-course", course)))
    assert re.search(r"NEWS2 \d+ \((low|low-medium|medium|high) risk\)", english)


# --- 6. Escalation-settings messages ------------------------------------------------------


@pytest.fixture
def template(db):
    from monitoring.models import ProtocolVersion

    return ProtocolVersion.objects.get(protocol__name__startswith="Default", number=1)


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("es", "Urgente (15 min) no puede ser más corto que crítica (30 min)"),
        ("en", "Urgent (15 min) must not be shorter than critical (30 min)"),
    ],
)
def test_escalation_settings_problems_read_in_the_reader_s_language(
    admin_user, template, language, message
):
    client = client_for(admin_user, language)

    response = client.post(
        edit_url(template), form_data(template, ack_critical="30", ack_urgent="15")
    )

    assert response.status_code == 400
    assert message in words(response)


def test_a_tier_chosen_twice_is_named_in_spanish(admin_user, template):
    client = client_for(admin_user, "es")
    data = form_data(template, ladder_1="attending", ladder_2="attending", ladder_3="", ladder_4="")

    response = client.post(edit_url(template), data)

    assert response.status_code == 400
    assert "está elegido dos veces: cada nivel una sola vez." in words(response)


# --- Every page of these in Spanish -------------------------------------------------------


def test_the_pages_of_l1_open_in_spanish(course, care_team_member, admin_user, template):
    client = client_for(care_team_member, "es")
    for name in ("course-end", "course-transfer", "course-infusion", "patient-details"):
        assert client.get(url(name, course)).status_code == 200, name
    assert client.get(reverse("monitoring:course-start")).status_code == 200
    assert client_for(admin_user, "es").get(edit_url(template)).status_code == 200

"""The care team's pages in Spanish (issue 13 §4, second pass): the board, the course page and
one day, the handover and the wall display read in the reader's language; a grade flag's
message and "what to do now" follow it too, while the stored English message (which
de-duplicates and goes out in notifications) stays as it was. English stays unchanged."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from monitoring import flag_messages, flag_rules, services
from monitoring.models import Flag, User
from tests.factories import ROOM_AIR, UserFactory


@pytest.fixture(autouse=True)
def _back_to_english():
    yield
    translation.activate("en")


def words(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def sick(course, nurse):
    """Fever on low-flow oxygen three hours ago: CRS grade 2, a flag on the board."""
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=3),
        vitals={**ROOM_AIR, "temp_c": 38.6, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )
    return course


def _client(user, language: str) -> Client:
    user.language = language
    user.save(update_fields=["language"])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def spanish_care(care_team_member):
    return _client(care_team_member, "es")


@pytest.fixture
def english_care(ward_a):
    return _client(UserFactory(role=User.Role.CARE_TEAM, units=[ward_a]), "en")


def test_a_grade_flag_keeps_its_english_message_and_carries_its_code(sick):
    flag = Flag.objects.get(course=sick, kind="crs")
    assert flag.message.startswith("CRS grade 2: ")
    assert flag.message_data["code"] == "flag.grade"
    assert flag.message_data["params"]["grade"] == 2
    with translation.override("es"):
        assert flag.display_message.startswith("CRS grado 2: ")
        assert "CRS grade" not in flag.display_message
    with translation.override("en"):
        assert flag.display_message == flag.message  # English reads exactly as stored


def test_an_old_flag_without_a_code_reads_as_stored(sick):
    Flag.objects.filter(course=sick).update(message_data=None)
    flag = Flag.objects.get(course=sick, kind="crs")
    with translation.override("es"):
        assert flag.display_message == flag.message


def test_the_board_reads_in_spanish_with_the_flag_in_spanish(spanish_care, sick):
    page = words(spanish_care.get(reverse("monitoring:care-flags")))
    assert "Panel" in page
    assert "con una alerta sin resolver o un control atrasado" in page
    assert "CRS grado 2:" in page
    assert "CRS grade 2" not in page
    assert "esperando" in page
    assert "refreshes every 30 seconds" not in page


def test_the_board_reads_in_english_unchanged(english_care, sick):
    page = words(english_care.get(reverse("monitoring:care-flags")))
    assert "with an unresolved flag or an overdue check" in page
    assert "CRS grade 2:" in page
    assert "CRS grado" not in page
    assert "refreshes every 30 seconds" in page


def test_the_course_page_and_a_day_read_in_spanish(spanish_care, sick):
    public_id = sick.patient.public_id
    page = words(spanish_care.get(reverse("monitoring:patient-course", args=[public_id])))
    assert "Alertas abiertas" in page
    assert "CRS grado 2:" in page
    assert "Día 0 = infusión" in page  # the header says what day 0 is (issue 14)
    assert "Day by day" not in page
    assert "Día a día" in page
    day = spanish_care.get(reverse("monitoring:course-day", args=[public_id, 0]))
    assert day.status_code == 200
    assert "resumen y controles" in words(day)


def test_the_course_page_reads_in_english_unchanged(english_care, sick):
    page = words(
        english_care.get(reverse("monitoring:patient-course", args=[sick.patient.public_id]))
    )
    assert "Open flags" in page
    assert "CRS grade 2:" in page
    assert "Day by day" in page


def test_the_handover_reads_in_spanish(spanish_care, sick):
    page = words(spanish_care.get(reverse("monitoring:handover")))
    assert "Relevo de turno" in page
    assert "Alertas abiertas" in page
    assert "CRS grado 2:" in page
    assert "1 paciente en monitorización" in page
    assert "Shift handover" not in page


def test_the_handover_reads_in_english_unchanged(english_care, sick):
    page = words(english_care.get(reverse("monitoring:handover")))
    assert "Shift handover" in page
    assert "1 patient under monitoring" in page


def test_the_wall_display_reads_in_spanish(ward_a, sick):
    sick.bed = "7"
    sick.save(update_fields=["bed"])
    screen = _client(UserFactory(role=User.Role.DISPLAY, units=[ward_a]), "es")
    page = words(screen.get(reverse("monitoring:wall-display")))
    assert "Pantalla mural" in page
    assert "Unidad · cama" in page
    assert "cama 7" in page
    assert "Wall display —" not in page
    assert "Unit · bed" not in page
    english = _client(UserFactory(role=User.Role.DISPLAY, units=[ward_a]), "en")
    assert "Unit · bed" in words(english.get(reverse("monitoring:wall-display")))


def test_advice_reads_in_the_readers_language_and_a_centres_own_wording_as_written():
    texts = flag_rules.escalation_advice(
        0, None, open_flags=[("oxygen_need", flag_rules.URGENT)], review_reasons=["x"]
    )
    with translation.override("es"):
        spanish = [flag_messages.localize_advice(t) for t in texts]
        assert flag_messages.advice_for("news2", flag_rules.CRITICAL).startswith("NEWS2 de 7 o más")
        assert flag_messages.localize_advice("Call Dr House.") == "Call Dr House."
    assert spanish[0].startswith("Necesidad de oxígeno nueva o creciente")
    assert spanish[1].startswith("Pida al médico de CAR-T")
    with translation.override("en"):
        assert [flag_messages.localize_advice(t) for t in texts] == texts
    # Every default text has its entry: none falls through untranslated.
    defaults = [*flag_rules.FLAG_ADVICE.values(), flag_rules.REVIEW_ADVICE]
    defaults += [text for table in flag_rules.ESCALATION.values() for text in table.values()]
    with translation.override("es"):
        assert all(flag_messages.localize_advice(t) != t for t in defaults)


def test_no_page_of_the_care_team_fails_in_spanish(spanish_care, care_team_member, nurse, sick):
    public_id = sick.patient.public_id
    flag = Flag.objects.get(course=sick, kind="crs")
    care_team_member.role = User.Role.ADMIN
    care_team_member.save(update_fields=["role"])
    urls = [
        reverse("monitoring:care-flags"),
        reverse("monitoring:care-patient-flags", args=[public_id]),
        reverse("monitoring:patient-course", args=[public_id]),
        reverse("monitoring:course-day", args=[public_id, 0]),
        reverse("monitoring:handover"),
        reverse("monitoring:patient-summary", args=[public_id]),
        reverse("monitoring:exports-registry"),
        reverse("monitoring:course-start"),
        reverse("monitoring:course-end", args=[public_id]),
        reverse("monitoring:course-transfer", args=[public_id]),
        reverse("monitoring:course-infusion", args=[public_id]),
        reverse("monitoring:patient-details", args=[public_id]),
    ]
    for url in urls:
        response = spanish_care.get(url, HTTP_HX_REQUEST="true" if "flags/" in url else None)
        assert response.status_code == 200, url
    treatments = _client(nurse, "es").get(
        reverse("monitoring:patient-treatments", args=[public_id])
    )
    assert treatments.status_code == 200
    assert "Tratamiento administrado" in words(treatments)
    # An acknowledge that changed nothing: the flag's own page, in Spanish.
    care = _client(UserFactory(role=User.Role.CARE_TEAM, units=[sick.unit]), "es")
    response = care.post(reverse("monitoring:care-flag-resolve", args=[flag.pk]), {"reason": ""})
    assert response.status_code == 400
    assert "Resolver alerta" in words(response)

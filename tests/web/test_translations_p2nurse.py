"""The nurse's pages speak the reader's language (issue 13 §4, second pass): worklist, check
page (with its errors), result, not done, amendment, login and the 404 page in Spanish, and the
same pages unchanged in English."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from monitoring import grading
from monitoring.forms.nurse import CAPD_QUESTIONS, ICE_TASKS, ICE_TITLES
from monitoring.models import BedsideCheck, VitalSigns
from tests.factories import full_check


@pytest.fixture(autouse=True)
def _back_to_english():
    yield
    translation.activate(settings.LANGUAGE_CODE)


def speaks(user, client, language):
    user.language = language
    user.save(update_fields=["language"])
    return client


def test_the_worklist_in_spanish_and_in_english(nurse_client, nurse, course):
    page = speaks(nurse, nurse_client, "es").get(reverse("monitoring:nurse-worklist")).content
    page = page.decode()
    assert '<html lang="es">' in page
    assert "Lista de trabajo" in page
    assert "Registrar control" in page
    assert "Controles pendientes" in page
    assert "Saltar al contenido" in page
    assert "Record check" not in page
    page = speaks(nurse, nurse_client, "en").get(reverse("monitoring:nurse-worklist")).content
    page = page.decode()
    assert '<html lang="en">' in page
    assert "Record check" in page
    assert "Checks due" in page


def test_the_check_page_and_its_errors_in_spanish(nurse_client, nurse, course):
    url = reverse("monitoring:nurse-check", args=[course.patient.public_id])
    client = speaks(nurse, nurse_client, "es")
    page = client.get(url).content.decode()
    assert "Constantes vitales y soporte" in page
    assert "Guardar control" in page
    assert "Orientación — año, mes, ciudad, hospital (4 puntos)" in page
    assert "Aire ambiente" in page  # the oxygen choices
    response = client.post(url, full_check(**{"vitals-temperature": "50"}))
    page = response.content.decode()
    assert response.status_code == 400
    assert "La temperatura debe estar entre" in page
    assert "Hay 1 problema" in page
    assert not BedsideCheck.objects.filter(course=course).exists()


def test_the_check_page_errors_in_english_are_unchanged(nurse_client, nurse, course):
    url = reverse("monitoring:nurse-check", args=[course.patient.public_id])
    response = nurse_client.post(url, full_check(**{"vitals-temperature": "50"}))
    page = response.content.decode()
    assert "Temperature must be between" in page
    assert "There is 1 problem" in page


def test_the_result_page_in_spanish(nurse_client, nurse, course):
    url = reverse("monitoring:nurse-check", args=[course.patient.public_id])
    client = speaks(nurse, nurse_client, "es")
    response = client.post(url, full_check(), follow=True)
    page = response.content.decode()
    assert "Control guardado." in page
    assert "Constantes vitales" in page
    assert "Record another check" not in page
    assert "Cánula nasal de bajo flujo 4 L/min" in page


def test_not_done_in_spanish_and_english(nurse_client, nurse, course):
    url = reverse("monitoring:nurse-not-done", args=[course.patient.public_id])
    page = speaks(nurse, nurse_client, "es").get(url).content.decode()
    assert "Registrar un control como no realizado" in page
    assert "Guardar: no realizado" in page
    page = speaks(nurse, nurse_client, "en").get(url).content.decode()
    assert "Record a check as not done" in page
    assert "Save — not done" in page


def test_an_amendment_in_spanish(nurse_client, nurse, course):
    url = reverse("monitoring:nurse-check", args=[course.patient.public_id])
    nurse_client.post(url, full_check())
    vitals = VitalSigns.objects.get(check_entry__course=course)
    amend = reverse("monitoring:record-amend", args=["vitals", vitals.pk])
    client = speaks(nurse, nurse_client, "es")
    page = client.get(amend).content.decode()
    assert "Corregir constantes vitales" in page
    assert "Guardar corrección" in page
    response = client.post(amend, {"reason": ""})
    page = response.content.decode()
    assert response.status_code == 400
    assert "Indique el motivo: se guarda con el registro." in page
    page = speaks(nurse, nurse_client, "en").get(amend).content.decode()
    assert "Amend vital signs" in page
    assert "Save correction" in page


def test_login_and_404_in_spanish(client):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Iniciar sesión" in page
    assert '<html lang="es">' in page
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">Log in<" in page


def test_the_404_page_in_spanish(nurse_client, nurse):
    response = speaks(nurse, nurse_client, "es").get("/no-such-page/")
    assert response.status_code == 404
    assert "Página no encontrada" in response.content.decode()


def test_the_ice_and_capd_tables_cover_the_grading_library():
    assert set(ICE_TITLES) == set(ICE_TASKS) == {item.name for item in grading.ICE_ITEMS}
    with translation.override("en"):
        for item in grading.ICE_ITEMS:
            assert str(ICE_TITLES[item.name]) == item.title
            assert str(ICE_TASKS[item.name]) == item.task
        assert [str(q) for q in CAPD_QUESTIONS] == list(grading.CAPD_ITEMS)

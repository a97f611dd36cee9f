"""Issue 13 §4, second pass (admin and notifications): the protocol, audit, rota, quality and
notification pages, the services' refusals and the notifications themselves read in the
reader's language; English stays as it was; exports stay English whoever downloads them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from monitoring import notify, services
from monitoring.models import (
    AuditEvent,
    Delivery,
    Flag,
    Notification,
    OnCallShift,
    ProtocolVersion,
    User,
)
from tests.factories import CourseFactory, UnitFactory, UserFactory
from tests.web.test_protocol_pages import form_data


@pytest.fixture(autouse=True)
def _back_to_english():
    """A request leaves its language active in this thread: later tests expect English."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _speaks(user, language: str):
    user.language = language
    user.save(update_fields=["language"])
    return user


@pytest.fixture
def template(db):
    return ProtocolVersion.objects.get(protocol__name__startswith="Default", number=1)


@pytest.fixture
def charge(ward_a):
    return UserFactory(
        username="cora", first_name="Cora", last_name="Charge", role=User.Role.CHARGE_NURSE,
        units=[ward_a],
    )  # fmt: skip


# --- Protocol pages ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("es", ["Protocolos de monitorización", "Tratamientos que la usan", "Editar", "activa"]),
        ("en", ["Monitoring protocols", "Courses using it", ">Edit<", "active"]),
    ],
)
def test_the_protocol_list_reads_in_the_admin_s_language(admin_user, template, language, words):
    page = _client(_speaks(admin_user, language)).get(reverse("monitoring:admin-protocols"))

    text = page.content.decode()
    assert page.status_code == 200
    for word in words:
        assert word in text
    if language == "es":
        assert "Monitoring protocols" not in text
        assert f'lang="{language}"' in text


def test_a_refused_protocol_edit_says_what_is_wrong_in_spanish(admin_user, template):
    data = form_data(template, note="", heart_rate_low=140, heart_rate_high=130)

    page = _client(_speaks(admin_user, "es")).post(
        reverse("monitoring:admin-protocol-version-edit", args=[template.pk]), data
    )

    text = page.content.decode()
    assert page.status_code == 400
    assert "No se ha guardado nada." in text
    assert "Debe ser inferior al límite de taquicardia (130/min)." in text
    assert "Indique qué cambió y por qué." in text
    assert "Bradicardia: FC igual o inferior a" in text  # the field's label, from the model
    assert "Say what changed and why." not in text
    assert ProtocolVersion.objects.filter(protocol=template.protocol).count() == 1


def test_the_same_refused_edit_reads_as_before_in_english(admin_user, template):
    data = form_data(template, note="", heart_rate_low=140, heart_rate_high=130)

    page = _client(admin_user).post(
        reverse("monitoring:admin-protocol-version-edit", args=[template.pk]), data
    )

    text = page.content.decode()
    assert page.status_code == 400
    assert "Must be below the tachycardia limit (130/min)." in text
    assert "Say what changed and why." in text
    assert "Bradycardia: HR at or below" in text


def test_a_course_s_protocol_page_says_why_a_move_is_refused_in_spanish(
    care_team_member, ward_a, template
):
    course = CourseFactory(unit=ward_a)
    other = ProtocolVersion.objects.create(
        protocol=template.protocol, number=2, products=["other-product"], change_note="v2"
    )
    url = reverse("monitoring:course-protocol", args=[course.patient.public_id])
    client = _client(_speaks(care_team_member, "es"))

    page = client.get(url).content.decode()
    assert "Protocolo de monitorización" in page
    assert "Cambiar el tratamiento de versión" in page or "Ninguna otra versión" in page
    with translation.override("es"):
        assert services.move_refusal(course, other) == (
            f"{other} no se aplica a tratamientos con {course.product_label}."
        )
    with translation.override("en"):
        assert services.move_refusal(course, other) == (
            f"{other} does not apply to {course.product_label} courses."
        )


# --- Audit log, rota, quality -----------------------------------------------------------------


def test_the_audit_log_reads_in_spanish_and_its_summaries_stay_english(admin_user, ward_a):
    services.audit(admin_user, AuditEvent.Action.ROTA_CHANGED, summary="Ward A: Dan on call")

    text = _client(_speaks(admin_user, "es")).get(reverse("monitoring:admin-audit-log")).content
    text = text.decode()
    assert "Registro de auditoría" in text
    assert "Cuadrante de guardias modificado" in text  # the action's label
    assert "1 evento" in text
    assert "Ward A: Dan on call" in text  # what happened, as written: audit summaries are English
    english = _client(_speaks(admin_user, "en")).get(reverse("monitoring:admin-audit-log"))
    assert "On-call rota changed" in english.content.decode()
    assert "1 event" in english.content.decode()


def test_a_bad_audit_filter_is_explained_in_spanish(admin_user):
    page = _client(_speaks(admin_user, "es")).get(
        reverse("monitoring:admin-audit-log"), {"date_from": "2026-03-10", "date_to": "2026-03-01"}
    )

    text = page.content.decode()
    assert "Revise el filtro:" in text
    assert "La fecha final debe ser igual o posterior a la inicial." in text


def test_the_rota_and_a_service_refusal_on_its_form_read_in_spanish(ward_a, ward_b, charge):
    stranger = UserFactory(username="bo", first_name="Bo", last_name="B", units=[ward_b])
    charge.units.add(ward_b)  # so Bo is offered, but is not Ward A staff
    client = _client(_speaks(charge, "es"))
    now = timezone.localtime()

    page = client.get(reverse("monitoring:rota")).content.decode()
    assert "De guardia ahora" in page
    assert "Médico adjunto" in page  # a tier of the ladder
    assert "<strong>Nadie de guardia</strong> — las alertas se saltan este nivel" in page

    response = client.post(
        reverse("monitoring:rota-add"),
        {
            "unit": ward_a.pk,
            "tier": "attending",
            "user": stranger.pk,
            "starts_at": f"{now:%Y-%m-%dT%H:%M}",
            "ends_at": f"{now + timedelta(hours=8):%Y-%m-%dT%H:%M}",
        },
    )

    text = response.content.decode()
    assert response.status_code == 400
    assert "No se ha puesto a nadie de guardia." in text
    assert "Bo B no pertenece a Ward A: solo su personal puede estar de guardia." in text
    assert not OnCallShift.objects.exists()


def test_the_quality_page_reads_in_spanish_and_its_csv_stays_english(care_team_member):
    client = _client(_speaks(care_team_member, "es"))

    page = client.get(reverse("monitoring:quality"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Indicadores de calidad" in text
    assert "Todo el periodo" in text
    assert 'data-median="Mediana"' in text  # the chart's legend, for quality_charts.js
    assert 'data-escalations="escalados"' in text
    assert "Enfermera a pie de cama" in text  # a tier column

    csv = client.get(reverse("monitoring:quality-csv")).content.decode("utf-8-sig")
    assert "Critical and urgent" in csv
    assert "Bedside nurse" in csv
    assert "Críticas" not in csv


def test_bad_quality_dates_are_explained_in_spanish(care_team_member):
    page = _client(_speaks(care_team_member, "es")).get(
        reverse("monitoring:quality"), {"start": "2026-03-10", "end": "2026-03-01"}
    )

    text = page.content.decode()
    assert page.status_code == 400
    assert "La fecha de inicio no puede ser posterior a la de fin." in text


# --- Notifications ----------------------------------------------------------------------------


def _tell_both(course, spanish, english) -> dict[int, Notification]:
    flag = Flag.objects.create(
        course=course, kind=Flag.Kind.CRS, severity=Flag.Severity.CRITICAL, message="CRS grade 3"
    )
    told = notify.notify(
        [spanish, english],
        key=f"flag{flag.pk}",
        course=course,
        flag=flag,
        severity=flag.severity,
        reason=Notification.Reason.ESCALATION,
        tier="attending",
        title=notify.title(course, notify.flag_headline(flag.severity, escalated=True)),
        body=notify.flag_body(course, flag.message, "20 min"),
    )
    return {n.recipient_id: n for n in told}


def test_a_notification_is_written_in_each_recipient_s_language(ward_a):
    course = CourseFactory(
        unit=ward_a, bed="3", patient__given_name="Ana", patient__family_name="Ruiz"
    )
    spanish = _speaks(UserFactory(username="sp", units=[ward_a]), "es")
    english = UserFactory(username="en", units=[ward_a])

    told = _tell_both(course, spanish, english)

    assert told[spanish.pk].title == "cartmonitor: alerta crítica sin reconocer, Ward A, cama 3"
    assert told[english.pk].title == "cartmonitor: critical flag not acknowledged, Ward A, bed 3"
    assert (
        told[spanish.pk].body
        == "Ana Ruiz (Ward A, cama 3): CRS grade 3 — sin reconocer desde hace 20 min"
    )
    assert (
        told[english.pk].body == "Ana Ruiz (Ward A, bed 3): CRS grade 3 — unacknowledged for 20 min"
    )
    assert translation.get_language() == settings.LANGUAGE_CODE  # nothing left switched


def test_the_notification_centre_reads_in_spanish(ward_a):
    course = CourseFactory(unit=ward_a, bed="3")
    spanish = _speaks(UserFactory(username="sp", units=[ward_a], notify_by_webhook=True), "es")
    english = UserFactory(username="en", units=[ward_a])
    told = _tell_both(course, spanish, english)
    Delivery.objects.filter(notification=told[spanish.pk]).update(
        status=Delivery.Status.FAILED, attempts=6, last_error="x"
    )

    page = _client(spanish).get(reverse("monitoring:notifications")).content.decode()
    assert "Sus notificaciones" in page
    assert "Marcar todas como leídas" in page
    assert "cartmonitor: alerta crítica sin reconocer, Ward A, cama 3" in page
    assert "Escalado" in page  # the reason
    assert "avisado como Médico adjunto" in page
    assert "Crítica" in page  # the severity badge
    assert "falló</span> tras 6 intentos" in page

    english_page = _client(english).get(reverse("monitoring:notifications")).content.decode()
    assert "Your notifications" in english_page
    assert "told as Attending physician" in english_page


def test_a_channel_this_server_cannot_use_is_explained_in_spanish(nurse, settings):
    settings.WEBHOOK_URL = ""
    page = _client(_speaks(nurse, "es")).get(reverse("monitoring:profile")).content.decode()

    assert (
        "No disponible: la pasarela de buscapersonas del hospital no está configurada en este "
        "servidor (CARTMONITOR_WEBHOOK_URL)." in page
    )


def test_push_js_gets_its_words_from_the_template(nurse, settings):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = "key"
    page = _client(_speaks(nurse, "es")).get(reverse("monitoring:profile")).content.decode()

    assert 'data-say-on="Este navegador recibe sus notificaciones push."' in page
    assert 'data-say-server="El servidor respondió %(status)s."' in page  # push.js fills it in


# --- Every page of this area, in Spanish -------------------------------------------------------


def test_no_admin_or_notification_page_fails_in_spanish(admin_user, ward_a, template):
    course = CourseFactory(unit=ward_a)
    course.protocol_version = template
    course.save(update_fields=["protocol_version"])
    admin_user.units.add(ward_a)
    client = _client(_speaks(admin_user, "es"))
    target = ProtocolVersion.objects.create(protocol=template.protocol, number=2)
    pages = [
        reverse("monitoring:admin-protocols"),
        reverse("monitoring:admin-protocol-version", args=[template.pk]),
        reverse("monitoring:admin-protocol-version-edit", args=[template.pk]),
        reverse("monitoring:course-protocol", args=[course.patient.public_id]),
        reverse("monitoring:protocol-version-move-courses", args=[template.pk]),
        reverse("monitoring:admin-audit-log"),
        reverse("monitoring:rota"),
        reverse("monitoring:quality"),
        reverse("monitoring:notifications"),
        reverse("monitoring:profile"),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'lang="es"' in response.content.decode(), url

    preview = client.post(
        reverse("monitoring:admin-protocol-version-edit", args=[template.pk]),
        {**form_data(template, note="", heart_rate_high=125), "preview": "1"},
    )
    assert preview.status_code == 200
    shown = preview.content.decode()
    assert "Vista previa — aún no se ha guardado nada" in shown
    assert "Al guardar se crea la <strong>versión 3</strong> con:" in shown  # v1 has a course
    assert "taquicardia: FC igual o superior a: 131 → 125" in shown

    review = client.post(
        reverse("monitoring:protocol-version-move-courses", args=[template.pk]),
        {"courses": [course.pk], "version": target.pk, "reason": "nueva versión", "review": "1"},
    )
    assert review.status_code == 200
    assert "1 tratamiento cambiará" in review.content.decode()


def test_an_unknown_unit_name_is_never_translated(ward_a):
    """Units, people and products are names: the same in every language."""
    unit = UnitFactory(name="Hämatologie 3")
    course = CourseFactory(unit=unit, bed="")
    with translation.override("es"):
        assert str(notify.where(course)) == "Hämatologie 3"
        assert str(notify.overdue_headline("vitals")) == "retraso en constantes vitales"
    assert str(notify.overdue_headline("vitals")) == "vital signs overdue"

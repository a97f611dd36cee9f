"""Every kind of flag reads in the reader's language (issue 13 §4): each is raised through
services.record_check, keeps its English ``message`` (it de-duplicates and goes out in
notifications) and shows ``display_message`` in Spanish, numbers with a decimal comma; in
English the display is the stored message, byte for byte."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from monitoring import flag_messages, flag_rules, services
from monitoring.models import Flag, GradeSnapshot
from tests.factories import ICE_10, ROOM_AIR


@pytest.fixture(autouse=True)
def _back_to_english():
    yield
    translation.activate("en")


@pytest.fixture
def record(course, nurse):
    now = timezone.now()

    def _record(hours_ago: float, **sections):
        return services.record_check(
            course=course, by=nurse, observed_at=now - timedelta(hours=hours_ago), **sections
        )

    return _record


def shown(kind: str) -> tuple[str, str, str]:
    """(stored message, display in Spanish, display in English) of the one flag of ``kind``."""
    flag = Flag.objects.get(kind=kind)
    assert flag.message_data is not None, f"{kind} flag carries no code"
    with translation.override("es"):
        spanish = flag.display_message
    with translation.override("en"):
        english = flag.display_message
    assert english == flag.message  # English reads exactly as stored
    return flag.message, spanish, english


def test_a_news2_flag_reads_in_spanish(record):
    record(
        1,
        vitals={
            **ROOM_AIR,
            "temp_c": 37.0,
            "heart_rate_bpm": 125,
            "resp_rate_per_min": 25,
            "sbp_mmhg": 115,
            "spo2_pct": 96,
        },
    )
    message, spanish, _ = shown("news2")
    assert message.startswith("NEWS2 ")
    assert "risk): " in message
    assert spanish.startswith("NEWS2 ")
    assert "(riesgo medio): Respuesta urgente: informar de inmediato al equipo médico" in spanish
    assert "risk" not in spanish


def test_a_news2_flag_from_an_incomplete_set_reads_in_spanish(record):
    record(1, vitals={"sbp_mmhg": 88, "dbp_mmhg": 50, "resp_rate_per_min": 22, "temp_c": 37})
    message, spanish, _ = shown("news2")
    assert message.startswith("NEWS2 at least 5 from an incomplete set (SpO₂, pulse")
    assert spanish.startswith("NEWS2 de al menos 5 con un conjunto incompleto (sin registrar: ")
    assert "pulso" in spanish
    assert "(riesgo medio o superior)" in spanish
    assert "not recorded" not in spanish


def test_a_vital_sign_flag_reads_in_spanish_with_a_decimal_comma(record):
    record(1, vitals={**ROOM_AIR, "temp_c": 39.4, "heart_rate_bpm": 140})
    message, spanish, _ = shown("vital_sign")
    assert "heart rate 140/min ≥ " in message
    assert "temperature 39.4 °C ≥ " in message
    assert spanish.startswith("Fuera de los umbrales del protocolo: frecuencia cardiaca 140/min ≥ ")
    assert "temperatura 39,4 °C ≥ " in spanish
    assert "39.4" not in spanish


def test_a_marker_flag_reads_in_spanish_with_spanish_thousands(record):
    record(20, labs={"crp_mg_l": 20, "ferritin_ng_ml": 4200})
    record(2, labs={"crp_mg_l": 90, "ferritin_ng_ml": 12500, "fibrinogen_mg_dl": 120})
    message, spanish, _ = shown("marker")
    assert message.startswith("Markers: CRP 20 → 90 mg/L (×4.5 in 18 h); ferritin 4,200 → 12,500")
    assert spanish.startswith(
        "Marcadores: PCR 20 → 90 mg/L (×4,5 en 18 h); ferritina 4\u00a0200 → 12\u00a0500"
    )
    assert "ferritina 12\u00a0500 ng/mL ≥ 10\u00a0000 (sugiere un síndrome de tipo HLH)" in spanish
    assert spanish.endswith("fibrinógeno 120 mg/dL < 150")


def test_symptom_flags_read_in_spanish(record):
    record(1, symptoms={"fever": True, "low_blood_pressure": True, "confusion": True})
    message, spanish, _ = shown("crs_symptom")
    assert message == "CRS symptoms: fever, low blood pressure"
    assert spanish == "Síntomas de CRS: fiebre, tensión arterial baja"
    message, spanish, _ = shown("neuro_symptom")
    assert message == "Neurological symptoms: confusion"
    assert spanish == "Síntomas neurológicos: confusión"


def test_an_oxygen_need_flag_names_the_devices_in_spanish(record):
    record(3, vitals={**ROOM_AIR, "temp_c": 37.0})
    record(
        1,
        vitals={**ROOM_AIR, "temp_c": 37.0, "oxygen_support": "low_flow", "oxygen_flow_l_min": 2.5},
    )
    message, spanish, _ = shown("oxygen_need")
    assert message == "New oxygen need: Room air → Low-flow nasal cannula 2.5 L/min"
    assert spanish.startswith("Nueva necesidad de oxigenoterapia: ")
    assert spanish.endswith(" L/min")
    assert "2,5 L/min" in spanish
    assert "Room air" not in spanish
    assert "Low-flow" not in spanish


def test_an_escalating_oxygen_need_for_airway_protection_reads_in_spanish(record):
    record(
        3, vitals={**ROOM_AIR, "temp_c": 37.0, "oxygen_support": "low_flow", "oxygen_flow_l_min": 2}
    )
    record(
        1,
        vitals={
            **ROOM_AIR,
            "temp_c": 37.0,
            "oxygen_support": "cpap",
            "oxygen_for_airway_protection": True,
        },
    )
    message, spanish, _ = shown("oxygen_need")
    assert message == (
        "Escalating oxygen need: Low-flow nasal cannula 2 L/min → CPAP (airway protection only)"
    )
    assert spanish.startswith("Aumento de la necesidad de oxigenoterapia: ")
    assert spanish.endswith(" 2 L/min → CPAP (solo protección de la vía aérea)")


def test_hypotension_and_vasopressor_flags_read_in_spanish(record):
    record(3, vitals={**ROOM_AIR, "temp_c": 37.0, "sbp_mmhg": 120})
    record(
        1,
        vitals={
            **ROOM_AIR,
            "temp_c": 37.0,
            "sbp_mmhg": 82,
            "vasopressors_count": 2,
            "vasopressin": True,
        },
    )
    message, spanish, _ = shown("hypotension")
    assert message.startswith("New hypotension: SBP 82 mmHg at D+")
    assert spanish.startswith("Hipotensión nueva: PAS 82 mmHg en D+")
    assert spanish.endswith(message.rsplit(" at ", 1)[1])  # the same moment
    message, spanish, _ = shown("vasopressor")
    assert message == "Vasopressor started or added: 2 vasopressors + vasopressin"
    assert spanish == "Vasopresor iniciado o añadido: 2 vasopresores + vasopresina"


def test_one_vasopressor_reads_in_the_singular(record):
    record(3, vitals={**ROOM_AIR, "temp_c": 37.0})
    record(1, vitals={**ROOM_AIR, "temp_c": 37.0, "vasopressors_count": 1})
    message, spanish, _ = shown("vasopressor")
    assert message == "Vasopressor started or added: 1 vasopressor"
    assert spanish == "Vasopresor iniciado o añadido: 1 vasopresor"


def test_a_neuro_decline_and_a_seizure_read_in_spanish(record):
    record(3, neuro=ICE_10)
    record(1, neuro={**ICE_10, "ice_attention": 0, "seizure": "resolved_rapidly"})
    message, spanish, _ = shown("neuro_decline")
    assert message == "ICE worse: 10 → 9 /10"
    assert spanish == "ICE empeorado: 10 → 9 /10"
    message, spanish, _ = shown("seizure")
    assert message == "Seizure: Seizure that resolved rapidly"
    assert spanish.startswith("Crisis convulsiva: ")
    assert "Seizure" not in spanish


def test_a_confirmation_overtaken_by_a_late_entry_reads_in_spanish(record, course, nurse):
    check = record(1, vitals={"temp_c": 37.0, **ROOM_AIR, "oxygen_support": "facemask"})
    later = GradeSnapshot.objects.get(check_entry=check)
    services.confirm_grade(snapshot=later, domain="crs", grade=0, reason="Agree", by=nurse)
    record(4, vitals={"temp_c": 38.9, **ROOM_AIR, "oxygen_support": "facemask"})
    record(3, treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"})
    flag = Flag.objects.get(kind="needs_review", message__contains="second look")
    assert flag.message_data["code"] == "flag.confirmation_overtaken"
    with translation.override("es"):
        spanish = flag.display_message
    with translation.override("en"):
        assert flag.display_message == flag.message
    assert spanish.startswith("CRS en D+")
    assert "el grado calculado ha cambiado de 0 → 3 tras un registro tardío" in spanish
    assert spanish.endswith("el grado confirmado 0 necesita una segunda revisión por un clínico")


def test_every_code_a_flag_can_carry_has_a_template():
    renderable = flag_messages.codes()
    assert flag_rules.MESSAGE_CODES - renderable == set()
    assert {
        "flag.grade",
        "flag.grade_confirmed",
        "flag.needs_review",
        "flag.confirmation_overtaken",
    } <= renderable
    # A code nobody has a template for is shown as the code, not as a crash.
    assert flag_messages.render({"code": "flag.from_a_newer_release", "params": {}}) == (
        "flag.from_a_newer_release"
    )


@pytest.mark.parametrize("code", sorted(flag_rules.MESSAGE_CODES - set(flag_messages.CHOICES)))
def test_each_flag_template_reads_in_spanish(code):
    if code in flag_messages.PLURALS:
        english = flag_messages.PLURALS[code](2)
        with translation.override("es"):
            spanish = flag_messages.PLURALS[code](2)
    else:
        english = str(flag_messages.TEMPLATES[code])
        with translation.override("es"):
            spanish = str(flag_messages.TEMPLATES[code])
    untranslatable = {"oxygen.device", "oxygen.device_flow", "news2.parameter.spo2_pct"}
    if code not in untranslatable:
        assert spanish != english, f"{code} has no Spanish"

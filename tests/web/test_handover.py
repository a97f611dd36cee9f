"""The printable shift handover: one compact block per patient, notes, audit, query budget."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.handover import NeuroPoint, neuro_trend
from monitoring.models import AuditEvent, HandoverNote, TreatmentCourse
from tests.factories import ROOM_AIR, CourseFactory, active_now

URL = reverse("monitoring:handover")


def ice(total_lost: int) -> dict:
    """An ICE screen losing ``total_lost`` orientation points (0-4)."""
    return {
        "ice_orientation": 4 - total_lost,
        "ice_naming": 3,
        "ice_commands": 1,
        "ice_writing": 1,
        "ice_attention": 1,
        "consciousness": "alert",
    }


def text(response) -> str:
    return " ".join(response.content.decode().split())


def words(response) -> str:
    """What a reader sees: the page's text without tags (a label's colon is CSS)."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def charted(course, nurse):
    """Ada (ward A, D+3): ICE 10 -> 9 -> 8 -> 7, febrile on low-flow oxygen, tocilizumab x2."""
    now = timezone.now()
    for hours_ago, lost in ((30, 0), (20, 1), (10, 2), (2, 3)):
        services.record_check(
            course=course, by=nurse, observed_at=now - timedelta(hours=hours_ago), neuro=ice(lost)
        )
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=1),
        vitals={**ROOM_AIR, "temp_c": 38.7, "oxygen_support": "low_flow", "oxygen_flow_l_min": 2},
    )
    for hours_ago in (30, 3):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=now - timedelta(hours=hours_ago),
            treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"},
        )
    return course


def test_each_patient_has_a_compact_block_with_what_the_next_shift_needs(nurse_client, charted):
    page = text(nurse_client.get(URL))

    assert "LOVELACE, Ada" in page
    assert charted.patient.mrn in page
    assert "D+3" in page
    assert "Axicabtagene ciloleucel" in page
    assert "CRS 2" in page  # fever on low-flow oxygen
    assert "ICE 9/10" in page
    assert "ICE 7/10" in page
    assert "ICE 10/10" not in page  # only the last three
    assert "(worse)" in page
    assert "1 in last 24 h (max 3) · 2 in course" in page
    assert "Due next" in page
    assert "Open flags" in page
    assert "CRS grade 2" in page


def test_each_block_has_the_current_vitals_oxygen_vasopressors_and_steroids_with_their_times(
    nurse_client, nurse, course
):
    now = timezone.now()
    at = {h: timezone.localtime(now - timedelta(hours=h)).strftime("%H:%M") for h in (1, 3)}
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=3),
        vitals={
            "temp_c": 39.2,
            "oxygen_support": "high_flow",
            "oxygen_flow_l_min": 30,
            "vasopressors_count": 1,
            "vasopressin": True,
        },
    )
    # The newest vitals leave oxygen blank: the earlier oxygen and vasopressors carry forward.
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=1),
        vitals={"temp_c": 37.9, "heart_rate_bpm": 118, "sbp_mmhg": 86, "dbp_mmhg": 50},
    )
    for hours_ago, drug, dose, unit in (
        (30, "dexamethasone", 10, "mg"),
        (2, "dexamethasone", 10, "mg"),
        (2, "methylprednisolone", 1, "g"),
    ):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=now - timedelta(hours=hours_ago),
            treatment={"drug": drug, "dose": dose, "dose_unit": unit, "route": "iv"},
        )

    page = words(nurse_client.get(URL))

    assert f"Vitals 37.9 °C · HR 118 · BP 86/50 at {at[1]}, 1 h 00 min ago" in page
    assert "39.2" not in page  # the older temperature is not the current one
    assert (
        "Oxygen and vasopressors High-flow nasal cannula 30 L/min · 1 vasopressor + vasopressin"
        f" recorded at {at[3]}, 3 h 00 min ago"
    ) in page
    assert (
        "Steroids Dexamethasone 2 doses · 20 mg; Methylprednisolone 1 dose · 1000 mg"
        " (2 doses in last 24 h)"
    ) in page
    assert "Tocilizumab 0 in last 24 h (max 3) · 0 in course" in page


def test_a_patient_without_vitals_or_steroids_says_so(nurse_client, course):
    page = words(nurse_client.get(URL))

    assert "Vitals none recorded" in page
    assert "Oxygen and vasopressors not recorded" in page
    assert "Steroids none" in page


def test_corrected_vitals_show_the_correction_not_the_original(nurse_client, nurse, course):
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(minutes=20),
        vitals={**ROOM_AIR, "temp_c": 40.1},
    )
    services.amend_record(
        record=check.vitalsigns_set.get(),
        by=nurse,
        reason="Typed 40.1 for 38.1",
        values={**ROOM_AIR, "temp_c": 38.1},
    )

    page = words(nurse_client.get(URL))

    assert "Vitals 38.1 °C" in page
    assert "Vitals 40.1" not in page  # (the flag the typo raised still names it)


def test_the_handover_lists_only_patients_under_monitoring(nurse_client, ward_a, course):
    CourseFactory(
        unit=ward_a, status=TreatmentCourse.Status.COMPLETED, patient__family_name="Discharged"
    )

    page = text(nurse_client.get(URL))

    assert "LOVELACE" in page
    assert "DISCHARGED" not in page


def test_another_units_patients_are_never_on_the_handover(
    outsider_client, nurse_client, course, ward_b
):
    CourseFactory(unit=ward_b, patient__family_name="Bward")

    assert "LOVELACE" not in text(outsider_client.get(URL))
    assert "BWARD" in text(outsider_client.get(URL))
    assert "BWARD" not in text(nurse_client.get(URL))
    assert outsider_client.get(URL, {"unit": str(course.unit_id)}).status_code == 404


def test_an_admin_sees_every_unit_and_can_pick_one(admin_client_, course, ward_b):
    CourseFactory(unit=ward_b, patient__family_name="Bward")

    everything = text(admin_client_.get(URL))
    ward_b_only = text(admin_client_.get(URL, {"unit": str(ward_b.pk)}))

    assert "LOVELACE" in everything
    assert "BWARD" in everything
    assert "BWARD" in ward_b_only
    assert "LOVELACE" not in ward_b_only


def test_every_print_is_in_the_audit_log(nurse_client, nurse, course, ward_a):
    nurse_client.get(URL, {"unit": str(ward_a.pk)})

    event = AuditEvent.objects.get(action=AuditEvent.Action.HANDOVER_PRINTED)
    assert event.user == nurse
    assert event.details["unit"] == ward_a.pk
    assert event.details["patients"] == 1
    assert event.details["courses"] == [str(course.public_id)]
    assert "Ward A" in event.summary


def test_the_page_is_print_ready(nurse_client, course):
    response = nurse_client.get(URL)
    page = response.content.decode()

    assert "css/print.css" in page
    assert "handover-block" in page
    assert response["Cache-Control"] == "no-store"


def test_a_nurse_saves_a_watch_for_note_shown_on_the_next_print(
    nurse_client, nurse, course, ward_a
):
    url = reverse("monitoring:handover-note", args=[course.patient.public_id])

    response = nurse_client.post(
        url, {"text": "  Recheck ICE at 22:00; daughter visiting  ", "unit": str(ward_a.pk)}
    )

    assert response.status_code == 302
    assert response.url == f"{URL}?unit={ward_a.pk}#patient-{course.patient.public_id}"
    note = HandoverNote.objects.get()
    assert (note.course, note.written_by) == (course, nurse)
    assert note.text == "Recheck ICE at 22:00; daughter visiting"
    assert "Recheck ICE at 22:00" in text(nurse_client.get(URL))


def test_the_newest_note_is_the_one_shown(nurse_client, nurse, course):
    services.write_handover_note(course=course, text="Old worry", by=nurse)
    services.write_handover_note(course=course, text="New worry", by=nurse)

    page = text(nurse_client.get(URL))

    assert "New worry" in page
    assert "Old worry" not in page


def test_an_empty_note_is_not_saved(nurse_client, course):
    url = reverse("monitoring:handover-note", args=[course.patient.public_id])

    response = nurse_client.post(url, {"text": "   "}, follow=True)

    assert not HandoverNote.objects.exists()
    assert "not saved" in text(response)


def test_notes_are_for_the_patients_own_units_clinical_staff(
    outsider_client, admin_client_, nurse_client, course
):
    url = reverse("monitoring:handover-note", args=[course.patient.public_id])

    assert outsider_client.post(url, {"text": "x"}).status_code == 404
    assert admin_client_.post(url, {"text": "x"}).status_code == 403
    assert nurse_client.get(url).status_code == 405
    assert not HandoverNote.objects.exists()


def test_a_note_refuses_a_unit_that_is_not_yours(nurse_client, course, ward_b):
    url = reverse("monitoring:handover-note", args=[course.patient.public_id])

    assert nurse_client.post(url, {"text": "x", "unit": str(ward_b.pk)}).status_code == 404
    assert nurse_client.post(url, {"text": "x", "unit": "1e3"}).status_code == 404
    assert not HandoverNote.objects.exists()


@pytest.mark.parametrize(
    ("scores", "capd", "trend"),
    [
        ((10, 9, 7), False, "worse"),
        ((7, 8, 10), False, "better"),
        ((9, 9), False, "unchanged"),
        ((2, 6), True, "worse"),
        ((6, 1), True, "better"),
        ((9,), False, ""),
    ],
)
def test_the_neuro_trend_reads_ice_down_and_capd_up_as_worse(scores, capd, trend):
    now = timezone.now()
    points = [
        NeuroPoint(now + timedelta(hours=n), "", score, capd) for n, score in enumerate(scores)
    ]

    assert neuro_trend(points) == trend


@pytest.mark.parametrize("n_patients", [1, 10])
def test_the_handover_costs_the_same_queries_for_one_or_many_patients(
    nurse_client, nurse, ward_a, django_assert_num_queries, n_patients
):
    now = timezone.now()
    for course in CourseFactory.create_batch(n_patients, unit=ward_a):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=now - timedelta(hours=2),
            vitals={**ROOM_AIR, "temp_c": 38.4},
            neuro=ice(1),
            treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"},
        )
        services.write_handover_note(course=course, text="Watch the fever", by=nurse)
    active_now(nurse_client)
    # session, user, the user's units, courses with patient, unit and status, their protocol
    # versions, the versions' schedules, their products, the last three neuro assessments,
    # tocilizumab and steroid doses, the latest vitals and oxygen, open flags, the latest
    # notes, the audit line, and the navigation bar's open-flag and unread-notification counts
    # (base.html).
    with django_assert_num_queries(15):
        response = nurse_client.get(URL)
    assert response.status_code == 200
    assert response.content.decode().count('class="handover-block"') == n_patients


def test_patients_sharing_a_family_name_carry_a_name_alert(nurse_client, ward_a):
    CourseFactory(unit=ward_a, patient__family_name="Papadopoulos", patient__given_name="Maya")
    CourseFactory(unit=ward_a, patient__family_name="papadopoulos", patient__given_name="Eleni")
    CourseFactory(unit=ward_a, patient__family_name="Abbott")

    page = text(nurse_client.get(URL))

    assert page.count("NAME ALERT") == 2

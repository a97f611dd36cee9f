"""Edits made in the Django admin reach the audit log, old → new; what grading, the schedule
or the worklist read (day 0, status, unit, date of birth, weight) is read-only there and
changed on the app's pages, through the services that regrade (issue 11 §3)."""

from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.models import AuditEvent, Patient, TreatmentCourse
from tests.factories import PatientFactory, UserFactory


@pytest.fixture
def it_client(db):
    it = UserFactory(username="it-admin", role="admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(it)
    client.user = it
    return client


def change_form_data(client, url) -> dict:
    form = client.get(url).context["adminform"].form
    return {name: form[name].value() for name in form.fields if form[name].value() is not None}


def test_an_edit_in_the_admin_is_audited_with_the_old_and_new_value(it_client, course):
    url = reverse("admin:monitoring_treatmentcourse_change", args=[course.pk])
    data = change_form_data(it_client, url) | {"indication": "Relapsed follicular lymphoma"}

    response = it_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action=AuditEvent.Action.ADMIN_EDITED)
    assert event.user == it_client.user
    assert event.patient == course.patient
    assert (
        "edited in the admin: Indication Relapsed large B-cell lymphoma → Relapsed follicular "
        "lymphoma" in event.summary
    )


def test_day_0_status_and_unit_are_read_only_in_the_admin(it_client, course, ward_b):
    url = reverse("admin:monitoring_treatmentcourse_change", args=[course.pk])
    form = it_client.get(url).context["adminform"].form
    assert not {"infused_at", "status", "unit", "protocol_version"} & set(form.fields)

    # Posting them anyway changes nothing: D+n, the status row and the worklist stay right.
    moved = course.infused_at - timedelta(days=10)
    data = change_form_data(it_client, url) | {
        "infused_at_0": moved.strftime("%Y-%m-%d"),
        "infused_at_1": moved.strftime("%H:%M:%S"),
        "status": "completed",
        "unit": ward_b.pk,
    }
    it_client.post(url, data)

    course_now = TreatmentCourse.objects.get(pk=course.pk)
    assert course_now.infused_at == course.infused_at
    assert course_now.status == "monitoring"
    assert course_now.unit == course.unit


def test_date_of_birth_and_weight_are_read_only_in_the_admin(it_client, course):
    url = reverse("admin:monitoring_patient_change", args=[course.patient.pk])
    form = it_client.get(url).context["adminform"].form

    assert "date_of_birth" not in form.fields
    assert "weight_kg" not in form.fields


def test_a_patient_added_in_the_admin_is_admitted_through_the_service(it_client):
    response = it_client.post(
        reverse("admin:monitoring_patient_add"),
        {
            "mrn": "ADM-1",
            "given_name": "Grace",
            "family_name": "Hopper",
            "date_of_birth": "1980-12-09",
            "sex": "female",
            "weight_kg": "61.5",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    patient = Patient.objects.get(mrn="ADM-1")
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.PATIENT_ADMITTED, patient=patient
    ).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("date_of_birth", "2999-01-01", "age of 0-120 years"),
        ("date_of_birth", "1066-10-14", "age of 0-120 years"),
        ("weight_kg", "0.3", "between 1 and 350 kg"),
    ],
)
def test_the_admin_refuses_an_implausible_patient_with_the_range(it_client, field, value, message):
    data = {
        "mrn": "ADM-2",
        "given_name": "Grace",
        "family_name": "Hopper",
        "date_of_birth": "1980-12-09",
        "sex": "female",
        "weight_kg": "61.5",
    } | {field: value}

    response = it_client.post(reverse("admin:monitoring_patient_add"), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Patient.objects.filter(mrn="ADM-2").exists()


@pytest.mark.parametrize("day_0", ["9999-12-31", "0001-01-01", "2000-01-01"])
def test_the_admin_refuses_an_implausible_day_0_for_a_new_course(it_client, ward_a, day_0):
    patient = PatientFactory(date_of_birth=date(1970, 1, 1))

    response = it_client.post(
        reverse("admin:monitoring_treatmentcourse_add"),
        {
            "patient": patient.pk,
            "unit": ward_a.pk,
            "product": "axi-cel",
            "indication": "DLBCL",
            "infused_at_0": day_0,
            "infused_at_1": "10:00:00",
        },
    )

    assert response.status_code == 200
    assert "within the last year and at most a week ahead" in response.content.decode()
    assert not TreatmentCourse.objects.filter(patient=patient).exists()

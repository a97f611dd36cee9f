"""Who may export or print what: the role first (403), then the unit (404, no existence leak).

Exports leave the building, so every route is checked for every actor here, in one place.
"""

import json

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.models import AuditEvent, User
from tests.factories import CourseFactory, UserFactory


@pytest.fixture
def outside_care_client(ward_b):
    """A care-team member of ward B: allowed to export, never ward A's patients."""
    client = Client()
    client.force_login(UserFactory(username="olga", role=User.Role.CARE_TEAM, units=[ward_b]))
    return client


def patient_exports(course):
    pid = course.patient.public_id
    return [
        reverse("monitoring:patient-summary", args=[pid]),
        reverse("monitoring:patient-fhir", args=[pid]),
    ]


@pytest.mark.parametrize(
    ("actor", "summary", "fhir", "registry_csv", "handover"),
    [
        ("nurse_client", 403, 403, 403, 200),
        ("care_client", 200, 200, 200, 200),
        ("admin_client_", 200, 200, 200, 200),
        ("outsider_client", 403, 403, 403, 200),  # a nurse elsewhere: the role refuses first
        ("outside_care_client", 404, 404, 200, 200),  # the unit refuses
    ],
)
def test_each_role_and_unit_gets_what_it_may(
    request, course, actor, summary, fhir, registry_csv, handover
):
    client = request.getfixturevalue(actor)
    summary_url, fhir_url = patient_exports(course)

    assert client.get(summary_url).status_code == summary
    assert client.get(fhir_url).status_code == fhir
    assert client.get(reverse("monitoring:exports-registry-csv")).status_code == registry_csv
    assert client.get(reverse("monitoring:handover")).status_code == handover


def test_an_unknown_patient_is_a_404_like_another_units(care_client, db):
    missing = "00000000-0000-4000-8000-000000000000"
    for name in ("monitoring:patient-summary", "monitoring:patient-fhir"):
        assert care_client.get(reverse(name, args=[missing])).status_code == 404


def test_refused_exports_write_no_audit_line(outside_care_client, nurse_client, course):
    for url in patient_exports(course):
        outside_care_client.get(url)
        nurse_client.get(url)
    nurse_client.get(reverse("monitoring:exports-registry-csv"))

    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).exists()


def test_unit_lists_never_include_another_units_patients(
    outside_care_client, care_client, course, ward_b
):
    CourseFactory(unit=ward_b, patient__mrn="WARD-B-1")
    csv_url = reverse("monitoring:exports-registry-csv")
    handover_url = reverse("monitoring:handover")

    ward_a_csv = care_client.get(csv_url).content.decode()
    ward_b_csv = outside_care_client.get(csv_url).content.decode()
    ward_a_sheet = care_client.get(handover_url).content.decode()

    assert course.patient.mrn in ward_a_csv
    assert "WARD-B-1" not in ward_a_csv
    assert "WARD-B-1" in ward_b_csv
    assert course.patient.mrn not in ward_b_csv
    assert course.patient.mrn in ward_a_sheet
    assert "WARD-B-1" not in ward_a_sheet


def test_the_fhir_bundle_holds_only_its_own_patient(care_client, admin_client_, course, ward_a):
    other = CourseFactory(unit=ward_a, patient__mrn="SAME-WARD-OTHER")

    bundle = json.loads(admin_client_.get(patient_exports(course)[1]).content)

    patients = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert [p["identifier"][0]["value"] for p in patients] == [course.patient.mrn]
    assert other.patient.mrn not in json.dumps(bundle)


def test_exports_refuse_writes(care_client, course):
    for url in [
        *patient_exports(course),
        reverse("monitoring:exports-registry-csv"),
        reverse("monitoring:handover"),
    ]:
        assert care_client.post(url).status_code == 405, url

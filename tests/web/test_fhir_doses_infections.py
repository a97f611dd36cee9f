"""Issue 14 §4 in the FHIR bundle: the step-up / treatment doses given as MedicationAdministrations
(the product coded, its class as category) and the infections as Conditions (active/resolved,
corrected, entered in error). Every bundle is parsed with fhir.resources' R4B models."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from fhir.resources.R4B.bundle import Bundle

from monitoring import dosing, fhir, infection, services
from monitoring.models import Infection, TherapyProduct
from tests.factories import ROOM_AIR, CourseFactory, PatientFactory, active_now

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(second=0, microsecond=0)


def ago(hours):
    return NOW - timedelta(hours=hours)


def vitals(temp):
    return {"temp_c": temp, "heart_rate_bpm": 80, "sbp_mmhg": 120, "dbp_mmhg": 70, **ROOM_AIR}


def gated_version(admin):
    """The shipped teclistamab template with a gate: CRS resolved for 24 h before doses 2, 3."""
    version = services.protocol_version_for("teclistamab")
    steps = [
        {**s.settings(), "crs_clear_hours": 24 if s.sequence > 1 else None}
        for s in version.dose_steps.all()
    ]
    for step in steps:
        step.pop("sequence")
    return services.revise_protocol(
        version=version, changes={}, schedules={}, note="Centre gate", by=admin, dose_steps=steps
    )


def engager_course(unit, by, version=None):
    course = CourseFactory.build(
        patient=PatientFactory(),
        unit=unit,
        product="teclistamab",
        infused_at=ago(200),
        protocol_version=version or services.protocol_version_for("teclistamab"),
    )
    return services.start_course(course=course, by=by)


@pytest.fixture
def stepped_up(ward_a, nurse, care_team_member, admin_user):
    """Teclistamab: dose 1 given 200 h ago; CRS at 150-140 h ago; dose 2 given 128 h ago over
    the gate (CRS resolved only 12 h before) by a physician's override; dose 3 held."""
    course = engager_course(ward_a, care_team_member, gated_version(admin_user))
    doses = dosing.plan_doses(course=course, first_dose_at=ago(200), by=care_team_member)
    dosing.record_dose_given(dose=doses[0], given_at=ago(200), by=nurse)
    services.record_check(course=course, by=nurse, observed_at=ago(150), vitals=vitals(38.6))
    services.record_check(course=course, by=nurse, observed_at=ago(140), vitals=vitals(36.9))
    with pytest.raises(dosing.GateNotMet):
        dosing.record_dose_given(dose=doses[1], given_at=ago(128), by=nurse)
    dosing.record_dose_given(
        dose=doses[1], given_at=ago(128), by=care_team_member, override_reason="fever was a line"
    )
    dosing.hold_dose(dose=doses[2], reason="neutropenic", by=care_team_member)
    return course


def export(client, course):
    response = client.get(reverse("monitoring:patient-fhir", args=[course.patient.public_id]))
    assert response.status_code == 200, response.status_code
    bundle = json.loads(response.content)
    Bundle.model_validate(bundle)
    return bundle


def resources(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def dose_administrations(bundle):
    return [
        r
        for r in resources(bundle, "MedicationAdministration")
        if r["medicationCodeableConcept"]["coding"][0]["system"].endswith("/CodeSystem/products")
    ]


# --- Doses ---------------------------------------------------------------------------------


def test_only_the_doses_given_are_medication_administrations(care_client, stepped_up):
    given = dose_administrations(export(care_client, stepped_up))

    # Dose 3 is held (and a planned dose would be the same): not given, not an administration.
    assert [r["effectiveDateTime"] for r in given] == [
        fhir.instant(ago(200)),
        fhir.instant(ago(128)),
    ]
    for resource in given:
        assert resource["status"] == "completed"
        assert resource["subject"]["reference"] == fhir.Export(stepped_up.patient).patient_ref
        assert resource["dosage"]["text"]  # the protocol's dose text, e.g. "0.06 mg/kg SC"


def test_a_dose_codes_the_product_locally_and_with_its_atc_code(care_client, stepped_up):
    resource = dose_administrations(export(care_client, stepped_up))[0]
    coding = resource["medicationCodeableConcept"]["coding"]

    assert coding[0]["code"] == "teclistamab"
    assert coding[0]["system"] == fhir.code_system("products")
    assert {"system": "http://www.whocc.no/atc", "code": "L01FX24"}.items() <= coding[1].items()
    assert resource["dosage"]["text"] == stepped_up.doses.order_by("pk")[0].step.dose_text


def test_a_dose_carries_the_products_class_as_its_category(care_client, stepped_up):
    resource = dose_administrations(export(care_client, stepped_up))[0]

    assert resource["category"]["coding"] == [
        {
            "system": fhir.code_system("product-classes"),
            "code": "t_cell_engager",
            "display": "T-cell engager",
        }
    ]


def test_a_dose_given_over_a_gate_says_who_overrode_and_why(care_client, stepped_up):
    first, second = dose_administrations(export(care_client, stepped_up))

    assert not any("overrode" in n["text"] for n in first.get("note", []))
    notes = " ".join(n["text"] for n in second["note"])
    assert "a physician overrode it: fever was a line" in notes
    assert "Step-up dose 2" in notes


def test_doses_have_stable_ids_and_business_identifiers(care_client, stepped_up):
    first = dose_administrations(export(care_client, stepped_up))
    again = dose_administrations(export(care_client, stepped_up))

    assert [r["id"] for r in first] == [r["id"] for r in again]
    assert len({r["id"] for r in first}) == 2
    for resource in first:
        assert resource["identifier"] == [
            {
                "system": fhir.identifier_system("MedicationAdministration"),
                "value": resource["id"],
            }
        ]


def test_a_spanish_download_still_exports_english_texts(care_team_member, stepped_up):
    care_team_member.language = "es"
    care_team_member.save()
    client = Client()
    client.force_login(care_team_member)
    with translation.override("es"):  # the label is translated: the export must not be
        assert str(TherapyProduct.ProductClass.T_CELL_ENGAGER.label) != "T-cell engager"
    record(stepped_up, care_team_member)
    bundle = export(client, stepped_up)

    assert dose_administrations(bundle)[0]["category"]["coding"][0]["display"] == "T-cell engager"
    (condition,) = resources(bundle, "Condition")
    assert condition["code"]["text"] == "Infection, Bloodstream: Escherichia coli (Bacterial)"
    assert condition["severity"]["text"] == "CTCAE Grade 3 – severe (IV treatment)"


# --- Infections ----------------------------------------------------------------------------


def record(course, by, **values):
    fields = {
        "site": "bloodstream",
        "organism_type": "bacterial",
        "organism": "Escherichia coli",
        "severity": 3,
        "onset_on": timezone.localdate() - timedelta(days=2),
        **values,
    }
    return infection.record_infection(course=course, by=by, **fields)


def test_an_infection_is_an_active_condition_with_site_organism_severity_and_onset(
    care_client, course, care_team_member
):
    found = record(course, care_team_member)
    (condition,) = resources(export(care_client, course), "Condition")

    assert condition["clinicalStatus"]["coding"][0]["code"] == "active"
    assert condition["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert condition["code"]["text"] == "Infection, Bloodstream: Escherichia coli (Bacterial)"
    assert condition["code"]["coding"][0] == {
        "system": fhir.code_system("infection-sites"),
        "code": "bloodstream",
        "display": "Bloodstream",
    }
    assert condition["severity"]["coding"][0]["code"] == "3"
    assert condition["severity"]["coding"][0]["system"] == fhir.code_system("ctcae-infection-grade")
    assert condition["onsetDateTime"] == found.onset_on.isoformat()
    assert "abatementDateTime" not in condition
    assert condition["identifier"][0]["system"] == fhir.identifier_system("Condition")


def test_a_resolved_infection_has_its_abatement_date(care_client, course, care_team_member):
    found = record(course, care_team_member)
    infection.resolve_infection(
        infection=found, resolved_on=timezone.localdate(), by=care_team_member
    )
    (condition,) = resources(export(care_client, course), "Condition")

    assert condition["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert condition["abatementDateTime"] == timezone.localdate().isoformat()


def test_a_corrected_infection_keeps_its_id_with_the_new_values(
    care_client, course, care_team_member
):
    found = record(course, care_team_member)
    before = resources(export(care_client, course), "Condition")
    infection.amend(
        record=found, values={"severity": 4}, reason="ICU: pressors", by=care_team_member
    )
    (after,) = resources(export(care_client, course), "Condition")

    assert after["id"] == before[0]["id"]
    assert after["severity"]["coding"][0]["code"] == "4"
    assert after["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert {"text": "Corrected: ICU: pressors"} in after["note"]


def test_an_infection_entered_in_error_is_sent_as_such(care_client, course, care_team_member):
    found = record(course, care_team_member)
    infection.mark_entered_in_error(record=found, reason="wrong patient", by=care_team_member)
    (condition,) = resources(export(care_client, course), "Condition")

    assert condition["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    assert "clinicalStatus" not in condition  # FHIR con-5
    assert {"text": "Entered in error: wrong patient"} in condition["note"]
    assert Infection.objects.get(pk=found.pk).status == "entered_in_error"


def test_an_other_site_names_the_site_typed(care_client, course, care_team_member):
    record(course, care_team_member, site="other", site_other="Septic arthritis", organism="")
    (condition,) = resources(export(care_client, course), "Condition")

    assert condition["code"]["text"] == "Infection, Septic arthritis: Bacterial"


# --- Query count ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3])
def test_doses_and_infections_cost_the_same_queries_however_many(
    care_client, ward_a, nurse, care_team_member, django_assert_num_queries, n
):
    course = engager_course(ward_a, care_team_member)
    doses = dosing.plan_doses(course=course, first_dose_at=ago(200), by=care_team_member)
    for k, dose in enumerate(doses[:n]):
        dosing.record_dose_given(dose=dose, given_at=ago(200 - 73 * k), by=nurse)
    for k in range(n):
        found = record(course, care_team_member, onset_on=timezone.localdate() - timedelta(days=k))
        infection.amend(
            record=found, values={"severity": 2}, reason="oral only", by=care_team_member
        )
    url = reverse("monitoring:patient-fhir", args=[course.patient.public_id])
    active_now(care_client)
    # session, user, the course, vitals, neuro, labs, treatments, snapshots, confirmations,
    # the doses given (with their steps), every version of the infections, the phases in
    # force (the episode), the audit line.
    with django_assert_num_queries(13):
        response = care_client.get(url)
    bundle = json.loads(response.content)
    assert len(dose_administrations(bundle)) == n
    assert len(resources(bundle, "Condition")) == n

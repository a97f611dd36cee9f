"""The course as a FHIR R4 Bundle: parsed with fhir.resources' R4B models (wire-compatible with
R4 for these resources), codes and units checked, every reference resolved inside the bundle."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from monitoring import fhir, services
from monitoring.models import AuditEvent, GradeSnapshot, LabResult, Treatment, User, VitalSigns
from tests.factories import ROOM_AIR, CourseFactory, UserFactory, active_now

FULL_VITALS = {
    **ROOM_AIR,
    "temp_c": 38.6,
    "heart_rate_bpm": 112,
    "resp_rate_per_min": 22,
    "sbp_mmhg": 84,
    "dbp_mmhg": 50,
    "spo2_pct": 93,
    "oxygen_support": "low_flow",
    "oxygen_flow_l_min": 3,
}
ICE_7 = {
    "ice_orientation": 3,
    "ice_naming": 2,
    "ice_commands": 1,
    "ice_writing": 0,
    "ice_attention": 1,
    "consciousness": "alert",
    "seizure": "none",
    "motor_weakness": "none",
    "cerebral_edema": "none",
}


@pytest.fixture
def charted(course, nurse):
    """Ada's course (ward A, D+3): vitals, ICE, labs and tocilizumab at 20-22 h after infusion."""
    at = course.infused_at + timedelta(hours=20)
    services.record_check(course=course, by=nurse, observed_at=at, vitals=FULL_VITALS, neuro=ICE_7)
    services.record_check(
        course=course,
        by=nurse,
        observed_at=at + timedelta(hours=1),
        labs={"crp_mg_l": Decimal("85.5"), "ferritin_ng_ml": 1200, "anc_10e9_l": Decimal("0.4")},
    )
    services.record_check(
        course=course,
        by=nurse,
        observed_at=at + timedelta(hours=2),
        treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"},
    )
    return course


def export(client, course):
    response = client.get(reverse("monitoring:patient-fhir", args=[course.patient.public_id]))
    assert response.status_code == 200, response.status_code
    return response, json.loads(response.content)


def resources(bundle, kind=None):
    return [
        e["resource"]
        for e in bundle["entry"]
        if kind is None or e["resource"]["resourceType"] == kind
    ]


def with_code(bundle, code):
    return [
        r
        for r in resources(bundle)
        if any(c["code"] == code for c in (r.get("code") or {}).get("coding", []))
    ]


def references(node):
    """Every {"reference": ...} anywhere in a resource."""
    if isinstance(node, dict):
        if "reference" in node:
            yield node["reference"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def test_the_bundle_is_valid_fhir_of_type_collection(care_client, charted):
    response, bundle = export(care_client, charted)

    assert response["Content-Type"].startswith("application/fhir+json")
    assert response["Cache-Control"] == "no-store"
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    kinds = {r["resourceType"] for r in resources(bundle)}
    assert kinds == {"Patient", "EpisodeOfCare", "Observation", "MedicationAdministration"}


def test_every_reference_resolves_inside_the_bundle(care_client, charted):
    _, bundle = export(care_client, charted)

    full_urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(full_urls) == len(set(full_urls))
    assert all(url.startswith("urn:uuid:") for url in full_urls)
    refs = list(references(bundle))
    assert refs
    assert set(refs) <= set(full_urls)
    for entry in bundle["entry"]:  # the id is the uuid of the fullUrl
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"


def test_the_patient_carries_the_mrn_and_demographics(care_client, charted):
    _, bundle = export(care_client, charted)

    (patient,) = resources(bundle, "Patient")
    assert patient["identifier"][0]["value"] == charted.patient.mrn
    assert patient["identifier"][0]["type"]["coding"][0]["code"] == "MR"
    assert patient["name"] == [{"family": "Lovelace", "given": ["Ada"]}]
    assert patient["gender"] == "female"
    assert patient["birthDate"] == "1970-05-17"


@pytest.mark.parametrize(
    ("loinc", "value", "ucum"),
    [
        ("8310-5", 38.6, "Cel"),
        ("8867-4", 112, "/min"),
        ("9279-1", 22, "/min"),
        ("59408-5", 93, "%"),
    ],
)
def test_vital_signs_follow_the_fhir_vital_signs_profile(care_client, charted, loinc, value, ucum):
    _, bundle = export(care_client, charted)

    (observation,) = with_code(bundle, loinc)
    assert observation["category"][0]["coding"][0]["code"] == "vital-signs"
    assert observation["code"]["coding"][0]["system"] == "http://loinc.org"
    assert observation["valueQuantity"] == {
        **observation["valueQuantity"],
        "value": value,
        "system": "http://unitsofmeasure.org",
        "code": ucum,
    }
    assert observation["status"] == "final"
    assert observation["effectiveDateTime"] == fhir.instant(
        charted.infused_at + timedelta(hours=20)
    )


def test_spo2_carries_the_vital_signs_base_code_first(care_client, charted):
    _, bundle = export(care_client, charted)

    (spo2,) = with_code(bundle, "59408-5")
    assert [c["code"] for c in spo2["code"]["coding"]] == ["2708-6", "59408-5"]


def test_blood_pressure_is_a_panel_with_systolic_and_diastolic_components(care_client, charted):
    _, bundle = export(care_client, charted)

    (panel,) = with_code(bundle, "85354-9")
    components = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in panel["component"]}
    assert components["8480-6"]["value"] == 84
    assert components["8462-4"]["value"] == 50
    assert {q["code"] for q in components.values()} == {"mm[Hg]"}
    assert "valueQuantity" not in panel


def test_labs_use_the_reference_loinc_codes_and_ucum_units(care_client, charted):
    _, bundle = export(care_client, charted)

    expected = {"1988-5": (85.5, "mg/L"), "2276-4": (1200, "ng/mL"), "751-8": (0.4, "10*9/L")}
    for code, (value, unit) in expected.items():
        (lab,) = with_code(bundle, code)
        assert lab["category"][0]["coding"][0]["code"] == "laboratory"
        assert (lab["valueQuantity"]["value"], lab["valueQuantity"]["code"]) == (value, unit)
    assert (
        len(
            [
                r
                for r in resources(bundle, "Observation")
                if r["category"][0]["coding"][0]["code"] == "laboratory"
            ]
        )
        == 3
    )


def test_the_ice_total_uses_the_local_score_code(care_client, charted):
    _, bundle = export(care_client, charted)

    (ice,) = with_code(bundle, "ice-score")
    assert ice["code"]["coding"][0]["system"] == fhir.code_system("scores")
    assert ice["valueInteger"] == 7
    consciousness = {c["code"]["coding"][0]["code"]: c for c in ice["component"]}
    assert consciousness["consciousness"]["valueCodeableConcept"]["coding"][0]["code"] == "alert"


def test_tocilizumab_is_a_completed_medication_administration_in_mg(care_client, charted):
    _, bundle = export(care_client, charted)

    (given,) = resources(bundle, "MedicationAdministration")
    assert given["status"] == "completed"
    assert given["medicationCodeableConcept"]["coding"][0]["code"] == "tocilizumab"
    assert given["dosage"]["dose"] == {
        "value": 560,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert given["dosage"]["route"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "47625008",
        "display": "Intravenous route",
    }
    assert given["effectiveDateTime"] == fhir.instant(charted.infused_at + timedelta(hours=22))


def test_microgram_doses_use_the_ucum_code_ug(care_client, course, nurse):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now(),
        treatment={
            "drug": "other",
            "drug_other": "Fentanyl",
            "dose": 50,
            "dose_unit": "mcg",
            "route": "iv",
        },
    )

    _, bundle = export(care_client, course)

    (given,) = resources(bundle, "MedicationAdministration")
    assert given["dosage"]["dose"]["code"] == "ug"
    assert given["medicationCodeableConcept"]["text"] == "Fentanyl"


def test_grades_are_observations_derived_from_the_deciding_records(care_client, charted):
    _, bundle = export(care_client, charted)
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}

    crs = with_code(bundle, "astct-crs-grade")
    icans = with_code(bundle, "astct-icans-grade")
    assert len(crs) == 3  # one per check: vitals+neuro, labs, treatment
    first = min(crs, key=lambda r: r["effectiveDateTime"])
    assert first["valueInteger"] == 2  # fever, SBP 84 without pressors, low-flow oxygen
    derived = {
        by_url[ref["reference"]]["code"]["coding"][0]["code"] for ref in first["derivedFrom"]
    }
    assert derived == {"8310-5", "85354-9", "support"}
    ice_grade = min(icans, key=lambda r: r["effectiveDateTime"])
    (ref,) = ice_grade["derivedFrom"]
    assert by_url[ref["reference"]]["code"]["coding"][0]["code"] == "ice-score"


def test_a_clinicians_override_is_the_value_with_the_computed_grade_beside_it(
    care_client, charted, care_team_member
):
    snapshot = GradeSnapshot.objects.filter(course=charted).earliest("observed_at")
    computed = snapshot.crs_grade
    services.confirm_grade(
        snapshot=snapshot,
        domain="crs",
        grade=1,
        by=care_team_member,
        reason="BP cuff artefact",
        confirm_lower=True,
    )

    _, bundle = export(care_client, charted)

    grade = next(
        r
        for r in with_code(bundle, "astct-crs-grade")
        if r["effectiveDateTime"] == fhir.instant(snapshot.observed_at)
    )
    assert grade["valueInteger"] == 1
    (component,) = grade["component"]
    assert component["code"]["coding"][0]["code"] == "computed-grade"
    assert component["valueInteger"] == computed
    assert any("BP cuff artefact" in note["text"] for note in grade["note"])


def test_records_entered_in_error_are_exported_as_entered_in_error(
    care_client, charted, care_team_member
):
    _, before = export(care_client, charted)
    labs = LabResult.objects.get(check_entry__course=charted)
    services.mark_entered_in_error(
        record=labs, reason="Other patient's sample", by=care_team_member
    )

    _, bundle = export(care_client, charted)

    (crp,) = with_code(bundle, "1988-5")
    (crp_before,) = with_code(before, "1988-5")
    assert crp["status"] == "entered-in-error"
    assert (crp["id"], crp["identifier"]) == (crp_before["id"], crp_before["identifier"])
    assert "Other patient's sample" in crp["note"][-1]["text"]
    Bundle.model_validate(bundle)


def test_an_amendment_keeps_the_resource_and_marks_only_the_changed_value_amended(
    care_client, charted, care_team_member
):
    _, before = export(care_client, charted)
    vitals = VitalSigns.objects.get(check_entry__course=charted)
    services.amend_record(
        record=vitals,
        values={"temp_c": Decimal("38.9")},
        reason="Typed 38.6 for 38.9",
        by=care_team_member,
    )

    _, bundle = export(care_client, charted)

    (temperature,) = with_code(bundle, "8310-5")
    (temperature_before,) = with_code(before, "8310-5")
    assert temperature["id"] == temperature_before["id"]
    assert temperature["identifier"] == temperature_before["identifier"]
    assert temperature["status"] == "amended"
    assert temperature["valueQuantity"]["value"] == 38.9
    assert "Typed 38.6 for 38.9" in temperature["note"][0]["text"]
    # The values the correction left alone are still the ones first sent.
    (heart_rate,) = with_code(bundle, "8867-4")
    (heart_rate_before,) = with_code(before, "8867-4")
    assert heart_rate == heart_rate_before
    assert heart_rate["status"] == "final"
    assert [e["fullUrl"] for e in bundle["entry"]] == [e["fullUrl"] for e in before["entry"]]
    # The grades were recomputed from the correction and point to it.
    crs = min(with_code(bundle, "astct-crs-grade"), key=lambda r: r["effectiveDateTime"])
    temperature_url = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is temperature)
    assert {"reference": temperature_url} in crs["derivedFrom"]


def test_an_amended_treatment_stays_completed_with_the_reason(
    care_client, charted, care_team_member
):
    _, before = export(care_client, charted)
    toci = Treatment.objects.get(check_entry__course=charted)
    services.amend_record(
        record=toci, values={"dose": 600}, reason="Dose was 600 mg", by=care_team_member
    )

    _, bundle = export(care_client, charted)

    (given,) = resources(bundle, "MedicationAdministration")
    assert given["id"] == resources(before, "MedicationAdministration")[0]["id"]
    assert given["status"] == "completed"
    assert given["dosage"]["dose"]["value"] == 600
    assert "Dose was 600 mg" in given["note"][0]["text"]


def test_the_same_course_exports_the_same_full_urls(care_client, charted):
    _, first = export(care_client, charted)
    _, second = export(care_client, charted)

    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]
    assert first["id"] != second["id"]  # each export is its own bundle


def test_an_unassessable_neuro_check_has_a_data_absent_reason(care_client, course, nurse):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now(),
        neuro={
            **{k: v for k, v in ICE_7.items() if not k.startswith("ice")},
            "consciousness": "unarousable",
            "unable_to_assess_reason": "Unarousable",
        },
    )

    _, bundle = export(care_client, course)

    (neuro,) = with_code(bundle, "neuro-assessment")
    assert neuro["dataAbsentReason"]["coding"][0]["code"] == "not-performed"
    assert "valueInteger" not in neuro
    Bundle.model_validate(bundle)


def test_every_export_is_audited_with_who_and_what(care_client, care_team_member, charted):
    _, bundle = export(care_client, charted)

    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORTED)
    assert event.user == care_team_member
    assert event.course == charted
    assert event.patient == charted.patient
    assert event.details["format"] == "fhir_r4_bundle"
    assert event.details["bundle"] == bundle["id"]
    assert event.details["resources"]["MedicationAdministration"] == 1


def test_the_bundle_is_for_the_care_team_and_admins_of_the_patients_unit(
    client, nurse_client, admin_client_, charted, ward_b
):
    url = reverse("monitoring:patient-fhir", args=[charted.patient.public_id])
    client.force_login(UserFactory(role=User.Role.CARE_TEAM, units=[ward_b]))

    assert nurse_client.get(url).status_code == 403
    assert client.get(url).status_code == 404
    assert admin_client_.get(url).status_code == 200
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORTED).count() == 1


@pytest.mark.parametrize("n_checks", [1, 6])
def test_the_bundle_costs_the_same_queries_however_long_the_course(
    care_client, ward_a, nurse, django_assert_num_queries, n_checks
):
    course = CourseFactory(unit=ward_a)
    for n in range(n_checks):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=course.infused_at + timedelta(hours=4 * n),
            vitals=FULL_VITALS,
            neuro=ICE_7,
            labs={"crp_mg_l": 50},
            treatment={"drug": "dexamethasone", "dose": 10, "dose_unit": "mg", "route": "iv"},
        )
    url = reverse("monitoring:patient-fhir", args=[course.patient.public_id])
    active_now(care_client)
    # session, user, the course (patient, unit, status), current vitals, neuro, labs and
    # treatments, snapshots, grade confirmations, the doses given, the infections, the phases
    # in force, the audit line (doses and infections: tests/web/test_fhir_doses_infections.py;
    # the episode: tests/web/test_fhir_episode.py).
    with django_assert_num_queries(13):
        response = care_client.get(url)
    assert response.status_code == 200


def test_a_childs_capd_a_lone_systolic_and_a_dose_in_units_are_valid_fhir(
    care_client, ward_a, nurse
):
    child = CourseFactory(
        unit=ward_a, patient__date_of_birth=timezone.localdate() - timedelta(days=365 * 8)
    )
    services.record_check(
        course=child,
        by=nurse,
        observed_at=timezone.now(),
        vitals={**ROOM_AIR, "sbp_mmhg": 95},
        neuro={**{f"capd_item_{n}": 1 for n in range(1, 9)}, "consciousness": "alert"},
        treatment={
            "drug": "other",
            "drug_other": "Heparin",
            "dose": 5000,
            "dose_unit": "units",
            "route": "sc",
        },
    )

    _, bundle = export(care_client, child)

    Bundle.model_validate(bundle)
    (capd,) = with_code(bundle, "capd-score")
    assert capd["valueInteger"] is not None
    (panel,) = with_code(bundle, "85354-9")
    diastolic = next(c for c in panel["component"] if c["code"]["coding"][0]["code"] == "8462-4")
    assert "valueQuantity" not in diastolic
    assert diastolic["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    (given,) = resources(bundle, "MedicationAdministration")
    assert given["dosage"]["dose"] == {
        "value": 5000,
        "unit": "IU",
        "system": "http://unitsofmeasure.org",
        "code": "[iU]",
    }
    assert given["dosage"]["route"]["coding"][0]["code"] == "34206005"

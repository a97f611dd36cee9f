"""What a receiving system needs to trust the FHIR export (issue 14 §4, docs/fhir.md): business
identifiers that stay put, standard drug codes, a UCUM code for every quantity, no reserved
domain, and an MRN that always names its system (a deploy check refuses production without)."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.checks import run_checks
from fhir.resources.R4B.bundle import Bundle

from monitoring import fhir, services, terminology
from monitoring.checks import check_fhir_export
from monitoring.models import Treatment
from tests.web.test_fhir import export, resources
from tests.web.test_security import PRODUCTION_ENV, manage

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def treated(course, nurse):
    at = course.infused_at + timedelta(hours=6)
    services.record_check(
        course=course,
        by=nurse,
        observed_at=at,
        vitals={"temp_c": 39.1, "heart_rate_bpm": 120, "oxygen_support": "room_air"},
        labs={"crp_mg_l": 40},
    )
    for n, drug in enumerate(["tocilizumab", "anakinra", "dexamethasone"], start=1):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=at + timedelta(hours=n),
            treatment={"drug": drug, "dose": 100, "dose_unit": "mg", "route": "iv"},
        )
    return course


def all_codings(node):
    if isinstance(node, dict):
        if "system" in node and "code" in node:
            yield node
        for value in node.values():
            yield from all_codings(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_codings(value)


def test_every_resource_but_the_patient_has_a_stable_business_identifier(care_client, treated):
    _, first = export(care_client, treated)
    _, second = export(care_client, treated)

    identifiers = {}
    for entry in first["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            continue
        (identifier,) = resource["identifier"]
        assert identifier["system"] == (
            f"{fhir.fhir_base()}/sid/{resource['resourceType'].lower()}"
        )
        assert identifier["value"] == resource["id"]
        identifiers[entry["fullUrl"]] = identifier
    assert len({i["value"] for i in identifiers.values()}) == len(identifiers)
    for entry in second["entry"]:  # the same records, the same identifiers
        if entry["resource"]["resourceType"] != "Patient":
            assert entry["resource"]["identifier"] == [identifiers[entry["fullUrl"]]]


def test_a_retracted_treatment_is_sent_as_entered_in_error(care_client, treated, care_team_member):
    toci = Treatment.objects.get(check_entry__course=treated, drug="tocilizumab")
    services.mark_entered_in_error(record=toci, reason="Wrong patient", by=care_team_member)

    _, bundle = export(care_client, treated)

    given = {
        r["medicationCodeableConcept"]["coding"][0]["code"]: r
        for r in resources(bundle, "MedicationAdministration")
    }
    assert given["tocilizumab"]["status"] == "entered-in-error"
    assert "Wrong patient" in given["tocilizumab"]["note"][0]["text"]
    assert given["anakinra"]["status"] == "completed"
    Bundle.model_validate(bundle)


def test_a_value_a_correction_removes_is_withdrawn_not_dropped(
    care_client, treated, care_team_member
):
    from monitoring.models import VitalSigns

    vitals = VitalSigns.objects.get(check_entry__course=treated)
    services.amend_record(
        record=vitals,
        values={"heart_rate_bpm": None},
        reason="Heart rate was another patient's",
        by=care_team_member,
    )

    _, bundle = export(care_client, treated)

    heart_rate = [
        r for r in resources(bundle, "Observation") if r["code"]["coding"][0]["code"] == "8867-4"
    ]
    assert [r["status"] for r in heart_rate] == ["entered-in-error"]
    assert "another patient's" in heart_rate[0]["note"][0]["text"]
    temperature = next(
        r for r in resources(bundle, "Observation") if r["code"]["coding"][0]["code"] == "8310-5"
    )
    assert temperature["status"] == "final"


@pytest.mark.parametrize("drug", ["tocilizumab", "anakinra"])
def test_drugs_carry_their_checked_standard_codes_beside_the_local_one(care_client, treated, drug):
    _, bundle = export(care_client, treated)

    (given,) = [
        r
        for r in resources(bundle, "MedicationAdministration")
        if r["medicationCodeableConcept"]["coding"][0]["code"] == drug
    ]
    codings = given["medicationCodeableConcept"]["coding"]
    assert codings[0]["system"] == fhir.code_system("drugs")
    assert codings[1:] == [code.coding() for code in terminology.codes_for(drug)]
    assert {c["system"] for c in codings[1:]} <= {
        "http://www.nlm.nih.gov/research/umls/rxnorm",
        "http://www.whocc.no/atc",
    }


def test_tocilizumab_has_its_atc_code():
    assert {"system": "http://www.whocc.no/atc", "code": "L04AC07", "display": "tocilizumab"} in [
        c.coding() for c in terminology.codes_for("tocilizumab")
    ]


def test_a_drug_without_a_checked_code_goes_out_with_its_local_code_only(care_client, treated):
    _, bundle = export(care_client, treated)

    (dexa,) = [
        r
        for r in resources(bundle, "MedicationAdministration")
        if r["medicationCodeableConcept"]["coding"][0]["code"] == "dexamethasone"
    ]
    assert (
        len(dexa["medicationCodeableConcept"]["coding"])
        == len(terminology.codes_for("dexamethasone")) + 1
    )


def test_the_code_table_has_well_formed_codes_and_each_is_documented_with_its_source():
    doc = (ROOT / "docs" / "fhir.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    assert terminology.MEDICATION_CODES
    for app_code, codes in terminology.MEDICATION_CODES.items():
        for code in codes:
            if code.system == terminology.RXNORM:
                assert re.fullmatch(r"[1-9][0-9]*", code.code), code
            else:
                assert code.system == terminology.ATC
                assert re.fullmatch(r"[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}", code.code), code
            (row,) = [r for r in rows if r.startswith(f"| `{app_code}`") and f"`{code.code}`" in r]
            assert "http" in row, f"{app_code} {code.code}: no source in docs/fhir.md"


def test_every_dose_unit_has_a_ucum_code():
    assert set(fhir.DOSE_UNITS) == set(Treatment.DoseUnit.values)
    assert fhir.DOSE_UNITS["units"][0] == "[iU]"


def test_no_reserved_example_domain_is_left_and_the_base_is_a_setting(
    care_client, treated, settings
):
    _, bundle = export(care_client, treated)
    assert ".example" not in json.dumps(bundle)

    settings.CARTMONITOR_FHIR_BASE = "https://cartmonitor.hospital.org/fhir"
    _, moved = export(care_client, treated)
    systems = {c["system"] for c in all_codings(moved)}
    assert "https://cartmonitor.hospital.org/fhir/CodeSystem/scores" in systems
    assert "https://cartmonitor.hospital.org/fhir/CodeSystem/drugs" in systems
    local = {s for s in systems if "cartmonitor" in s}
    assert all(s.startswith("https://cartmonitor.hospital.org/fhir/") for s in local)


def test_the_mrn_always_names_its_system(care_client, treated, settings):
    settings.CARTMONITOR_MRN_SYSTEM = "urn:oid:2.999.1"
    _, bundle = export(care_client, treated)
    (patient,) = resources(bundle, "Patient")
    assert patient["identifier"][0]["system"] == "urn:oid:2.999.1"

    settings.CARTMONITOR_MRN_SYSTEM = ""  # development: this deployment's own namespace
    _, bundle = export(care_client, treated)
    (patient,) = resources(bundle, "Patient")
    assert patient["identifier"][0]["system"] == f"{fhir.fhir_base()}/sid/mrn"


@pytest.mark.parametrize(
    ("mrn_system", "base", "errors"),
    [
        ("", "https://cartmonitor.hospital.org/fhir", ["cartmonitor.E001"]),
        ("MRN", "https://cartmonitor.hospital.org/fhir", ["cartmonitor.E002"]),
        ("urn:oid:1.2.3", "http://127.0.0.1:8000/fhir", ["cartmonitor.E003"]),
        ("urn:oid:1.2.3", "https://cartmonitor.example/fhir", ["cartmonitor.E003"]),
        ("urn:oid:1.2.3", "https://cartmonitor.hospital.org/fhir", []),
        ("https://ehr.hospital.org/mrn", "https://cartmonitor.hospital.org/fhir", []),
    ],
)
def test_the_deploy_check_refuses_an_untrustworthy_export(settings, mrn_system, base, errors):
    settings.DEBUG = False
    settings.CARTMONITOR_MRN_SYSTEM = mrn_system
    settings.CARTMONITOR_FHIR_BASE = base
    assert [e.id for e in check_fhir_export()] == errors
    # Registered as a deploy check: plain `check` does not run it.
    assert "cartmonitor.E001" not in [e.id for e in run_checks(include_deployment_checks=False)]


def test_the_deploy_check_is_quiet_in_development(settings):
    settings.DEBUG = True
    settings.CARTMONITOR_MRN_SYSTEM = ""
    assert check_fhir_export() == []


def test_make_check_deploy_fails_without_the_mrn_system():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "CARTMONITOR_MRN_SYSTEM"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode != 0
    assert "cartmonitor.E001" in result.stdout + result.stderr


# The checked codes, pinned (docs/fhir.md "Drug and product codes" gives each one's source:
# the MII Onkologie ATC-DE value sets, the CIBMTR reporting IG, ICEES). A change to the table
# must change this list too, so no code moves by accident.
CHECKED_CODES = {
    "tocilizumab": {"rxnorm": "612865", "atc": "L04AC07"},
    "dexamethasone": {"atc": "H02AB02"},
    "methylprednisolone": {"atc": "H02AB04"},
    "anakinra": {"atc": "L04AC03"},
    "siltuximab": {"atc": "L04AC11"},
    "axi-cel": {"atc": "L01XL03"},
    "tisa-cel": {"atc": "L01XL04"},
    "cilta-cel": {"atc": "L01XL05"},
    "brexu-cel": {"atc": "L01XL06"},
    "ide-cel": {"atc": "L01XL07"},
    "liso-cel": {"atc": "L01XL08"},
    "obe-cel": {"atc": "L01XL12"},
    "teclistamab": {"atc": "L01FX24"},
    "mosunetuzumab": {"atc": "L01FX25"},
    "epcoritamab": {"atc": "L01FX27"},
    "talquetamab": {"atc": "L01FX29"},
    "linvoseltamab": {"atc": "L01FX37"},
    "blinatumomab": {"rxnorm": "1597258", "atc": "L01FX07"},
}


@pytest.mark.parametrize(("app_code", "expected"), CHECKED_CODES.items())
def test_each_checked_code_is_in_the_table(app_code, expected):
    systems = {terminology.RXNORM: "rxnorm", terminology.ATC: "atc"}
    got = {systems[c.system]: c.code for c in terminology.codes_for(app_code)}
    assert got == expected
    # RxNorm first, then ATC (the order the export sends them in)
    assert [c.system for c in terminology.codes_for(app_code)] == sorted(
        (c.system for c in terminology.codes_for(app_code)),
        key=[terminology.RXNORM, terminology.ATC].index,
    )


def test_the_table_holds_only_checked_codes():
    assert set(terminology.MEDICATION_CODES) == set(CHECKED_CODES)


def test_car_t_products_use_the_2023_atc_group_not_the_old_l01xx_codes():
    from monitoring.product_labels import PRODUCTS

    car_t = [row["code"] for row in PRODUCTS if row["product_class"] == "car_t"]
    assert car_t
    for product in car_t:
        atc = [c.code for c in terminology.codes_for(product) if c.system == terminology.ATC]
        assert len(atc) == 1, product
        assert atc[0].startswith("L01XL"), product
    assert not [
        c
        for codes in terminology.MEDICATION_CODES.values()
        for c in codes
        if c.code.startswith("L01XX")
    ]


def test_every_coded_drug_is_a_drug_choice_and_the_antipyretic_stays_uncoded():
    from monitoring.product_labels import PRODUCT_CODES

    products = set(PRODUCT_CODES)
    assert set(terminology.MEDICATION_CODES) <= set(Treatment.Drug.values) | products
    assert terminology.codes_for("antipyretic") == ()
    assert terminology.codes_for("other") == ()

"""A course as a FHIR R4 Bundle (type collection): Patient, Observations, MedicationAdministrations.

Built as plain dicts (the tests validate them with ``fhir.resources`` R4B models, which are
wire-compatible with R4 for these resources). Decisions:

- **Which records.** Only current records: a superseded version (corrected by an amendment) is
  left out, and so is a record marked entered in error — it may belong to another patient or be
  plain wrong, and a registry or EHR receiving a collection has no use for it. A correction is
  exported with status ``amended`` and its reason as a note; other records are ``final``.
- **Stable identities.** Each resource's UUID is derived (uuid5) from the patient's random
  ``public_id`` and the record's key, so exporting the same course twice gives the same
  ``urn:uuid:`` fullUrls and a receiver can recognise what it already has.
- **Codes.** Vital signs follow the FHIR vital-signs profile (LOINC + UCUM; reference §5.2);
  labs use the reference's LOINC codes. ICE/CAPD totals and ASTCT grades have no verified LOINC
  code, so they use cartmonitor's local code system (``CODE_SYSTEM_BASE``). Drugs are local codes
  with their name as text (no RxNorm mapping yet); routes are SNOMED CT.
- **Grades.** One Observation per snapshot and domain, valueInteger = the effective grade (the
  clinician's where one was given, with the computed grade as a component and the reason as a
  note); ``preliminary`` while a criterion awaits a clinician. ``derivedFrom`` points to the
  observations the grade was computed from, found by the times the snapshot's ``inputs`` record.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone, translation

from monitoring.models import (
    GradeConfirmation,
    GradeSnapshot,
    LabResult,
    NeuroAssessment,
    Treatment,
    VitalSigns,
)
from monitoring.reasons import render_all

# A deployment may publish its code systems under its own domain (one setting, no code change).
CODE_SYSTEM_BASE = getattr(
    settings, "CARTMONITOR_FHIR_CODE_SYSTEM_BASE", "https://cartmonitor.example/fhir/CodeSystem"
)
SCORES = f"{CODE_SYSTEM_BASE}/scores"
OBSERVATIONS = f"{CODE_SYSTEM_BASE}/observations"
DRUGS = f"{CODE_SYSTEM_BASE}/drugs"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"

GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}

# Vital signs: field -> (LOINC codes (first is the profile's), display, UCUM code, unit shown).
TEMPERATURE = ([("8310-5", "Body temperature")], "Cel", "°C")
HEART_RATE = ([("8867-4", "Heart rate")], "/min", "beats/minute")
RESP_RATE = ([("9279-1", "Respiratory rate")], "/min", "breaths/minute")
SPO2 = (
    [
        ("2708-6", "Oxygen saturation in Arterial blood"),
        ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
    ],
    "%",
    "%",
)
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
O2_FLOW = ("3151-8", "Inhaled oxygen flow rate")

# Labs: field -> (LOINC, display, UCUM code, unit shown). Reference §5.2 (codes marked [C] or
# [M] there must be checked against a LOINC release before go-live).
LABS = {
    "crp_mg_l": ("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", "mg/L"),
    "ferritin_ng_ml": ("2276-4", "Ferritin [Mass/volume] in Serum or Plasma", "ng/mL", "ng/mL"),
    "il6_pg_ml": ("26881-3", "Interleukin 6 [Mass/volume] in Serum or Plasma", "pg/mL", "pg/mL"),
    "fibrinogen_mg_dl": (
        "3255-7",
        "Fibrinogen [Mass/volume] in Platelet poor plasma by Coagulation assay",
        "mg/dL",
        "mg/dL",
    ),
    "d_dimer_ug_ml_feu": (
        "48065-7",
        "Fibrin D-dimer FEU [Mass/volume] in Platelet poor plasma",
        "ug/mL{FEU}",
        "µg/mL FEU",
    ),
    "ldh_u_l": (
        "2532-0",
        "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        "U/L",
    ),
    "anc_10e9_l": (
        "751-8",
        "Neutrophils [#/volume] in Blood by Automated count",
        "10*9/L",
        "10^9/L",
    ),
    "platelets_10e9_l": (
        "777-3",
        "Platelets [#/volume] in Blood by Automated count",
        "10*9/L",
        "10^9/L",
    ),
    "hemoglobin_g_dl": ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "g/dL"),
    "creatinine_mg_dl": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL"),
    "alt_u_l": (
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        "U/L",
    ),
    "ast_u_l": (
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        "U/L",
    ),
    "bilirubin_mg_dl": (
        "1975-2",
        "Bilirubin.total [Mass/volume] in Serum or Plasma",
        "mg/dL",
        "mg/dL",
    ),
}

# Dose units -> UCUM; "units" has no unambiguous UCUM code, so it goes out as text only.
DOSE_UNITS = {"mg": ("mg", "mg"), "g": ("g", "g"), "mcg": ("ug", "µg")}
ROUTES = {  # SNOMED CT route of administration values
    "iv": ("47625008", "Intravenous route"),
    "po": ("26643006", "Oral route"),
    "sc": ("34206005", "Subcutaneous route"),
    "im": ("78421000", "Intramuscular route"),
    "it": ("72607000", "Intrathecal route"),
    "pr": ("37161004", "Per rectum"),
}


def instant(value: datetime) -> str:
    """FHIR dateTime/instant in UTC with seconds (the records are stored in UTC)."""
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _number(value) -> int | float:
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _concept(system: str, code: str, display: str, text: str | None = None) -> dict:
    return {
        "coding": [{"system": system, "code": code, "display": display}],
        "text": text or display,
    }


def _loinc(codes: list[tuple[str, str]]) -> dict:
    return {
        "coding": [{"system": LOINC, "code": c, "display": d} for c, d in codes],
        "text": codes[0][1],
    }


def _category(code: str, display: str) -> list[dict]:
    return [_concept(CATEGORY, code, display)]


def _quantity(value, ucum: str, unit: str) -> dict:
    return {"value": _number(value), "unit": unit, "system": UCUM, "code": ucum}


def _absent(code: str = "not-performed", display: str = "Not Performed") -> dict:
    return _concept(DATA_ABSENT, code, display)


VITAL_SIGNS = _category("vital-signs", "Vital Signs")
LABORATORY = _category("laboratory", "Laboratory")
SURVEY = _category("survey", "Survey")
THERAPY = _category("therapy", "Therapy")


class BundleBuilder:
    """Collects entries with stable urn:uuid fullUrls; every reference points inside."""

    def __init__(self, patient):
        self.namespace = patient.public_id
        self.entries: list[dict] = []

    def url(self, *key) -> str:
        return f"urn:uuid:{self.uuid(*key)}"

    def uuid(self, *key) -> uuid.UUID:
        return uuid.uuid5(self.namespace, "/".join(str(part) for part in key))

    def add(self, resource: dict, *key) -> str:
        full_url = self.url(*key)
        self.entries.append(
            {
                "fullUrl": full_url,
                "resource": {
                    "resourceType": resource.pop("resourceType"),
                    "id": str(self.uuid(*key)),
                    **resource,
                },
            }
        )
        return full_url


def _record_meta(record) -> dict:
    """Status, times and the correction note shared by every resource built from a record."""
    meta = {
        "status": "amended" if record.amends_id else "final",
        "effectiveDateTime": instant(record.check_entry.observed_at),
        "issued": instant(record.recorded_at),
    }
    if record.amends_id:
        meta["note"] = [{"text": f"Corrected record: {record.amendment_reason}"}]
    # Where the check was done, when not on the ward: a phone value is the patient's report.
    setting_note = SETTING_NOTES.get(record.check_entry.setting)
    if setting_note:
        meta.setdefault("note", []).append({"text": setting_note})
    return meta


SETTING_NOTES = {
    "clinic": "Setting: outpatient clinic visit.",
    "phone": "Setting: phone call; reported by the patient or carer, not measured by staff.",
}


def _observation(patient_ref: str, record, *, category, code, **value) -> dict:
    meta = _record_meta(record)
    note = meta.pop("note", None)
    resource = {
        "resourceType": "Observation",
        "status": meta["status"],
        "category": category,
        "code": code,
        "subject": {"reference": patient_ref},
        "effectiveDateTime": meta["effectiveDateTime"],
        "issued": meta["issued"],
        **value,
    }
    if note:
        resource["note"] = note
    return resource


def _vital_quantity(patient_ref, record, spec, value) -> dict:
    codes, ucum, unit = spec
    return _observation(
        patient_ref,
        record,
        category=VITAL_SIGNS,
        code=_loinc(codes),
        valueQuantity=_quantity(value, ucum, unit),
    )


def _bp_component(code, value) -> dict:
    component = {"code": _loinc([code])}
    if value is None:
        component["dataAbsentReason"] = _absent("unknown", "Unknown")
    else:
        component["valueQuantity"] = _quantity(value, "mm[Hg]", "mmHg")
    return component


def _local(system_name: str, code: str, display: str) -> dict:
    return _concept(f"{CODE_SYSTEM_BASE}/{system_name}", code, display)


class _TimeIndex:
    """Which resource holds a kind of value recorded at a clinical time (the latest record wins,
    as in ``timeline._Series.latest``)."""

    def __init__(self):
        self.by_time: dict[tuple[str, datetime], str] = {}

    def put(self, kind: str, at: datetime, full_url: str) -> None:
        self.by_time[(kind, at)] = full_url  # records arrive in (time, pk) order

    def get(self, kind: str, iso: str | None) -> str | None:
        if not iso:
            return None
        try:
            at = datetime.fromisoformat(iso)
        except ValueError:
            return None
        return self.by_time.get((kind, at))


def build_bundle(
    course,
    *,
    vitals,
    neuro,
    labs,
    treatments,
    snapshots,
    confirmations,
    now: datetime,
    bundle_id: uuid.UUID,
) -> dict:
    """The Bundle as a dict, from the course (with ``patient``) and its loaded rows."""
    patient = course.patient
    builder = BundleBuilder(patient)
    index = _TimeIndex()
    patient_ref = builder.add(_patient(patient), "patient")

    for record in vitals:
        at = record.check_entry.observed_at
        key = ("vitals", record.pk)
        if record.temp_c is not None:
            url = builder.add(
                _vital_quantity(patient_ref, record, TEMPERATURE, record.temp_c),
                *key,
                "temperature",
            )
            index.put("temperature", at, url)
        if record.heart_rate_bpm is not None:
            builder.add(
                _vital_quantity(patient_ref, record, HEART_RATE, record.heart_rate_bpm),
                *key,
                "heart-rate",
            )
        if record.resp_rate_per_min is not None:
            builder.add(
                _vital_quantity(patient_ref, record, RESP_RATE, record.resp_rate_per_min),
                *key,
                "respiratory-rate",
            )
        if record.sbp_mmhg is not None or record.dbp_mmhg is not None:
            panel = _observation(
                patient_ref,
                record,
                category=VITAL_SIGNS,
                code=_loinc([BP_PANEL]),
                component=[
                    _bp_component(SYSTOLIC, record.sbp_mmhg),
                    _bp_component(DIASTOLIC, record.dbp_mmhg),
                ],
            )
            url = builder.add(panel, *key, "blood-pressure")
            if record.sbp_mmhg is not None:
                index.put("sbp", at, url)
        if record.spo2_pct is not None:
            builder.add(_vital_quantity(patient_ref, record, SPO2, record.spo2_pct), *key, "spo2")
        index.put("support", at, builder.add(_support(patient_ref, record), *key, "support"))

    for record in neuro:
        url = builder.add(_neuro(patient_ref, record), "neuro", record.pk)
        index.put("neuro", record.check_entry.observed_at, url)

    for record in labs:
        for name, (code, display, ucum, unit) in LABS.items():
            value = getattr(record, name)
            if value is None:
                continue
            builder.add(
                _observation(
                    patient_ref,
                    record,
                    category=LABORATORY,
                    code=_loinc([(code, display)]),
                    valueQuantity=_quantity(value, ucum, unit),
                ),
                "labs",
                record.pk,
                name,
            )

    for record in treatments:
        builder.add(_medication(patient_ref, record), "treatment", record.pk)

    latest = {(c.snapshot_id, c.domain): c for c in confirmations}  # oldest first: latest wins
    for snapshot in snapshots:
        for domain in ("crs", "icans"):
            resource = _grade(
                patient_ref, snapshot, domain, latest.get((snapshot.pk, domain)), index
            )
            if resource is not None:
                builder.add(resource, "grade", snapshot.pk, domain)

    return {
        "resourceType": "Bundle",
        "id": str(bundle_id),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{bundle_id}"},
        "type": "collection",
        "timestamp": instant(now),
        "entry": builder.entries,
    }


def _patient(patient) -> dict:
    identifier = {
        "use": "usual",
        "type": _concept(IDENTIFIER_TYPE, "MR", "Medical record number", "MRN"),
        "value": patient.mrn,
    }
    system = getattr(settings, "CARTMONITOR_MRN_SYSTEM", "")
    if system:  # the hospital's MRN namespace, when it has one
        identifier["system"] = system
    return {
        "resourceType": "Patient",
        "identifier": [identifier],
        "name": [{"family": patient.family_name, "given": [patient.given_name]}],
        "gender": GENDER.get(patient.sex, "unknown"),
        "birthDate": patient.date_of_birth.isoformat(),
    }


def _support(patient_ref, record) -> dict:
    """Oxygen device (and flow) and vasopressors: the CRS grade's hypoxia and hypotension."""
    components = []
    if record.oxygen_flow_l_min is not None:
        components.append(
            {
                "code": _loinc([O2_FLOW]),
                "valueQuantity": _quantity(record.oxygen_flow_l_min, "L/min", "L/min"),
            }
        )
    components.append(
        {
            "code": _local(
                "observations", "vasopressors", "Vasopressors running (not counting vasopressin)"
            ),
            "valueInteger": record.vasopressors_count,
        }
    )
    components.append(
        {
            "code": _local("observations", "vasopressin", "Vasopressin running"),
            "valueBoolean": record.vasopressin,
        }
    )
    if record.oxygen_for_airway_protection:  # not graded as CRS hypoxia (reference §1.2.8)
        components.append(
            {
                "code": _local(
                    "observations",
                    "oxygen-for-airway-protection",
                    "Positive pressure for airway protection only, not hypoxia",
                ),
                "valueBoolean": True,
            }
        )
    return _observation(
        patient_ref,
        record,
        category=THERAPY,
        code=_local("observations", "support", "Oxygen and vasopressor support"),
        valueCodeableConcept=_local(
            "oxygen-support", record.oxygen_support, record.get_oxygen_support_display()
        ),
        component=components,
    )


def _neuro(patient_ref, record) -> dict:
    """ICE (age >= 12) or CAPD (< 12) total, with the other ASTCT ICANS domains as components."""
    if record.ice_total is not None:
        code, value = _local("scores", "ice-score", "ICE score (0-10)"), record.ice_total
    elif record.capd_total is not None:
        code, value = _local("scores", "capd-score", "CAPD score (0-32)"), record.capd_total
    else:
        code, value = _local("scores", "neuro-assessment", "ASTCT ICANS domain assessment"), None
    components = [
        {
            "code": _local("observations", field, label),
            "valueCodeableConcept": _local(
                field, getattr(record, field), getattr(record, f"get_{field}_display")()
            ),
        }
        for field, label in (
            ("consciousness", "Level of consciousness"),
            ("seizure", "Seizure"),
            ("motor_weakness", "Motor weakness"),
            ("cerebral_edema", "Raised ICP / cerebral oedema"),
        )
    ]
    if record.consciousness_attributable_to:  # not graded as ICANS (reference §2.2 †)
        concept = _local(
            "consciousness-attributable-to",
            record.consciousness_attributable_to,
            record.get_consciousness_attributable_to_display(),
        )
        if record.consciousness_other_cause:
            concept["text"] = record.consciousness_other_cause
        components.append(
            {
                "code": _local(
                    "observations",
                    "consciousness-attributable-to",
                    "Depressed consciousness attributable to another cause",
                ),
                "valueCodeableConcept": concept,
            }
        )
    resource = _observation(patient_ref, record, category=SURVEY, code=code, component=components)
    if value is None:
        resource["dataAbsentReason"] = _absent()
        resource.setdefault("note", []).append(
            {"text": f"Not assessable: {record.unable_to_assess_reason}"}
        )
    else:
        resource["valueInteger"] = value
    return resource


def _medication(patient_ref, record) -> dict:
    meta = _record_meta(record)
    if record.dose_unit in DOSE_UNITS:
        ucum, unit = DOSE_UNITS[record.dose_unit]
        dose = _quantity(record.dose, ucum, unit)
    else:
        dose = {"value": _number(record.dose), "unit": record.get_dose_unit_display()}
    route = ROUTES.get(record.route)
    dosage = {"dose": dose}
    if route:
        dosage["route"] = _concept(SNOMED, *route, text=record.get_route_display())
    resource = {
        "resourceType": "MedicationAdministration",
        # FHIR has no "amended" administration: a corrected one is still completed (see note).
        "status": "completed",
        "medicationCodeableConcept": _concept(
            DRUGS, record.drug, record.get_drug_display(), text=record.drug_label
        ),
        "subject": {"reference": patient_ref},
        "effectiveDateTime": meta["effectiveDateTime"],
        "dosage": dosage,
    }
    if "note" in meta:
        resource["note"] = meta["note"]
    return resource


def _grade(patient_ref, snapshot, domain: str, confirmation, index: _TimeIndex) -> dict | None:
    computed = getattr(snapshot, f"{domain}_grade")
    confirmed = getattr(snapshot, f"{domain}_confirmed_grade")
    effective = computed if confirmed is None else confirmed
    if effective is None:
        return None
    inputs = (snapshot.inputs or {}).get(domain) or {}
    if domain == "crs":
        derived = [
            index.get("temperature", inputs.get("temperature_at")),
            index.get("temperature", inputs.get("first_fever_at")),
            index.get("sbp", inputs.get("sbp_at")),
            index.get("support", inputs.get("support_at")),
        ]
        code = _local("scores", "astct-crs-grade", "ASTCT CRS grade")
    else:
        derived = [index.get("neuro", inputs.get("assessed_at"))]
        code = _local("scores", "astct-icans-grade", "ASTCT ICANS grade")
    refs = list(dict.fromkeys(url for url in derived if url))  # unique, in order
    needs_review = getattr(snapshot, f"{domain}_needs_review")
    resource = {
        "resourceType": "Observation",
        "status": "preliminary" if needs_review and confirmed is None else "final",
        "category": SURVEY,
        "code": code,
        "subject": {"reference": patient_ref},
        "effectiveDateTime": instant(snapshot.observed_at),
        "issued": instant(snapshot.computed_at),
        "valueInteger": effective,
        "method": {
            "text": f"ASTCT consensus grading (Lee et al. 2019), cartmonitor rules "
            f"{snapshot.rule_version}"
        },
    }
    if refs:
        resource["derivedFrom"] = [{"reference": url} for url in refs]
    reasons = getattr(snapshot, f"{domain}_reasons") or []
    # The export is English whoever downloads it (its codes and display texts are).
    with translation.override("en"):
        notes = [{"text": "Computed: " + "; ".join(render_all(reasons))}] if reasons else []
    if confirmed is not None:
        resource["component"] = [
            {
                "code": _local("scores", "computed-grade", "Grade computed by cartmonitor"),
                **(
                    {"valueInteger": computed}
                    if computed is not None
                    else {"dataAbsentReason": _absent("unknown", "Unknown")}
                ),
            }
        ]
        verb = "confirmed" if confirmed == computed else "overrode the computed grade with"
        reason = f": {confirmation.reason}" if confirmation else ""
        notes.append({"text": f"Clinician {verb} grade {confirmed}{reason}"})
    if notes:
        resource["note"] = notes
    return resource


def load_rows(course) -> dict:
    """The current records, snapshots and confirmations of a course: six queries."""

    def current(model):
        return list(
            model.objects.current()
            .filter(check_entry__course=course)
            .select_related("check_entry")
            .order_by("check_entry__observed_at", "pk")
        )

    return {
        "vitals": current(VitalSigns),
        "neuro": current(NeuroAssessment),
        "labs": current(LabResult),
        "treatments": current(Treatment),
        "snapshots": list(
            GradeSnapshot.objects.filter(course=course).order_by("observed_at", "pk")
        ),
        "confirmations": list(
            GradeConfirmation.objects.filter(snapshot__course=course).order_by("confirmed_at", "pk")
        ),
    }


def course_bundle(course, *, now: datetime | None = None) -> dict:
    """The course's Bundle (loads its rows; see ``load_rows``)."""
    return build_bundle(
        course, **load_rows(course), now=now or timezone.now(), bundle_id=uuid.uuid4()
    )

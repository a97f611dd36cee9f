"""A course as a FHIR R4 Bundle (type collection): Patient, the therapy episode (EpisodeOfCare, with
its phases), Observations, MedicationAdministrations (treatments and the step-up / treatment doses
given), Conditions (infections).

Built as plain dicts (the tests validate them with ``fhir.resources`` R4B models and with
Medplum's R4 validator, and every UCUM code with NLM's ucum-lhc). docs/fhir.md is the contract
a receiving system reads; the decisions:

- **Identity.** Each resource's id is a UUID derived (uuid5) from the patient's random
  ``public_id`` and the key of the record it comes from — for a corrected record, the key of
  the *original* record — so exporting the same course twice, or again after a correction,
  gives the same ``urn:uuid:`` fullUrls. Every resource but the Patient also carries that UUID
  as its business identifier (``<base>/sid/<resource type>``), which survives a receiver that
  assigns its own ids. The Patient carries the MRN in the hospital's system
  (``CARTMONITOR_MRN_SYSTEM``, required outside DEBUG by a deploy check).
- **Corrections.** A record is never dropped. An amendment keeps the original's resources (id
  and identifier) with the corrected values: a value the correction changed goes out
  ``amended`` with the reason as a note; a value it left alone stays ``final``; a value it
  removed goes out ``entered-in-error``. A record marked entered in error goes out with status
  ``entered-in-error`` and the reason. MedicationAdministration has no ``amended``: a corrected
  one stays ``completed`` with the reason as a note.
- **Codes.** Vital signs follow the FHIR vital-signs profile (LOINC + UCUM; reference §5.2);
  labs use the reference's LOINC codes; every quantity has a UCUM code. ICE/CAPD totals and
  ASTCT grades have no verified LOINC code, so they use cartmonitor's own code systems under
  ``CARTMONITOR_FHIR_BASE``. Drugs and products carry RxNorm and ATC codes where
  ``monitoring.terminology`` has checked ones, beside the local code; routes are SNOMED CT.
- **Grades.** One Observation per snapshot and domain, valueInteger = the effective grade (the
  clinician's where one was given, with the computed grade as a component and the reason as a
  note); ``preliminary`` while a criterion awaits a clinician, ``amended`` once a late entry or
  a correction revised it. ``derivedFrom`` points to the observations the grade was computed
  from, found by the times the snapshot's ``inputs`` record.

- **Doses and infections.** Only doses *given* are MedicationAdministrations (a planned or
  held dose was not administered); the product's class is their ``category``. Infections are
  Conditions whose verificationStatus carries the record's state (``STATUS``).
- **The episode.** One EpisodeOfCare per course: the journey's phases in force
  (``journey.phase_history``: a corrected phase with its corrected dates, nothing planned) as
  its statusHistory, each phase in a ``therapy-phase`` extension (statusHistory.status only has
  the EpisodeOfCare codes: ``EPISODE_STATUS``). MedicationAdministrations point at it
  (``context``); R4 gives Observation and Condition no element for it.

Adding a resource type: write a function that turns a row into the resource's content and add
it with ``Export.add`` (fixed rows) or ``Export.add_versions`` (rows corrected by amendment, as
``monitoring.models.Observation``).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone, translation

from monitoring import journey, journey_rules, terminology
from monitoring.models import (
    CourseDose,
    CoursePhase,
    GradeConfirmation,
    GradeSnapshot,
    Infection,
    LabResult,
    NeuroAssessment,
    Phase,
    RecordStatus,
    Treatment,
    TreatmentCourse,
    VitalSigns,
)
from monitoring.reasons import render_all


def fhir_base() -> str:
    """The canonical base of cartmonitor's code systems and identifiers (a setting)."""
    return settings.CARTMONITOR_FHIR_BASE


def code_system(name: str) -> str:
    """One of cartmonitor's local code systems: scores, observations, drugs, products, ..."""
    return f"{fhir_base()}/CodeSystem/{name}"


def structure_definition(name: str) -> str:
    """One of cartmonitor's extensions (``<base>/StructureDefinition/<name>``)."""
    return f"{fhir_base()}/StructureDefinition/{name}"


def identifier_system(resource_type: str) -> str:
    """The namespace of cartmonitor's business identifiers of one resource type."""
    return f"{fhir_base()}/sid/{resource_type.lower()}"


def mrn_system() -> str:
    """The hospital's MRN namespace; without one (development only: the deploy check refuses
    it) this deployment's own, which no receiving system will mistake for its own MRNs."""
    return settings.CARTMONITOR_MRN_SYSTEM or f"{fhir_base()}/sid/mrn"


LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

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

# Dose units -> (UCUM code, unit shown). Every Treatment.DoseUnit has one (a test says so).
# "units" is the international unit, [iU]: UCUM has no bare "[U]" (NLM's ucum-lhc rejects it)
# and its "U" is the enzyme unit (µmol/min), which a heparin or insulin dose is not.
DOSE_UNITS = {
    "mg": ("mg", "mg"),
    "g": ("g", "g"),
    "mcg": ("ug", "µg"),
    "units": ("[iU]", "IU"),
}
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


class State(enum.Enum):
    """What a receiver should make of a value: as first sent, corrected, or withdrawn."""

    FINAL = "final"
    AMENDED = "amended"
    ENTERED_IN_ERROR = "entered-in-error"


# The status each resource type gives a state (MedicationAdministration has no "amended"; a
# Condition has no status but a verificationStatus: a corrected infection is still confirmed).
STATUS = {
    "Observation": {
        State.FINAL: "final",
        State.AMENDED: "amended",
        State.ENTERED_IN_ERROR: "entered-in-error",
    },
    "MedicationAdministration": {
        State.FINAL: "completed",
        State.AMENDED: "completed",
        State.ENTERED_IN_ERROR: "entered-in-error",
    },
    "Condition": {
        State.FINAL: ("confirmed", "Confirmed"),
        State.AMENDED: ("confirmed", "Confirmed"),
        State.ENTERED_IN_ERROR: ("entered-in-error", "Entered in Error"),
    },
}
HAS_ISSUED = {"Observation"}

# The EpisodeOfCare status of each phase of the journey (statusHistory.status, and the
# episode's status from the phase it is in): before day 0 the course is planned (FHIR: the
# organisation assesses the patient and makes the resources ready), from the infusion on it is
# active, and once ended, finished. The phase itself goes in the therapy-phase extension.
EPISODE_STATUS = {
    "referral": "planned",
    "collection": "planned",
    "manufacturing": "planned",
    "bridging": "planned",
    "conditioning": "planned",
    "infusion": "active",
    "acute_monitoring": "active",
    "follow_up": "active",
    "ended": "finished",
}
assert tuple(EPISODE_STATUS) == journey_rules.PHASES  # every phase has its status


class Export:
    """Collects a course's entries with stable ids, identifiers and urn:uuid fullUrls (every
    reference points inside the bundle)."""

    def __init__(self, patient):
        self.namespace = patient.public_id
        self.entries: list[dict] = []
        self.patient_ref = self.url("patient")
        self.index = _TimeIndex()

    def uuid(self, *key) -> uuid.UUID:
        return uuid.uuid5(self.namespace, "/".join(str(part) for part in key))

    def url(self, *key) -> str:
        return f"urn:uuid:{self.uuid(*key)}"

    def add(self, resource: dict, *key, identify: bool = True) -> str:
        """Add a resource under ``key``; its business identifier is the id's UUID."""
        resource = dict(resource)
        kind = resource.pop("resourceType")
        resource_id = str(self.uuid(*key))
        head = {"resourceType": kind, "id": resource_id}
        if identify:
            head["identifier"] = [{"system": identifier_system(kind), "value": resource_id}]
        self.entries.append({"fullUrl": self.url(*key), "resource": {**head, **resource}})
        return self.url(*key)

    def add_versions(
        self, kind: str, chain: list, parts: Callable[[object], dict[str, dict]]
    ) -> dict[str, str]:
        """Add the resources of one record and its corrections (``chain``: the original first,
        then each amendment); ``parts(record)`` gives a version's resources by component name,
        without status, issued or notes. Returns the fullUrls of the values still in force.

        Each component keeps the original record's id. Its state: withdrawn when the record was
        entered in error or a correction removed the value; amended when any correction changed
        it; else final (a correction to another value of the record leaves it alone).
        """
        versions = [(record, parts(record)) for record in chain]
        head = chain[-1]
        components = list(dict.fromkeys(c for _, found in reversed(versions) for c in found))
        urls = {}
        for component in components:
            history = [found.get(component) for _, found in versions]
            last = max(i for i, content in enumerate(history) if content is not None)
            content = history[last]
            changed = [i for i in range(1, len(history)) if history[i] != history[i - 1]]
            if head.status == RecordStatus.ENTERED_IN_ERROR:
                state, issued = State.ENTERED_IN_ERROR, head.status_changed_at or head.recorded_at
                notes = [f"Entered in error: {head.status_reason}"]
            elif last != len(history) - 1:  # a correction removed this value
                remover = chain[last + 1]
                state, issued = State.ENTERED_IN_ERROR, remover.recorded_at
                notes = [f"Removed by a correction: {remover.amendment_reason}"]
            elif changed:
                state, issued = State.AMENDED, chain[changed[-1]].recorded_at
                notes = [f"Corrected: {chain[i].amendment_reason}" for i in changed]
            else:
                state, issued, notes = State.FINAL, chain[0].recorded_at, []
            url = self.add(_finish(content, state, issued, notes), kind, chain[0].pk, component)
            if state is not State.ENTERED_IN_ERROR:
                urls[component] = url
        return urls


def _finish(content: dict, state: State, issued: datetime, notes: list[str]) -> dict:
    """A resource's content with the status of its state, when it was issued, and the notes."""
    kind = content["resourceType"]
    if kind == "Condition":
        code, display = STATUS[kind][state]
        status = {"verificationStatus": _concept(CONDITION_VERIFICATION, code, display)}
        if state is State.ENTERED_IN_ERROR:  # con-5: no clinicalStatus on a record in error
            content = {k: v for k, v in content.items() if k != "clinicalStatus"}
    else:
        status = {"status": STATUS[kind][state]}
    resource = {"resourceType": kind, **status, **content}
    if kind in HAS_ISSUED:
        resource["issued"] = instant(issued)
    all_notes = [*content.get("note", []), *({"text": text} for text in notes)]
    if all_notes:
        resource["note"] = all_notes
    return resource


def chains(records: Iterable) -> list[list]:
    """Records grouped by correction chain (original first), in the order of the originals."""
    records = list(records)
    by_pk = {record.pk: record for record in records}
    grouped: dict[int, list] = {}
    for record in sorted(records, key=lambda r: r.pk):
        root = record
        while root.amends_id in by_pk:
            root = by_pk[root.amends_id]
        grouped.setdefault(root.pk, []).append(record)
    order = {record.pk: n for n, record in enumerate(records)}
    found = [chain for chain in grouped.values() if chain[-1].status != RecordStatus.AMENDED]
    return sorted(found, key=lambda chain: order[chain[0].pk])


# Where the check was done, when not on the ward: a phone value is the patient's report.
SETTING_NOTES = {
    "clinic": "Setting: outpatient clinic visit.",
    "phone": "Setting: phone call; reported by the patient or carer, not measured by staff.",
    "home": "Setting: home; entered by the patient or caregiver, not measured by staff.",
}


def _setting_note(record) -> dict:
    text = SETTING_NOTES.get(record.check_entry.setting)
    return {"note": [{"text": text}]} if text else {}


def _observation(patient_ref: str, record, *, category, code, **value) -> dict:
    return {
        "resourceType": "Observation",
        "category": category,
        "code": code,
        "subject": {"reference": patient_ref},
        "effectiveDateTime": instant(record.check_entry.observed_at),
        **value,
        **_setting_note(record),
    }


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
    return _concept(code_system(system_name), code, display)


class _TimeIndex:
    """Which resource holds a kind of value recorded at a clinical time: the current record
    saved last wins, as in ``timeline._Series.latest``."""

    def __init__(self):
        self.by_time: dict[tuple[str, datetime], tuple[int, str]] = {}

    def put(self, kind: str, at: datetime, full_url: str, saved: int) -> None:
        held = self.by_time.get((kind, at))
        if held is None or saved >= held[0]:
            self.by_time[(kind, at)] = (saved, full_url)

    def get(self, kind: str, iso: str | None) -> str | None:
        if not iso:
            return None
        try:
            at = datetime.fromisoformat(iso)
        except ValueError:
            return None
        held = self.by_time.get((kind, at))
        return held[1] if held else None


def _vital_parts(patient_ref: str) -> Callable[[VitalSigns], dict[str, dict]]:
    def parts(record) -> dict[str, dict]:
        found = {}
        if record.temp_c is not None:
            found["temperature"] = _vital_quantity(patient_ref, record, TEMPERATURE, record.temp_c)
        if record.heart_rate_bpm is not None:
            found["heart-rate"] = _vital_quantity(
                patient_ref, record, HEART_RATE, record.heart_rate_bpm
            )
        if record.resp_rate_per_min is not None:
            found["respiratory-rate"] = _vital_quantity(
                patient_ref, record, RESP_RATE, record.resp_rate_per_min
            )
        if record.sbp_mmhg is not None or record.dbp_mmhg is not None:
            found["blood-pressure"] = _observation(
                patient_ref,
                record,
                category=VITAL_SIGNS,
                code=_loinc([BP_PANEL]),
                component=[
                    _bp_component(SYSTOLIC, record.sbp_mmhg),
                    _bp_component(DIASTOLIC, record.dbp_mmhg),
                ],
            )
        if record.spo2_pct is not None:
            found["spo2"] = _vital_quantity(patient_ref, record, SPO2, record.spo2_pct)
        found["support"] = _support(patient_ref, record)
        return found

    return parts


def _lab_parts(patient_ref: str) -> Callable[[LabResult], dict[str, dict]]:
    def parts(record) -> dict[str, dict]:
        return {
            name: _observation(
                patient_ref,
                record,
                category=LABORATORY,
                code=_loinc([(code, display)]),
                valueQuantity=_quantity(getattr(record, name), ucum, unit),
            )
            for name, (code, display, ucum, unit) in LABS.items()
            if getattr(record, name) is not None
        }

    return parts


# Which of a vitals record's resources a grade may be derived from, by the grade input's name.
GRADE_INPUTS = {"temperature": "temperature", "blood-pressure": "sbp", "support": "support"}


def build_bundle(
    course,
    *,
    vitals,
    neuro,
    labs,
    treatments,
    snapshots,
    confirmations,
    doses=(),
    infections=(),
    phases=(),
    now: datetime,
    bundle_id: uuid.UUID,
) -> dict:
    """The Bundle as a dict, from the course (with ``patient`` and ``product``) and its loaded
    rows (every version of every record, the phases in force: see ``load_rows``)."""
    patient = course.patient
    export = Export(patient)
    export.add(_patient(patient), "patient", identify=False)
    episode_ref = export.add(
        _episode(export.patient_ref, course, list(phases)), "episode", course.public_id
    )
    index = export.index

    for chain in chains(vitals):
        urls = export.add_versions("vitals", chain, _vital_parts(export.patient_ref))
        head = chain[-1]
        for component, kind in GRADE_INPUTS.items():
            if component == "blood-pressure" and head.sbp_mmhg is None:
                continue  # a lone diastolic is not what the grade read
            if component in urls:
                index.put(kind, head.check_entry.observed_at, urls[component], head.pk)

    for chain in chains(neuro):
        urls = export.add_versions(
            "neuro", chain, lambda record: {"assessment": _neuro(export.patient_ref, record)}
        )
        if "assessment" in urls:
            index.put("neuro", chain[-1].check_entry.observed_at, urls["assessment"], chain[-1].pk)

    for chain in chains(labs):
        export.add_versions("labs", chain, _lab_parts(export.patient_ref))

    for chain in chains(treatments):
        export.add_versions(
            "treatment",
            chain,
            lambda record: {"administration": _medication(export.patient_ref, episode_ref, record)},
        )

    for dose in doses:  # given doses only (see load_rows): a planned or held dose was not given
        export.add(
            _finish(
                _dose(export.patient_ref, episode_ref, course, dose), State.FINAL, dose.given_at, []
            ),
            "dose",
            dose.pk,
        )

    for chain in chains(infections):
        export.add_versions(
            "infection",
            chain,
            lambda record, first=chain[0]: {
                "condition": _infection(export.patient_ref, record, first)
            },
        )

    latest = {(c.snapshot_id, c.domain): c for c in confirmations}  # oldest first: latest wins
    for snapshot in snapshots:
        for domain in ("crs", "icans"):
            resource = _grade(
                export.patient_ref, snapshot, domain, latest.get((snapshot.pk, domain)), index
            )
            if resource is not None:
                export.add(resource, "grade", snapshot.pk, domain)

    return {
        "resourceType": "Bundle",
        "id": str(bundle_id),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{bundle_id}"},
        "type": "collection",
        "timestamp": instant(now),
        "entry": export.entries,
    }


def _patient(patient) -> dict:
    return {
        "resourceType": "Patient",
        "identifier": [
            {
                "use": "usual",
                "type": _concept(IDENTIFIER_TYPE, "MR", "Medical record number", "MRN"),
                "system": mrn_system(),
                "value": patient.mrn,
            }
        ],
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
    if record.oxygen_support:
        value = {
            "valueCodeableConcept": _local(
                "oxygen-support", record.oxygen_support, record.get_oxygen_support_display()
            )
        }
    else:  # not recorded with these vitals (it carries forward from an earlier record)
        value = {"dataAbsentReason": _absent("not-asked", "Not Asked")}
    return _observation(
        patient_ref,
        record,
        category=THERAPY,
        code=_local("observations", "support", "Oxygen and vasopressor support"),
        **value,
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


def medication_concept(system_name: str, app_code: str, display: str, text: str = "") -> dict:
    """A drug or product: cartmonitor's code, then its checked RxNorm and ATC codes."""
    return {
        "coding": [
            {"system": code_system(system_name), "code": app_code, "display": display},
            *(code.coding() for code in terminology.codes_for(app_code)),
        ],
        "text": text or display,
    }


def _medication(patient_ref, episode_ref, record) -> dict:
    ucum, unit = DOSE_UNITS[record.dose_unit]
    dosage = {"dose": _quantity(record.dose, ucum, unit)}
    route = ROUTES.get(record.route)
    if route:
        dosage["route"] = _concept(SNOMED, *route, text=record.get_route_display())
    return {
        "resourceType": "MedicationAdministration",
        "medicationCodeableConcept": medication_concept(
            "drugs", record.drug, record.get_drug_display(), text=record.drug_label
        ),
        "subject": {"reference": patient_ref},
        "context": {"reference": episode_ref},
        "effectiveDateTime": instant(record.check_entry.observed_at),
        "dosage": dosage,
        **_setting_note(record),
    }


def _english(label) -> str:
    """A choice's label in English, whoever downloads the export (its texts are English)."""
    with translation.override("en"):
        return str(label)


def product_class_concept(product) -> dict:
    """The product's class (CAR-T, T-cell engager, TCR-T, other) in cartmonitor's code system."""
    display = _english(product.ProductClass(product.product_class).label)
    return _local("product-classes", product.product_class, display)


def _dose(patient_ref, episode_ref, course, dose) -> dict:
    """A step-up or treatment dose given: the course's product, coded (local code, then its
    checked ATC/RxNorm codes), the protocol's dose text, and the product's class as category."""
    product = course.product
    step = dose.step
    notes = [
        f"{step.label} (protocol dose step {step.sequence}"
        + (f", step-up restarted: attempt {dose.attempt})" if dose.attempt > 1 else ")")
    ]
    if dose.override_reason:
        notes.append(
            "Given while a gate before it was not met; a physician overrode it: "
            f"{dose.override_reason}"
            + (f" (gates: {' '.join(dose.overridden_gates)})" if dose.overridden_gates else "")
        )
    return {
        "resourceType": "MedicationAdministration",
        "category": product_class_concept(product),
        "medicationCodeableConcept": medication_concept(
            "products", product.code, product.name, text=course.product_label
        ),
        "subject": {"reference": patient_ref},
        "context": {"reference": episode_ref},
        "effectiveDateTime": instant(dose.given_at),
        "dosage": {"text": step.dose_text},
        "note": [{"text": text} for text in notes],
    }


def _episode(patient_ref, course, phases: list[CoursePhase]) -> dict:
    """The course as an EpisodeOfCare: its status from the phase it is in, the phases in force
    with their dates as statusHistory (in the journey's order), the product's class as type,
    the product, the conditioning regimen and why the journey ended (extensions)."""
    with translation.override("en"):  # the phases' displays, like every text of the export
        history = journey.phase_history(course, phases)
        status = EPISODE_STATUS[journey.phase_of(course, phases)]
        product = course.product
        extensions = [
            {
                "url": structure_definition("therapy-product"),
                "valueCodeableConcept": medication_concept(
                    "products", product.code, product.name, text=course.product_label
                ),
            }
        ]
        dated = [row for row in history if row.started_on is not None]
        for row in dated:
            if row.phase == Phase.CONDITIONING and row.record.regimen:
                extensions.append(
                    {
                        "url": structure_definition("conditioning-regimen"),
                        "valueString": row.record.regimen,
                    }
                )
        ended = next((row for row in dated if row.phase == Phase.ENDED), None)
        if ended is not None:
            outcome = TreatmentCourse.Status(course.status)
            reason = _local("course-statuses", outcome.value, str(outcome.label))
            if ended.detail:
                reason["text"] = ended.detail
            extensions.append(
                {"url": structure_definition("end-reason"), "valueCodeableConcept": reason}
            )
        status_history = [
            {
                "extension": [
                    {
                        "url": structure_definition("therapy-phase"),
                        "valueCoding": {
                            "system": code_system("therapy-phases"),
                            "code": row.phase,
                            "display": row.label,
                        },
                    }
                ],
                "status": EPISODE_STATUS[row.phase],
                "period": _period(row.started_on, row.ended_on),
            }
            for row in dated
        ]
    resource = {
        "resourceType": "EpisodeOfCare",
        "extension": extensions,
        "status": status,
        "statusHistory": status_history,
        "type": [product_class_concept(product)],
        "patient": {"reference": patient_ref},
    }
    if dated:
        resource["period"] = _period(dated[0].started_on, ended.started_on if ended else None)
    if not status_history:
        del resource["statusHistory"]
    return resource


def _period(start, end) -> dict:
    """A Period of dates (FHIR dateTime allows a date alone); no end: still going on."""
    period = {"start": start.isoformat()}
    if end is not None:
        period["end"] = end.isoformat()
    return period


def _infection(patient_ref, record, first) -> dict:
    """An infection as a Condition: site and organism (local codes, readable text), CTCAE
    severity, onset, and the resolution date when it resolved."""
    with translation.override("en"):
        site = record.get_site_display()
        organism = record.organism_label
        severity = record.get_severity_display()
        site_label = record.site_label
    resolved = record.resolved_on is not None
    clinical = ("resolved", "Resolved") if resolved else ("active", "Active")
    resource = {
        "resourceType": "Condition",
        "clinicalStatus": _concept(CONDITION_CLINICAL, *clinical),
        "code": {
            "coding": [
                {"system": code_system("infection-sites"), "code": record.site, "display": site},
                {
                    "system": code_system("infection-organisms"),
                    "code": record.organism_type,
                    "display": _english(record.Organism(record.organism_type).label),
                },
            ],
            "text": f"Infection, {site_label}: {organism}",
        },
        "severity": _local("ctcae-infection-grade", str(record.severity), f"CTCAE {severity}"),
        "subject": {"reference": patient_ref},
        "onsetDateTime": record.onset_on.isoformat(),
        "recordedDate": instant(first.recorded_at),
    }
    if resolved:
        resource["abatementDateTime"] = record.resolved_on.isoformat()
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
    if needs_review and confirmed is None:
        status = "preliminary"
    else:  # revised: a late entry or a correction changed it after it was shown
        status = "amended" if snapshot.revised_at else "final"
    resource = {
        "resourceType": "Observation",
        "status": status,
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
    if snapshot.revised_at and snapshot.revision_note:
        notes.append({"text": snapshot.revision_note})
    if notes:
        resource["note"] = notes
    return resource


def load_rows(course) -> dict:
    """Every version of the course's records (current, superseded by a correction, entered in
    error), its snapshots and confirmations, the doses given, every version of its infections
    and its journey's phases in force: nine queries, however long the course."""

    def every(model):
        return list(
            model.objects.filter(check_entry__course=course)
            .select_related("check_entry")
            .order_by("check_entry__observed_at", "pk")
        )

    return {
        "vitals": every(VitalSigns),
        "neuro": every(NeuroAssessment),
        "labs": every(LabResult),
        "treatments": every(Treatment),
        "snapshots": list(
            GradeSnapshot.objects.filter(course=course).order_by("observed_at", "pk")
        ),
        "confirmations": list(
            GradeConfirmation.objects.filter(snapshot__course=course).order_by("confirmed_at", "pk")
        ),
        # Only doses given were administered: planned, held and cancelled ones were not.
        "doses": list(
            CourseDose.objects.filter(course=course, status=CourseDose.Status.GIVEN)
            .select_related("step")
            .order_by("given_at", "pk")
        ),
        "infections": list(Infection.objects.filter(course=course).order_by("onset_on", "pk")),
        # Only the phases in force: a corrected phase goes out with its corrected dates.
        "phases": list(CoursePhase.objects.current().filter(course=course)),
    }


def course_bundle(course, *, now: datetime | None = None) -> dict:
    """The course's Bundle (loads its rows; see ``load_rows``)."""
    return build_bundle(
        course, **load_rows(course), now=now or timezone.now(), bundle_id=uuid.uuid4()
    )

"""The demo and the live path are one engine: a seeded course, replayed check by check through
``services.record_check`` (and the flag services, at the times the demo's care team acted),
stores the same snapshots, flags and status row, field by field (issue 11 §1)."""

from datetime import UTC, datetime

import pytest
import time_machine

from monitoring import demo, services
from monitoring.models import (
    Flag,
    GradeSnapshot,
    LabResult,
    NeuroAssessment,
    Observation,
    Patient,
    SymptomCheck,
    Treatment,
    TreatmentCourse,
    VitalSigns,
)

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SECTIONS = {
    "vitals": VitalSigns,
    "symptoms": SymptomCheck,
    "neuro": NeuroAssessment,
    "labs": LabResult,
    "treatment": Treatment,
}
# Bookkeeping the service sets itself (and the check it files the record under), and neuro
# totals it computes from the items.
NOT_TYPED = {*Observation.BOOKKEEPING_FIELDS, "check_entry", "ice_total", "capd_total"}
SNAPSHOT_FIELDS = [
    "observed_at",
    "computed_at",
    "crs_grade",
    "crs_reasons",
    "crs_needs_review",
    "icans_grade",
    "icans_reasons",
    "icans_needs_review",
    "review_reasons",
    "crs_confirmed_grade",
    "icans_confirmed_grade",
    "confirmation_carried",
    "news2_total",
    "news2_risk",
    "inputs",
    "rule_version",
]
FLAG_FIELDS = [
    "kind",
    "severity",
    "status",
    "message",
    "raised_message",
    "raised_at",
    "worsened_at",
    "updated_at",
    "acknowledged_at",
    "acknowledge_note",
    "resolved_at",
    "resolve_reason",
]
# The status row's own write time is when the last service ran, not a clinical value.
STATUS_SKIPPED = {"course", "latest_snapshot", "updated_at"}


def typed(record) -> dict:
    return {
        f.name: getattr(record, f.name)
        for f in type(record)._meta.concrete_fields
        if f.name not in NOT_TYPED
    }


def replay(seeded: TreatmentCourse) -> TreatmentCourse:
    """The seeded course's checks entered one by one, at the time each was recorded."""
    patient = seeded.patient
    twin = Patient.objects.create(
        mrn=f"REPLAY-{patient.mrn}",
        given_name=patient.given_name,
        family_name=patient.family_name,
        date_of_birth=patient.date_of_birth,
        sex=patient.sex,
        weight_kg=patient.weight_kg,
    )
    course = TreatmentCourse.objects.create(
        patient=twin,
        unit=seeded.unit,
        product=seeded.product,
        indication=seeded.indication,
        infused_at=seeded.infused_at,
        protocol_version=seeded.protocol_version,
        care_setting=seeded.care_setting,
    )
    for check in seeded.checks.order_by("pk"):
        sections = {
            name: typed(record)
            for name, model in SECTIONS.items()
            for record in model.objects.filter(check_entry=check)
        }
        with time_machine.travel(check.recorded_at, tick=False):
            services.record_check(
                course=course,
                by=check.recorded_by,
                observed_at=check.observed_at,
                setting=check.setting,
                **sections,
            )
    # The demo's care team acknowledged and resolved flags at set times: do the same.
    for flag in seeded.flags.exclude(status=Flag.Status.OPEN).order_by("pk"):
        twin_flag = Flag.objects.get(course=course, kind=flag.kind)
        with time_machine.travel(flag.acknowledged_at, tick=False):
            services.acknowledge_flag(
                flag=twin_flag, by=flag.acknowledged_by, note=flag.acknowledge_note
            )
        if flag.status == Flag.Status.RESOLVED:
            with time_machine.travel(flag.resolved_at, tick=False):
                services.resolve_flag(
                    flag=twin_flag, by=flag.resolved_by, reason=flag.resolve_reason
                )
    return course


def rows(queryset, fields):
    return [{name: getattr(row, name) for name in fields} for row in queryset]


@pytest.mark.slow
@pytest.mark.django_db
def test_seeded_courses_equal_their_replay_through_the_services_field_by_field():
    with time_machine.travel(NOW, tick=False):
        demo.seed(patients=12, units=1, days=14, now=NOW)
    seeded_courses = list(
        TreatmentCourse.objects.filter(patient__mrn__startswith=demo.MRN_PREFIX)
        # The engager courses' doses are a write path of their own (tests/web/test_dosing.py
        # replays a course over days); this replay re-sends checks.
        .exclude(status_row__dosed=True)
        .order_by("pk")
    )
    # The demo exercises the engine: ICANS, vasopressors, hypotension, new oxygen, a fall in
    # ICE, grades needing review; flags acknowledged and resolved by its care team.
    kinds = set(Flag.objects.filter(course__in=seeded_courses).values_list("kind", "status"))
    assert {k for k, _ in kinds} >= {
        "icans",
        "vasopressor",
        "hypotension",
        "oxygen_need",
        "neuro_decline",
        "needs_review",
    }
    assert {s for _, s in kinds} == {"open", "acknowledged", "resolved"}
    for seeded in seeded_courses:
        twin = replay(seeded)

        order = ("observed_at", "pk")
        flag_order = ("kind", "raised_at", "pk")  # a course can hold two flags of a kind
        assert rows(
            GradeSnapshot.objects.filter(course=twin).order_by(*order), SNAPSHOT_FIELDS
        ) == rows(GradeSnapshot.objects.filter(course=seeded).order_by(*order), SNAPSHOT_FIELDS)
        # The replay re-sends the checks; the prophylaxis and IgG flags answer the infection
        # records (monitoring/infection.py), a write path of their own it does not replay.
        infection_kinds = [Flag.Kind.PROPHYLAXIS, Flag.Kind.IGG_LOW]
        assert rows(
            Flag.objects.filter(course=twin)
            .exclude(kind__in=infection_kinds)
            .order_by(*flag_order),
            FLAG_FIELDS,
        ) == rows(
            Flag.objects.filter(course=seeded)
            .exclude(kind__in=infection_kinds)
            .order_by(*flag_order),
            FLAG_FIELDS,
        )
        status_fields = [
            f.name for f in seeded.status_row._meta.concrete_fields if f.name not in STATUS_SKIPPED
        ]
        with time_machine.travel(NOW, tick=False):
            services.refresh_status(twin.status_row)  # due marks are computed as of now
        seeded_status = rows([seeded.status_row], status_fields)
        seeded_status[0]["open_flag_count"] -= (
            Flag.objects.filter(course=seeded, kind__in=infection_kinds).unresolved().count()
        )
        assert rows([twin.status_row], status_fields) == seeded_status
        assert twin.status_row.latest_snapshot.observed_at == (
            seeded.status_row.latest_snapshot.observed_at
        )

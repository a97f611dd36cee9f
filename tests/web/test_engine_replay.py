"""The demo and the live path are one engine: a seeded course, replayed record by record
through the services — its checks (``services.record_check``), an engager's doses
(``monitoring.dosing``), its prophylaxis (``monitoring.infection``) and the flag services at the
times the demo's care team acted — stores the same snapshots, flags, doses and status row,
field by field (issue 11 §1)."""

from datetime import UTC, datetime, time

import pytest
import time_machine
from django.utils import timezone

from monitoring import demo, dosing, handwriting, infection, services
from monitoring.models import (
    CourseDose,
    Flag,
    GradeSnapshot,
    ImmunoglobulinDose,
    Infection,
    LabResult,
    NeuroAssessment,
    Observation,
    Patient,
    ProphylaxisCourse,
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
DOSE_FIELDS = [
    "step_id",
    "attempt",
    "planned_at",
    "status",
    "given_at",
    "given_by_id",
    "note",
    "override_by_id",
    "override_reason",
    "overridden_gates",
    "created_at",
    "created_by_id",
]
# The status row's own write time is when the last service ran, not a clinical value.
STATUS_SKIPPED = {"course", "latest_snapshot", "updated_at"}


def typed(record) -> dict:
    return {
        f.name: getattr(record, f.name)
        for f in type(record)._meta.concrete_fields
        if f.name not in NOT_TYPED
    }


def check_events(seeded, twin) -> list:
    """Each check entered at the time it was recorded (services.record_check)."""
    events = []
    for check in seeded.checks.order_by("pk"):
        sections = {
            name: typed(record)
            for name, model in SECTIONS.items()
            for record in model.objects.filter(check_entry=check)
        }

        def enter(check=check, sections=sections):
            services.record_check(
                course=twin,
                by=check.recorded_by,
                observed_at=check.observed_at,
                setting=check.setting,
                **sections,
            )

        events.append((check.recorded_at, check.observed_at, CHECK, check.pk, enter))
    return events


def dose_events(seeded, twin) -> list:
    """An engager course's step-up planned, then each dose given, when each was recorded
    (monitoring.dosing, as its page and the demo do)."""
    doses = list(seeded.doses.select_related("step").order_by("attempt", "step__sequence"))
    if not doses:
        return []
    # What the demo does with doses; a re-plan, hold or restart would need its own event.
    assert {(d.attempt, d.status, d.note) for d in doses} <= {(1, "planned", ""), (1, "given", "")}
    twin_doses = {}

    def plan(first=doses[0]):
        planned = dosing.plan_doses(
            course=twin, first_dose_at=first.planned_at, by=first.created_by
        )
        twin_doses.update({(d.attempt, d.step_id): d for d in planned})

    events = [(doses[0].created_at, doses[0].planned_at, PLAN, doses[0].pk, plan)]
    for dose in doses:
        if dose.status != CourseDose.Status.GIVEN:
            continue
        recorded = dose.history.filter(status="given").earliest("history_date").history_date

        def give(dose=dose):
            dosing.record_dose_given(
                dose=twin_doses[(dose.attempt, dose.step_id)],
                given_at=dose.given_at,
                by=dose.given_by,
                override_reason=dose.override_reason,
            )

        events.append((recorded, dose.given_at, GIVE, dose.pk, give))
    return events


def prophylaxis_events(seeded, twin) -> list:
    """Each prophylaxis started on the day it started; a stop entered when its record was
    (monitoring.infection). The demo writes a course's items together and then decides the
    flags once (infection.sweep): started one by one at that moment, the first would find the
    others due and raise a flag the demo never had; a clinician starts each on its day."""
    # What the demo records of infection prevention; others would need their own events.
    assert not ImmunoglobulinDose.objects.filter(course=seeded).exists()
    assert not Infection.objects.filter(course=seeded).exists()
    events = []
    for record in ProphylaxisCourse.objects.filter(course=seeded).order_by("pk"):
        assert record.is_current
        assert not record.amends_id
        day = timezone.make_aware(datetime.combine(record.started_on, time()))
        started = {"record": None}

        def start(record=record, started=started):
            started["record"] = infection.start_prophylaxis(
                course=twin,
                item=record.item,
                drug=record.drug,
                started_on=record.started_on,
                by=record.recorded_by,
            )

        def stop(record=record, started=started):
            infection.stop_prophylaxis(
                record=started["record"],
                stopped_on=record.stopped_on,
                reason=record.stop_reason,
                by=record.recorded_by,
            )

        at = min(day, record.recorded_at)
        events.append((at, at, START, record.pk, start))
        if record.stopped_on is not None:
            events.append((record.recorded_at, record.recorded_at, STOP, record.pk, stop))
    return events


# Among events recorded at one moment (the demo's engager courses are written in one go), the
# plan comes before its doses, a dose before the checks after it, a stop after its start.
PLAN, START, GIVE, CHECK, STOP, SAMPLE = range(6)


def sample_events(seeded, twin) -> list:
    """Each handwriting sample sent when it was recorded (monitoring.handwriting): a home or
    ward one raises the review flag the course page and board show."""
    events = []
    for sample in seeded.handwriting_samples.order_by("pk"):

        def send(sample=sample):
            handwriting.record_sample(
                course=twin,
                kind=sample.kind,
                source=sample.source,
                image=bytes(sample.image_png),
                taken_at=sample.taken_at,
                by=sample.recorded_by,
            )

        events.append((sample.recorded_at, sample.taken_at, SAMPLE, sample.pk, send))
    return events


def replay(seeded: TreatmentCourse) -> TreatmentCourse:
    """The seeded course's checks, doses, prophylaxis and handwriting samples entered one by
    one through the services, at the time each was recorded, in that order."""
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
    events = [
        *check_events(seeded, course),
        *dose_events(seeded, course),
        *prophylaxis_events(seeded, course),
        *sample_events(seeded, course),
    ]
    for recorded_at, *_, enter in sorted(events, key=lambda event: event[:4]):
        with time_machine.travel(recorded_at, tick=False):
            enter()
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
        TreatmentCourse.objects.filter(patient__mrn__startswith=demo.MRN_PREFIX).order_by("pk")
    )
    # The demo exercises the engine: ICANS, vasopressors, hypotension, new oxygen, a fall in
    # ICE, grades needing review, neutropenic fever; a lapsed prophylaxis; flags acknowledged
    # and resolved by its care team; and engager courses with step-up doses given.
    kinds = set(Flag.objects.filter(course__in=seeded_courses).values_list("kind", "status"))
    assert {k for k, _ in kinds} >= {
        "icans",
        "vasopressor",
        "hypotension",
        "oxygen_need",
        "neuro_decline",
        "needs_review",
        "neutro_fever",
        "prophylaxis",
    }
    assert {s for _, s in kinds} == {"open", "acknowledged", "resolved"}
    assert CourseDose.objects.filter(course__in=seeded_courses, status="given").count() >= 3
    for seeded in seeded_courses:
        twin = replay(seeded)

        order = ("observed_at", "pk")
        flag_order = ("kind", "raised_at", "pk")  # a course can hold two flags of a kind
        assert rows(
            GradeSnapshot.objects.filter(course=twin).order_by(*order), SNAPSHOT_FIELDS
        ) == rows(GradeSnapshot.objects.filter(course=seeded).order_by(*order), SNAPSHOT_FIELDS)
        assert rows(Flag.objects.filter(course=twin).order_by(*flag_order), FLAG_FIELDS) == rows(
            Flag.objects.filter(course=seeded).order_by(*flag_order), FLAG_FIELDS
        )
        assert rows(twin.doses.order_by("attempt", "step__sequence"), DOSE_FIELDS) == rows(
            seeded.doses.order_by("attempt", "step__sequence"), DOSE_FIELDS
        )
        status_fields = [
            f.name for f in seeded.status_row._meta.concrete_fields if f.name not in STATUS_SKIPPED
        ]
        with time_machine.travel(NOW, tick=False):
            services.refresh_status(twin.status_row)  # due marks are computed as of now
        assert rows([twin.status_row], status_fields) == rows([seeded.status_row], status_fields)
        assert twin.status_row.latest_snapshot.observed_at == (
            seeded.status_row.latest_snapshot.observed_at
        )

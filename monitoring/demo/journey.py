"""The demo hospital's treatment journeys: patients in every phase, written through the live
services (monitoring/journey.py, services.start_course and end_monitoring), so the program page
shows who is in referral, collection, manufacturing (one running late), bridging, conditioning,
due for infusion, and in follow-up with visits done, due and overdue; one journey ended.

Their MRNs start with JOURNEY_MRN_PREFIX, apart from the simulated monitoring courses."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from monitoring import journey, services
from monitoring.models import Patient, TreatmentCourse

JOURNEY_MRN_PREFIX = "JRN-"

# (given, family, product, phase reached, days to planned day 0; or days since day 0 for
# courses already infused)
PLANNED = [
    ("Lucía", "Ferrer", "axi-cel", "referral", 70),
    ("Tomás", "Okafor", "cilta-cel", "collection", 45),
    ("Irene", "Castell", "liso-cel", "manufacturing", 20),
    ("Samuel", "Brandt", "ide-cel", "manufacturing_late", 6),  # 30 days in: longer than 28
    ("Noor", "Haddad", "tisa-cel", "bridging", 12),
    ("Pavel", "Novák", "axi-cel", "conditioning", 3),
    ("Greta", "Lindqvist", "brexu-cel", "manufacturing_done", 5),  # due for conditioning
]
INFUSED = [
    ("Rafael", "Moreno", "axi-cel", 29, [14]),  # D+28 due, D+14 done
    ("Hana", "Sato", "liso-cel", 20, []),  # D+14 overdue
    ("Oskar", "Wiśniewski", "cilta-cel", 95, [14, 28, 90]),
]


def seed_journeys(*, units, by) -> dict[str, int]:
    """Create the journeys unless they exist; the counts of what was created."""
    if Patient.objects.filter(mrn__startswith=JOURNEY_MRN_PREFIX).exists():
        return {}
    today = timezone.localdate()
    now = timezone.now().replace(second=0, microsecond=0)
    n = 0

    def patient(given, family):
        nonlocal n
        n += 1
        return services.admit_patient(
            mrn=f"{JOURNEY_MRN_PREFIX}{n:04d}",
            given_name=given,
            family_name=family,
            date_of_birth=today.replace(year=today.year - 50 - n),
            sex=Patient.Sex.FEMALE if n % 2 else Patient.Sex.MALE,
            weight_kg=60 + 3 * n,
            by=by,
        )

    for index, (given, family, product, phase, day0_in) in enumerate(PLANNED):
        course = journey.register_course(
            course=TreatmentCourse(
                patient=patient(given, family),
                unit=units[index % len(units)],
                product_id=product,
                indication="Relapsed/refractory disease, referred for CAR-T",
                infused_at=now + timedelta(days=day0_in, hours=2),
            ),
            referred_on=today - timedelta(days=60 - day0_in // 2),
            by=by,
        )

        def record(name, started, ended=None, **extra):
            journey.record_phase(
                course=course,  # noqa: B023 (called at once, in this iteration)
                phase=name,
                started_on=today - timedelta(days=started),
                ended_on=None if ended is None else today - timedelta(days=ended),
                by=by,
                **extra,
            )

        if phase == "referral":
            continue
        record("collection", 40, 40 if phase != "collection" else None)
        if phase == "manufacturing":
            record("manufacturing", 10)
        elif phase == "manufacturing_late":
            record("manufacturing", 30)
        elif phase == "manufacturing_done":
            record("manufacturing", 30, 2)
        elif phase in ("bridging", "conditioning"):
            record("manufacturing", 32, 5)
            record("bridging", 4, None if phase == "bridging" else 2, note="Radiotherapy")
        if phase == "conditioning":
            record("conditioning", 2, regimen="Fludarabine/cyclophosphamide")
            journey.record_baseline(course=course, item="ice", ice_score=10, taken_at=now, by=by)
            journey.record_baseline(course=course, item="weight", weight_kg=70, taken_at=now, by=by)
    for index, (given, family, product, day, visits) in enumerate(INFUSED):
        course = TreatmentCourse(
            patient=patient(given, family),
            unit=units[index % len(units)],
            product_id=product,
            indication="Relapsed large B-cell lymphoma",
            infused_at=now - timedelta(days=day),
        )
        services.start_course(course=course, by=by)
        services.end_monitoring(
            course=course,
            outcome=TreatmentCourse.Status.COMPLETED,
            ended_at=course.infused_at + timedelta(days=14),
            reason="Acute monitoring window completed",
            by=by,
        )
        for visit_day in visits:
            journey.record_visit(
                course=course,
                day=visit_day,
                done_at=course.infused_at + timedelta(days=visit_day, hours=3),
                notes="Seen in clinic; no new neurological signs",
                by=by,
            )
    ended = TreatmentCourse.objects.filter(patient__mrn__startswith=JOURNEY_MRN_PREFIX).last()
    journey.end_journey(
        course=ended,
        outcome="",
        ended_on=today,
        reason="Follow-up transferred to the referring centre",
        by=by,
    )
    return {"journeys (program page)": n}

"""Three T-cell engager courses for the demo hospital, made through the real write paths.

A teclistamab patient inside the 48 h window after step-up dose 2 (after a CRS grade 1 that
resolved before the dose); an epcoritamab patient whose step-up dose 2 is due but stopped by
its gate: CRS resolved 10 h ago and the demo centre asks for 24 h (its reviewed version of the
shipped template); and a teclistamab outpatient: the step-up schedule on the ward (48 h after
each dose, as the label asks), then discharged to outpatient follow-up, seen at a clinic visit
and called by phone since.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from monitoring import dosing, services
from monitoring.models import Patient, TreatmentCourse, User

NEURO_NORMAL = {
    "ice_orientation": 4,
    "ice_naming": 3,
    "ice_commands": 1,
    "ice_writing": 1,
    "ice_attention": 1,
    "consciousness": "alert",
    "seizure": "none",
    "motor_weakness": "none",
    "cerebral_edema": "none",
}
ROOM_AIR = {"oxygen_support": "room_air", "vasopressors_count": 0, "vasopressin": False}


def _vitals(temp: float, heart_rate: int = 84) -> dict:
    return {
        "temp_c": temp,
        "heart_rate_bpm": heart_rate,
        "resp_rate_per_min": 16,
        "sbp_mmhg": 124,
        "dbp_mmhg": 76,
        "spo2_pct": 97,
        **ROOM_AIR,
    }


def _course(
    mrn, given, family, product, indication, unit, bed, first, by, sex=None
) -> TreatmentCourse:
    patient = Patient.objects.create(
        mrn=mrn,
        given_name=given,
        family_name=family,
        date_of_birth=first.date().replace(year=first.year - 64),
        sex=sex or (Patient.Sex.MALE if product == "teclistamab" else Patient.Sex.FEMALE),
        weight_kg=78,
    )
    course = TreatmentCourse(
        patient=patient,
        unit=unit,
        bed=bed,
        product_id=product,
        indication=indication,
        infused_at=first,
    )
    return services.start_course(course=course, by=by)


def _checks(course, nurse, start: datetime, hours: list[float], fever: dict, **extra) -> None:
    for hour in hours:
        at = start + timedelta(hours=hour)
        temp = fever.get(hour, 36.8)
        services.record_check(
            course=course,
            by=nurse,
            observed_at=at,
            vitals=_vitals(temp, 104 if temp >= 38 else 84),
            neuro=NEURO_NORMAL,
            **extra,
        )


# The demo's T-cell engager courses, added to the CAR-T patients `seed_demo --patients` asks for.
ENGAGER_COURSES = 3


def create_outpatient_course(*, unit, nurse: User, physician: User, now: datetime):
    """Teclistamab: the three doses of the step-up schedule 11, 8 and 5 days ago on the ward
    (a few checks in each 48 h window), discharged to outpatient follow-up when the last
    window closed; a clinic visit the next day and a phone call yesterday."""
    first = (now - timedelta(days=11)).replace(minute=0)
    course = _course(
        "DEMO-TEC-02",
        "Amara",
        "Osei",
        "teclistamab",
        "Relapsed/refractory multiple myeloma, outpatient after step-up",
        unit,
        "",
        first,
        physician,
        sex=Patient.Sex.FEMALE,
    )
    doses = dosing.plan_doses(course=course, first_dose_at=first, by=physician)
    for dose in doses:
        given = dose.planned_at
        dosing.record_dose_given(dose=dose, given_at=given, by=nurse)
        _checks(course, nurse, given, [2, 14, 26, 40], {})
    discharged = doses[-1].planned_at + timedelta(hours=48)
    services.change_care_setting(
        course=course,
        care_setting="outpatient",
        reason="Discharged to outpatient follow-up: 48 h after the first treatment dose, no CRS",
        by=physician,
    )
    _checks(course, nurse, discharged, [24], {}, setting="clinic")
    services.record_check(
        course=course,
        by=nurse,
        observed_at=(now - timedelta(days=1)).replace(minute=30),
        vitals={"temp_c": 37.1},
        symptoms={"fatigue": True},
        setting="phone",
    )


def create_engager_courses(*, unit, nurse: User, physician: User, admin: User, now: datetime):
    """The engager courses; returns how many were made."""
    # Teclistamab: step-up dose 1 four days ago, dose 2 a day ago (48 h windows, label).
    first = (now - timedelta(days=4)).replace(minute=0)
    tec = _course(
        "DEMO-TEC-01",
        "Tomás",
        "Herrera",
        "teclistamab",
        "Relapsed/refractory multiple myeloma",
        unit,
        "E1",
        first,
        physician,
    )
    doses = dosing.plan_doses(course=tec, first_dose_at=first, by=physician)
    dosing.record_dose_given(dose=doses[0], given_at=first, by=nurse)
    _checks(tec, nurse, first, [1, 5, 9, 13, 17, 21, 25, 29, 33, 40, 47], {21: 38.4, 25: 38.2})
    dosing.record_dose_given(dose=doses[1], given_at=doses[1].planned_at, by=nurse)
    second = doses[1].planned_at
    _checks(tec, nurse, second, [1, 5, 9, 13, 17, 21], {})

    # Epcoritamab: the demo centre wants CRS resolved for 24 h before the next step-up dose.
    version = services.protocol_version_for("epcoritamab")
    steps = []
    for step in version.dose_steps.all():
        settings = step.settings()
        settings.pop("sequence")
        if step.sequence > 1:
            settings["crs_clear_hours"] = 24
        steps.append(settings)
    services.revise_protocol(
        version=version,
        changes={"is_template": False},
        schedules={},
        note="Demo centre review: CRS resolved for 24 h before the next step-up dose.",
        by=admin,
        dose_steps=steps,
    )
    # Dose 2 is on day 8 (the label counts calendar days in the centre's time), so dose 1 falls
    # on the calendar day a week before today: in 3 h if that is still today, else this hour.
    # Three hours after 21:00 would put dose 2 on tomorrow, and its gate would say "too soon".
    week_ago = now - timedelta(days=7)
    first = (week_ago + timedelta(hours=3)).replace(minute=0)
    if timezone.localdate(first) != timezone.localdate(week_ago):
        first = week_ago.replace(minute=0)
    epc = _course(
        "DEMO-EPC-01",
        "Lucía",
        "Navarro",
        "epcoritamab",
        "Relapsed DLBCL after two lines",
        unit,
        "E2",
        first,
        physician,
    )
    doses = dosing.plan_doses(course=epc, first_dose_at=first, by=physician)
    dosing.record_dose_given(dose=doses[0], given_at=first, by=nurse)
    _checks(epc, nurse, first, [1, 5, 9, 13, 17, 21], {})
    # CRS grade 1 the day before dose 2, resolved 10 h ago: dose 2 (due today) is gated.
    hours_before_now = (now - first).total_seconds() / 3600
    fever_at, normal_at = round(hours_before_now - 20), round(hours_before_now - 10)
    _checks(epc, nurse, first, [fever_at, normal_at], {fever_at: 38.5})
    create_outpatient_course(unit=unit, nurse=nurse, physician=physician, now=now)
    return ENGAGER_COURSES

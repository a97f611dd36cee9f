"""A check-in at home (issue 15 §2): the one write path for what a patient or caregiver enters
on their phone.

``record_home_checkin`` validates what was typed, then saves it through
``services.record_check`` with setting "home" — the same records, grading, flags, escalation
and status row as a ward check, refusing what home cannot measure — and, in the same
transaction, the ``HomeCheckIn`` row (who entered it, the temperature as typed, the instruction
shown), the caregiver's guided screen (``HomeNeuroScreen``) and the audit line. A medicine for
fever is saved as an antipyretic treatment at the time it was taken, so the engine sees it
where it masks a fever (reference §1.2 rule 2). What to tell the person, and the flag a
confused answer raises, are ``monitoring/home_rules.py``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from monitoring import grading, home_rules, home_schedule, services
from monitoring.models import (
    VITAL_RANGES,
    AuditEvent,
    CheckSetting,
    HomeAccess,
    HomeCheckIn,
    HomeNeuroScreen,
    SymptomCheck,
    Treatment,
    TreatmentCourse,
)
from monitoring.models.home_checkins import SCREEN_ITEMS, TYPED_TEMPERATURE_RANGES
from monitoring.models.protocols import HOME_CALL_TEMPERATURE_C

# The symptom checklist at home: the seed list's fields (SymptomCheck), in the page's order.
HOME_SYMPTOMS = (
    "fever",
    "low_blood_pressure",
    "fatigue",
    "breathing_difficulty",
    "confusion",
    "headache",
    "tremor",
    "difficulty_speaking",
)
# A medicine for fever counts for masking for hours (paracetamol, ibuprofen: timeline's
# MASKING_DRUGS); older than this it is not asked for.
MEDICINE_LOOKBACK = timedelta(hours=24)
# One tablet's or dose's strength in mg as printed on the pack: plausible bounds only, not a
# dosing rule (paracetamol 500-1000 mg, ibuprofen 200-800 mg for an adult).
MEDICINE_MG_RANGE = (50, 1000)


def _range_error(low, high, unit: str) -> str:
    return gettext("Type a number from %(low)s to %(high)s %(unit)s.") % {
        "low": low,
        "high": high,
        "unit": unit,
    }


def temperature_c(typed, unit: str) -> Decimal:
    """The typed temperature in °C; ValidationError (on "temperature") outside the
    thermometer's range, which the message gives in both units."""
    if unit not in TYPED_TEMPERATURE_RANGES:
        raise ValidationError({"temperature_unit": gettext("Choose °C or °F.")})
    try:
        value = Decimal(str(typed)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError, TypeError):
        value = None
    low, high = TYPED_TEMPERATURE_RANGES[unit]
    if value is None or not low <= value <= high:
        c_low, c_high = TYPED_TEMPERATURE_RANGES["c"]
        f_low, f_high = TYPED_TEMPERATURE_RANGES["f"]
        raise ValidationError(
            {
                "temperature": gettext(
                    "Type a temperature from %(c_low)s to %(c_high)s °C "
                    "(%(f_low)s to %(f_high)s °F)."
                )
                % {"c_low": c_low, "c_high": c_high, "f_low": f_low, "f_high": f_high}
            }
        )
    return value if unit == "c" else home_rules.fahrenheit_to_celsius(value)


def _check_cuff(sbp, dbp, heart_rate, errors: dict) -> None:
    for name, value in (("sbp_mmhg", sbp), ("dbp_mmhg", dbp), ("heart_rate_bpm", heart_rate)):
        low, high = VITAL_RANGES[name]
        if value is not None and not low <= value <= high:
            errors[name] = _range_error(low, high, "/min" if name == "heart_rate_bpm" else "mmHg")
    if (sbp is None) != (dbp is None) and not {"sbp_mmhg", "dbp_mmhg"} & set(errors):
        errors["dbp_mmhg" if dbp is None else "sbp_mmhg"] = gettext(
            "Type both numbers of the blood pressure (the top and the bottom one), or neither."
        )
    elif sbp is not None and dbp is not None and dbp >= sbp and not errors:
        errors["dbp_mmhg"] = gettext(
            "The bottom number must be lower than the top number: check what the cuff shows."
        )


def _check_medicine(medicine: str, taken_at, mg, now: datetime, errors: dict) -> None:
    if not medicine:
        return
    if medicine not in HomeCheckIn.FeverMedicine.values:
        errors["fever_medicine"] = gettext("Choose paracetamol, ibuprofen or none.")
        return
    if taken_at is None:
        errors["fever_medicine_at"] = gettext("Say when it was taken.")
    elif taken_at > now + timedelta(minutes=5):
        errors["fever_medicine_at"] = gettext("This time is in the future: check it.")
    elif taken_at < now - MEDICINE_LOOKBACK:
        errors["fever_medicine_at"] = gettext(
            "Only a medicine taken in the last 24 hours is asked for here: choose none."
        )
    low, high = MEDICINE_MG_RANGE
    if mg is None:
        errors["fever_medicine_mg"] = gettext(
            "Say how many mg were taken (it is on the pack, for example 500)."
        )
    elif not low <= mg <= high:
        errors["fever_medicine_mg"] = _range_error(low, high, "mg")


def _check_symptoms(symptoms: set[str], no_symptoms: bool, errors: dict) -> None:
    unknown = symptoms - set(HOME_SYMPTOMS)
    if unknown:
        errors["symptoms"] = gettext("Unknown symptom: choose from the list.")
    elif no_symptoms and symptoms:
        errors["symptoms"] = gettext('Tick the symptoms, or "None of these", not both.')
    elif not no_symptoms and not symptoms:
        errors["symptoms"] = gettext('Tick each symptom there is, or "None of these".')


def _check_screen(screen: dict | None, errors: dict) -> None:
    if screen is None:
        return
    missing = [item for item in SCREEN_ITEMS if not isinstance(screen.get(item), bool)]
    if missing:
        errors["screen"] = gettext(
            "Mark every question of the screen right or wrong, or tick that you cannot do them now."
        )


@transaction.atomic
def record_home_checkin(
    *,
    access: HomeAccess,
    by,
    temperature,
    temperature_unit: str,
    symptoms: Iterable[str] = (),
    no_symptoms: bool = False,
    sbp_mmhg: int | None = None,
    dbp_mmhg: int | None = None,
    heart_rate_bpm: int | None = None,
    fever_medicine: str = "",
    fever_medicine_at: datetime | None = None,
    fever_medicine_mg: int | None = None,
    screen: dict | None = None,
    submission: uuid.UUID | None = None,
    now: datetime | None = None,
) -> HomeCheckIn:
    """Save a check-in from home, graded like a ward check, with the instruction to show.
    The same ``submission`` (the form's token) sent again returns the check-in it saved."""
    now = now or timezone.now()
    access = HomeAccess.objects.select_related("course__patient", "course__protocol_version").get(
        pk=access.pk
    )
    course = access.course
    if by.pk != access.user_id or not access.is_open:
        raise ValidationError(gettext("This home access is closed: nothing was saved."))
    services._lock_status(course)  # one writer per course: a token sent twice waits here
    if submission is not None:
        again = HomeCheckIn.objects.filter(submission=submission, access=access).first()
        if again is not None:
            return again
    if course.status != TreatmentCourse.Status.MONITORING:
        raise ValidationError(
            gettext("Check-ins start on the day of the treatment. Call your team with any worry.")
        )
    symptoms = set(symptoms)
    errors: dict[str, str] = {}
    try:
        temp_c = temperature_c(temperature, temperature_unit)
    except ValidationError as error:
        errors.update({k: v[0] for k, v in error.message_dict.items()})
        temp_c = None
    _check_symptoms(symptoms, no_symptoms, errors)
    _check_cuff(sbp_mmhg, dbp_mmhg, heart_rate_bpm, errors)
    _check_medicine(fever_medicine, fever_medicine_at, fever_medicine_mg, now, errors)
    _check_screen(screen, errors)
    if errors:
        raise ValidationError(errors)
    typed = Decimal(str(temperature)).quantize(Decimal("0.1"))
    repeat = _just_saved(
        access,
        now=now,
        typed=(
            typed,
            temperature_unit,
            fever_medicine,
            fever_medicine_at if fever_medicine else None,
        ),
        symptoms=symptoms,
        cuff=(sbp_mmhg, dbp_mmhg, heart_rate_bpm),
        screen=screen,
    )
    if repeat is not None:
        return repeat

    version = course.protocol_version
    medicine_check = None
    if fever_medicine and not _dose_reported(course, fever_medicine, fever_medicine_at):
        # Its own moment, at the time it was taken: masking depends on when (timeline).
        medicine_check = services.record_check(
            course=course,
            by=by,
            observed_at=min(fever_medicine_at, now - timedelta(seconds=1)),
            setting=CheckSetting.HOME,
            treatment={
                "drug": Treatment.Drug.ANTIPYRETIC,
                "dose": Decimal(fever_medicine_mg),
                "dose_unit": Treatment.DoseUnit.MG,
                "route": Treatment.Route.PO,
            },
        )
    wrong = [item for item in SCREEN_ITEMS if screen is not None and not screen[item]]
    flag = home_rules.home_neuro_flag(symptoms=symptoms, wrong_items=wrong, who=access.kind)
    vitals = {
        name: value
        for name, value in (
            ("temp_c", temp_c),
            ("sbp_mmhg", sbp_mmhg),
            ("dbp_mmhg", dbp_mmhg),
            ("heart_rate_bpm", heart_rate_bpm),
        )
        if value is not None
    }
    check = services.record_check(
        course=course,
        by=by,
        observed_at=now,
        setting=CheckSetting.HOME,
        vitals=vitals,
        symptoms={name: name in symptoms for name in HOME_SYMPTOMS},
        flags=[flag] if flag else [],
    )
    age = course.patient.age_on(timezone.localdate(now))
    told = home_rules.instruction(
        temp_c=temp_c,
        call_at_c=version.home_call_temperature_c if version else HOME_CALL_TEMPERATURE_C,
        symptoms=symptoms,
        screen_wrong=len(wrong),
        sbp_mmhg=sbp_mmhg,
        sbp_limit_mmhg=grading.hypotension_threshold_mmhg(
            age, protocol_mmhg=version.sbp_low_mmhg if version else None
        ),
        now=now,
        every=(
            version.home_checkin_interval()
            if version
            else timedelta(hours=home_schedule.DEFAULT_INTERVAL_HOURS)
        ),
    )
    checkin = HomeCheckIn(
        check_entry=check,
        course=course,
        access=access,
        entered_by=by,
        entered_by_kind=access.kind,
        entered_at=now,
        temperature_typed=typed,
        temperature_unit=temperature_unit,
        fever_medicine=fever_medicine,
        fever_medicine_at=fever_medicine_at if fever_medicine else None,
        fever_medicine_check=medicine_check,
        instruction=told.code,
        next_checkin_at=told.next_checkin_at,
        submission=submission,
    )
    checkin.full_clean(exclude=["check_entry", "course", "access", "entered_by"])
    checkin.save()
    if screen is not None:
        HomeNeuroScreen.objects.create(checkin=checkin, **{i: screen[i] for i in SCREEN_ITEMS})
    checkin.snapshot = check.snapshot
    checkin.instruction_reasons = told.reasons
    with services._in_english():
        services.audit(
            by,
            AuditEvent.Action.HOME_CHECKIN_RECORDED,
            course=course,
            summary=_summary(access, checkin, temp_c, symptoms, wrong, screen is not None)
            + f" → {services.grades_text(check.snapshot)}; told: {told.code.replace('_', ' ')}",
            details={
                "check": str(check.public_id),
                "checkin": checkin.pk,
                "who": access.kind,
                "instruction": told.code,
                "reasons": list(told.reasons),
                "flag": flag.kind if flag else None,
            },
        )
    return checkin


# The same check-in typed again this soon (the browser's Back, then Save again: a new form,
# refilled by the browser) is the one already saved, not a second check-in.
REPEAT_WINDOW = timedelta(minutes=10)


def _just_saved(access, *, now, typed, symptoms, cuff, screen) -> HomeCheckIn | None:
    """The check-in this access saved in the last ``REPEAT_WINDOW`` with exactly these values
    (temperature as typed, medicine and its time, symptoms, cuff readings, the screen)."""
    recent = (
        HomeCheckIn.objects.filter(access=access, entered_at__gte=now - REPEAT_WINDOW)
        .select_related("neuro_screen")
        .order_by("-entered_at")
        .first()
    )
    if recent is None:
        return None
    if (
        recent.temperature_typed,
        recent.temperature_unit,
        recent.fever_medicine,
        recent.fever_medicine_at,
    ) != typed:
        return None
    old_screen = getattr(recent, "neuro_screen", None)
    if (screen is None) != (old_screen is None) or (
        screen is not None and any(getattr(old_screen, i) != screen[i] for i in SCREEN_ITEMS)
    ):
        return None
    vitals = recent.check_entry.vitalsigns_set.first()
    if (vitals.sbp_mmhg, vitals.dbp_mmhg, vitals.heart_rate_bpm) != cuff:
        return None
    ticked = recent.check_entry.symptomcheck_set.first()
    if {name for name in HOME_SYMPTOMS if getattr(ticked, name)} != symptoms:
        return None
    return recent


def _dose_reported(course, medicine: str, taken_at: datetime) -> bool:
    """Whether this dose (same medicine, same minute) was reported at an earlier check-in: each
    check-in asks for the *last* dose, so the same one comes again until another is taken; it
    is recorded once (the doses-in-24-hours count and fever masking read it)."""
    return HomeCheckIn.objects.filter(
        course=course,
        fever_medicine=medicine,
        fever_medicine_at__gte=taken_at - timedelta(minutes=1),
        fever_medicine_at__lte=taken_at + timedelta(minutes=1),
    ).exists()


def _summary(access, checkin, temp_c, symptoms, wrong, screened: bool) -> str:
    parts = [f"temperature {checkin.temperature_text}"]
    if checkin.temperature_unit != "c":
        parts[0] += f" ({temp_c} °C)"
    parts.append("symptoms: " + (", ".join(sorted(symptoms)).replace("_", " ") or "none"))
    if checkin.fever_medicine:
        parts.append(
            f"{checkin.fever_medicine} taken {timezone.localtime(checkin.fever_medicine_at):%H:%M}"
        )
    if screened:
        parts.append("guided screen: " + (f"wrong {', '.join(wrong)}" if wrong else "all right"))
    return (
        f"Check-in at home by {access.display_name} ({access.get_kind_display().lower()}): "
        + "; ".join(parts)
    )


def todays_checkins(course: TreatmentCourse, *, now: datetime | None = None):
    """The course's check-ins since local midnight, newest first (one query)."""
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return list(
        HomeCheckIn.objects.filter(course=course, entered_at__gte=midnight).select_related("access")
    )


def symptom_label(name: str) -> str:
    return str(SymptomCheck._meta.get_field(name).verbose_name)

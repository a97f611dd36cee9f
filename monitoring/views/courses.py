"""A course's life, for the care team and admins: admit a patient and start a course, transfer
it to another unit, end its monitoring, and correct day 0 or the patient's date of birth and
weight. Each page calls one service (monitoring/services.py), which validates, regrades and
audits old → new; the Django admin shows these fields read-only.
"""

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format, localize
from django.utils.translation import gettext, ngettext

from monitoring import services
from monitoring.access import (
    get_course_for,
    requires,
    units_for,
    visible_courses,
)
from monitoring.forms.courses import (
    CareSettingForm,
    CourseForm,
    EndMonitoringForm,
    InfusionTimeForm,
    PatientDetailsForm,
    PatientForm,
    TransferForm,
)
from monitoring.models import CareSetting, TreatmentCourse, Unit, User


@requires(User.can_manage_courses)
def start_course(request):
    """Admit a patient (a new MRN, or one on file) and start a course on one of the user's
    units; ``?patient=<id>`` starts a new course for a patient the user already sees."""
    known = _known_patient(request.user, request.GET.get("patient", ""))
    data = request.POST if request.method == "POST" else None
    patient_form = None if known else PatientForm(data, prefix="patient")
    course_form = CourseForm(data, units=units_for(request.user), prefix="course")
    forms = [f for f in (patient_form, course_form) if f is not None]
    if data is not None and all([f.is_valid() for f in forms]):  # every form's errors at once
        try:
            with transaction.atomic():  # no patient left behind by a course refused
                patient = known or services.admit_patient(**patient_form.values(), by=request.user)
                course = TreatmentCourse(patient=patient, **course_form.values())
                services.start_course(course=course, by=request.user)
        except ValidationError as error:
            _show_errors(error, forms)
        else:
            messages.success(
                request,
                gettext("%(patient)s: %(product)s course started, day 0 %(day0)s on %(unit)s.")
                % {
                    "patient": patient.full_name,
                    "product": course.product_label,
                    "day0": _shown(timezone.localtime(course.infused_at)),
                    "unit": course.unit,
                },
            )
            return redirect(course.get_absolute_url())
    return render(
        request,
        "monitoring/courses/start.html",
        {"known": known, "patient_form": patient_form, "course_form": course_form},
        status=400 if data is not None else 200,
    )


def _shown(moment) -> str:
    """A date and time as pages show them: 2026-12-03 14:05 in English, 03/12/2026 14:05 in
    Spanish (cartmonitor/formats)."""
    return date_format(moment, "SHORT_DATETIME_FORMAT")


def _known_patient(user, public_id: str):
    """A patient the user already sees on one of their units, or None; 404 for any other."""
    if not public_id:
        return None
    try:
        wanted = uuid.UUID(public_id)
    except ValueError:
        raise Http404(gettext("No such patient on your units.")) from None
    course = (
        visible_courses(user).filter(patient__public_id=wanted).select_related("patient").first()
    )
    if course is None:
        raise Http404(gettext("No such patient on your units."))
    return course.patient


def _show_errors(error: ValidationError, forms: list) -> None:
    """A service's refusal, each message on the field it names (else on the last form)."""
    if not hasattr(error, "error_dict"):
        forms[-1].add_error(None, error)
        return
    for name, errors in error.error_dict.items():
        target = next((f for f in forms if name in f.fields), None)
        if target is None:
            forms[-1].add_error(None, errors)
        else:
            target.add_error(name, errors)


def _action_page(
    request, course, form, *, save, page: dict, template="monitoring/courses/action.html"
):
    """One service call from one form: saved → back to the course page with what happened;
    refused → the form again with every value kept and the service's message on its field.
    ``template`` extends courses/action.html to show more (its ``details`` block)."""
    if request.method == "POST" and form.is_valid():
        try:
            done = save(form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, done)
            return redirect("monitoring:patient-course", public_id=course.patient.public_id)
    return render(
        request,
        template,
        {"course": course, "patient": course.patient, "form": form, **page},
        status=400 if request.method == "POST" else 200,
    )


def _monitored_course(request, public_id):
    """The patient's course if still under monitoring; else None, with a message."""
    course = get_course_for(request.user, public_id)
    if course.status != TreatmentCourse.Status.MONITORING:
        messages.info(
            request,
            gettext("Monitoring of this course has ended (%(status)s).")
            % {"status": course.get_status_display()},
        )
        return course, False
    return course, True


@requires(User.can_manage_courses)
def end_monitoring(request, public_id):
    """Completed, discontinued, transferred out or died: with when and why."""
    course, monitored = _monitored_course(request, public_id)
    if not monitored:
        return redirect(course.get_absolute_url())
    status = getattr(course, "status_row", None)
    open_flags = status.open_flag_count if status else 0

    def save(values):
        services.end_monitoring(course=course, by=request.user, **values)
        done = gettext("Monitoring of this course ended: %(status)s.") % {
            "status": course.get_status_display()
        }
        if open_flags:
            done += " " + ngettext(
                "%(count)s open flag(s) closed.", "%(count)s open flag(s) closed.", open_flags
            ) % {"count": open_flags}
        return done

    return _action_page(
        request,
        course,
        EndMonitoringForm(request.POST or None),
        save=save,
        page={
            "title": gettext("End monitoring"),
            "intro": (
                ngettext(
                    "The course leaves the worklist and the flag board, no check is due any "
                    "more, and its %(count)s open flag(s) are closed with your reason.",
                    "The course leaves the worklist and the flag board, no check is due any "
                    "more, and its %(count)s open flag(s) are closed with your reason.",
                    open_flags,
                )
                % {"count": open_flags}
                if open_flags
                else gettext(
                    "The course leaves the worklist and the flag board, no check is due any "
                    "more, and it has no open flag."
                )
            ),
            "submit": gettext("End monitoring"),
            "danger": True,
        },
    )


@requires(User.can_manage_courses)
def transfer_course(request, public_id):
    """Move a course under monitoring to another unit."""
    course, monitored = _monitored_course(request, public_id)
    if not monitored:
        return redirect(course.get_absolute_url())

    def save(values):
        services.transfer_course(course=course, by=request.user, **values)
        return gettext("Transferred to %(unit)s.") % {"unit": values["unit"]}

    return _action_page(
        request,
        course,
        TransferForm(request.POST or None, units=Unit.objects.exclude(pk=course.unit_id)),
        save=save,
        page={
            "title": gettext("Transfer to another unit"),
            "intro": gettext(
                "Now on %(unit)s. After the transfer the course is on the other unit's "
                "worklist and flag board; its records, grades and flags go with it."
            )
            % {"unit": course.unit},
            "submit": gettext("Transfer"),
        },
    )


@requires(User.can_manage_courses)
def change_care_setting(request, public_id):
    """Admit an outpatient to the ward, or discharge an inpatient to outpatient follow-up."""
    course, monitored = _monitored_course(request, public_id)
    if not monitored:
        return redirect(course.get_absolute_url())
    other = next(value for value in CareSetting.values if value != course.care_setting)

    def save(values):
        old = course.get_care_setting_display()
        services.change_care_setting(course=course, by=request.user, **values)
        return gettext("Care setting changed: %(old)s → %(new)s.") % {
            "old": old,
            "new": course.get_care_setting_display(),
        }

    return _action_page(
        request,
        course,
        CareSettingForm(request.POST or None, initial={"care_setting": other}),
        save=save,
        page={
            "title": gettext("Change care setting"),
            "intro": gettext(
                "Now %(setting)s. An outpatient's checks are offered as clinic visits (or "
                "phone calls) and the course is on the worklist's clinic list when a check is "
                "due; an inpatient's checks are offered as ward checks. Records and grades do "
                "not change."
            )
            % {"setting": course.get_care_setting_display().lower()},
            "submit": gettext("Change care setting"),
        },
    )


@requires(User.can_manage_courses)
def correct_infusion_time(request, public_id):
    """Correct day 0: every D+n moves and the whole course is regraded."""
    course = get_course_for(request.user, public_id)
    if course.is_planned:  # no infusion yet: the planned day 0 is moved, not corrected
        return redirect("monitoring:journey-move-day0", public_id=course.patient.public_id)
    on_file = timezone.localtime(course.infused_at)

    def save(values):
        services.correct_infusion_time(course=course, by=request.user, **values)
        return gettext("Day 0 corrected %(old)s → %(new)s; the course was regraded.") % {
            "old": _shown(on_file),
            "new": _shown(timezone.localtime(values["infused_at"])),
        }

    return _action_page(
        request,
        course,
        InfusionTimeForm(request.POST or None, initial={"infused_at": on_file}),
        save=save,
        page={
            "title": gettext("Correct the infusion time"),
            "intro": gettext(
                "On file: day 0 %(day0)s. Every D+n is counted from it; checks before it are a "
                "baseline, not graded. Correcting it regrades every check of the course, and the "
                "schedule and end of monitoring move with it."
            )
            % {"day0": _shown(on_file)},
            "submit": gettext("Correct day 0 and regrade"),
        },
    )


@requires(User.can_manage_courses)
def correct_patient_details(request, public_id):
    """Correct the date of birth (regrades: age decides ICE or CAPD, a child's blood pressure
    limits, NEWS2) or the weight (tocilizumab dose advice)."""
    course = get_course_for(request.user, public_id)
    patient = course.patient
    on_file = {"date_of_birth": patient.date_of_birth, "weight_kg": patient.weight_kg}

    def save(values):
        services.correct_patient_details(patient=patient, by=request.user, **values)
        if values["date_of_birth"] != on_file["date_of_birth"]:
            return gettext("Details corrected; every course of the patient was regraded.")
        return gettext("Details corrected.")

    return _action_page(
        request,
        course,
        PatientDetailsForm(request.POST or None, initial=on_file),
        save=save,
        page={
            "title": gettext("Correct date of birth or weight"),
            "intro": gettext(
                "On file: born %(born)s, %(weight)s kg. A new date of birth regrades every "
                "course of the patient (age decides ICE or CAPD, a child's blood pressure limits "
                "and NEWS2); the weight sets the usual tocilizumab dose."
            )
            % {
                "born": date_format(patient.date_of_birth, "SHORT_DATE_FORMAT"),
                "weight": localize(patient.weight_kg),
            },
            "submit": gettext("Save the correction"),
        },
    )

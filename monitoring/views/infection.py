"""The care team's infection-prevention page: the course's checklist, immunoglobulin
replacement and infections, with a form for each thing to record (monitoring/infection.py).

One page, one POST per action (``action``), each through its service; bad input re-renders the
page with the values kept and status 400. Records are looked up within the course, so another
course's record id is a 404 like the patient of another unit (access.get_course_for).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext

from monitoring import infection, infection_page
from monitoring.access import get_course_for, requires
from monitoring.course_page import CoursePage, chart_table, current_records
from monitoring.forms.infection import (
    EnteredInErrorForm,
    GiveImmunoglobulinForm,
    ImmunoglobulinForm,
    InfectionForm,
    ResolveInfectionForm,
    StartProphylaxisForm,
    StopProphylaxisForm,
    StopReasonForm,
)
from monitoring.models import ImmunoglobulinDose, Infection, ProphylaxisCourse, User

FORMS = {
    "start_prophylaxis": StartProphylaxisForm,
    "stop_prophylaxis": StopProphylaxisForm,
    "stop_reason": StopReasonForm,
    "plan_ig": ImmunoglobulinForm,
    "give_ig": GiveImmunoglobulinForm,
    "record_infection": InfectionForm,
    "resolve_infection": ResolveInfectionForm,
    "entered_in_error": EnteredInErrorForm,
}


def _record(model, course, pk):
    record = model.objects.current().filter(course=course, pk=pk).first()
    if record is None:
        raise Http404("No such current record of this course.")
    return record


def _act(action: str, form, course, by) -> str:
    """Run the action's service; returns what to tell the user."""
    data = form.cleaned_data
    if action == "start_prophylaxis":
        infection.start_prophylaxis(course=course, by=by, **data)
        return gettext("Prophylaxis started.")
    if action == "stop_prophylaxis":
        infection.stop_prophylaxis(
            record=_record(ProphylaxisCourse, course, data["record"]),
            stopped_on=data["stopped_on"],
            reason=data["stop_reason"],
            by=by,
        )
        return gettext("Prophylaxis stopped.")
    if action == "stop_reason":
        infection.amend(
            record=_record(ProphylaxisCourse, course, data["record"]),
            values={"stop_reason": data["stop_reason"].strip()},
            reason=gettext("reason for the stop added"),
            by=by,
        )
        return gettext("Reason recorded (the record was amended).")
    if action == "plan_ig":
        infection.plan_immunoglobulin(course=course, by=by, **data)
        return gettext("Immunoglobulin replacement recorded.")
    if action == "give_ig":
        infection.give_immunoglobulin(
            dose=_record(ImmunoglobulinDose, course, data["record"]),
            given_on=data["given_on"],
            by=by,
        )
        return gettext("Dose recorded as given.")
    if action == "record_infection":
        infection.record_infection(course=course, by=by, **data)
        return gettext("Infection recorded.")
    if action == "resolve_infection":
        infection.resolve_infection(
            infection=_record(Infection, course, data["record"]),
            resolved_on=data["resolved_on"],
            by=by,
        )
        return gettext("Infection recorded as resolved.")
    model = infection.RECORD_MODELS[data["kind"]]
    infection.mark_entered_in_error(
        record=_record(model, course, data["record"]), reason=data["reason"], by=by
    )
    return gettext("Record marked entered in error.")


@requires(User.can_record_infection_care)
def infection_care(request, public_id):
    """The course's infection prevention, and the forms to record it."""
    course = get_course_for(request.user, public_id)
    checklist = infection.checklist(course)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if request.method == "POST" and action not in FORMS:
        raise Http404("No such action.")
    bound = {}
    if action:
        kwargs = {"checklist": checklist} if action == "start_prophylaxis" else {}
        form = FORMS[action](request.POST, prefix=action, **kwargs)
        bound[action] = form
        if form.is_valid():
            try:
                text = _act(action, form, course, request.user)
            except ValidationError as error:
                if hasattr(error, "error_dict"):
                    for field, errors in error.error_dict.items():
                        target = field if field in form.fields else None
                        for item in errors:
                            form.add_error(target, item)
                else:
                    form.add_error(None, error)
            else:
                messages.success(request, text)
                return redirect("monitoring:patient-infection", public_id=course.patient.public_id)
    forms = {
        name: bound.get(name)
        or form_class(
            prefix=name, **({"checklist": checklist} if name == "start_prophylaxis" else {})
        )
        for name, form_class in FORMS.items()
    }
    now = timezone.now()
    record = CoursePage(
        course, snapshots=[], records=current_records(course, kinds=["labs"]), now=now
    )
    section = infection_page.section(course, today=timezone.localdate(now))
    charts = infection_page.charts(record, course.protocol_version)
    return render(
        request,
        "monitoring/care_team/infection.html",
        {
            "course": course,
            "patient": course.patient,
            "forms": forms,
            "failed_form": bound.get(action),
            "infection": section,
            "infection_charts": [(spec, chart_table(spec)) for spec in charts],
        },
        status=400 if action else 200,
    )

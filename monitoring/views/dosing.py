"""A course's step-up doses: the schedule with premedication and gates; plan, re-plan, hold,
give and restart (each through monitoring.dosing, which decides and audits)."""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext

from monitoring import dosing
from monitoring.access import get_course_for, requires
from monitoring.forms.dosing import (
    GiveDoseForm,
    HoldDoseForm,
    PlanDosesForm,
    ReplanDoseForm,
    RestartForm,
)
from monitoring.models import CourseDose, User

FORMS = {
    "plan": (PlanDosesForm, User.can_plan_doses),
    "replan": (ReplanDoseForm, User.can_plan_doses),
    "hold": (HoldDoseForm, User.can_plan_doses),
    "give": (GiveDoseForm, User.can_record_doses),
    "restart": (RestartForm, User.can_plan_doses),
}


@requires(User.can_view_patients)
def course_dosing(request, public_id):
    """The doses of a dosed course; POST ``action`` plans, re-plans, holds, gives or restarts."""
    course = get_course_for(request.user, public_id)
    steps = dosing.steps_of(course)
    doses = list(
        CourseDose.objects.filter(course=course)
        .select_related("step", "given_by", "override_by")
        .order_by("attempt", "step__sequence")
    )
    bound, errors, target = {}, [], None
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in FORMS:
            return redirect("monitoring:course-dosing", public_id=public_id)
        form_class, permission = FORMS[action]
        if not permission.fget(request.user):
            raise PermissionDenied(gettext("Your role cannot do this."))
        kwargs = {"steps": steps} if action == "restart" else {}
        form = form_class(request.POST, prefix=action, **kwargs)
        if action in ("replan", "hold", "give"):
            target = next((d for d in doses if str(d.public_id) == request.POST.get("dose")), None)
            if target is None:
                return redirect("monitoring:course-dosing", public_id=public_id)
        bound[action] = form
        if form.is_valid():
            try:
                _act(action, form.cleaned_data, course=course, dose=target, by=request.user)
            except ValidationError as error:
                errors.extend(error.messages)
            else:
                messages.success(request, gettext("Saved."))
                return redirect("monitoring:course-dosing", public_id=public_id)
    return _page(request, course, steps, doses, bound, errors, target)


def _act(action, data, *, course, dose, by):
    if action == "plan":
        dosing.plan_doses(course=course, first_dose_at=data["first_dose_at"], by=by)
    elif action == "replan":
        dosing.replan_dose(dose=dose, planned_at=data["planned_at"], reason=data["reason"], by=by)
    elif action == "hold":
        dosing.hold_dose(dose=dose, reason=data["reason"], by=by)
    elif action == "give":
        dosing.record_dose_given(
            dose=dose, given_at=data["given_at"], override_reason=data["override_reason"], by=by
        )
    else:
        dosing.restart_step_up(
            course=course,
            from_sequence=data["from_sequence"],
            first_dose_at=data["first_dose_at"],
            reason=data["reason"],
            by=by,
        )


def _page(request, course, steps, doses, bound, errors, target):
    now = timezone.now()
    upcoming = dosing.next_dose(doses)
    points = dosing.grade_points(course) if upcoming else []
    gate = (
        dosing.gate_now(course, upcoming, doses=doses, points=points, steps=steps, now=now)
        if upcoming
        else None
    )
    premeds = dosing.premedications(course, [d for d in doses if d.status != "cancelled"])
    local_now = timezone.localtime(now).replace(second=0, microsecond=0)
    forms = {
        "plan": bound.get("plan")
        or PlanDosesForm(prefix="plan", initial={"first_dose_at": local_now}),
        "give": bound.get("give") or GiveDoseForm(prefix="give", initial={"given_at": local_now}),
        "replan": bound.get("replan") or ReplanDoseForm(prefix="replan"),
        "hold": bound.get("hold") or HoldDoseForm(prefix="hold"),
        "restart": bound.get("restart")
        or RestartForm(
            prefix="restart",
            steps=steps,
            initial={
                "first_dose_at": local_now,
                "from_sequence": gate.restart_step.sequence if gate and gate.restart_step else 1,
            },
        ),
    }
    rows = [
        {
            "dose": d,
            "premeds": premeds.get(d.pk, []),
            "is_next": d == upcoming,
            "window_end": d.given_at + timedelta(hours=d.step.window_hours) if d.given_at else None,
        }
        for d in doses
    ]
    return render(
        request,
        "monitoring/dosing/course.html",
        {
            "course": course,
            "patient": course.patient,
            "steps": steps,
            "rows": rows,
            "upcoming": upcoming,
            "gate": gate,
            "gate_lines": [dosing.problem_text(p) for p in gate.problems] if gate else [],
            "forms": forms,
            "errors": errors,
            "target": target,
            "planned": any(d.status != "cancelled" for d in doses),
            "now": now,
        },
        status=400 if (errors or any(f.errors for f in bound.values())) else 200,
    )

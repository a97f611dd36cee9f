"""A check-in from home (issue 15 §2): the form, and the page that says what to do now.

No address carries an id: the form records on the signed-in person's own course, and the done
page shows the check-in this browser just saved (its id kept in the session, read back only
within the person's course). Every rule is monitoring/home_checkins.py's and home_rules.py's.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import home_checkins
from monitoring.access import get_home_access, home_page, requires
from monitoring.forms.home_checkins import HomeCheckInForm
from monitoring.models import HomeCheckIn, TreatmentCourse, User

STASH_DONE = "home_checkin_done"  # the pk of the check-in just saved in this browser


def _optional_url(name: str) -> str:
    """A page another part of the app may not have yet (the handwriting sample)."""
    try:
        return reverse(f"monitoring:{name}")
    except NoReverseMatch:
        return ""


@home_page
@requires(User.can_use_home)
@never_cache
def checkin(request):
    """Record a check-in: temperature, symptoms, cuff readings if any, a medicine for fever,
    and the guided screen a caregiver runs."""
    access = get_home_access(request)
    course = access.course
    form = HomeCheckInForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                saved = home_checkins.record_home_checkin(
                    access=access, by=request.user, now=form.now, **form.values()
                )
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                request.session[STASH_DONE] = saved.pk
                return redirect("monitoring:home-checkin-done")
    return render(
        request,
        "monitoring/home/checkin.html",
        {
            "form": form,
            "access": access,
            "is_patient": access.kind == "patient",
            "open": course.status == TreatmentCourse.Status.MONITORING,
        },
        status=status,
    )


@home_page
@requires(User.can_use_home)
@require_GET
def checkin_done(request):
    """What to do now, after the check-in just saved."""
    access = get_home_access(request)
    saved = (
        HomeCheckIn.objects.filter(pk=request.session.get(STASH_DONE), course=access.course)
        .select_related("neuro_screen")
        .first()
        if request.session.get(STASH_DONE)
        else None
    )
    if saved is None:
        return redirect("monitoring:home-start")
    return render(
        request,
        "monitoring/home/checkin_done.html",
        {
            "checkin": saved,
            "unit": access.course.unit,
            "handwriting_url": _optional_url("home-handwriting-new"),
        },
    )

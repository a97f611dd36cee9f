"""The remote patients page (issue 15 §3): every course with an open home access on the user's
units — who signs in for it, the last home check-in and its temperature, when the next is due,
the check-ins missed and the open missed check-in flag. For the care team and the charge nurse
who look after patients at home (``User.can_view_remote_patients``)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from monitoring import home_sweep
from monitoring.access import requires, selected_unit, visible_courses, visible_units
from monitoring.models import User

PAGE_SIZE = 25


@requires(User.can_view_remote_patients)
def remote_patients(request):
    """Patients at home on the user's units (or the one unit chosen), most urgent first."""
    units = visible_units(request.user)
    unit = selected_unit(request.GET.getlist("unit"), units)
    courses = visible_courses(request.user)
    if unit is not None:
        courses = courses.filter(unit=unit)
    now = timezone.now()
    rows = home_sweep.remote_rows(courses, now=now)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "monitoring/remote/patients.html",
        {
            "page": page,
            "rows": page.object_list,
            "count": len(rows),
            "units": units,
            "selected_unit": unit,
            "query": f"unit={unit.pk}" if unit is not None else "",
            "now": now,
        },
    )

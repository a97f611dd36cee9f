"""Pages every role shares: home redirect, health check, the patient's course."""

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring import worker
from monitoring.access import get_course_for, home_allowed, requires
from monitoring.models import User
from monitoring.views import care_team


@home_allowed
@requires(User.can_view_patients, User.can_view_wall_display, User.can_use_home)
def home(request):
    """Each role lands on its own home: who acts on flags on the board, a wall screen on its
    display, a patient or caregiver at home on their home page, others the worklist."""
    if request.user.can_use_home:
        return redirect("monitoring:home-start")
    if request.user.can_view_wall_display:
        return redirect("monitoring:wall-display")
    if request.user.can_act_on_flags:
        return redirect("monitoring:care-flags")
    return redirect("monitoring:nurse-worklist")


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """For load balancers: 200 when the app and its database answer, 503 otherwise.

    It also says whether a job worker has beaten recently ("workers": "ok" or "delayed").
    A dead worker does not take the web servers out of the load balancer (that would stop
    the ward recording checks too); a monitoring system that must page IT when escalations
    stop asks ``/healthz?require=worker``, which answers 503 while no worker runs.
    """
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 — any database failure means "not healthy"
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    try:
        delay = worker.delay()
    except DatabaseError:  # e.g. migrations not run yet: the web can still answer
        return JsonResponse(
            {"status": "degraded", "workers": "unknown"},
            status=503 if request.GET.get("require") == "worker" else 200,
        )
    body = {"status": "ok", "workers": "ok" if delay is None else "delayed"}
    if delay is not None:
        body["status"] = "degraded"
        body["escalations"] = worker.delay_text(delay)
    failing = delay is not None and request.GET.get("require") == "worker"
    return JsonResponse(body, status=503 if failing else 200)


@requires(User.can_view_patients)
def patient_course(request, public_id):
    """Everything since day 0: charts, day-by-day grid, treatments, flags and the checks."""
    return care_team.course_page(request, get_course_for(request.user, public_id))

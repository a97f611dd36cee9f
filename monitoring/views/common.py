"""Pages every role shares: home redirect, health check, the patient's course."""

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring.access import ALL_ROLES, get_course_for, role_required
from monitoring.models import BedsideCheck, Flag


def home(request):
    """Each role lands on its own home."""
    return redirect("monitoring:nurse-worklist")


@login_not_required
@never_cache
@require_GET
def healthz(request):
    """For load balancers: 200 when the app and its database answer, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 — any database failure means "not healthy"
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


CHECK_RECORDS = ["vitalsigns_set", "symptomcheck_set", "neuroassessment_set", "labresult_set",
                 "treatment_set"]


@role_required(*ALL_ROLES)
def patient_course(request, public_id):
    """Everything recorded for the patient's course since day 0, newest first."""
    course = get_course_for(request.user, public_id)
    checks = (
        BedsideCheck.objects.filter(course=course)
        .select_related("recorded_by", "snapshot")
        .prefetch_related(*CHECK_RECORDS)
        .order_by("-observed_at", "-pk")
    )
    flags = Flag.objects.filter(course=course).order_by("-raised_at")[:50]
    return render(request, "monitoring/common/course.html", {
        "course": course, "patient": course.patient, "checks": checks,
        "flags": flags, "status": getattr(course, "current", None),
    })



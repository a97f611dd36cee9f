"""The one place that decides who sees which patient. Every view goes through it."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from monitoring.models import TreatmentCourse, Unit, User


def role_required(*roles: str):
    """Allow only these roles; anyone else gets 403 (login is enforced by middleware)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            # The role decides, superuser or not: an IT administrator with Django's superuser
            # flag must not confirm grades or acknowledge flags.
            if request.user.role not in roles:
                raise PermissionDenied("Your role cannot open this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


CLINICAL_ROLES = (User.Role.NURSE, User.Role.CARE_TEAM)
ALL_ROLES = (User.Role.NURSE, User.Role.CARE_TEAM, User.Role.ADMIN)


def visible_courses(user: User) -> QuerySet[TreatmentCourse]:
    """Courses on the user's units (admins: every unit)."""
    courses = TreatmentCourse.objects.all()
    if user.sees_all_units:
        return courses
    return courses.filter(unit__in=user.units.values("pk"))


def get_course_for(user: User, patient_public_id, *, monitoring_only: bool = False):
    """The patient's current course if the user may see it; 404 otherwise (no existence leak)."""
    courses = visible_courses(user).filter(patient__public_id=patient_public_id)
    if monitoring_only:
        courses = courses.under_monitoring()
    course = (
        courses.select_related("patient", "unit", "status_row", "protocol_version")
        .order_by("-infused_at")
        .first()
    )
    if course is None:
        raise Http404("No such patient on your units.")
    return course


# Admitting patients, starting, transferring and ending courses, correcting day 0 or a patient's
# date of birth and weight (views/courses.py): the care team and admins, never a nurse alone.
COURSE_ROLES = (User.Role.CARE_TEAM, User.Role.ADMIN)


def can_manage_courses(user: User) -> bool:
    """What role_required(*COURSE_ROLES) lets through, for showing or hiding the buttons."""
    return user.role in COURSE_ROLES


def units_for(user: User) -> QuerySet[Unit]:
    """The units a user works on (admins: every unit): where they may admit a patient."""
    return Unit.objects.all() if user.sees_all_units else user.units.all()

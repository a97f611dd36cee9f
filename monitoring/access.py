"""The one place that decides who sees and does what. Every view goes through it.

- **Role**: what a user may do is a ``can_*`` property of ``User`` (decided by the role alone;
  Django's superuser flag opens the Django admin only). A view names the property it needs with
  ``@requires(User.can_…)`` (or several: any one of them opens it); anyone without it gets
  403. Templates read the same properties to show only the links and buttons the user can use.
- **Unit**: a user sees the patients of their own units (admins: every unit). A patient, flag or
  record on another unit is a 404, like one that does not exist.
- **Unit filter** (worklist, board, handover, registry export): no ``unit`` parameter means
  all the user's units; any other value must be exactly one of the user's unit ids, otherwise
  404 — malformed, unknown and another unit's id alike. The answer never tells whether a unit
  exists, and a page never shows more (or other) patients than the filter asked for.
- **Notifications**: a user sees only their own (anyone else's is a 404); a notification links
  to its patient only while the patient is on one of the user's units.
- **Home** (issue 15): a patient or caregiver at home (``User.can_use_home``) has one course,
  through their ``HomeAccess``, and reaches only the views marked ``@home_page``: every other
  view answers 404 (cartmonitor/middleware.py ``HomeSessionMiddleware``, before the view's own
  403), and a revoked access or an ended course ends the session on its next request. No home
  page takes an id: the course is the session's, so there is nothing to swap for another's.
"""

from __future__ import annotations

import re
from functools import wraps

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from monitoring.models import HOME_ROLES, HomeAccess, Notification, TreatmentCourse, Unit, User

# ASCII digits that fit a primary key: int() and str.isdigit() also accept "١٢" or "²".
_UNIT_ID = re.compile(r"[0-9]{1,18}")


def requires(*permissions: property):
    """Allow only users who have one of these ``User`` permissions (e.g.
    ``User.can_record_checks``); anyone else gets 403 (login is enforced by middleware)."""
    names = tuple(permission.fget.__name__ for permission in permissions)

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not any(getattr(request.user, name, False) for name in names):
                raise PermissionDenied("Your role cannot open this page.")
            return view(request, *args, **kwargs)

        # For tests that walk the URLconf.
        wrapper.required_permission = names[0]
        wrapper.required_permissions = names
        return wrapper

    return decorator


def visible_units(user: User) -> list[Unit]:
    """The units the user works on (admins: every unit), by name."""
    return list(units_for(user))


def selected_unit(values: list[str], units: list[Unit]) -> Unit | None:
    """The unit a ``unit`` parameter picks among ``units``; None when absent or empty (all of
    them). Anything else that is not exactly one of their ids is a 404 (module docstring)."""
    if not values or values == [""]:
        return None
    if len(values) == 1 and _UNIT_ID.fullmatch(values[0]):
        wanted = int(values[0])
        for unit in units:
            if unit.pk == wanted:
                return unit
    raise Http404("Not one of your units.")


def visible_courses(user: User) -> QuerySet[TreatmentCourse]:
    """Courses on the user's units (admins: every unit).

    A join on the user's unit memberships, not ``unit IN (SELECT …)``: PostgreSQL plans the
    join from the user's few memberships through the course's unit index, where it planned
    the subquery as a filter applied after reading every course of the hospital (a nurse's
    worklist of one 20-patient unit took 115 ms at 10,000 patients and 12 ms this way). A
    user is a member of a unit once, so the join repeats no course.
    """
    courses = TreatmentCourse.objects.all()
    if user.sees_all_units:
        return courses
    return courses.filter(unit__members=user)


def get_course_for(user: User, patient_public_id, *, monitoring_only: bool = False):
    """The patient's current course if the user may see it; 404 otherwise (no existence leak)."""
    courses = visible_courses(user).filter(patient__public_id=patient_public_id)
    if monitoring_only:
        courses = courses.under_monitoring()
    course = (
        courses.select_related("patient", "unit", "status_row", "protocol_version", "product")
        .order_by("-infused_at")
        .first()
    )
    if course is None:
        raise Http404("No such patient on your units.")
    return course


def units_for(user: User) -> QuerySet[Unit]:
    """The units a user works on (admins: every unit), as a queryset (for form choices)."""
    return Unit.objects.all() if user.sees_all_units else user.units.all()


def get_notification_for(user: User, pk) -> Notification:
    """One of the user's own notifications; anyone else's is a 404, like a missing one."""
    notification = Notification.objects.filter(recipient=user, pk=pk).first()
    if notification is None:
        raise Http404("No such notification of yours.")
    return notification


# --- Home (issue 15) -------------------------------------------------------------------------

HOME_BACKEND = "monitoring.access.HomeBackend"
HOME_LOGIN_URL = "monitoring:home-login"


def home_allowed(view):
    """Mark a view a patient or caregiver at home may open: HomeSessionMiddleware answers 404
    for any other. The home pages themselves, the site's root (which sends them home) and the
    logout."""
    view.home_allowed = True
    return view


def home_page(view):
    """A home page: allowed at home, and an anonymous visitor of one that needs a login is sent
    to the home sign-in page, not the staff login."""
    view.login_url = HOME_LOGIN_URL
    return home_allowed(view)


class HomeBackend(ModelBackend):
    """Loads a signed-in patient or caregiver with their access, course, unit, patient and
    protocol version in the one query that loads the user on every request, so the session's
    check (is the access still open?) and the home page cost nothing more. Authenticates no
    one by credentials: monitoring/home.py signs people in with one-time codes."""

    def authenticate(self, request, **credentials):
        return None

    def get_user(self, user_id):
        user = (
            User.objects.filter(pk=user_id, role__in=HOME_ROLES)
            .select_related(
                "home_access__course__unit",
                "home_access__course__patient",
                "home_access__course__protocol_version",
            )
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None


def home_access_of(user) -> HomeAccess | None:
    """A home user's access (already loaded by HomeBackend), or None."""
    try:
        return user.home_access
    except HomeAccess.DoesNotExist:
        return None


def get_home_access(request) -> HomeAccess:
    """The signed-in patient's or caregiver's open access: their one course. 404 otherwise."""
    access = getattr(request, "home_access", None) or home_access_of(request.user)
    if access is None or not access.is_open:
        raise Http404("No open home access.")
    return access

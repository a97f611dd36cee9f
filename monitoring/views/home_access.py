"""The care team's home-access page of a course (issue 15 §1): invite the patient or a
caregiver, give a sign-in code in person, withdraw an invitation, revoke an access.

A new invitation's link and code, and a new sign-in code, are shown once: right after they are
made (kept in the session for the one redirect, then dropped), never again — only their hashes
are stored. Each action calls one service of monitoring/home.py.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache

from monitoring import home
from monitoring.access import get_course_for, requires
from monitoring.forms.home import InvitationForm, RevokeForm
from monitoring.models import HomeInvitation, TreatmentCourse, User
from monitoring.views.courses import _show_errors

SHOWN_ONCE = "home_access_shown"  # the secret to show on the next page, then gone


def _iso(moment) -> str:
    return moment.isoformat()


@never_cache
@requires(User.can_manage_home_access)
def manage(request, public_id):
    course = get_course_for(request.user, public_id)
    invite_form = InvitationForm(prefix="invite")
    revoke_form, failed = RevokeForm(), None  # the row whose revoke was sent back
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "invite":
            invite_form = InvitationForm(request.POST, prefix="invite")
            if invite_form.is_valid():
                try:
                    new = home.invite(course=course, by=request.user, **invite_form.cleaned_data)
                except ValidationError as error:
                    _show_errors(error, [invite_form])
                else:
                    return _show_once(request, course, _invitation_secret(request, new))
        elif action in ("withdraw", "revoke"):
            row = _row(course, action, request.POST.get("id", ""))
            revoke_form = RevokeForm(request.POST)
            failed = (action, row.pk)
            if revoke_form.is_valid():
                try:
                    _revoke(action, row, revoke_form.cleaned_data["reason"], request.user)
                except ValidationError as error:
                    _show_errors(error, [revoke_form])
                else:
                    done = (
                        gettext("The invitation of %(name)s was withdrawn: it no longer works.")
                        if action == "withdraw"
                        else gettext(
                            "The home access of %(name)s was revoked: they are signed out at once."
                        )
                    )
                    messages.success(request, done % {"name": row.display_name})
                    return redirect("monitoring:course-home-access", public_id=public_id)
        elif action == "code":
            access = _row(course, "revoke", request.POST.get("id", ""))
            try:
                code, until = home.issue_login_code(access=access, by=request.user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
                return redirect("monitoring:course-home-access", public_id=public_id)
            return _show_once(
                request,
                course,
                {
                    "kind": "code",
                    "name": access.display_name,
                    "code": code,
                    "until": _iso(until),
                    "url": request.build_absolute_uri(reverse("monitoring:home-login")),
                },
            )
        return render(
            request,
            "monitoring/home_access/manage.html",
            _context(request, course, invite_form, revoke_form, failed, shown=None),
            status=400,
        )
    shown = request.session.pop(SHOWN_ONCE, None)
    if shown and shown.get("course") != str(course.public_id):
        shown = None  # made on another course's page: dropped, never shown here
    return render(
        request,
        "monitoring/home_access/manage.html",
        _context(request, course, invite_form, revoke_form, failed, shown=shown),
    )


def _invitation_secret(request, new: home.NewInvitation) -> dict:
    invitation = new.invitation
    return {
        "kind": "invitation",
        "name": invitation.display_name,
        "link": request.build_absolute_uri(reverse("monitoring:home-join-link", args=[new.token])),
        "join_url": request.build_absolute_uri(reverse("monitoring:home-join")),
        "code": new.code,
        "until": _iso(invitation.expires_at),
        "email": invitation.email,
    }


def _show_once(request, course: TreatmentCourse, secret: dict):
    request.session[SHOWN_ONCE] = {**secret, "course": str(course.public_id)}
    return redirect("monitoring:course-home-access", public_id=course.patient.public_id)


def _row(course: TreatmentCourse, action: str, pk: str):
    """The course's own invitation (withdraw) or access (revoke, code); any other id is a 404."""
    rows = course.home_invitations if action == "withdraw" else course.home_accesses
    row = rows.filter(pk=pk).first() if pk.isascii() and pk.isdigit() and len(pk) < 19 else None
    if row is None:
        raise Http404("No such invitation or access on this course.")
    return row


def _revoke(action: str, row, reason: str, by) -> None:
    if action == "withdraw":
        home.revoke_invitation(invitation=row, reason=reason, by=by)
    else:
        home.revoke_access(access=row, reason=reason, by=by)


def _context(request, course, invite_form, revoke_form, failed, *, shown) -> dict:
    now = timezone.now()
    invitations = list(
        course.home_invitations.filter(used_at__isnull=True).select_related(
            "created_by", "revoked_by"
        )
    )
    accesses = list(
        course.home_accesses.select_related("user", "revoked_by", "invitation__created_by")
    )
    if shown is not None:
        shown = {**shown, "until": datetime.fromisoformat(shown["until"])}
    return {
        "course": course,
        "patient": course.patient,
        "invitations": [(i, i.status_at(now)) for i in invitations],
        "accesses": accesses,
        "invite_form": invite_form,
        "revoke_form": revoke_form,
        "failed": failed,
        "shown": shown,
        "course_open": course.status in TreatmentCourse.ACTIVE_STATUSES,
        "Status": HomeInvitation.Status,
        "code_minutes": home.CODE_MINUTES,
        "invitation_hours": settings.HOME_INVITATION_HOURS,
    }

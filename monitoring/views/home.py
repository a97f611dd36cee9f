"""The pages of a patient or caregiver at home (issue 15 §1): sign in with a one-time code,
accept an invitation after consenting, and the home page of their one course.

Phone-first (390 px), large touch targets, plain words, in the person's language. No page
takes an id, and no address carries patient data: an invitation link's token is opened once and
kept in the session, not in the address bar. Every rule (codes, limits, consent) is
monitoring/home.py's; these views say what happened in plain words.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from cartmonitor.middleware import client_ip
from monitoring import home, home_checkins, home_sweep, notification_centre
from monitoring.access import HOME_BACKEND, get_home_access, home_page, requires
from monitoring.forms.home import ConsentForm, EmailCodeForm, EmailForm, TypedCodeForm
from monitoring.models import User

# What the session keeps between the steps of signing in (never a token or a code).
STASH_INVITATION = "home_invitation"  # {"id": invitation pk, "at": epoch seconds}
STASH_EMAIL = "home_login_email"


def _ip(request) -> str:
    return client_ip(request) or "unknown"


def refusal_text(refusal: home.HomeRefusal, *, what: str) -> str:
    if refusal.reason == home.RATE_LIMITED:
        return ngettext(
            "Too many tries from this network. Try again in %(minutes)s minute.",
            "Too many tries from this network. Try again in %(minutes)s minutes.",
            refusal.minutes,
        ) % {"minutes": refusal.minutes}
    if refusal.reason == home.DEAD:
        return gettext(
            "This code was typed wrongly too many times and no longer works. Ask for a new code."
        )
    if what == "link":
        return gettext(
            "This invitation does not work: it may have expired, been used already or been "
            "withdrawn. Ask your care team for a new one."
        )
    return gettext("That code does not work. Check it and try again, or ask for a new one.")


def _status(refusal: home.HomeRefusal) -> int:
    return 429 if refusal.reason == home.RATE_LIMITED else 400


def _sign_in(request, user: User):
    """Start the home session: longer idle limit than staff (settings.HOME_SESSION_IDLE_HOURS)."""
    login(request, user, backend=HOME_BACKEND)
    request.session.set_expiry(settings.HOME_SESSION_IDLE_HOURS * 60 * 60)
    for key in (STASH_INVITATION, STASH_EMAIL):
        request.session.pop(key, None)
    return redirect("monitoring:home-start")


def _to_consent(request, invitation):
    request.session[STASH_INVITATION] = {"id": invitation.pk, "at": int(time.time())}
    return redirect("monitoring:home-consent")


def _redeemed(request, redeemed: home.Redeemed):
    if redeemed.user is not None:
        return _sign_in(request, redeemed.user)
    return _to_consent(request, redeemed.invitation)


def _signed_in_already(request):
    """Someone signed in at home has nothing to do on the sign-in pages: their home page."""
    if request.user.is_authenticated and request.user.can_use_home:
        return redirect("monitoring:home-start")
    return None


@home_page
@requires(User.can_use_home)
@require_GET
def start(request):
    """The home page: who is signed in for whom, the unit's 24-hour number, the protocol's
    countdowns, when to call, today's check-ins and the button to record one."""
    access = get_home_access(request)
    course = access.course
    version = course.protocol_version
    return render(
        request,
        "monitoring/home/start.html",
        {
            "access": access,
            "course": course,
            "unit": course.unit,
            "patient_name": course.patient.given_name,
            "is_patient": access.kind == "patient",
            "countdowns": home.countdowns(course),
            "fever_c": version.home_call_temperature_c if version else None,
            "can_check_in": course.status == course.Status.MONITORING,
            "checkins": home_checkins.todays_checkins(course),
            "checkin": home_sweep.course_state(course),
        },
    )


@login_not_required
@home_page
@never_cache
def sign_in(request):
    """Sign in: e-mail me a code, or type a code from the care team (an invitation's printed
    code works here too)."""
    if done := _signed_in_already(request):
        return done
    action = request.POST.get("action") if request.method == "POST" else None
    email_form = EmailForm(request.POST if action == "email" else None, prefix="email")
    code_form = TypedCodeForm(request.POST if action == "code" else None, prefix="code")
    status = 200
    if request.method == "POST":
        status = 400
        if action == "email" and email_form.is_valid():
            email = email_form.cleaned_data["email"]
            try:
                home.request_email_code(email=email, ip=_ip(request))
            except home.HomeRefusal as refusal:
                email_form.add_error(None, refusal_text(refusal, what="code"))
                status = _status(refusal)
            else:
                request.session[STASH_EMAIL] = email
                return redirect("monitoring:home-login-code")
        elif action == "code" and code_form.is_valid():
            try:
                redeemed = home.redeem_typed_code(
                    code=code_form.cleaned_data["code"], ip=_ip(request)
                )
            except home.HomeRefusal as refusal:
                code_form.add_error("code", refusal_text(refusal, what="code"))
                status = _status(refusal)
            else:
                return _redeemed(request, redeemed)
    return render(
        request,
        "monitoring/home/login.html",
        {"email_form": email_form, "code_form": code_form, "minutes": home.CODE_MINUTES},
        status=status,
    )


@login_not_required
@home_page
@never_cache
def sign_in_code(request):
    """Type the 6-digit code e-mailed to the address given on the sign-in page."""
    if done := _signed_in_already(request):
        return done
    email = request.session.get(STASH_EMAIL)
    if not email:
        return redirect("monitoring:home-login")
    form = EmailCodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user = home.redeem_email_code(
                    email=email, code=form.cleaned_data["code"], ip=_ip(request)
                )
            except home.HomeRefusal as refusal:
                form.add_error("code", refusal_text(refusal, what="code"))
                status = _status(refusal)
            else:
                return _sign_in(request, user)
    return render(
        request,
        "monitoring/home/login_code.html",
        {"form": form, "email": email, "minutes": home.CODE_MINUTES},
        status=status,
    )


@login_not_required
@home_page
@never_cache
def join(request):
    """Accept an invitation by its printed code."""
    if done := _signed_in_already(request):
        return done
    form = TypedCodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                redeemed = home.redeem_typed_code(code=form.cleaned_data["code"], ip=_ip(request))
            except home.HomeRefusal as refusal:
                form.add_error("code", refusal_text(refusal, what="code"))
                status = _status(refusal)
            else:
                return _redeemed(request, redeemed)
    return render(request, "monitoring/home/join.html", {"form": form}, status=status)


@login_not_required
@home_page
@never_cache
@require_GET
def join_link(request, token: str):
    """An invitation link: opened once, then the consent page (the token leaves the address
    bar, the history and any Referer at once). The one GET that writes: the try is counted for
    the per-address rate limit (and a wrong token audited), as a security log; nothing of the
    invitation is spent, so a mail scanner that follows the link uses nothing."""
    if done := _signed_in_already(request):
        return done
    try:
        invitation = home.open_invitation_link(token=token, ip=_ip(request))
    except home.HomeRefusal as refusal:
        form = TypedCodeForm()
        return render(
            request,
            "monitoring/home/join.html",
            {"form": form, "link_error": refusal_text(refusal, what="link")},
            status=429 if refusal.reason == home.RATE_LIMITED else 404,
        )
    return _to_consent(request, invitation)


@login_not_required
@home_page
@never_cache
def consent(request):
    """Consent to home monitoring, before any account exists; agreeing makes the account and
    signs the person in."""
    if done := _signed_in_already(request):
        return done
    stash = request.session.get(STASH_INVITATION) or {}
    fresh = time.time() - stash.get("at", 0) < home.PENDING_INVITATION_MINUTES * 60
    invitation = home.pending_invitation(stash.get("id")) if stash and fresh else None
    if invitation is None:
        request.session.pop(STASH_INVITATION, None)
        return render(
            request,
            "monitoring/home/join.html",
            {
                "form": TypedCodeForm(),
                "link_error": gettext(
                    "This invitation no longer works here: open its link or type its code again."
                ),
            },
            status=400 if stash else 200,
        )
    form = ConsentForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user = home.accept_invitation(
                    invitation=invitation,
                    language=getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE),
                    ip=_ip(request),
                )
            except home.HomeRefusal as refusal:
                form.add_error(None, refusal_text(refusal, what="link"))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return _sign_in(request, user)
    return render(
        request,
        "monitoring/home/consent.html",
        {
            "form": form,
            "invitation": invitation,
            "unit": invitation.course.unit,
            "is_patient": invitation.kind == "patient",
            "version": home.CONSENT_VERSION,
        },
        status=status,
    )


@login_not_required
@home_page
@require_GET
def ended(request):
    """Where a session goes when its access was revoked or the course ended."""
    if done := _signed_in_already(request):
        return done
    return render(request, "monitoring/home/ended.html")


@login_not_required
@home_page
@require_POST
def sign_out(request):
    logout(request)
    return redirect("monitoring:home-login")


@home_page
@requires(User.can_use_home)
@require_POST
def language(request):
    """The language of the home pages (and of what the team's e-mails to this account say):
    a family whose browser is in another language than the one they were invited in."""
    try:
        notification_centre.save_language(request.user, language=request.POST.get("language", ""))
    except ValidationError:
        messages.error(request, gettext("Choose one of the languages offered."))
    return redirect("monitoring:home-start")

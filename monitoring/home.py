"""Home monitoring's write paths and rules (issue 15 §1 and §4): invitations, consent and the
account it makes, one-time sign-in codes, rate limits, revocation, and what the home page says.

- **Invitation** (``invite``): the care team invites a patient or a caregiver to one course: a
  single-use link and a printed code, shown once, valid ``settings.HOME_INVITATION_HOURS``. At
  most ``HOME_SLOTS`` open accounts per course (a patient, two caregivers), counting the
  invitations still waiting.
- **Consent first** (``accept_invitation``): the account exists only once its holder has
  consented; when, which text and which language are kept on the access.
- **Sign-in** without a password: a 6-digit code e-mailed to the invitation's address (typed
  with that address), or a 10-character code the care team gives in person. Either works once,
  for ``CODE_MINUTES``, and dies after ``CODE_MAX_WRONG`` wrong tries; at most
  ``EMAIL_CODES_PER_HOUR`` e-mails per account. Each client address may fail ``IP_ATTEMPTS``
  times in ``IP_WINDOW``; then it is refused, with how long to wait. The counts live in the
  database (``HomeSignInAttempt``), so every app server shares them.
- **Revocation** (``revoke_access``) ends the account at once: its next request finds it closed
  (cartmonitor/middleware.py ``HomeSessionMiddleware``), as it does when the course ends.

Secrets are never stored: only ``secret_hash`` (HMAC-SHA256 keyed with SECRET_KEY) of a token or
code; a code is compared in constant time. Rotating SECRET_KEY voids the invitations and codes
outstanding (the team makes new ones). Every step is audited, failures and lockouts included,
in English (monitoring.services' ``audit``).
"""

from __future__ import annotations

import logging
import math
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.formats import date_format
from django.utils.translation import gettext, pgettext
from django_tasks import task

from monitoring.models import (
    HOME_ROLES,
    HOME_SLOTS,
    AuditEvent,
    HomeAccess,
    HomeInvitation,
    HomeKind,
    HomeLoginCode,
    HomeSignInAttempt,
    TreatmentCourse,
    User,
)
from monitoring.services import _in_english, _when, audit

logger = logging.getLogger(__name__)

# The consent text the person agrees to (templates/monitoring/home/consent.html). Change the
# version whenever the text's meaning changes: each access keeps the version it was given.
CONSENT_VERSION = "home-consent-1"
# One-time sign-in codes: single use, this long, dead after this many wrong tries.
CODE_MINUTES = 10
CODE_MAX_WRONG = 5
# E-mails with a code one account may be sent in an hour (no mail bombing of a family).
EMAIL_CODES_PER_HOUR = 5
EMAIL_CODE_DIGITS = 6
# Failed tries (and code requests) one client address may make in the window.
IP_ATTEMPTS = 10
IP_WINDOW = timedelta(minutes=15)
ATTEMPTS_KEPT = timedelta(days=1)  # the attempts table is pruned past this; the audit log stays
# Printed and in-person codes: 10 characters from an alphabet without look-alikes (no 0/O,
# 1/I/L), shown as ABCD-EFGH-JK: 31^10, about 8 × 10^14 codes (49 bits).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
PENDING_INVITATION_MINUTES = 30  # between opening an invitation and consenting


class HomeRefusal(Exception):  # noqa: N818 — a refusal, not a bug
    """A sign-in refused; ``reason`` says why (the page's words are the view's)."""

    def __init__(self, reason: str, *, minutes: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.minutes = minutes


# Why a sign-in was refused (HomeRefusal.reason).
WRONG = "wrong"  # no such code or invitation, or not this one: nothing said about which
DEAD = "dead"  # this code was tried too often; ask for a new one
RATE_LIMITED = "rate_limited"  # this address tried too often; wait HomeRefusal.minutes


# ---------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------


def secret_hash(value: str) -> str:
    """What is stored of a token or code: HMAC-SHA256 keyed with SECRET_KEY (a copy of the
    database alone cannot test guesses, even of a 6-digit code)."""
    return salted_hmac("cartmonitor.home", value, algorithm="sha256").hexdigest()


def new_printed_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def grouped(code: str) -> str:
    """ "ABCDEFGHJK" → "ABCD-EFGH-JK", as it is printed and shown."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalise_code(text: str) -> str:
    """What was typed, as stored: capitals, without spaces or dashes (a code read aloud or
    copied from paper comes back in any case and grouping)."""
    return re.sub(r"[^0-9A-Za-z]", "", text or "").upper()[:32]


def _invitation_code_hash(code: str) -> str:
    return secret_hash(f"invitation-code:{code}")


def _invitation_token_hash(token: str) -> str:
    return secret_hash(f"invitation-link:{token}")


def _in_person_hash(code: str) -> str:
    return secret_hash(f"in-person:{code}")


def _email_code_hash(user_id: int, code: str) -> str:
    return secret_hash(f"email:{user_id}:{code}")


def email_code_of(login_code: HomeLoginCode) -> str:
    """The 6 digits of an e-mailed code, derived from its random nonce with SECRET_KEY: the
    job that e-mails it recomputes them, so no job argument or row holds the code itself."""
    digest = salted_hmac("cartmonitor.home.email-code", login_code.nonce, algorithm="sha256")
    return f"{int(digest.hexdigest(), 16) % 10**EMAIL_CODE_DIGITS:0{EMAIL_CODE_DIGITS}d}"


# ---------------------------------------------------------------------------------------------
# Who holds an open account
# ---------------------------------------------------------------------------------------------


def open_accesses(course: TreatmentCourse):
    return course.home_accesses.filter(revoked_at__isnull=True)


def _open_home_user_by_email(email: str) -> User | None:
    """The one open home account that signs in with this address, or None."""
    if not email:
        return None
    return (
        User.objects.filter(
            email__iexact=email,
            role__in=HOME_ROLES,
            is_active=True,
            home_access__revoked_at__isnull=True,
            home_access__course__status__in=TreatmentCourse.ACTIVE_STATUSES,
        )
        .select_related("home_access__course__unit")
        .first()
    )


def _check_email_free(email: str, *, now: datetime) -> None:
    """An address signs in to one open home account only: a code sent to it must say whose."""
    if not email:
        return
    waiting = HomeInvitation.objects.filter(
        email__iexact=email,
        used_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=now,
    )
    if _open_home_user_by_email(email) is not None or waiting.exists():
        raise ValidationError(
            {
                "email": gettext(
                    "This e-mail address already signs in to home monitoring for someone else. "
                    "Give another, or none (sign-in codes are then given in person)."
                )
            }
        )


def _check_course_open(course: TreatmentCourse) -> None:
    if course.status not in TreatmentCourse.ACTIVE_STATUSES:
        raise ValidationError(
            gettext("Monitoring of this course has ended: nobody can be invited to it any more.")
        )


# ---------------------------------------------------------------------------------------------
# Invitations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInvitation:
    """An invitation and its secrets, which exist only here: shown once, never stored."""

    invitation: HomeInvitation
    token: str
    code: str  # grouped, as printed


def _lock_course(course: TreatmentCourse) -> TreatmentCourse:
    return TreatmentCourse.objects.select_for_update().select_related("patient").get(pk=course.pk)


@transaction.atomic
def invite(
    *, course: TreatmentCourse, kind: str, display_name: str, email: str = "", by, now=None
) -> NewInvitation:
    """Invite a patient or a caregiver to the course's home monitoring."""
    now = now or timezone.now()
    course = _lock_course(course)
    _check_course_open(course)
    display_name = (display_name or "").strip()
    email = (email or "").strip().lower()
    if kind not in HomeKind.values:
        raise ValidationError({"kind": gettext("Choose patient or caregiver.")})
    if not display_name:
        raise ValidationError(
            {"display_name": gettext('Say what the team calls them, e.g. "Maria (daughter)".')}
        )
    slots = HOME_SLOTS[HomeKind(kind)]
    taken = (
        open_accesses(course).filter(kind=kind).count()
        + course.home_invitations.filter(
            kind=kind, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        ).count()
    )
    if taken >= slots:
        raise ValidationError(
            {
                "kind": gettext(
                    "This course already has %(count)s %(kind)s account(s) or invitation(s) "
                    "waiting, the most allowed: withdraw or revoke one first."
                )
                % {"count": taken, "kind": HomeKind(kind).label.lower()}
            }
        )
    _check_email_free(email, now=now)
    token, code = secrets.token_urlsafe(32), new_printed_code()
    invitation = HomeInvitation(
        course=course,
        kind=kind,
        display_name=display_name,
        email=email,
        token_hash=_invitation_token_hash(token),
        code_hash=_invitation_code_hash(code),
        created_at=now,
        created_by=by,
        expires_at=now + timedelta(hours=settings.HOME_INVITATION_HOURS),
    )
    invitation.full_clean()
    invitation.save()
    with _in_english():
        audit(
            by,
            AuditEvent.Action.HOME_INVITED,
            course=course,
            summary=f"Invited {display_name} ({HomeKind(kind).label.lower()}) to home "
            f"monitoring{' with an e-mail address' if email else ''}; "
            f"valid until {_when(invitation.expires_at)}",
            details={"invitation": invitation.pk, "kind": kind},
        )
    return NewInvitation(invitation, token, grouped(code))


@transaction.atomic
def revoke_invitation(*, invitation: HomeInvitation, reason: str, by, now=None) -> HomeInvitation:
    """Withdraw an invitation not yet accepted: its link and code stop working at once."""
    now = now or timezone.now()
    invitation = HomeInvitation.objects.select_for_update().get(pk=invitation.pk)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": gettext("Say why.")})
    if invitation.used_at is not None or invitation.revoked_at is not None:
        raise ValidationError(
            gettext("This invitation was already accepted or withdrawn: nothing was changed.")
        )
    invitation.revoked_at, invitation.revoked_by, invitation.revoke_reason = now, by, reason
    invitation.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    with _in_english():
        audit(
            by,
            AuditEvent.Action.HOME_INVITATION_REVOKED,
            course=invitation.course,
            summary=f"Withdrew the home monitoring invitation of {invitation.display_name}: "
            f"{reason}",
            details={"invitation": invitation.pk},
        )
    return invitation


def _pending_invitation(queryset, *, now) -> HomeInvitation | None:
    invitation = queryset.select_related("course").first()
    if invitation is None or not invitation.is_pending_at(now):
        return None
    if invitation.course.status not in TreatmentCourse.ACTIVE_STATUSES:
        return None
    return invitation


@transaction.atomic
def accept_invitation(
    *, invitation: HomeInvitation, language: str, ip: str = "", username: str = "", now=None
) -> User:
    """The person consented: make their account and access, and spend the invitation."""
    now = now or timezone.now()
    course = _lock_course(invitation.course)  # one acceptance at a time per course
    invitation = HomeInvitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_pending_at(now):
        raise HomeRefusal(WRONG)
    _check_course_open(course)
    kind = HomeKind(invitation.kind)
    taken = set(open_accesses(course).filter(kind=kind).values_list("slot", flat=True))
    free = [slot for slot in range(1, HOME_SLOTS[kind] + 1) if slot not in taken]
    if not free:
        raise ValidationError(
            gettext(
                "This course already has as many home accounts of this kind as allowed. "
                "Ask your care team."
            )
        )
    if invitation.email and _open_home_user_by_email(invitation.email) is not None:
        raise ValidationError(
            gettext("This e-mail address already signs in for someone else. Ask your care team.")
        )
    languages = {code for code, _name in settings.LANGUAGES}
    language = language if language in languages else settings.LANGUAGE_CODE
    user = User(
        username=username or f"home-{secrets.token_hex(8)}",
        first_name=invitation.display_name[:150],
        email=invitation.email,
        role=User.Role.PATIENT if kind == HomeKind.PATIENT else User.Role.CAREGIVER,
        language=language,
    )
    user.set_unusable_password()  # no password to remember, none to steal
    user.save()
    access = HomeAccess(
        user=user,
        course=course,
        kind=kind,
        slot=free[0],
        display_name=invitation.display_name,
        invitation=invitation,
        created_at=now,
        consent_at=now,
        consent_version=CONSENT_VERSION,
        consent_language=language,
    )
    access.full_clean(exclude=["user", "invitation"])
    access.save()
    invitation.used_at = now
    invitation.save(update_fields=["used_at"])
    with _in_english():
        audit(
            user,
            AuditEvent.Action.HOME_ACCESS_GRANTED,
            course=course,
            summary=f"{invitation.display_name} ({kind.label.lower()}) accepted the home "
            f"monitoring invitation and consented ({CONSENT_VERSION}, {language})",
            details={"invitation": invitation.pk, "access": access.pk, "ip": ip},
        )
    return user


# ---------------------------------------------------------------------------------------------
# Revocation
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def revoke_access(*, access: HomeAccess, reason: str, by, now=None) -> HomeAccess:
    """End a person's home access at once: their open session ends on its next request, their
    codes die, and the account can never sign in again (a new invitation makes a new one)."""
    now = now or timezone.now()
    access = HomeAccess.objects.select_for_update().select_related("user").get(pk=access.pk)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": gettext("Say why.")})
    if access.revoked_at is not None:
        raise ValidationError(gettext("This access was already revoked: nothing was changed."))
    access.revoked_at, access.revoked_by, access.revoke_reason = now, by, reason
    access.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    _void_codes(access.user, now)
    access.user.is_active = False
    access.user.save(update_fields=["is_active"])
    with _in_english():
        audit(
            by,
            AuditEvent.Action.HOME_ACCESS_REVOKED,
            course=access.course,
            summary=f"Revoked the home access of {access.display_name} "
            f"({access.get_kind_display().lower()}): {reason}",
            details={"access": access.pk},
        )
    return access


def _void_codes(user: User, now: datetime) -> None:
    HomeLoginCode.objects.filter(user=user, used_at__isnull=True, voided_at__isnull=True).update(
        voided_at=now
    )


# ---------------------------------------------------------------------------------------------
# Sign-in codes
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def issue_login_code(*, access: HomeAccess, by, now=None) -> tuple[str, datetime]:
    """A code the care team gives in person (read out, or shown): the code and when it ends.
    Any earlier code of the person stops working."""
    now = now or timezone.now()
    access = (
        HomeAccess.objects.select_for_update().select_related("course", "user").get(pk=access.pk)
    )
    if not access.is_open or not access.user.is_active:
        raise ValidationError(gettext("This access is closed: no code can be given."))
    _void_codes(access.user, now)
    code = new_printed_code()
    login_code = HomeLoginCode.objects.create(
        user=access.user,
        channel=HomeLoginCode.Channel.IN_PERSON,
        code_hash=_in_person_hash(code),
        created_at=now,
        created_by=by,
        expires_at=now + timedelta(minutes=CODE_MINUTES),
    )
    with _in_english():
        audit(
            by,
            AuditEvent.Action.HOME_CODE_ISSUED,
            course=access.course,
            summary=f"Gave {access.display_name} a sign-in code in person, valid until "
            f"{_when(login_code.expires_at)}",
            details={"access": access.pk, "code": login_code.pk, "channel": "in_person"},
        )
    return grouped(code), login_code.expires_at


def request_email_code(*, email: str, ip: str, now=None) -> None:
    """E-mail a 6-digit code to the open home account with this address. Says nothing about
    whether there is one (the page answers the same), and sends at most
    EMAIL_CODES_PER_HOUR an hour; refused with HomeRefusal(RATE_LIMITED) for a busy address.

    The job worker sends the e-mail (``send_login_code``), never this request: the answer takes
    as long whether or not the address has an account (a slow mail relay would tell), and a
    relay that is down holds no web worker."""
    now = now or timezone.now()
    with transaction.atomic():
        _refuse_busy_address(ip, now)
        _record_attempt(ip, HomeSignInAttempt.Kind.EMAIL_REQUEST, succeeded=False, now=now)
        user = _open_home_user_by_email((email or "").strip())
        if user is None:
            with _in_english():
                audit(
                    None,
                    AuditEvent.Action.HOME_SIGN_IN_FAILED,
                    summary="Sign-in code asked for an e-mail address with no open home account",
                    details={"ip": ip, "step": "email_request"},
                )
            return
        access = user.home_access
        sent = HomeLoginCode.objects.filter(
            user=user, channel=HomeLoginCode.Channel.EMAIL, created_at__gt=now - timedelta(hours=1)
        ).count()
        if sent >= EMAIL_CODES_PER_HOUR:
            with _in_english():
                audit(
                    user,
                    AuditEvent.Action.HOME_LOCKED_OUT,
                    course=access.course,
                    summary=f"No sign-in code e-mailed to {access.display_name}: "
                    f"{EMAIL_CODES_PER_HOUR} already sent in the last hour",
                    details={"ip": ip, "step": "email_request"},
                )
            return
        _void_codes(user, now)
        login_code = HomeLoginCode(
            user=user,
            channel=HomeLoginCode.Channel.EMAIL,
            nonce=secrets.token_hex(16),
            created_at=now,
            expires_at=now + timedelta(minutes=CODE_MINUTES),
        )
        login_code.code_hash = _email_code_hash(user.pk, email_code_of(login_code))
        login_code.save()
        with _in_english():
            audit(
                user,
                AuditEvent.Action.HOME_CODE_ISSUED,
                course=access.course,
                summary=f"Sign-in code e-mailed to {access.display_name}, valid until "
                f"{_when(login_code.expires_at)}",
                details={"ip": ip, "code": login_code.pk, "channel": "email"},
            )
        send_login_code.enqueue(login_code.pk)  # a row of this transaction


def code_email(code: str, *, unit_name: str) -> tuple[str, str]:
    """The e-mail's subject and text: the code and the unit's name, nothing else — no name, no
    patient, no link (issue 15 §1: no patient data in e-mails)."""
    subject = gettext("Your cartmonitor sign-in code")
    body = gettext(
        "Your sign-in code is %(code)s\n\n"
        "Type it on the sign-in page within %(minutes)s minutes. It works once.\n\n"
        "%(unit)s\n\n"
        "If you did not ask for a code, ignore this e-mail."
    ) % {"code": code, "minutes": CODE_MINUTES, "unit": unit_name}
    return subject, body


@task()
def send_login_code(code_id: int) -> str:
    """The job: e-mail a sign-in code, once, while it still works; in the person's language."""
    from monitoring.delivery import not_configured  # delivery's channels, loaded with the app

    with transaction.atomic():
        login_code = (
            HomeLoginCode.objects.select_for_update(of=("self",))
            .select_related("user__home_access__course__unit")
            .filter(pk=code_id, channel=HomeLoginCode.Channel.EMAIL)
            .first()
        )
        now = timezone.now()
        if login_code is None or login_code.sent_at or not login_code.is_live_at(now):
            return "nothing to send"
        if why := not_configured("email"):
            # Never the console backend in production: the code would land in a log.
            logger.warning("Sign-in code %s not e-mailed: %s", code_id, why)
            return f"not sent: {why}"
        login_code.sent_at = now
        login_code.save(update_fields=["sent_at"])
    user = login_code.user
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject, body = code_email(
            email_code_of(login_code), unit_name=user.home_access.course.unit.name
        )
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception:  # noqa: BLE001 — the person asks again, or the team gives a code
        logger.exception("The sign-in code e-mail to home user %s could not be sent", user.pk)
        return "failed"
    return "sent"


def redeem_email_code(*, email: str, code: str, ip: str, now=None) -> User:
    """The person typed the e-mailed code: their account, or HomeRefusal (WRONG, DEAD,
    RATE_LIMITED). A wrong code counts against the code and the address."""
    now = now or timezone.now()
    with transaction.atomic():
        _refuse_busy_address(ip, now)
        user = _open_home_user_by_email((email or "").strip())
        login_code = None
        if user is not None:
            login_code = (
                HomeLoginCode.objects.select_for_update()
                .filter(user=user, channel=HomeLoginCode.Channel.EMAIL)
                .order_by("-created_at", "-pk")
                .first()
            )
        typed = re.sub(r"\D", "", code or "")[: EMAIL_CODE_DIGITS + 2]
        if login_code is not None and login_code.is_live_at(now):
            if constant_time_compare(login_code.code_hash, _email_code_hash(user.pk, typed)):
                return _signed_in(login_code, ip, HomeSignInAttempt.Kind.EMAIL_CODE, now)
            reason = _wrong_try(login_code, ip, now)
        else:
            reason = WRONG
            _failed(user, ip, HomeSignInAttempt.Kind.EMAIL_CODE, now, step="email_code")
    raise HomeRefusal(reason)


@dataclass(frozen=True)
class Redeemed:
    """A typed care-team code: a signed-in account, or an invitation to consent to."""

    user: User | None = None
    invitation: HomeInvitation | None = None


def redeem_typed_code(*, code: str, ip: str, now=None) -> Redeemed:
    """A code from the care team, typed: a sign-in code given in person, or an invitation's
    printed code. HomeRefusal(WRONG or RATE_LIMITED) otherwise."""
    now = now or timezone.now()
    typed = normalise_code(code)
    with transaction.atomic():
        _refuse_busy_address(ip, now)
        login_code = (
            HomeLoginCode.objects.select_for_update(of=("self",))
            .filter(code_hash=_in_person_hash(typed), channel=HomeLoginCode.Channel.IN_PERSON)
            .select_related("user__home_access__course")
            .first()
        )
        if (
            login_code is not None
            and login_code.is_live_at(now)
            and constant_time_compare(login_code.code_hash, _in_person_hash(typed))
            and _account_open(login_code.user)
        ):
            return Redeemed(
                user=_signed_in(login_code, ip, HomeSignInAttempt.Kind.IN_PERSON_CODE, now)
            )
        invitation = _pending_invitation(
            HomeInvitation.objects.filter(code_hash=_invitation_code_hash(typed)), now=now
        )
        if invitation is not None:
            _record_attempt(ip, HomeSignInAttempt.Kind.INVITATION, succeeded=True, now=now)
            return Redeemed(invitation=invitation)
        _failed(None, ip, HomeSignInAttempt.Kind.IN_PERSON_CODE, now, step="typed_code")
    raise HomeRefusal(WRONG)


def open_invitation_link(*, token: str, ip: str, now=None) -> HomeInvitation:
    """The invitation a link's token names, still waiting; HomeRefusal otherwise. Opening it
    spends nothing: only consenting does (a mail scanner that follows the link uses nothing)."""
    now = now or timezone.now()
    with transaction.atomic():
        _refuse_busy_address(ip, now)
        invitation = _pending_invitation(
            HomeInvitation.objects.filter(token_hash=_invitation_token_hash(token or "")), now=now
        )
        if invitation is not None:
            _record_attempt(ip, HomeSignInAttempt.Kind.INVITATION, succeeded=True, now=now)
            return invitation
        _failed(None, ip, HomeSignInAttempt.Kind.INVITATION, now, step="invitation_link")
    raise HomeRefusal(WRONG)


def pending_invitation(pk, *, now=None) -> HomeInvitation | None:
    """An invitation opened earlier in this browser, if it still waits (the consent page)."""
    return _pending_invitation(HomeInvitation.objects.filter(pk=pk), now=now or timezone.now())


def _account_open(user: User) -> bool:
    access = getattr(user, "home_access", None)
    return bool(user.is_active and user.can_use_home and access is not None and access.is_open)


def _signed_in(login_code: HomeLoginCode, ip: str, kind: str, now) -> User:
    login_code.used_at = now
    login_code.save(update_fields=["used_at"])
    _record_attempt(ip, kind, succeeded=True, now=now)
    user = login_code.user
    access = user.home_access
    with _in_english():
        audit(
            user,
            AuditEvent.Action.HOME_SIGNED_IN,
            course=access.course,
            summary=f"{access.display_name} signed in at home with "
            f"{'an e-mailed' if login_code.channel == 'email' else 'an in-person'} code",
            details={"ip": ip, "code": login_code.pk},
        )
    return user


def _wrong_try(login_code: HomeLoginCode, ip: str, now) -> str:
    """A wrong e-mailed code for a live code: counted; the last allowed try kills the code."""
    login_code.failed_attempts += 1
    dead = login_code.failed_attempts >= CODE_MAX_WRONG
    if dead:
        login_code.voided_at = now
    login_code.save(update_fields=["failed_attempts", "voided_at"])
    user = login_code.user
    _failed(user, ip, HomeSignInAttempt.Kind.EMAIL_CODE, now, step="email_code")
    if dead:
        with _in_english():
            audit(
                user,
                AuditEvent.Action.HOME_LOCKED_OUT,
                course=user.home_access.course,
                summary=f"Sign-in code of {user.home_access.display_name} voided after "
                f"{CODE_MAX_WRONG} wrong tries",
                details={"ip": ip, "code": login_code.pk},
            )
        return DEAD
    return WRONG


def _failed(user: User | None, ip: str, kind: str, now, *, step: str) -> None:
    _record_attempt(ip, kind, succeeded=False, now=now)
    access = getattr(user, "home_access", None) if user is not None else None
    with _in_english():
        audit(
            user,
            AuditEvent.Action.HOME_SIGN_IN_FAILED,
            course=access.course if access is not None else None,
            summary=f"Home sign-in failed: {step.replace('_', ' ')}"
            + (f" of {access.display_name}" if access is not None else ""),
            details={"ip": ip, "step": step},
        )


# ---------------------------------------------------------------------------------------------
# The per-address rate limit
# ---------------------------------------------------------------------------------------------


def retry_minutes(ip: str, now: datetime) -> int:
    """0 while the address may try again; else the whole minutes until it may."""
    recent = list(
        HomeSignInAttempt.objects.filter(ip=ip, at__gt=now - IP_WINDOW, succeeded=False)
        .order_by("-at")
        .values_list("at", flat=True)[:IP_ATTEMPTS]
    )
    if len(recent) < IP_ATTEMPTS:
        return 0
    # Once the oldest of these leaves the window, fewer than IP_ATTEMPTS are left in it.
    free_at = recent[-1] + IP_WINDOW
    return max(1, math.ceil((free_at - now).total_seconds() / 60))


def _refuse_busy_address(ip: str, now: datetime) -> None:
    minutes = retry_minutes(ip, now)
    if minutes:
        raise HomeRefusal(RATE_LIMITED, minutes=minutes)


def _record_attempt(ip: str, kind: str, *, succeeded: bool, now: datetime) -> None:
    HomeSignInAttempt.objects.filter(at__lt=now - ATTEMPTS_KEPT).delete()
    HomeSignInAttempt.objects.create(at=now, ip=ip, kind=kind, succeeded=succeeded)
    if not succeeded and retry_minutes(ip, now):
        # The try that fills the window: audited once (later refusals are not even counted).
        with _in_english():
            audit(
                None,
                AuditEvent.Action.HOME_LOCKED_OUT,
                summary=f"Home sign-in from {ip} refused for {IP_WINDOW.seconds // 60} min after "
                f"{IP_ATTEMPTS} failed tries",
                details={"ip": ip},
            )


# ---------------------------------------------------------------------------------------------
# What the home page says
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Countdown:
    """ "Stay near the treatment centre until …" or "Do not drive until …" (protocol data)."""

    kind: str  # "stay_near" or "no_driving"
    days: int  # from day 0, as the protocol says
    until: date  # day 0 + days
    days_left: int  # from today; 0 on the last day, below 0 once over

    @property
    def is_over(self) -> bool:
        return self.days_left < 0

    @property
    def until_text(self) -> str:
        return date_format(self.until, pgettext("home page date: weekday, day and month", "l j F"))


def countdowns(course: TreatmentCourse, *, today: date | None = None) -> list[Countdown]:
    """The protocol version's countdowns for this course, from its day 0 (reads
    ``protocol_version``); none where the version leaves them blank."""
    version = course.protocol_version
    if version is None:
        return []
    today = today or timezone.localdate()
    found = []
    wanted = (("stay_near", version.stay_near_days), ("no_driving", version.no_driving_days))
    for kind, days in wanted:
        if days:
            until = course.infusion_date + timedelta(days=days)
            found.append(Countdown(kind, days, until, (until - today).days))
    return found

"""A person's side of notifications: their notification centre (newest first, read and unread),
the channels they chose on their profile, the browsers they subscribed for Web Push, and a test
notification to check all of it.

These are a person's own settings, not clinical records: plain service functions, atomic where
they write two rows, with no audit-log line (the audit log is for patients' records, protocols
and exports). What was sent, when and how it went is stored anyway: every notification with its
deliveries and their attempts (``monitoring.delivery``).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max, Prefetch
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from monitoring import delivery, notify
from monitoring.access import visible_courses
from monitoring.models import AuditEvent, Delivery, Flag, Notification, PushSubscription, User
from monitoring.services import audit

PAGE_SIZE = 50
ALL = "all"  # mark_notifications_read(user, ALL): every unread one
# One test notification a minute: each may page someone's pager through the hospital gateway.
TEST_INTERVAL = timedelta(minutes=1)
# Lazy: notify.notify renders title and body in each recipient's language.
TEST_TITLE = gettext_lazy("cartmonitor: test notification")


# --- The notification centre -----------------------------------------------------------------


def unread_count(user: User) -> int:
    """The bell's number: one query."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def centre_page(user: User, number) -> Page:
    """A page of the user's own notifications, newest first, with their deliveries (and when
    each was last tried: ``last_attempt_at``). Each notification gets
    ``patient_url``: the patient's course page while it is on one of the user's units, else ""
    (someone moved off a unit keeps the message, not the way to the patient). A constant number
    of queries, whatever the page holds."""
    notifications = (
        Notification.objects.filter(recipient=user)
        .select_related("course__patient")
        .prefetch_related(
            Prefetch(
                "deliveries",
                queryset=Delivery.objects.annotate(
                    last_attempt_at=Max("attempt_log__attempted_at")
                ),
            )
        )
    )
    page = Paginator(notifications, PAGE_SIZE).get_page(number)
    page.object_list = list(page.object_list)
    courses = {n.course_id for n in page.object_list if n.course_id}
    reachable = set()
    if courses and user.can_view_patients:
        reachable = set(visible_courses(user).filter(pk__in=courses).values_list("pk", flat=True))
    for notification in page.object_list:
        notification.patient_url = (
            notification.course.get_absolute_url() if notification.course_id in reachable else ""
        )
    return page


def mark_notifications_read(user: User, ids, *, now=None) -> int:
    """Mark the user's own unread notifications read: those of ``ids``, or every one (``ALL``).
    Anyone else's ids are ignored. Returns how many changed."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids != ALL:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=now or timezone.now())


# --- Channels (the profile page) -------------------------------------------------------------

CHANNEL_FIELDS = {
    Delivery.Channel.EMAIL: "notify_by_email",
    Delivery.Channel.PUSH: "notify_by_push",
    Delivery.Channel.WEBHOOK: "notify_by_webhook",
}


def unavailable_channels() -> dict[str, str]:
    """The profile fields of channels this server cannot send on, with why."""
    return {
        field: why
        for channel, field in CHANNEL_FIELDS.items()
        if (why := delivery.not_configured(channel))
    }


def save_channels(
    user: User, *, email: str, pager_id: str, by_email: bool, by_push: bool, by_webhook: bool
) -> User:
    """Save where the user's notifications go. A channel that cannot reach them is refused
    (ValidationError by field, nothing saved): not set up on this server, or no address."""
    errors = {}
    unavailable = unavailable_channels()
    chosen = {
        "notify_by_email": by_email,
        "notify_by_push": by_push,
        "notify_by_webhook": by_webhook,
    }
    for field, wanted in chosen.items():
        if wanted and field in unavailable:
            errors[field] = _("Cannot be turned on: %(why)s.") % {"why": unavailable[field]}
    if by_email and not email:
        errors["email"] = _("Enter the address to send your e-mail notifications to.")
    if by_push and "notify_by_push" not in errors and not user.push_subscriptions.exists():
        errors["notify_by_push"] = _(
            "No browser is subscribed yet: use “Enable push on this browser” below first."
        )
    if by_webhook and not pager_id:
        errors["pager_id"] = _(
            "Enter your pager or secure-messaging address: the gateway needs it."
        )
    if errors:
        raise ValidationError(errors)
    user.email, user.pager_id = email, pager_id
    user.notify_by_email, user.notify_by_push, user.notify_by_webhook = (
        by_email,
        by_push,
        by_webhook,
    )
    user.save(update_fields=["email", "pager_id", *chosen])
    return user


@transaction.atomic
def save_language(user: User, *, language: str) -> User:
    """The language of the user's pages and notifications ("" = the browser's), audited."""
    names = dict(settings.LANGUAGES)
    if language and language not in names:
        raise ValidationError({"language": _("Choose one of the languages offered.")})
    old = user.language
    if old == language:
        return user
    user.language = language
    user.save(update_fields=["language"])
    audit(
        user,
        AuditEvent.Action.LANGUAGE_CHANGED,
        # English in the log, like every audit summary: the codes are in details.
        summary=f"Language: {names.get(old, 'browser')} → {names.get(language, 'browser')}",
        details={"old": old, "new": language},
    )
    return user


@transaction.atomic
def send_test_notification(user: User, *, now=None) -> Notification:
    """A notification to the user themself, about no patient, on every channel they chose: the
    job worker sends it, and the centre shows how each delivery went."""
    now = now or timezone.now()
    User.objects.select_for_update().filter(pk=user.pk).first()  # two clicks: one test
    recent = Notification.objects.filter(
        recipient=user, reason=Notification.Reason.TEST, created_at__gt=now - TEST_INTERVAL
    )
    if recent.exists():
        raise ValidationError(
            _(
                "A test notification was sent less than a minute ago: see how it went in your "
                "notifications before sending another."
            )
        )
    channels = notify.channels_for(user)
    (notification,) = notify.notify(
        [user],
        key=f"test-{uuid.uuid4().hex}",
        course=None,
        severity=Flag.Severity.INFO,
        reason=Notification.Reason.TEST,
        title=TEST_TITLE,
        body=_test_body(channels, timezone.localtime(now)),
        now=now,
    )
    return notification


def _test_text(channels: list[str], at) -> str:
    """The test notification's body in the active language (notify.notify activates the
    recipient's)."""
    labels = [str(Delivery.Channel(channel).label) for channel in channels]
    sent_to = (
        ", ".join(labels) if labels else _("this notification centre only (no channel chosen)")
    )
    return _("You asked for a test from your profile at %(time)s. Sent to: %(channels)s.") % {
        "time": f"{at:%H:%M}",
        "channels": sent_to,
    }


_test_body = lazy(_test_text, str)


# --- Web Push subscriptions ------------------------------------------------------------------

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
P256DH_BYTES = 65  # an uncompressed P-256 point (RFC 8291)
AUTH_BYTES = 16  # the subscription's authentication secret (RFC 8291)
_HTTPS_URL = URLValidator(schemes=["https"])
ENDPOINT_MAX = PushSubscription._meta.get_field("endpoint").max_length


def _base64url(value, *, what: str, size: int) -> str:
    """``value`` if it is base64url text of ``size`` bytes; ValidationError otherwise."""
    problem = f"The browser's {what} must be base64url text of {size} bytes."
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        raise ValidationError(problem)
    text = value.rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValidationError(problem) from None
    if len(raw) != size:
        raise ValidationError(problem)
    if size == P256DH_BYTES:
        try:  # a point on the curve, or pywebpush would fail at the first alert
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise ValidationError(f"The browser's {what} is not a P-256 public key.") from None
    return text


def subscribe_push(user: User, subscription, *, user_agent: str = "") -> PushSubscription:
    """Store the browser's push subscription (``PushSubscription.toJSON()``: endpoint and
    keys) for the user, and turn push on for them. A browser that another user subscribed
    before (a shared workstation) is now this user's only. Bad input: ValidationError."""
    if why := delivery.not_configured(Delivery.Channel.PUSH):
        raise ValidationError(why[:1].upper() + why[1:] + ".")
    if not isinstance(subscription, dict):
        raise ValidationError("Send the browser's subscription as a JSON object.")
    endpoint = subscription.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > ENDPOINT_MAX:
        raise ValidationError(f"The subscription needs an endpoint of 1–{ENDPOINT_MAX} characters.")
    try:
        _HTTPS_URL(endpoint)
    except ValidationError:
        raise ValidationError("The subscription's endpoint must be an https:// address.") from None
    keys = subscription.get("keys")
    if not isinstance(keys, dict):
        raise ValidationError("The subscription has no keys (p256dh and auth).")
    p256dh = _base64url(keys.get("p256dh"), what="p256dh key", size=P256DH_BYTES)
    auth = _base64url(keys.get("auth"), what="auth secret", size=AUTH_BYTES)
    with transaction.atomic():
        stored, _ = PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={"user": user, "p256dh": p256dh, "auth": auth, "user_agent": user_agent[:300]},
        )
        if not user.notify_by_push:
            user.notify_by_push = True
            user.save(update_fields=["notify_by_push"])
    return stored


def remove_push_subscription(user: User, *, endpoint: str = "", pk=None) -> bool:
    """Forget one of the user's browsers (by its endpoint, or by id from the profile's list).
    The last one gone turns push off: nothing would receive it. Returns whether one was."""
    with transaction.atomic():
        mine = PushSubscription.objects.filter(user=user)
        if endpoint:
            removed, _ = mine.filter(endpoint=endpoint).delete()
        elif pk is not None:
            removed, _ = mine.filter(pk=pk).delete()
        else:
            removed = 0
        if user.notify_by_push and not mine.exists():
            user.notify_by_push = False
            user.save(update_fields=["notify_by_push"])
    return bool(removed)

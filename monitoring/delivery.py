"""Sending a notification on one channel — e-mail, Web Push, the pager gateway's webhook — in a
job worker, with every attempt stored and failures retried with back-off
(alert_rules.RETRY_BACKOFF), then shown as failed on the board and in the sender's list.

Idempotent delivery: the job claims the delivery row under a lock and does nothing for one
already sent; every message carries the delivery's key (webhook ``Idempotency-Key`` header,
e-mail ``Message-ID``, push ``topic``), so a receiver drops the one repeat that a worker killed
between sending and recording can cause. docs/notifications.md describes each channel.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django_tasks import task

from monitoring import alert_rules
from monitoring.models import Delivery, DeliveryAttempt, Flag, Notification

logger = logging.getLogger(__name__)

# How long a push service keeps a message for a browser that is offline (RFC 8030 TTL): by
# then the ladder has told the next tier, and an hour-old alert on a lock screen misleads.
PUSH_TTL_SECONDS = 15 * 60

# The id of the worker this process runs (set by run_worker): each attempt records it.
WORKER_ID = ""


class NotDelivered(Exception):
    """A channel could not deliver; the message says why, in words a ward can act on."""


# E-mail backends that reach no one. Django's console backend (the default without
# DJANGO_EMAIL_HOST) prints the message: that is delivery on a developer's machine (`make run`
# shows the demo's e-mails in its terminal, DEBUG on) and a lie in production (DEBUG off),
# where a message printed to a log reaches nobody.
NO_EMAIL_BACKENDS = ("django.core.mail.backends.dummy.EmailBackend",)
CONSOLE_EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"


def not_configured(channel: str) -> str:
    """Why this server cannot send on ``channel`` ("" when it can): the profile page shows it
    and refuses the channel, and sending fails with it."""
    backend = settings.EMAIL_BACKEND
    if channel == Delivery.Channel.EMAIL and (
        backend in NO_EMAIL_BACKENDS or (backend == CONSOLE_EMAIL_BACKEND and not settings.DEBUG)
    ):
        return gettext("e-mail is not set up on this server (DJANGO_EMAIL_HOST)")
    if channel == Delivery.Channel.PUSH and not (
        settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY
    ):
        return gettext("Web Push is unavailable on this server (no CARTMONITOR_VAPID_* keys)")
    if channel == Delivery.Channel.WEBHOOK and not settings.WEBHOOK_URL:
        return gettext(
            "the hospital's paging gateway is not set up on this server (CARTMONITOR_WEBHOOK_URL)"
        )
    return ""


def queue(delivery: Delivery, *, at: datetime | None = None) -> None:
    """Enqueue the delivery job (a row of the caller's transaction)."""
    job = deliver if at is None else deliver.using(run_after=at)
    job.enqueue(delivery.pk)


@task()
def deliver(delivery_id: int) -> str:
    """The job: send one delivery (or record why not, and queue the retry)."""
    return send(delivery_id, worker=WORKER_ID)


def send(delivery_id: int, *, worker: str = "") -> str:
    """Claim, send outside any transaction (a slow gateway must not hold the database), then
    record the outcome. A worker killed while sending leaves the delivery unsent; its job is
    put back on the queue (``monitoring.worker``) and sends again with the same key."""
    with transaction.atomic():
        delivery = (
            # Lock the delivery alone: a test notification has no course, and PostgreSQL
            # cannot lock the nullable side of the outer join that fetches it.
            Delivery.objects.select_for_update(of=("self",))
            .select_related("notification__recipient", "notification__course__unit")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status in (Delivery.Status.SENT, Delivery.Status.FAILED):
            return "nothing to send"
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    error = ""
    # In the recipient's language: the e-mail's words, and why it failed (their centre shows it).
    language = delivery.notification.recipient.language or settings.LANGUAGE_CODE
    try:
        with translation.override(language):
            SENDERS[delivery.channel](delivery)
    except NotDelivered as problem:
        error = str(problem)[:500]
    now = timezone.now()
    with transaction.atomic():
        if error:
            wait = alert_rules.retry_after(delivery.attempts)
            delivery.last_error = error
            if wait is None:
                delivery.status, delivery.next_attempt_at = Delivery.Status.FAILED, None
            else:
                delivery.status = Delivery.Status.RETRYING
                delivery.next_attempt_at = now + wait
                queue(delivery, at=delivery.next_attempt_at)
            logger.warning("delivery %s failed (try %s): %s", delivery_id, delivery.attempts, error)
        else:
            delivery.status, delivery.sent_at = Delivery.Status.SENT, now
            delivery.next_attempt_at, delivery.last_error = None, ""
        DeliveryAttempt.objects.create(
            delivery=delivery, attempted_at=now, ok=not error, error=error, worker=worker
        )
        delivery.save(update_fields=["status", "next_attempt_at", "last_error", "sent_at"])
    return delivery.status


def _message(notification: Notification) -> dict:
    """What leaves the building: the minimum-necessary title and a link, never the body. A test
    notification (about no patient) links to the recipient's notification centre."""
    course = notification.course
    return {
        "title": notification.title,
        "severity": notification.get_severity_display(),
        "reason": notification.reason,
        "tier": notification.tier,
        "unit": course.unit.code if course else "",
        "bed": course.bed if course else "",
        "url": settings.SITE_URL
        + (course.get_absolute_url() if course else reverse("monitoring:notifications")),
        "sent_at": timezone.now().isoformat(),
    }


def message_id(delivery: Delivery) -> str:
    """The e-mail Message-ID that carries the delivery's key: ':' is not allowed before the
    '@' (RFC 5322 dot-atom), so it becomes '.'; the site's host names this installation, so two
    servers (say test and production) never send one Message-ID for two messages."""
    host = urlsplit(settings.SITE_URL).hostname or "cartmonitor"
    return f"<{delivery.key.replace(':', '.')}@{host}>"


def send_email(delivery: Delivery) -> None:
    notification = delivery.notification
    if why := not_configured(Delivery.Channel.EMAIL):
        raise NotDelivered(why)  # printed in a log is not delivered
    address = notification.recipient.email
    if not address:
        raise NotDelivered(gettext("no e-mail address on the user's profile"))
    message = _message(notification)
    email = EmailMessage(
        subject=notification.title,
        body=f"{notification.title}\n\n"
        + gettext("Open cartmonitor to see and acknowledge it:")
        + f"\n{message['url']}\n",
        to=[address],
        headers={"Message-ID": message_id(delivery), "X-Cartmonitor-Key": delivery.key},
    )
    try:
        email.send(fail_silently=False)
    except Exception as problem:  # SMTP refusals, timeouts, DNS: all a failed delivery
        raise NotDelivered(
            gettext("e-mail to %(address)s failed: %(problem)s")
            % {"address": address, "problem": problem}
        ) from problem


def sign(body: bytes, timestamp: str, secret: str) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex: the webhook's X-Cartmonitor-Signature."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def send_webhook(delivery: Delivery) -> None:
    notification = delivery.notification
    if why := not_configured(Delivery.Channel.WEBHOOK):
        raise NotDelivered(why)
    pager = notification.recipient.pager_id
    if not pager:
        raise NotDelivered(gettext("no pager address on the user's profile"))
    body = json.dumps({**_message(notification), "to": pager, "key": delivery.key}).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        settings.WEBHOOK_URL,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.key,
            "X-Cartmonitor-Timestamp": timestamp,
            "X-Cartmonitor-Signature": "sha256=" + sign(body, timestamp, settings.WEBHOOK_SECRET),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.DELIVERY_TIMEOUT_SECONDS) as reply:
            reply.read(1024)
    except urllib.error.HTTPError as problem:
        raise NotDelivered(
            gettext("page to %(pager)s: the gateway answered %(status)s")
            % {"pager": pager, "status": problem.code}
        ) from problem
    except (urllib.error.URLError, TimeoutError, OSError) as problem:
        reason = getattr(problem, "reason", problem)
        raise NotDelivered(
            gettext("page to %(pager)s: gateway unreachable (%(reason)s)")
            % {"pager": pager, "reason": reason}
        ) from problem


def send_push(delivery: Delivery) -> None:
    from pywebpush import WebPushException, webpush

    notification = delivery.notification
    if why := not_configured(Delivery.Channel.PUSH):
        raise NotDelivered(why)
    subscriptions = list(notification.recipient.push_subscriptions.all())
    if not subscriptions:
        raise NotDelivered(gettext("no browser subscribed for push on the user's profile"))
    payload = json.dumps(_message(notification))
    sent = 0
    problems = []
    for subscription in subscriptions:
        try:
            webpush(
                subscription_info={
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                },
                data=payload,
                vapid_private_key=settings.VAPID_PRIVATE_KEY,
                vapid_claims={"sub": settings.VAPID_SUBJECT},
                timeout=settings.DELIVERY_TIMEOUT_SECONDS,
                # Kept by the push service while the phone sleeps (pywebpush's default TTL of
                # 0 drops it unless the browser is awake); urgent and critical wake it up.
                ttl=PUSH_TTL_SECONDS,
                headers={
                    "Topic": hashlib.sha256(delivery.key.encode()).hexdigest()[:32],
                    "Urgency": "high"
                    if notification.severity >= Flag.Severity.URGENT
                    else "normal",
                },
            )
            sent += 1
        except WebPushException as problem:
            status = getattr(problem.response, "status_code", None)
            if status in (404, 410):  # the browser unsubscribed: forget it
                subscription.delete()
            problems.append(f"{status or 'error'}")
        except Exception as problem:  # network failures
            problems.append(type(problem).__name__)
    if not sent:
        raise NotDelivered(
            gettext("push failed (%(problems)s)")
            % {"problems": ", ".join(problems) or gettext("no subscription")}
        )


SENDERS = {
    Delivery.Channel.EMAIL: send_email,
    Delivery.Channel.WEBHOOK: send_webhook,
    Delivery.Channel.PUSH: send_push,
}

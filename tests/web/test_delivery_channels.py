"""Each channel sends for real to a receiver on this machine — the pager gateway's webhook, a Web
Push service, e-mail (Django's locmem backend) — and a failure is retried with back-off, stored
with each attempt, then given up as failed. Nothing that leaves the building names the patient
unless the protocol allows it."""

import base64
import hashlib
import hmac
import json
import os
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail
from django.utils import timezone
from py_vapid import Vapid01, Vapid02

from monitoring import alert_rules, delivery
from monitoring.models import Delivery, DeliveryAttempt, PushSubscription
from tests.factories import tell

SECRET = "a-shared-secret-for-the-gateway"


class Receiver:
    """An HTTP server in a thread that records each request and answers ``status``."""

    def __init__(self):
        self.requests = []
        self.status = 201
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's name
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {"path": self.path, "headers": self.headers, "body": self.rfile.read(length)}
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def closed_port_url() -> str:
    """An address where nothing listens: the connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/push/gone"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def padded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def paged_nurse(nurse, settings, receiver):
    settings.WEBHOOK_URL = receiver.url + "/page"
    settings.WEBHOOK_SECRET = SECRET
    nurse.notify_by_webhook, nurse.pager_id = True, "4471"
    nurse.save()
    return nurse


def names(course) -> list[str]:
    patient = course.patient
    return [patient.given_name, patient.family_name, patient.mrn]


# --- The pager gateway's webhook --------------------------------------------------------------


def test_the_webhook_is_signed_keyed_and_names_no_patient(paged_nurse, course, receiver):
    notification = tell(paged_nurse, course)
    sent = notification.deliveries.get(channel="webhook")

    assert delivery.send(sent.pk) == Delivery.Status.SENT

    (request,) = receiver.requests
    body, headers = request["body"], request["headers"]
    # Verifying as docs/notifications.md tells a receiver to:
    timestamp = headers["X-Cartmonitor-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    assert hmac.compare_digest(headers["X-Cartmonitor-Signature"], "sha256=" + expected.hexdigest())
    assert abs(int(timestamp) - timezone.now().timestamp()) < 60
    assert headers["Idempotency-Key"] == sent.key == f"{notification.key}:webhook"
    assert headers["Content-Type"] == "application/json"
    message = json.loads(body)
    assert message["title"] == "cartmonitor: urgent flag, Ward A"
    assert message["to"] == "4471"
    assert message["key"] == sent.key
    assert message["url"].endswith(course.get_absolute_url())
    assert (message["severity"], message["unit"], message["reason"]) == ("Urgent", "ward-a", "flag")
    for name in names(course):
        assert name not in body.decode()
    sent.refresh_from_db()
    assert sent.sent_at is not None
    assert DeliveryAttempt.objects.get(delivery=sent).ok is True


def test_a_wrong_secret_does_not_verify(paged_nurse, course, receiver):
    """The check above can fail: a body signed with another secret is refused."""
    delivery.send(tell(paged_nurse, course).deliveries.get().pk)
    (request,) = receiver.requests
    timestamp = request["headers"]["X-Cartmonitor-Timestamp"]

    forged = delivery.sign(request["body"], timestamp, "another-secret")
    tampered = delivery.sign(request["body"] + b" ", timestamp, SECRET)

    signature = request["headers"]["X-Cartmonitor-Signature"]
    assert signature not in ("sha256=" + forged, "sha256=" + tampered)


def test_the_title_names_the_patient_only_where_the_protocol_allows_it(
    paged_nurse, course, receiver
):
    course.protocol_version.notify_patient_names = True
    course.protocol_version.save(update_fields=["notify_patient_names"])

    delivery.send(tell(paged_nurse, course).deliveries.get().pk)

    message = json.loads(receiver.requests[0]["body"])
    assert message["title"] == "cartmonitor: urgent flag, Ward A — Ada Lovelace"
    assert course.patient.mrn not in receiver.requests[0]["body"].decode()


def test_a_gateway_error_is_retried_with_back_off_then_failed(paged_nurse, course, receiver):
    receiver.status = 500
    sent = tell(paged_nurse, course).deliveries.get()
    start = timezone.now()

    for attempt, wait in enumerate(alert_rules.RETRY_BACKOFF, start=1):
        at = start + timedelta(hours=attempt)
        with time_machine.travel(at, tick=False):
            assert delivery.send(sent.pk) == Delivery.Status.RETRYING
        sent.refresh_from_db()
        assert sent.attempts == attempt
        assert sent.next_attempt_at == at + wait
        assert sent.last_error == "page to 4471: the gateway answered 500"
    with time_machine.travel(start + timedelta(days=1), tick=False):
        assert delivery.send(sent.pk) == Delivery.Status.FAILED

    sent.refresh_from_db()
    assert (sent.status, sent.next_attempt_at, sent.attempts) == (
        Delivery.Status.FAILED,
        None,
        alert_rules.MAX_ATTEMPTS,
    )
    attempts = list(sent.attempt_log.all())
    assert len(attempts) == len(receiver.requests) == alert_rules.MAX_ATTEMPTS
    assert not any(attempt.ok for attempt in attempts)
    # Every try carried the same key: a gateway that got one after all drops the rest.
    assert {r["headers"]["Idempotency-Key"] for r in receiver.requests} == {sent.key}
    assert delivery.send(sent.pk) == "nothing to send"
    assert len(receiver.requests) == alert_rules.MAX_ATTEMPTS


def test_an_unreachable_gateway_is_a_retry_that_says_so(nurse, course, settings):
    settings.WEBHOOK_URL, settings.WEBHOOK_SECRET = closed_port_url(), SECRET
    nurse.notify_by_webhook, nurse.pager_id = True, "4471"
    nurse.save()
    sent = tell(nurse, course).deliveries.get()

    assert delivery.send(sent.pk) == Delivery.Status.RETRYING

    sent.refresh_from_db()
    assert sent.last_error.startswith("page to 4471: gateway unreachable")


# --- Web Push ---------------------------------------------------------------------------------


def vapid_keys(private_format: str, tmp_path) -> tuple[str, str]:
    """A VAPID key pair as an administrator would set it: the public key as the browser wants
    it (base64url of the point) and the private key raw (base64url), or as a PEM file's path
    (what `vapid --gen` writes)."""
    vapid = Vapid01()
    vapid.generate_keys()
    public = b64url(
        vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    if private_format == "raw":
        private = b64url(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))
    else:
        vapid.save_key(str(tmp_path / "private_key.pem"))
        private = str(tmp_path / "private_key.pem")
    return public, private


class Browser:
    """A subscribed browser: its P-256 key pair and auth secret, as PushManager makes them."""

    def __init__(self, user, endpoint):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        # Stored directly: the profile's form takes https endpoints only, this one is local.
        self.subscription = PushSubscription.objects.create(
            user=user, endpoint=endpoint, p256dh=b64url(point), auth=b64url(self.auth)
        )

    def decrypt(self, body: bytes) -> dict:
        return json.loads(
            http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        )


@pytest.fixture
def push_nurse(nurse, settings, tmp_path):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_keys("raw", tmp_path)
    nurse.notify_by_push = True
    nurse.save()
    return nurse


@pytest.mark.parametrize("private_format", ["raw", "pem-file"])
def test_push_reaches_the_push_service_encrypted_and_vapid_signed(
    nurse, course, receiver, settings, tmp_path, private_format
):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = vapid_keys(private_format, tmp_path)
    nurse.notify_by_push = True
    nurse.save()
    browser = Browser(nurse, receiver.url + "/push/abc")
    notification = tell(nurse, course, severity=4)
    sent = notification.deliveries.get(channel="push")

    assert delivery.send(sent.pk) == Delivery.Status.SENT

    (request,) = receiver.requests
    headers = request["headers"]
    assert request["path"] == "/push/abc"
    assert headers["Content-Encoding"] == "aes128gcm"
    assert headers["TTL"] == str(delivery.PUSH_TTL_SECONDS)
    assert headers["Urgency"] == "high"
    assert headers["Topic"] == hashlib.sha256(sent.key.encode()).hexdigest()[:32]
    # Encrypted: nothing of the message is readable on the way.
    assert b"cartmonitor" not in request["body"]
    # Signed with the server's VAPID key, for this push service.
    authorization = headers["Authorization"]
    assert authorization.startswith("vapid t=")
    assert Vapid02.verify(authorization)
    token, key = authorization.removeprefix("vapid t=").split(",k=")
    assert key == settings.VAPID_PUBLIC_KEY
    claims = json.loads(padded(token.split(".")[1]))
    assert claims["aud"] == receiver.url
    assert claims["sub"] == settings.VAPID_SUBJECT
    # What the browser's service worker reads: the minimum-necessary title and the link.
    payload = browser.decrypt(request["body"])
    assert payload["title"] == "cartmonitor: critical flag, Ward A"
    assert payload["severity"] == "Critical"
    assert payload["url"].endswith(course.get_absolute_url())
    for name in names(course):
        assert name not in json.dumps(payload)


def test_a_browser_that_unsubscribed_is_forgotten(push_nurse, course, receiver):
    receiver.status = 410
    Browser(push_nurse, receiver.url + "/push/gone")
    sent = tell(push_nurse, course).deliveries.get()

    assert delivery.send(sent.pk) == Delivery.Status.RETRYING

    assert not PushSubscription.objects.exists()
    sent.refresh_from_db()
    assert sent.last_error == "push failed (410)"


def test_a_network_failure_is_a_retry_with_its_attempt_stored(push_nurse, course):
    Browser(push_nurse, closed_port_url())
    sent = tell(push_nurse, course).deliveries.get()
    at = timezone.now()

    with time_machine.travel(at, tick=False):
        assert delivery.send(sent.pk, worker="w1") == Delivery.Status.RETRYING

    sent.refresh_from_db()
    assert sent.status == Delivery.Status.RETRYING
    assert sent.next_attempt_at == at + alert_rules.RETRY_BACKOFF[0]
    assert sent.last_error == "push failed (ConnectionError)"
    attempt = sent.attempt_log.get()
    assert (attempt.ok, attempt.error, attempt.worker, attempt.attempted_at) == (
        False,
        "push failed (ConnectionError)",
        "w1",
        at,
    )
    assert PushSubscription.objects.exists()  # a network failure says nothing of the browser


def test_one_browser_failing_does_not_fail_the_push_to_another(push_nurse, course, receiver):
    Browser(push_nurse, closed_port_url())
    Browser(push_nurse, receiver.url + "/push/desk")
    sent = tell(push_nurse, course).deliveries.get()

    assert delivery.send(sent.pk) == Delivery.Status.SENT
    assert len(receiver.requests) == 1


# --- E-mail -----------------------------------------------------------------------------------


@pytest.fixture
def emailed_nurse(nurse, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://cartmonitor.example-hospital.org"
    nurse.notify_by_email, nurse.email = True, "nina@example-hospital.org"
    nurse.save()
    return nurse


def test_the_email_subject_is_the_minimum_necessary_and_the_message_id_carries_the_key(
    emailed_nurse, course
):
    notification = tell(emailed_nurse, course)
    sent = notification.deliveries.get()

    assert delivery.send(sent.pk) == Delivery.Status.SENT

    (email,) = mail.outbox
    assert email.to == ["nina@example-hospital.org"]
    assert email.subject == "cartmonitor: urgent flag, Ward A"
    message = email.message()
    text = message.as_string()
    for name in names(course):
        assert name not in text
    assert "https://cartmonitor.example-hospital.org" + course.get_absolute_url() in email.body
    key = sent.key
    assert message["Message-ID"] == (f"<{key.replace(':', '.')}@cartmonitor.example-hospital.org>")
    assert message["X-Cartmonitor-Key"] == key


def test_email_that_would_only_be_printed_is_not_delivered(emailed_nurse, course, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    sent = tell(emailed_nurse, course).deliveries.get()

    assert delivery.send(sent.pk) == Delivery.Status.RETRYING

    sent.refresh_from_db()
    assert sent.last_error == "e-mail is not set up on this server (DJANGO_EMAIL_HOST)"
    assert not mail.outbox


def test_a_test_notification_is_delivered_with_a_link_to_the_centre(emailed_nurse, nurse_client):
    nurse_client.post("/profile/test/")
    sent = Delivery.objects.get()

    assert delivery.send(sent.pk) == Delivery.Status.SENT

    (email,) = mail.outbox
    assert email.subject == "cartmonitor: test notification"
    assert "https://cartmonitor.example-hospital.org/notifications/" in email.body
    page = nurse_client.get("/notifications/").content.decode()
    assert "E-mail:" in page
    assert "sent " in page

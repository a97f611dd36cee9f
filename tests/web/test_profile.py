"""The profile: where notifications reach a person (refusing a channel this server cannot send
on), the browsers subscribed for Web Push, the service worker, and a test notification."""

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from monitoring.models import Delivery, Notification, PushSubscription
from tests.factories import UserFactory

PROFILE = reverse("monitoring:profile")
SUBSCRIBE = reverse("monitoring:profile-push")
REMOVE = reverse("monitoring:profile-push-remove")
TEST = reverse("monitoring:profile-test")
NO_CHANNEL = {"email": "", "pager_id": ""}


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_keys() -> dict:
    """What a browser's PushSubscription.toJSON() holds: a P-256 public key and a secret."""
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}


def subscription(endpoint="https://fcm.googleapis.com/fcm/send/abc123", **keys) -> dict:
    return {"endpoint": endpoint, "expirationTime": None, "keys": {**browser_keys(), **keys}}


@pytest.fixture
def push_configured(settings):
    settings.VAPID_PUBLIC_KEY = (
        "BEpsniOT09xdTnadjZEEMM7dp-1qhUsmZd8ND2MWoGqZy4cJAU5Hv4InvRormch_BOY4NNA_IMnsjkMa8TB-t9A"
    )
    settings.VAPID_PRIVATE_KEY = "a-key"
    return settings


@pytest.fixture
def gateway_configured(settings):
    settings.WEBHOOK_URL = "https://paging.example-hospital.org/cartmonitor"
    settings.WEBHOOK_SECRET = "s3cret"
    return settings


def post_json(client, url, data, **extra):
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return client.post(url, body, content_type="application/json", **extra)


# --- Channels ---------------------------------------------------------------------------------


def test_the_profile_says_which_channels_this_server_cannot_send_on(nurse_client, settings):
    settings.WEBHOOK_URL = ""
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

    page = nurse_client.get(PROFILE).content.decode()

    assert "the hospital&#x27;s paging gateway is not set up on this server" in page
    assert "Push is unavailable: Web Push is unavailable on this server" in page
    assert "e-mail is not set up on this server (DJANGO_EMAIL_HOST)" in page
    assert 'id="push-browser"' not in page  # no button that cannot work


def test_a_configured_server_shows_no_such_note_and_offers_push(
    nurse_client, push_configured, gateway_configured
):
    page = nurse_client.get(PROFILE).content.decode()

    assert "Not available" not in page
    assert f'data-vapid-key="{push_configured.VAPID_PUBLIC_KEY}"' in page
    assert "Enable push on this browser" in page
    assert 'src="/static/js/push.js"' in page


def test_saving_channels(nurse_client, nurse, gateway_configured):
    response = nurse_client.post(
        PROFILE,
        {
            "notify_by_email": "on",
            "email": "nina@example-hospital.org",
            "notify_by_webhook": "on",
            "pager_id": " 4471 ",
        },
        follow=True,
    )

    assert "Your notification channels are saved." in response.content.decode()
    nurse.refresh_from_db()
    assert (nurse.notify_by_email, nurse.notify_by_webhook, nurse.notify_by_push) == (
        True,
        True,
        False,
    )
    assert (nurse.email, nurse.pager_id) == ("nina@example-hospital.org", "4471")


def test_a_channel_not_set_up_here_is_refused_with_the_values_kept(nurse_client, nurse, settings):
    settings.WEBHOOK_URL = ""

    response = nurse_client.post(
        PROFILE,
        {"notify_by_webhook": "on", "pager_id": "4471", "email": "nina@example-hospital.org"},
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Cannot be turned on: the hospital&#x27;s paging gateway is not set up" in page
    assert 'value="4471"' in page
    assert 'value="nina@example-hospital.org"' in page
    assert "Nothing was saved" in page
    nurse.refresh_from_db()
    assert (nurse.notify_by_webhook, nurse.pager_id, nurse.email) == (False, "", "")


def test_email_is_refused_where_it_would_only_be_printed(nurse_client, nurse, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

    response = nurse_client.post(PROFILE, {"notify_by_email": "on", "email": "n@example.org"})

    assert response.status_code == 400
    assert "e-mail is not set up on this server" in response.content.decode()
    nurse.refresh_from_db()
    assert nurse.notify_by_email is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"notify_by_email": "on"}, "Enter the address to send your e-mail notifications to."),
        ({"notify_by_webhook": "on"}, "Enter your pager or secure-messaging address"),
        ({"notify_by_push": "on"}, "No browser is subscribed yet"),
        ({"email": "not an address"}, "Enter a valid email address."),
    ],
)
def test_a_channel_without_its_address_is_refused(
    nurse_client, nurse, gateway_configured, push_configured, data, message
):
    response = nurse_client.post(PROFILE, {**NO_CHANNEL, **data})

    assert response.status_code == 400
    assert message in response.content.decode()
    nurse.refresh_from_db()
    assert (nurse.notify_by_email, nurse.notify_by_webhook, nurse.notify_by_push) == (False,) * 3


# --- Web Push subscriptions -------------------------------------------------------------------


def test_subscribing_a_browser_stores_it_and_turns_push_on(nurse_client, nurse, push_configured):
    data = subscription()

    response = post_json(nurse_client, SUBSCRIBE, data, HTTP_USER_AGENT="Firefox on a phone")

    assert response.status_code == 201
    stored = PushSubscription.objects.get()
    assert (stored.user, stored.endpoint, stored.p256dh, stored.auth) == (
        nurse,
        data["endpoint"],
        data["keys"]["p256dh"],
        data["keys"]["auth"],
    )
    assert stored.user_agent == "Firefox on a phone"
    nurse.refresh_from_db()
    assert nurse.notify_by_push is True
    page = nurse_client.get(PROFILE).content.decode()
    assert f'data-endpoint="{data["endpoint"]}"' in page
    assert "Firefox on a phone" in page


def test_a_shared_computer_subscribed_by_the_next_user_is_theirs_only(
    nurse_client, care_client, nurse, care_team_member, push_configured
):
    data = subscription()
    post_json(nurse_client, SUBSCRIBE, data)

    assert post_json(care_client, SUBSCRIBE, data).status_code == 201

    assert PushSubscription.objects.get().user == care_team_member
    assert not nurse.push_subscriptions.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "as JSON"),
        (b"\xff\xfe", "as JSON"),
        ("[]", "JSON object"),
        ({"keys": browser_keys()}, "needs an endpoint"),
        (subscription(endpoint="http://push.example.org/x"), "https://"),
        (subscription(endpoint="javascript:alert(1)"), "https://"),
        (subscription(endpoint="https://" + "a" * 1000 + ".org"), "1–1000 characters"),
        ({"endpoint": "https://push.example.org/x"}, "no keys"),
        (subscription(p256dh=b64url(b"\x04" + os.urandom(10))), "p256dh key must be base64url"),
        (subscription(p256dh="not base64!"), "p256dh key must be base64url"),
        (subscription(p256dh=b64url(b"\x04" + b"\x01" * 64)), "not a P-256 public key"),
        (subscription(auth=b64url(os.urandom(17))), "auth secret must be base64url text of 16"),
        (subscription(auth=12345), "auth secret must be base64url"),
        (subscription(auth="A"), "auth secret must be base64url"),
    ],
)
def test_a_bad_subscription_is_a_400_with_why(nurse_client, push_configured, body, message):
    response = post_json(nurse_client, SUBSCRIBE, body)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_no_subscription_is_taken_where_push_is_not_set_up(nurse_client, settings):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""

    response = post_json(nurse_client, SUBSCRIBE, subscription())

    assert response.status_code == 400
    assert "Web Push is unavailable on this server" in response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_removing_this_browser_forgets_it_and_the_last_one_turns_push_off(
    nurse_client, nurse, push_configured
):
    phone, desk = subscription(), subscription(endpoint="https://updates.push.example.org/2")
    post_json(nurse_client, SUBSCRIBE, phone)
    post_json(nurse_client, SUBSCRIBE, desk)

    first = post_json(nurse_client, REMOVE, {"endpoint": phone["endpoint"]})
    assert first.json() == {"removed": True, "push": True}
    last = post_json(nurse_client, REMOVE, {"endpoint": desk["endpoint"]})
    assert last.json() == {"removed": True, "push": False}

    assert not PushSubscription.objects.exists()
    nurse.refresh_from_db()
    assert nurse.notify_by_push is False
    assert post_json(nurse_client, REMOVE, ["x"]).status_code == 400


def test_a_browser_is_removed_from_the_list_but_never_someone_elses(
    nurse_client, care_client, push_configured, care_team_member
):
    post_json(care_client, SUBSCRIBE, subscription())
    theirs = PushSubscription.objects.get()

    for value in (theirs.pk, "abc", "99999999999999999999999"):
        response = nurse_client.post(REMOVE, {"subscription": value})
        assert response.status_code == 302
    assert PushSubscription.objects.get() == theirs

    response = care_client.post(REMOVE, {"subscription": theirs.pk}, follow=True)
    assert "will no longer receive push notifications" in response.content.decode()
    assert "Push is off" in response.content.decode()
    assert not PushSubscription.objects.exists()


def test_the_service_worker_is_served_from_the_root_without_a_login(db):
    response = Client().get(reverse("monitoring:service-worker"))

    assert reverse("monitoring:service-worker") == "/sw.js"
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript"
    assert response["Service-Worker-Allowed"] == "/"
    script = response.content.decode()
    assert "showNotification" in script
    assert "notificationclick" in script
    assert Client().post("/sw.js").status_code == 405


# --- The test notification --------------------------------------------------------------------


def test_a_test_notification_goes_on_each_chosen_channel_through_the_worker(
    nurse_client, nurse, gateway_configured
):
    nurse.notify_by_email, nurse.email = True, "nina@example-hospital.org"
    nurse.notify_by_webhook, nurse.pager_id = True, "4471"
    nurse.save()

    response = nurse_client.post(TEST, follow=True)

    assert "Test notification sent" in response.content.decode()
    notification = Notification.objects.get()
    assert (notification.recipient, notification.course, notification.reason) == (
        nurse,
        None,
        Notification.Reason.TEST,
    )
    assert notification.title == "cartmonitor: test notification"
    assert "Sent to: E-mail, Pager gateway (webhook)." in notification.body
    assert set(notification.deliveries.values_list("channel", flat=True)) == {"email", "webhook"}
    assert set(notification.deliveries.values_list("status", flat=True)) == {"pending"}
    jobs = DBTaskResult.objects.filter(task_path="monitoring.delivery.deliver")
    assert sorted(job.args_kwargs["args"][0] for job in jobs) == sorted(
        notification.deliveries.values_list("pk", flat=True)
    )
    assert "cartmonitor: test notification" in nurse_client.get("/notifications/").text


def test_one_test_notification_a_minute(nurse_client):
    nurse_client.post(TEST)

    response = nurse_client.post(TEST, follow=True)

    assert "A test notification was sent less than a minute ago" in response.content.decode()
    assert Notification.objects.count() == 1
    assert not Delivery.objects.exists()  # no channel chosen: the centre only


def test_a_test_notification_needs_a_post_and_the_right_role(nurse_client, ward_a):
    assert nurse_client.get(TEST).status_code == 405
    display = Client()
    display.force_login(UserFactory(role="display", units=[ward_a]))
    assert display.post(TEST).status_code == 403
    assert not Notification.objects.exists()

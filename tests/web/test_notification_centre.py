"""The notification centre: the bell's count, the list (newest first, the user's own only), how
each delivery went, mark read, and a link to the patient only while they are on the user's
units."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitoring import alert_rules
from monitoring.models import Delivery, DeliveryAttempt, Notification
from tests.factories import CourseFactory, UserFactory, tell

CENTRE = reverse("monitoring:notifications")


def bell(client) -> str:
    """The unread count in the navigation bar, as a user reads it."""
    page = client.get(reverse("monitoring:nurse-worklist")).content.decode()
    nav = page[page.index("<nav") : page.index("</nav>")]
    return re.search(r'id="nav-unread-count"[^>]*>(\d+)<', nav).group(1)


def test_the_bell_counts_the_users_unread_notifications(nurse_client, nurse, course, outsider):
    assert bell(nurse_client) == "0"
    tell(nurse, course)
    tell(nurse, course)
    tell(outsider, CourseFactory(unit=outsider.units.get()))  # someone else's

    assert bell(nurse_client) == "2"

    Notification.objects.filter(recipient=nurse).update(read_at=timezone.now())
    assert bell(nurse_client) == "0"


def test_the_centre_lists_the_users_own_newest_first_with_the_patient_named(
    nurse_client, nurse, course, outsider
):
    now = timezone.now()
    older = tell(nurse, course, at=now - timedelta(hours=2), what="flag")
    newer = tell(nurse, course, at=now - timedelta(minutes=5), what="flag not acknowledged")
    theirs = tell(outsider, CourseFactory(unit=outsider.units.get()))

    page = nurse_client.get(CENTRE).content.decode()

    assert page.index(f'id="notification-{newer.pk}"') < page.index(f'id="notification-{older.pk}"')
    assert f'id="notification-{theirs.pk}"' not in page
    assert "Ada Lovelace (Ward A): CRS grade 2" in page  # in-app, behind the login
    assert "cartmonitor: urgent flag not acknowledged, Ward A" in page
    assert page.count(">New</span>") == 2
    assert page.count(f'href="{course.get_absolute_url()}"') == 2


def test_mark_read_marks_one_and_the_bell_goes_down(nurse_client, nurse, course):
    first, second = tell(nurse, course), tell(nurse, course)

    response = nurse_client.post(reverse("monitoring:notification-read", args=[first.pk]))

    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None
    assert bell(nurse_client) == "1"
    page = nurse_client.get(CENTRE).content.decode()
    assert page.count(">New</span>") == 1


def test_mark_all_read_marks_only_the_users_own(nurse_client, nurse, course, outsider):
    tell(nurse, course)
    tell(nurse, course)
    theirs = tell(outsider, CourseFactory(unit=outsider.units.get()))

    response = nurse_client.post(reverse("monitoring:notifications-read-all"), follow=True)

    assert "2 notifications marked read." in response.content.decode()
    assert not Notification.objects.filter(recipient=nurse, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert bell(nurse_client) == "0"


def test_another_users_notification_is_a_404_and_stays_unread(nurse_client, course, outsider):
    theirs = tell(outsider, CourseFactory(unit=outsider.units.get()))

    response = nurse_client.post(reverse("monitoring:notification-read", args=[theirs.pk]))

    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_read_needs_a_post(nurse_client, nurse, course):
    notification = tell(nurse, course)

    response = nurse_client.get(reverse("monitoring:notification-read", args=[notification.pk]))

    assert response.status_code == 405
    notification.refresh_from_db()
    assert notification.read_at is None


def test_someone_moved_off_the_unit_keeps_the_message_but_not_the_way_to_the_patient(
    nurse_client, nurse, course, ward_b
):
    notification = tell(nurse, course)
    nurse.units.set([ward_b])

    page = nurse_client.get(CENTRE).content.decode()

    assert f'id="notification-{notification.pk}"' in page
    assert course.get_absolute_url() not in page
    assert "the patient is not on your units now" in page
    assert nurse_client.get(course.get_absolute_url()).status_code == 404


def test_each_delivery_says_how_it_went(nurse_client, nurse, course):
    nurse.notify_by_email = nurse.notify_by_push = nurse.notify_by_webhook = True
    nurse.save()
    notification = tell(nurse, course)
    email, push, webhook = (
        notification.deliveries.get(channel=c) for c in ("email", "push", "webhook")
    )
    failed_at = timezone.now().replace(hour=14, minute=2, second=0, microsecond=0)
    email.status, email.sent_at = Delivery.Status.SENT, failed_at
    email.save()
    push.status, push.attempts, push.last_error = Delivery.Status.RETRYING, 1, "push failed (410)"
    push.next_attempt_at = failed_at + alert_rules.RETRY_BACKOFF[0]
    push.save()
    DeliveryAttempt.objects.create(delivery=push, attempted_at=failed_at, error=push.last_error)
    webhook.status, webhook.attempts = Delivery.Status.FAILED, alert_rules.MAX_ATTEMPTS
    webhook.last_error = "page to 4471: the gateway answered 500"
    webhook.save()
    DeliveryAttempt.objects.create(delivery=webhook, attempted_at=failed_at, error="x")

    page = nurse_client.get(CENTRE).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))

    assert "E-mail: sent 14:02" in text
    assert "Web Push: failed at 14:02 — retrying (push failed (410)); next try 14:02, try 2" in text
    assert (
        "Pager gateway (webhook): failed after 6 tries, last at 14:02: "
        "page to 4471: the gateway answered 500" in text
    )


def test_the_query_count_does_not_grow_with_the_notifications_shown(
    nurse_client, nurse, course, ward_a
):
    nurse.notify_by_email = nurse.notify_by_webhook = True
    nurse.save()
    tell(nurse, course)
    with CaptureQueriesContext(connection) as one:
        assert nurse_client.get(CENTRE).status_code == 200
    for _ in range(30):
        tell(nurse, CourseFactory(unit=ward_a))
    with CaptureQueriesContext(connection) as many:
        page = nurse_client.get(CENTRE).content.decode()

    assert page.count('id="notification-') == 31
    assert page.count('id="delivery-') == 62
    assert len(many) == len(one)
    # session, user, unread count, open-flag count, page count, notifications, their
    # deliveries, the courses the user can still reach
    assert len(many) == 8


def test_fifty_a_page_and_a_bad_page_number_shows_a_page(nurse_client, nurse, course):
    now = timezone.now()
    for minutes in range(51):
        tell(nurse, course, at=now - timedelta(minutes=minutes))

    first = nurse_client.get(CENTRE).content.decode()
    second = nurse_client.get(CENTRE, {"page": "2"}).content.decode()

    assert first.count('id="notification-') == 50
    assert second.count('id="notification-') == 1
    assert "Page 2 of 2" in second
    for bad in ("abc", "999", "-1", "1e3"):
        assert nurse_client.get(CENTRE, {"page": bad}).status_code == 200


def test_a_read_notification_is_not_marked_new(nurse_client, nurse, course):
    notification = tell(nurse, course)
    notification.read_at = timezone.now()
    notification.save()

    page = nurse_client.get(CENTRE).content.decode()

    assert ">New</span>" not in page
    assert reverse("monitoring:notification-read", args=[notification.pk]) not in page
    assert "Mark all read" not in page


@pytest.mark.parametrize("role", ["display"])
def test_a_wall_display_has_no_notification_centre(client, ward_a, role):
    client.force_login(UserFactory(role=role, units=[ward_a]))

    assert client.get(CENTRE).status_code == 403
    assert client.get(reverse("monitoring:profile")).status_code == 403

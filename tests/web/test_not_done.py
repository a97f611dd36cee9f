"""A due check that could not be done is recorded with why: kept, shown, and rescheduled."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import AuditEvent, CheckNotDone, CourseStatus, TreatmentCourse
from monitoring.schedule import due_checks
from tests.factories import ROOM_AIR


def not_done_url(course, query=""):
    return reverse("monitoring:nurse-not-done", args=[course.patient.public_id]) + query


def local_input(at) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def vitals_5h_ago(course, nurse):
    done = timezone.now() - timedelta(hours=5)
    services.record_check(
        course=course, by=nurse, observed_at=done, vitals={"temp_c": 37.0, **ROOM_AIR}
    )
    return done


def test_a_nurse_records_a_check_as_not_done_with_a_reason(
    nurse_client, nurse, course, vitals_5h_ago
):
    attempted = timezone.now().replace(second=0, microsecond=0)

    response = nurse_client.post(
        not_done_url(course),
        {
            "check_type": "vitals",
            "reason": "off_unit",
            "note": "CT chest",
            "observed_at": local_input(attempted),
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("monitoring:nurse-worklist")
    kept = CheckNotDone.objects.get()
    assert (kept.check_type, kept.reason, kept.note, kept.recorded_by) == (
        "vitals",
        "off_unit",
        "CT chest",
        nurse,
    )
    assert kept.observed_at == attempted
    event = AuditEvent.objects.get(action=AuditEvent.Action.CHECK_NOT_DONE)
    assert event.user == nurse
    assert event.patient == course.patient


def test_not_done_reschedules_the_next_due_time(nurse_client, course, vitals_5h_ago):
    attempted = timezone.now().replace(second=0, microsecond=0)
    status = CourseStatus.objects.get(course=course)
    assert {d.check_type: d for d in due_checks(course, status)}["vitals"].is_overdue

    nurse_client.post(
        not_done_url(course),
        {"check_type": "vitals", "reason": "refused", "observed_at": local_input(attempted)},
    )

    status.refresh_from_db()
    due = {d.check_type: d for d in due_checks(course, status)}["vitals"]
    assert due.next_due == attempted + timedelta(hours=1)  # retried in an hour
    assert not due.is_overdue
    assert due.deferred_reason == "Patient refused"


def test_it_is_shown_on_the_worklist_and_on_the_patients_not_done_list(
    nurse_client, course, vitals_5h_ago
):
    nurse_client.post(
        not_done_url(course),
        {
            "check_type": "vitals",
            "reason": "asleep_per_order",
            "observed_at": local_input(timezone.now()),
        },
    )

    worklist = nurse_client.get("/worklist/").content.decode()
    assert "not done — Asleep, not to be woken per physician order, retry" in worklist
    page = nurse_client.get(not_done_url(course)).content.decode()
    assert "Vital signs — Asleep, not to be woken per physician order" in page


def test_the_success_message_says_when_the_check_is_due_again(nurse_client, course, vitals_5h_ago):
    attempted = timezone.now().replace(second=0, microsecond=0)

    response = nurse_client.post(
        not_done_url(course),
        {"check_type": "vitals", "reason": "off_unit", "observed_at": local_input(attempted)},
        follow=True,
    )

    again = timezone.localtime(attempted + timedelta(hours=1))
    assert f"due again {again:%H:%M}" in response.content.decode()


def test_other_needs_a_note_and_nothing_is_saved_without_one(nurse_client, course):
    response = nurse_client.post(
        not_done_url(course),
        {
            "check_type": "neuro",
            "reason": "other",
            "note": "  ",
            "observed_at": local_input(timezone.now()),
        },
    )

    assert response.status_code == 400
    assert "Say why the check was not done." in response.content.decode()
    assert not CheckNotDone.objects.exists()


def test_a_future_attempt_is_refused(nurse_client, course):
    response = nurse_client.post(
        not_done_url(course),
        {
            "check_type": "neuro",
            "reason": "refused",
            "observed_at": local_input(timezone.now() + timedelta(hours=2)),
        },
    )

    assert response.status_code == 400
    assert not CheckNotDone.objects.exists()


def test_the_form_preselects_the_check_type_asked_for(nurse_client, course):
    form = nurse_client.get(not_done_url(course, "?type=labs")).context["form"]

    assert form["check_type"].value() == "labs"


def test_who_may_record_a_check_not_done(outsider_client, admin_client_, course):
    data = {"check_type": "vitals", "reason": "refused", "observed_at": local_input(timezone.now())}

    assert outsider_client.get(not_done_url(course)).status_code == 404
    assert outsider_client.post(not_done_url(course), data).status_code == 404
    assert admin_client_.post(not_done_url(course), data).status_code == 403
    anonymous = Client().post(not_done_url(course), data)
    assert anonymous.status_code == 302
    assert not CheckNotDone.objects.exists()


def test_a_finished_course_has_no_checks_to_skip(nurse_client, course):
    TreatmentCourse.objects.filter(pk=course.pk).update(status="completed")

    assert nurse_client.get(not_done_url(course)).status_code == 404

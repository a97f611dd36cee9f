"""Missed home check-ins (issue 15 §2): the job worker reminds the patient or caregiver once when
a check-in falls due, flags the team once the protocol's grace has passed, and a home check-in
resolves the flag. Reminders run through the real job queue (django-tasks' database backend).

The shipped protocol's defaults: a check-in every 8 hours, flagged 60 minutes after its due
time (monitoring/home_schedule.py). Home monitoring starts at consent; here consent was given 9½
hours ago, so the first check-in fell due 1½ hours ago and was missed half an hour ago.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from monitoring import home_checkins, home_sweep, services, worker
from monitoring.models import AuditEvent, Flag, HomeCheckInDue, TreatmentCourse, User
from tests.factories import CourseFactory, UserFactory
from tests.home_helpers import home_client, make_home_user, text_of
from tests.web.test_escalation import run_worker

CONSENT_AGO = timedelta(hours=9, minutes=30)
REMINDER_JOB = "monitoring.home_sweep.send_reminder"


@pytest.fixture
def consent_at():
    return timezone.now() - CONSENT_AGO


@pytest.fixture
def caregiver(course, care_team_member, consent_at):
    course.unit.contact_phone = "+44 20 7946 0999"
    course.unit.save()
    return make_home_user(course, care_team_member, email="sam@example.org", now=consent_at)


@pytest.fixture
def due_at(caregiver, consent_at):
    return consent_at + timedelta(hours=8)


def reminder_jobs():
    return DBTaskResult.objects.filter(task_path=REMINDER_JOB)


def missed_flags(course):
    return Flag.objects.filter(course=course, kind=Flag.Kind.HOME_MISSED)


def test_a_due_check_in_reminds_once_with_no_patient_data(course, caregiver, due_at):
    first = home_sweep.sweep(now=due_at + timedelta(minutes=1))
    again = home_sweep.sweep(now=due_at + timedelta(minutes=2))
    run_worker()
    run_worker()

    assert (first["home_reminded"], again["home_reminded"]) == (1, 0)
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["sam@example.org"]
    assert "You have a check-in due. Open cartmonitor at http" in email.body
    assert "/home/" in email.body
    text = email.subject + email.body
    patient = course.patient
    for private in (
        patient.given_name,
        patient.family_name,
        patient.mrn,
        "Maria",
        course.unit.name,
    ):
        assert private not in text
    assert not missed_flags(course).exists()  # inside the grace: the team is not told yet
    event = AuditEvent.objects.get(action=AuditEvent.Action.HOME_REMINDED)
    assert "reminder e-mailed to 1 home account" in event.summary


def test_after_the_grace_the_team_gets_one_urgent_flag_that_escalates(course, caregiver, due_at):
    home_sweep.sweep(now=due_at + timedelta(minutes=30))
    assert not missed_flags(course).exists()

    home_sweep.sweep(now=due_at + timedelta(minutes=61))
    home_sweep.sweep(now=due_at + timedelta(minutes=62))

    flag = missed_flags(course).get()
    assert flag.severity == Flag.Severity.URGENT
    assert flag.status == Flag.Status.OPEN
    assert flag.message.startswith("Home check-in missed: due D+")
    assert flag.message.endswith("not done within 60 min")
    assert flag.escalate_at is not None  # the ladder's first step is queued
    assert HomeCheckInDue.objects.get(course=course).flag == flag
    assert AuditEvent.objects.filter(action=AuditEvent.Action.HOME_MISSED).count() == 1
    assert len(reminder_jobs()) == 1  # reminded once, at the due time


def test_a_second_missed_check_in_updates_the_same_flag(course, caregiver, due_at):
    home_sweep.sweep(now=due_at + timedelta(minutes=61))
    home_sweep.sweep(now=due_at + timedelta(hours=9, minutes=1))

    flag = missed_flags(course).get()
    assert flag.message.startswith("2 home check-ins missed in a row")
    assert HomeCheckInDue.objects.filter(course=course, flag=flag).count() == 2


def test_a_home_check_in_resolves_the_flag_and_restarts_the_schedule(course, caregiver, due_at):
    home_sweep.sweep(now=timezone.now())
    flag = missed_flags(course).get()

    services.record_check(
        course=course,
        by=caregiver,
        observed_at=timezone.now(),
        setting="home",
        vitals={"temp_c": 37.2},
    )

    flag.refresh_from_db()
    assert flag.status == Flag.Status.RESOLVED
    assert flag.resolve_reason.startswith("Home check-in recorded at D+")
    assert flag.resolve_reason.endswith(f"by {caregiver.get_full_name() or caregiver.username}")
    assert home_sweep.sweep(now=timezone.now()) == {"home_reminded": 0, "home_flagged": 0}
    state = home_sweep.course_state(course)
    assert not state.is_overdue
    assert state.next_due > timezone.now() + timedelta(hours=7)


def test_a_check_in_made_before_the_reminder_job_runs_sends_nothing(course, caregiver, due_at):
    home_sweep.sweep(now=due_at + timedelta(minutes=1))
    services.record_check(
        course=course,
        by=caregiver,
        observed_at=timezone.now(),
        setting="home",
        vitals={"temp_c": 36.9},
    )

    run_worker()

    assert mail.outbox == []


def test_no_reminder_or_flag_without_a_home_schedule_or_an_open_access(
    course, caregiver, due_at, care_team_member
):
    version = course.protocol_version
    version.home_checkin_interval_hours = None
    version.save(update_fields=["home_checkin_interval_hours"])
    assert home_sweep.sweep(now=due_at + timedelta(hours=2)) == {
        "home_reminded": 0,
        "home_flagged": 0,
    }

    version.home_checkin_interval_hours = 8
    version.save(update_fields=["home_checkin_interval_hours"])
    from monitoring import home

    home.revoke_access(access=caregiver.home_access, reason="Readmitted", by=care_team_member)
    assert home_sweep.sweep(now=due_at + timedelta(hours=2)) == {
        "home_reminded": 0,
        "home_flagged": 0,
    }


def test_the_worker_beat_runs_the_sweep(course, caregiver):
    done = worker.beat("test-worker")

    assert (done["home_reminded"], done["home_flagged"]) == (1, 1)
    assert worker.beat("test-worker")["home_flagged"] == 0


def test_the_home_page_says_when_the_next_check_in_is_due_and_overdue(course, caregiver):
    client = home_client(caregiver)

    page = text_of(client.get("/home/"))

    assert "Your next check-in was due" in page
    assert "overdue" in page

    services.record_check(
        course=course,
        by=caregiver,
        observed_at=timezone.now(),
        setting="home",
        vitals={"temp_c": 37.0},
    )
    page = text_of(client.get("/home/"))
    assert "Your next check-in is due" in page
    assert "overdue" not in page


# --- The remote patients page ----------------------------------------------------------------

REMOTE = "/remote/"
QUERIES = 11


@pytest.fixture
def charge_nurse(ward_a):
    return UserFactory(username="chris", role=User.Role.CHARGE_NURSE, units=[ward_a])


def test_the_remote_page_lists_who_is_at_home_with_the_last_check_in_and_the_misses(
    course, caregiver, care_client, care_team_member
):
    home_sweep.sweep(now=timezone.now())  # the first check-in was missed: flagged
    at_ward = CourseFactory(unit=course.unit, patient__family_name="Inpatient")

    page = text_of(care_client.get(REMOTE))

    assert "Ada Lovelace" in page
    assert "Maria (daughter) (caregiver)" in page
    assert "none yet" in page
    assert "overdue" in page
    assert "flag open" in page
    assert at_ward.patient.family_name not in page  # no home access: not a remote patient

    services.record_check(
        course=course,
        by=caregiver,
        observed_at=timezone.now(),
        setting="home",
        vitals={"temp_c": 37.4},
    )
    page = text_of(care_client.get(REMOTE))
    assert "37.4 °C" in page
    assert "flag open" not in page
    assert "overdue" not in page


def test_the_remote_page_is_for_the_care_team_and_charge_nurses_of_the_unit(
    client, course, caregiver, nurse, charge_nurse, outsider, ward_b, admin_user
):
    client.force_login(charge_nurse)
    assert "Ada Lovelace" in text_of(client.get(REMOTE))

    other_charge = UserFactory(username="olga", role=User.Role.CHARGE_NURSE, units=[ward_b])
    client.force_login(other_charge)
    response = client.get(REMOTE)
    assert response.status_code == 200
    assert "Ada Lovelace" not in text_of(response)  # another unit's patient
    assert client.get(REMOTE, {"unit": course.unit.pk}).status_code == 404

    for user in (nurse, admin_user):
        client.force_login(user)
        assert client.get(REMOTE).status_code == 403


def test_a_home_session_never_reaches_the_remote_page(caregiver):
    assert home_client(caregiver).get(REMOTE).status_code == 404


def test_the_navigation_links_to_the_remote_page_for_those_who_may_open_it(
    care_client, nurse_client
):
    assert 'href="/remote/"' in care_client.get("/flags/").content.decode()
    assert 'href="/remote/"' not in nurse_client.get("/flags/").content.decode()


@pytest.mark.parametrize("patients", [1, 4])
def test_the_remote_page_costs_the_same_queries_for_any_number_of_patients(
    care_client, care_team_member, ward_a, patients, django_assert_num_queries
):
    for index in range(patients):
        other = CourseFactory(unit=ward_a, patient__family_name=f"Home{index}")
        person = make_home_user(
            other, care_team_member, name=f"Carer {index}", email=f"c{index}@example.org"
        )
        services.record_check(
            course=other,
            by=person,
            observed_at=timezone.now(),
            setting="home",
            vitals={"temp_c": 37.0},
        )
    # session, user, the user's units (unit menu), the open flag count and unread notifications
    # (navigation), then: the courses, their open accesses, their home check-ins, the last
    # check-ins' temperatures, what the last check-ins told the person, the open missed
    # check-in flags.
    with django_assert_num_queries(QUERIES):
        response = care_client.get(REMOTE)
    assert response.status_code == 200
    assert f"Home{patients - 1}" in text_of(response)


# --- The protocol's home schedule ------------------------------------------------------------


def test_the_protocol_page_edits_the_home_schedule_in_range_and_versions_it(
    client, admin_user, course
):
    from monitoring.models import ProtocolVersion
    from tests.web.test_protocol_pages import form_data

    client.force_login(admin_user)
    version = course.protocol_version
    url = reverse("monitoring:admin-protocol-version-edit", args=[version.pk])

    refused = client.post(
        url,
        form_data(version, home_checkin_interval_hours="25", home_checkin_grace_minutes="721"),
    )
    saved = client.post(
        url, form_data(version, home_checkin_interval_hours="4", home_checkin_grace_minutes="30")
    )

    assert refused.status_code == 400
    page = text_of(refused)
    assert "1–24 h" in page
    assert "0–720 min" in page
    assert saved.status_code == 302
    newest = ProtocolVersion.objects.filter(protocol=version.protocol).order_by("-number").first()
    assert (newest.home_checkin_interval_hours, newest.home_checkin_grace_minutes) == (4, 30)
    version.refresh_from_db()  # the course keeps the version it started on
    assert (version.home_checkin_interval_hours, version.home_checkin_grace_minutes) == (8, 60)


def test_the_database_refuses_an_impossible_home_schedule(course):
    from django.db import IntegrityError, transaction

    from monitoring.models import ProtocolVersion

    for field, value in (("home_checkin_interval_hours", 0), ("home_checkin_grace_minutes", 721)):
        with pytest.raises(IntegrityError), transaction.atomic():
            ProtocolVersion.objects.filter(pk=course.protocol_version_id).update(**{field: value})


def test_a_check_in_saved_while_the_sweep_ran_is_seen_under_the_lock(course, caregiver, due_at):
    """The sweep reads every course first, then locks each one it must write to: a check-in
    saved in between wins — no reminder, no flag for a check-in that came."""
    stale = home_sweep.course_state(course, now=timezone.now())
    services.record_check(
        course=course,
        by=caregiver,
        observed_at=timezone.now(),
        setting="home",
        vitals={"temp_c": 36.8},
    )

    assert home_sweep.remind(course, due_at=stale.latest_due, now=timezone.now()) == 0
    assert home_sweep.flag_missed(course, stale, now=timezone.now()) == 0
    assert not missed_flags(course).exists()
    assert not HomeCheckInDue.objects.exists()


def test_a_check_in_through_the_home_page_resolves_the_flag_and_its_medicine_is_no_check_in(
    course, caregiver, due_at
):
    """The real write path (home_checkins.record_home_checkin): the check-in resolves the missed
    flag; the paracetamol it records at the time it was taken (within the due time's grace) is
    not a check-in of its own, so that due time stays missed."""
    from monitoring import home_checkins

    home_sweep.sweep(now=timezone.now())
    flag = missed_flags(course).get()
    now = timezone.now()

    home_checkins.record_home_checkin(
        access=caregiver.home_access,
        by=caregiver,
        temperature="37.8",
        temperature_unit="c",
        no_symptoms=True,
        fever_medicine="paracetamol",
        fever_medicine_at=due_at + timedelta(minutes=30),  # inside the grace: no check-in
        fever_medicine_mg=1000,
        now=now,
    )

    flag.refresh_from_db()
    assert flag.status == Flag.Status.RESOLVED
    rows = home_sweep.remote_rows(TreatmentCourse.objects.filter(pk=course.pk), now=now)
    assert rows[0].missed_total == 1  # due 1½ h ago, not done within its hour
    assert rows[0].last_temp_c == Decimal("37.8")
    assert rows[0].last_checkin_at == now


def test_the_remote_page_shows_who_was_told_to_call(course, caregiver, care_client):
    """A nurse scanning the list sees the check-in that sent the family to the phone."""
    home_checkins.record_home_checkin(
        access=caregiver.home_access,
        by=caregiver,
        temperature=Decimal("38.7"),
        temperature_unit="c",
        no_symptoms=True,
    )

    page = text_of(care_client.get(REMOTE))

    assert "38.7 °C told to call the team" in page


@pytest.mark.parametrize(
    ("days", "words"),
    [(0, "14:00 today"), (1, "14:00 tomorrow"), (-1, "14:00 yesterday"), (3, "14:00 on ")],
)
def test_a_due_time_reads_today_or_tomorrow_not_a_bare_weekday(days, words):
    """'Due Friday 22:44' on a Friday reads as next week's."""
    from monitoring.templatetags.monitoring_tags import when_words

    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    at = noon.replace(hour=14) + timedelta(days=days)

    text = when_words(at, now=noon)

    assert text.startswith(words)
    assert f"{at:%A}" not in text


def test_the_sweep_reaches_every_course_past_a_batch(
    course, caregiver, care_team_member, consent_at, monkeypatch, ward_a
):
    """A missed check-in is flagged however many courses are at home (batches, no cap)."""
    monkeypatch.setattr(home_sweep, "SWEEP_BATCH", 1)
    later = CourseFactory(unit=ward_a, patient__family_name="Later")
    make_home_user(later, care_team_member, name="Carer 2", email="c2@example.org", now=consent_at)

    done = home_sweep.sweep(now=timezone.now())

    assert done["home_flagged"] == 2
    assert Flag.objects.filter(kind="home_missed", course__in=[course, later]).count() == 2

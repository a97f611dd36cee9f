"""The board (issue 12 §1): one row per patient with an unresolved flag or an overdue check,
patients with an unacknowledged flag first, then the most severe, then the longest waiting; a
row shows the leading flag, the others summarised, the grades and their age, every overdue
check, how long the flag has waited and who acknowledged it, the tier its escalation reached,
a failed page and "new since you last looked". The care team acknowledges and resolves flags
one by one in the expanded row, or acknowledges all of a patient's at once; nurses read. A
constant number of queries however many patients."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.engine import flag_leads
from monitoring.models import (
    AuditEvent,
    BoardVisit,
    CourseStatus,
    Delivery,
    DeliveryAttempt,
    EscalationStep,
    Flag,
    Notification,
    OnCallShift,
    TreatmentCourse,
    User,
    WorkerHeartbeat,
)
from tests.factories import (
    ICE_10,
    ROOM_AIR,
    CourseFactory,
    UnitFactory,
    UserFactory,
    keep_flag_leads,
)

BOARD = "/flags/"
HTMX = {"HX-Request": "true"}
POLL = {"HX-Request": "true", "X-Cartmonitor-Poll": "1"}
ROW_CLASS = 'class="list-group-item board-row'


def make_flag(course, severity, message, *, kind="crs", hours_ago=1.0, **fields) -> Flag:
    """A flag as it stands on the board (the write path's rules are tested in test_services)."""
    flag = Flag.objects.create(
        course=course,
        kind=kind,
        severity=severity,
        message=message,
        raised_at=timezone.now() - timedelta(hours=hours_ago),
        **fields,
    )
    keep_flag_leads(course)
    return flag


def acknowledged(course, severity, message, *, by, **fields) -> Flag:
    """A flag someone acknowledged just now."""
    return make_flag(
        course,
        severity,
        message,
        status=Flag.Status.ACKNOWLEDGED,
        acknowledged_by=by,
        acknowledged_at=timezone.now(),
        **fields,
    )


def ack_url(flag):
    return reverse("monitoring:care-flag-acknowledge", args=[flag.pk])


def resolve_url(flag):
    return reverse("monitoring:care-flag-resolve", args=[flag.pk])


def ack_all_url(course):
    return reverse("monitoring:care-patient-acknowledge", args=[course.patient.public_id])


def flags_url(course):
    return reverse("monitoring:care-patient-flags", args=[course.patient.public_id])


def row_of(page: str, course) -> str:
    """A patient's row on the board, from its opening tag to the next row's."""
    match = re.search(rf'<li class="([^"]*)" id="patient-{course.pk}">', page)
    assert match, f"course {course.pk} not on the board"
    rest = page[match.start() :]
    following = rest.find('<li class="list-group-item', 10)
    return rest if following < 0 else rest[:following]


def row_classes(page: str, course) -> str:
    return re.search(rf'<li class="([^"]*)" id="patient-{course.pk}">', page).group(1)


def rows_in_order(page: str) -> list[int]:
    return [
        int(pk)
        for pk in re.findall(r'class="list-group-item board-row[^"]*" id="patient-(\d+)"', page)
    ]


@pytest.fixture
def other_care(ward_b):
    """A care-team member of ward B: ward A's flags are none of hers."""
    return UserFactory(username="olga", role=User.Role.CARE_TEAM, units=[ward_b])


@pytest.fixture
def other_care_client(other_care):
    client = Client()
    client.force_login(other_care)
    return client


def fully_checked(course, nurse, hours_ago):
    """Every check type done ``hours_ago``, all normal (the default protocol: vitals and
    symptoms every 4 h, ICE every 8 h, labs daily)."""
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=hours_ago),
        vitals={**ROOM_AIR, "temp_c": 37.0},
        symptoms={"fatigue": False},
        neuro=ICE_10,
        labs={"crp_mg_l": 12},
    )


# --- One row per patient, in the order that matters -----------------------------------------


def test_patients_come_unacknowledged_first_then_most_severe_then_longest_waiting(
    care_client, care_team_member, nurse, ward_a
):
    warning_old = CourseFactory(unit=ward_a)
    critical_new = CourseFactory(unit=ward_a)
    urgent_old = CourseFactory(unit=ward_a)
    urgent_new = CourseFactory(unit=ward_a)
    handled = CourseFactory(unit=ward_a)
    overdue_only = CourseFactory(unit=ward_a)
    resolved = CourseFactory(unit=ward_a)
    make_flag(warning_old, Flag.Severity.WARNING, "old warning", hours_ago=10)
    make_flag(critical_new, Flag.Severity.CRITICAL, "new critical", hours_ago=1)
    make_flag(urgent_old, Flag.Severity.URGENT, "old urgent", hours_ago=5)
    make_flag(urgent_new, Flag.Severity.URGENT, "new urgent", hours_ago=2)
    # An acknowledged critical flag waits below every unacknowledged one, whatever its severity.
    acknowledged(
        handled,
        Flag.Severity.CRITICAL,
        "acknowledged critical",
        by=care_team_member,
        hours_ago=20,
    )
    make_flag(resolved, Flag.Severity.CRITICAL, "resolved critical", status=Flag.Status.RESOLVED)
    for course in (warning_old, critical_new, urgent_old, urgent_new, handled, resolved):
        fully_checked(course, nurse, hours_ago=1)  # nothing overdue: only their flags count
    fully_checked(overdue_only, nurse, hours_ago=6)

    page = care_client.get(BOARD).content.decode()

    expected = [critical_new, urgent_old, urgent_new, warning_old, handled, overdue_only]
    assert rows_in_order(page) == [course.pk for course in expected]
    assert "Nothing left to acknowledge" in page
    assert page.index("Nothing left to acknowledge") < page.index("acknowledged critical")
    assert "resolved critical" not in page


def leads_kept(course) -> dict:
    """The board's order keys on the course's status row, checked against its flags now."""
    status = CourseStatus.objects.get(course=course)
    expected = flag_leads(Flag.objects.unresolved().filter(course=course))
    assert {name: getattr(status, name) for name in expected} == expected
    return expected


def test_the_board_order_follows_flags_raised_acknowledged_escalated_and_resolved(
    care_client, care_team_member, nurse, ward_a
):
    """The board sorts on the leads the status row keeps (engine.flag_leads); every write of a
    course's flags keeps them, and the order follows."""
    hypoxic, febrile = CourseFactory.create_batch(2, unit=ward_a)
    at = timezone.now() - timedelta(hours=2)

    def check(course, minutes, **vitals):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=at + timedelta(minutes=minutes),
            vitals={**ROOM_AIR, "temp_c": 38.4, **vitals},
            neuro=ICE_10,
        )

    def order():
        return rows_in_order(care_client.get(BOARD).content.decode())

    check(hypoxic, 0, oxygen_support="low_flow", oxygen_flow_l_min=3)  # CRS 2
    check(febrile, 0)  # CRS 1
    assert leads_kept(hypoxic)["open_lead_severity"] > leads_kept(febrile)["open_lead_severity"]
    assert order() == [hypoxic.pk, febrile.pk]

    services.acknowledge_course_flags(course=hypoxic, by=care_team_member)
    assert leads_kept(hypoxic)["open_lead_severity"] is None
    assert order() == [febrile.pk, hypoxic.pk]  # nothing left to acknowledge: below

    crs = Flag.objects.get(course=hypoxic, kind="crs")
    check(hypoxic, 30, oxygen_support="low_flow", oxygen_flow_l_min=3, vasopressors_count=1)
    escalated = Flag.objects.get(pk=crs.pk)
    assert escalated.status == Flag.Status.OPEN
    assert escalated.severity > crs.severity
    assert leads_kept(hypoxic)["open_lead_severity"] == escalated.severity
    assert order() == [hypoxic.pk, febrile.pk]  # re-opened, and worse

    for flag in Flag.objects.unresolved().filter(course=febrile, status=Flag.Status.OPEN):
        services.acknowledge_flag(flag=flag, by=care_team_member)
    assert leads_kept(febrile)["open_lead_severity"] is None
    for flag in Flag.objects.unresolved().filter(course=hypoxic):
        services.resolve_flag(flag=flag, by=care_team_member, reason="better")
    assert leads_kept(hypoxic) == dict.fromkeys(leads_kept(hypoxic))  # no flag left
    assert order()[0] == febrile.pk


def test_a_patient_with_an_open_flag_ranks_by_it_not_by_an_acknowledged_worse_one(
    care_client, care_team_member, ward_a
):
    """The leading flag is the worst one still waiting for someone."""
    both = CourseFactory(unit=ward_a)
    urgent = CourseFactory(unit=ward_a)
    make_flag(both, Flag.Severity.WARNING, "open warning", kind="news2", hours_ago=9)
    acknowledged(both, Flag.Severity.CRITICAL, "handled critical", by=care_team_member)
    make_flag(urgent, Flag.Severity.URGENT, "open urgent")

    page = care_client.get(BOARD).content.decode()

    assert rows_in_order(page) == [urgent.pk, both.pk]
    row = row_of(page, both)
    assert row.index("open warning") < row.index("+ 1 more")
    assert "CRS (critical, acknowledged by Test User" in row


def test_one_row_per_patient_with_the_others_summarised(care_client, ward_a):
    course = CourseFactory(unit=ward_a)
    make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia", hours_ago=2 + 5.2 / 60)
    make_flag(course, Flag.Severity.WARNING, "Fever 38.4", kind="vital_sign")
    make_flag(course, Flag.Severity.WARNING, "NEWS2 5", kind="news2")

    page = care_client.get(BOARD).content.decode()

    assert page.count(ROW_CLASS) == 1
    row = row_of(page, course)
    assert "CRS grade 2: hypoxia" in row
    assert "waiting 2 h 05 min" in row
    assert "+ 2 more: Vital sign outside thresholds (warning); NEWS2 (warning)" in row
    assert "flag-standout" in row_classes(page, course)  # open and urgent


def test_a_row_shows_the_grades_with_their_age_and_every_overdue_check(care_client, nurse, ward_a):
    course = CourseFactory(unit=ward_a)
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=9),
        vitals={**ROOM_AIR, "temp_c": 38.4},
        symptoms={"fever": True},
        neuro=ICE_10,
        labs={"crp_mg_l": 12},
    )

    row = row_of(care_client.get(BOARD).content.decode(), course)

    assert "CRS 1" in row
    assert "ICANS 0" in row
    assert "graded 9 h 00 min ago" in row
    # Febrile: vital signs, symptoms and ICE every 2 h in the default protocol; labs daily.
    assert "Vital signs overdue 7 h 00 min" in row
    assert "Symptom review overdue 7 h 00 min" in row
    assert "Neuro assessment (ICE/CAPD) overdue 7 h 00 min" in row
    assert "Labs" not in row


def test_an_acknowledged_flag_says_who_acknowledged_it(care_client, care_team_member, course):
    acknowledged(course, Flag.Severity.URGENT, "CRS grade 2", by=care_team_member)

    row = row_of(care_client.get(BOARD).content.decode(), course)

    assert "acknowledged by Test User" in row
    assert "waiting" not in row
    assert "flag-acked" in row_classes(care_client.get(BOARD).content.decode(), course)


def test_a_flag_that_got_worse_after_acknowledgement_is_open_again(
    care_client, care_team_member, nurse, course
):
    now = timezone.now()
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(hours=2),
        vitals={**ROOM_AIR, "temp_c": 38.4},
    )
    flag = Flag.objects.get(kind="crs")
    services.acknowledge_flag(flag=flag, by=care_team_member, note="antipyretic given")
    # Worse: hypoxia on low-flow oxygen is grade 2, which escalates and re-opens the flag.
    services.record_check(
        course=course,
        by=nurse,
        observed_at=now - timedelta(minutes=5),
        vitals={**ROOM_AIR, "temp_c": 38.6, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )

    page = care_client.get(BOARD).content.decode()

    row = row_of(page, course)
    assert "flag-standout" in row_classes(page, course)
    assert "re-opened" in row
    assert "CRS grade 2" in row


def test_patients_with_only_an_overdue_check_come_last_longest_overdue_first(
    care_client, nurse, ward_a
):
    late = CourseFactory(unit=ward_a, patient__family_name="Latecomer")
    later = CourseFactory(unit=ward_a, patient__family_name="Laterstill")
    on_time = CourseFactory(unit=ward_a, patient__family_name="Punctual")
    fully_checked(late, nurse, hours_ago=6)
    fully_checked(later, nurse, hours_ago=9)
    fully_checked(on_time, nurse, hours_ago=1)

    page = care_client.get(BOARD).content.decode()

    assert rows_in_order(page) == [later.pk, late.pk]
    assert "Vital signs overdue 5 h 00 min" in row_of(page, later)
    assert "Vital signs overdue 2 h 00 min" in row_of(page, late)
    assert "Punctual" not in page


def test_a_course_with_no_check_at_all_is_overdue_from_day_0(care_client, ward_a):
    course = CourseFactory(unit=ward_a, patient__family_name="Neverchecked")
    assert not CourseStatus.objects.filter(course=course).exists()

    row = row_of(care_client.get(BOARD).content.decode(), course)

    assert "Neverchecked" in row
    assert "Vital signs overdue 3 d" in row
    assert "not graded yet" in row


def test_finished_courses_have_no_overdue_checks(care_client, ward_a):
    CourseFactory(
        unit=ward_a, status=TreatmentCourse.Status.COMPLETED, patient__family_name="Finished"
    )

    assert "Finished" not in care_client.get(BOARD).content.decode()


# --- Escalation: the tier reached, who could not be told, failed pages, the worker -----------


def test_a_row_shows_the_tier_reached_and_why_nobody_was_on_call(care_client, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2", ladder_tier="app_fellow")
    for step, (tier, note) in enumerate(
        [("bedside_nurse", ""), ("app_fellow", "nobody on call as Charge nurse")]
    ):
        EscalationStep.objects.create(
            flag=flag,
            course=course,
            ladder_round=1,
            step=step,
            tier=tier,
            severity=flag.severity,
            at=timezone.now() - timedelta(minutes=30 - step),
            note=note,
        )

    row = row_of(care_client.get(BOARD).content.decode(), course)

    assert "told: CAR-T APP / fellow" in row
    assert "CRS: nobody on call as Charge nurse" in row


def test_only_the_latest_escalation_step_note_shows(care_client, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2", ladder_tier="attending")
    for step, note in enumerate(["nobody on call as Charge nurse", ""]):
        EscalationStep.objects.create(
            flag=flag,
            course=course,
            ladder_round=1,
            step=step,
            tier="attending",
            severity=flag.severity,
            at=timezone.now() - timedelta(minutes=10 - step),
            note=note,
        )

    assert "nobody on call" not in row_of(care_client.get(BOARD).content.decode(), course)


def failed_page(course, flag, recipient, *, at, status=Delivery.Status.RETRYING, channel="webhook"):
    notification = Notification.objects.create(
        key=f"test:{flag.pk}:{recipient.pk}:{channel}:{at.timestamp()}",
        recipient=recipient,
        course=course,
        flag=flag,
        reason=Notification.Reason.FLAG,
        severity=flag.severity,
        title="Urgent flag",
    )
    delivery = Delivery.objects.create(
        notification=notification, channel=channel, status=status, attempts=1
    )
    DeliveryAttempt.objects.create(delivery=delivery, attempted_at=at, ok=False, error="HTTP 503")
    return delivery


def test_a_row_shows_the_latest_failed_page_of_the_patients_open_flags(care_client, course, ward_a):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2")
    old_flag = make_flag(course, Flag.Severity.WARNING, "settled", kind="news2")
    doctor = UserFactory(first_name="Xavier", last_name="Ray", units=[ward_a])
    nurse_b = UserFactory(first_name="Bea", last_name="Old", units=[ward_a])
    at = timezone.localtime().replace(hour=14, minute=2) - timedelta(days=1)
    failed_page(course, flag, nurse_b, at=at - timedelta(minutes=20), channel="email")
    failed_page(course, flag, doctor, at=at)
    services.resolve_flag(flag=old_flag, by=doctor, reason="settled")
    failed_page(course, old_flag, nurse_b, at=at + timedelta(minutes=5))  # flag resolved since
    sent = failed_page(course, flag, nurse_b, at=at + timedelta(minutes=6), channel="push")
    sent.status = Delivery.Status.SENT  # retried and got through
    sent.save()

    row = row_of(care_client.get(BOARD).content.decode(), course)

    assert "Page to Xavier Ray failed at 14:02 — retrying" in row
    assert "Bea Old" not in row


def test_a_delivery_given_up_says_so(care_client, course, ward_a):
    flag = make_flag(course, Flag.Severity.CRITICAL, "CRS grade 3")
    doctor = UserFactory(first_name="Xavier", last_name="Ray", units=[ward_a])
    failed_page(
        course, flag, doctor, at=timezone.now(), status=Delivery.Status.FAILED, channel="email"
    )

    row = row_of(care_client.get(BOARD).content.decode(), course)

    assert "E-mail to Xavier Ray failed at" in row
    assert "given up" in row


def test_the_board_says_when_escalations_are_delayed_for_want_of_a_worker(
    care_client, course, settings
):
    make_flag(course, Flag.Severity.URGENT, "CRS grade 2")

    assert "Escalations delayed: no worker has run." in care_client.get(BOARD).content.decode()

    beat = WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="app1", pid=1, seen_at=timezone.now() - timedelta(minutes=12)
    )
    assert (
        "Escalations delayed: no worker seen for 12 min." in care_client.get(BOARD).content.decode()
    )

    beat.seen_at = timezone.now()
    beat.save()
    assert "Escalations delayed" not in care_client.get(BOARD).content.decode()


# --- Expand a row; acknowledge and resolve one flag -----------------------------------------


def test_expanding_a_row_shows_each_flag_with_its_own_actions(care_client, course):
    urgent = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")
    warning = make_flag(course, Flag.Severity.WARNING, "NEWS2 5", kind="news2")
    board = care_client.get(BOARD).content.decode()
    assert f'hx-get="{flags_url(course)}"' in row_of(board, course)
    assert 'hx-trigger="toggle once"' in row_of(board, course)

    response = care_client.get(flags_url(course), headers=HTMX)

    assert response.status_code == 200
    part = response.content.decode()
    assert "<html" not in part
    for flag in (urgent, warning):
        assert f'id="flag-{flag.pk}"' in part
        assert ack_url(flag) in part
        assert resolve_url(flag) in part
    # What the clinician saw goes with each action (acknowledge and resolve).
    assert part.count('name="seen_severity" value="3"') == 2
    assert part.count('name="seen_message" value="CRS grade 2: hypoxia"') == 2
    assert f'hx-target="#patient-{course.pk}"' in part


def test_without_htmx_the_expanded_row_is_the_course_page(care_client, course):
    response = care_client.get(flags_url(course))

    assert response.status_code == 302
    assert response.url == reverse("monitoring:patient-course", args=[course.patient.public_id])


def test_acknowledging_keeps_who_when_and_the_note_and_audits_it(
    care_client, care_team_member, course
):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")

    response = care_client.post(ack_url(flag), {"note": "tocilizumab ordered", "next": BOARD})

    assert response.status_code == 302
    assert response.url == BOARD
    flag.refresh_from_db()
    assert flag.status == Flag.Status.ACKNOWLEDGED
    assert flag.acknowledged_by == care_team_member
    assert timezone.now() - flag.acknowledged_at < timedelta(minutes=1)
    assert flag.acknowledge_note == "tocilizumab ordered"
    event = AuditEvent.objects.get(action=AuditEvent.Action.FLAG_ACKNOWLEDGED)
    assert event.user == care_team_member
    assert event.course == course
    assert "tocilizumab ordered" in event.summary
    assert "acknowledged by Test User" in row_of(care_client.get(BOARD).content.decode(), course)
    expanded = care_client.get(flags_url(course), headers=HTMX).content.decode()
    assert "Note: tocilizumab ordered" in expanded


def test_an_htmx_action_redraws_the_patients_row(care_client, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")
    other = make_flag(course, Flag.Severity.WARNING, "NEWS2 5", kind="news2")

    response = care_client.post(ack_url(flag), {"note": "on my way"}, headers=HTMX)

    assert response.status_code == 200
    row = response.content.decode()
    assert row.lstrip().startswith("<li")
    assert f'id="patient-{course.pk}"' in row
    assert "Flag acknowledged: CRS grade 2: hypoxia" in row
    assert "Note: on my way" in row  # expanded: the flags are shown
    assert resolve_url(flag) in row
    assert ack_url(other) in row  # still open
    assert "Acknowledge all (1)" in row
    assert re.search(r'id="nav-flag-count"[^>]*hx-swap-oob="true"[^>]*>1<', row)  # still open
    # The message is in the row, not left for the next page.
    assert "Flag acknowledged" not in care_client.get(BOARD).content.decode()


def test_an_htmx_action_that_fails_is_shown_in_the_row_with_what_was_typed(care_client, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")

    response = care_client.post(resolve_url(flag), {"reason": "  "}, headers=HTMX)

    assert response.status_code == 400
    row = response.content.decode()
    assert f'id="patient-{course.pk}"' in row
    assert "Nothing was changed" in row
    assert "Give the reason the flag is resolved." in row
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN


def test_an_htmx_action_on_a_flag_that_got_worse_is_refused_in_the_row(care_client, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")
    Flag.objects.filter(pk=flag.pk).update(
        severity=Flag.Severity.CRITICAL, message="CRS grade 3: one vasopressor"
    )

    response = care_client.post(
        ack_url(flag),
        {"seen_severity": 3, "seen_message": "CRS grade 2: hypoxia", "note": "seen"},
        headers=HTMX,
    )

    assert response.status_code == 409
    row = response.content.decode()
    assert "This flag changed since you saw it" in row
    assert 'name="seen_severity" value="4"' in row
    assert re.search(r'name="note"[^>]*value="seen"', row)  # what was typed
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN


def test_the_note_is_optional(care_client, course):
    flag = make_flag(course, Flag.Severity.WARNING, "CRS symptoms: fatigue")

    assert care_client.post(ack_url(flag), {}).status_code == 302

    flag.refresh_from_db()
    assert flag.status == Flag.Status.ACKNOWLEDGED
    assert flag.acknowledge_note == ""


def test_resolving_keeps_the_reason_and_takes_the_flag_off_the_board(
    care_client, care_team_member, nurse, course
):
    services.record_check(
        course=course, by=nurse, observed_at=timezone.now(), vitals={**ROOM_AIR, "temp_c": 38.4}
    )
    flag = Flag.objects.get(kind="crs")
    before = CourseStatus.objects.get(course=course).open_flag_count  # CRS and vital sign

    response = care_client.post(resolve_url(flag), {"reason": "fever settled after paracetamol"})

    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.status == Flag.Status.RESOLVED
    assert flag.resolved_by == care_team_member
    assert flag.resolve_reason == "fever settled after paracetamol"
    assert flag.resolved_at is not None
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.FLAG_RESOLVED, user=care_team_member
    ).exists()
    assert CourseStatus.objects.get(course=course).open_flag_count == before - 1
    expanded = care_client.get(flags_url(course), headers=HTMX).content.decode()
    assert f'id="flag-{flag.pk}"' not in expanded


@pytest.mark.parametrize("reason", ["", "   "])
def test_resolving_without_a_reason_changes_nothing_and_says_why(care_client, course, reason):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")

    response = care_client.post(resolve_url(flag), {"reason": reason})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was changed" in page
    assert "Give the reason the flag is resolved." in page
    assert "CRS grade 2: hypoxia" in page
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN
    assert not AuditEvent.objects.exists()


def test_a_note_that_is_too_long_re_renders_with_what_was_typed(care_client, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")

    response = care_client.post(ack_url(flag), {"note": "x" * 501})

    assert response.status_code == 400
    assert "x" * 501 in response.content.decode()
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN


def test_acting_on_a_resolved_flag_is_refused_with_a_message(care_client, course, care_team_member):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")
    services.resolve_flag(flag=flag, by=care_team_member, reason="settled")

    for url, data in ((ack_url(flag), {}), (resolve_url(flag), {"reason": "again"})):
        response = care_client.post(url, data)
        assert response.status_code == 400
        assert "already resolved" in response.content.decode()


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_a_flag_that_got_worse_since_it_was_seen_is_not_acted_on_blindly(
    care_client, course, action
):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia on low-flow oxygen")
    seen = {
        "seen_severity": flag.severity,
        "seen_message": flag.message,
        "note": "tocilizumab ordered",
        "reason": "improving",
    }
    # Meanwhile a new check escalates it (services.FlagBook).
    Flag.objects.filter(pk=flag.pk).update(
        severity=Flag.Severity.CRITICAL, message="CRS grade 3: one vasopressor"
    )
    url = ack_url(flag) if action == "acknowledge" else resolve_url(flag)

    response = care_client.post(url, seen)

    assert response.status_code == 409
    page = response.content.decode()
    assert "This flag changed since you saw it" in page
    assert "CRS grade 3: one vasopressor" in page
    assert 'name="seen_severity" value="4"' in page  # confirming again means seeing the new one
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN
    assert not AuditEvent.objects.exists()

    again = care_client.post(
        url, {**seen, "seen_severity": 4, "seen_message": "CRS grade 3: one vasopressor"}
    )

    assert again.status_code == 302
    flag.refresh_from_db()
    assert flag.status != Flag.Status.OPEN


def test_an_outside_next_address_is_not_followed(care_client, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")

    response = care_client.post(ack_url(flag), {"next": "https://evil.example/flags/"})

    assert response.url == BOARD


def test_flag_actions_are_post_only_and_need_the_csrf_token(care_team_member, course):
    flag = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")
    client = Client(enforce_csrf_checks=True)
    client.force_login(care_team_member)

    assert client.get(ack_url(flag)).status_code == 405
    assert client.get(ack_all_url(course)).status_code == 405
    assert client.post(ack_url(flag), {"note": "x"}).status_code == 403
    assert client.post(resolve_url(flag), {"reason": "x"}).status_code == 403
    assert client.post(ack_all_url(course), {"note": "x"}).status_code == 403
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN


# --- Acknowledge all for this patient ---------------------------------------------------------


@pytest.fixture
def three_flags(course, care_team_member):
    """Two unacknowledged flags (each on its escalation ladder) and one acknowledged earlier."""
    later = timezone.now() + timedelta(minutes=5)
    crs = make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia", escalate_at=later)
    news = make_flag(course, Flag.Severity.WARNING, "NEWS2 5", kind="news2", escalate_at=later)
    seen = make_flag(course, Flag.Severity.WARNING, "Fever 38.4", kind="vital_sign")
    services.acknowledge_flag(flag=seen, by=care_team_member, note="earlier")
    return crs, news, seen


def test_acknowledge_all_acknowledges_every_open_flag_with_one_note_and_stops_each_ladder(
    care_client, care_team_member, course, three_flags
):
    crs, news, seen = three_flags
    board = care_client.get(BOARD).content.decode()
    token = re.search(r'name="seen" value="([0-9a-f]+)"', row_of(board, course)).group(1)
    assert "Acknowledge all (2)" in row_of(board, course)

    response = care_client.post(
        ack_all_url(course), {"note": "reviewed at the bedside", "seen": token, "next": BOARD}
    )

    assert response.status_code == 302
    assert response.url == BOARD
    for flag in (crs, news):
        flag.refresh_from_db()
        assert flag.status == Flag.Status.ACKNOWLEDGED
        assert flag.acknowledged_by == care_team_member
        assert flag.acknowledge_note == "reviewed at the bedside"
        assert flag.escalate_at is None  # the ladder stopped
        assert flag.acknowledgements.get().note == "reviewed at the bedside"
    seen.refresh_from_db()
    assert seen.acknowledge_note == "earlier"  # already acknowledged: left alone
    events = AuditEvent.objects.filter(action=AuditEvent.Action.FLAG_ACKNOWLEDGED).exclude(
        details__flag=seen.pk
    )
    assert sorted(e.details["flag"] for e in events) == sorted([crs.pk, news.pk])
    assert all("with the patient's 2 unacknowledged flags" in e.summary for e in events)
    page = care_client.get(BOARD).content.decode()
    assert "2 flags acknowledged for Ada Lovelace." in page
    assert "Acknowledge all" not in row_of(page, course)
    assert "flag-acked" in row_classes(page, course)


def test_acknowledge_all_with_htmx_redraws_the_row(care_client, course, three_flags):
    response = care_client.post(ack_all_url(course), {"note": "seen"}, headers=HTMX)

    assert response.status_code == 200
    row = response.content.decode()
    assert "2 flags acknowledged for Ada Lovelace." in row
    assert "Acknowledge all" not in row
    assert not Flag.objects.filter(course=course, status=Flag.Status.OPEN).exists()


def test_acknowledge_all_refuses_when_a_flag_was_raised_or_got_worse_since_it_was_seen(
    care_client, course, three_flags
):
    crs, news, _ = three_flags
    board = care_client.get(BOARD).content.decode()
    token = re.search(r'name="seen" value="([0-9a-f]+)"', row_of(board, course)).group(1)
    Flag.objects.filter(pk=crs.pk).update(
        severity=Flag.Severity.CRITICAL, message="CRS grade 3: one vasopressor"
    )
    before = AuditEvent.objects.count()

    response = care_client.post(
        ack_all_url(course), {"note": "all fine", "seen": token}, headers=HTMX
    )

    assert response.status_code == 409
    row = response.content.decode()
    assert "changed since you saw them" in row
    assert "CRS grade 3: one vasopressor" in row
    assert 'value="all fine"' in row  # the note is kept
    new_token = re.search(r'name="seen" value="([0-9a-f]+)"', row).group(1)
    assert new_token != token
    assert Flag.objects.filter(course=course, status=Flag.Status.OPEN).count() == 2
    assert AuditEvent.objects.count() == before

    again = care_client.post(ack_all_url(course), {"note": "all fine", "seen": new_token})
    assert again.status_code == 302
    assert not Flag.objects.filter(course=course, status=Flag.Status.OPEN).exists()


def test_acknowledge_all_refuses_when_a_new_flag_was_raised_since(care_client, course, three_flags):
    board = care_client.get(BOARD).content.decode()
    token = re.search(r'name="seen" value="([0-9a-f]+)"', row_of(board, course)).group(1)
    make_flag(course, Flag.Severity.CRITICAL, "Seizure", kind="seizure", hours_ago=0)

    response = care_client.post(ack_all_url(course), {"seen": token})

    assert response.status_code == 409
    assert "Seizure" in response.content.decode()  # shown, on a page of its own without htmx
    assert Flag.objects.filter(course=course, status=Flag.Status.OPEN).count() == 3


def test_acknowledge_all_with_a_note_too_long_changes_nothing(care_client, course, three_flags):
    response = care_client.post(ack_all_url(course), {"note": "x" * 501})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was changed" in page
    assert "x" * 501 in page
    assert Flag.objects.filter(course=course, status=Flag.Status.OPEN).count() == 2


def test_acknowledge_all_with_nothing_to_acknowledge_says_so(
    care_client, care_team_member, course, three_flags
):
    services.acknowledge_course_flags(course=course, by=care_team_member)
    before = AuditEvent.objects.count()

    response = care_client.post(ack_all_url(course), {"note": "again"})

    assert response.status_code == 400
    assert "This patient has no unacknowledged flag." in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_acknowledge_all_is_the_care_teams_and_on_their_units_only(
    nurse_client, admin_client_, other_care_client, course, three_flags
):
    for client in (nurse_client, admin_client_):
        assert client.post(ack_all_url(course), {"note": "x"}).status_code == 403
    assert other_care_client.post(ack_all_url(course), {"note": "x"}).status_code == 404
    assert other_care_client.get(flags_url(course), headers=HTMX).status_code == 404
    assert Flag.objects.filter(course=course, status=Flag.Status.OPEN).count() == 2


# --- New since you last looked ---------------------------------------------------------------


def test_new_marks_what_was_raised_or_got_worse_since_the_last_look(
    care_client, care_team_member, ward_a
):
    old = CourseFactory(unit=ward_a)
    make_flag(old, Flag.Severity.URGENT, "known before", hours_ago=3)
    first = care_client.get(BOARD).content.decode()  # the first look: nothing is marked
    assert 'title="Raised or worse since you last looked">New' not in first
    new = CourseFactory(unit=ward_a)
    worse = CourseFactory(unit=ward_a)
    make_flag(new, Flag.Severity.WARNING, "raised since", hours_ago=0)
    make_flag(
        worse,
        Flag.Severity.CRITICAL,
        "worse since",
        hours_ago=5,
        worsened_at=timezone.now(),
    )

    second = care_client.get(BOARD).content.decode()

    assert ">New<" in row_of(second, new)
    assert ">New<" in row_of(second, worse)
    assert ">New<" not in row_of(second, old)
    # The 30-second refresh keeps the marks of the last full look...
    polled = care_client.get(BOARD, headers=POLL).content.decode()
    assert ">New<" in row_of(polled, new)
    assert ">New<" in row_of(polled, worse)
    # ... and moves nothing: the next full look still starts from the second one.
    visit = BoardVisit.objects.get(user=care_team_member)
    assert visit.previous_seen_at is not None
    third = care_client.get(BOARD).content.decode()
    assert ">New<" not in row_of(third, new)
    assert ">New<" not in row_of(third, worse)


def test_each_user_has_their_own_marks(care_client, ward_a):
    colleague = UserFactory(role=User.Role.CARE_TEAM, units=[ward_a])
    colleague_client = Client()
    colleague_client.force_login(colleague)
    course = CourseFactory(unit=ward_a)
    care_client.get(BOARD)
    colleague_client.get(BOARD)
    make_flag(course, Flag.Severity.URGENT, "raised now", hours_ago=0)
    colleague_client.get(BOARD)  # she looked after it was raised

    assert ">New<" in row_of(care_client.get(BOARD).content.decode(), course)
    assert ">New<" not in row_of(colleague_client.get(BOARD).content.decode(), course)


# --- The navigation count ---------------------------------------------------------------------


def test_every_page_shows_how_many_patients_have_an_unacknowledged_flag(
    care_client, care_team_member, course, ward_a, ward_b
):
    make_flag(course, Flag.Severity.URGENT, "one")
    make_flag(course, Flag.Severity.WARNING, "same patient", kind="icans")
    second = CourseFactory(unit=ward_a)
    make_flag(second, Flag.Severity.WARNING, "second patient")
    acknowledged(
        CourseFactory(unit=ward_a), Flag.Severity.CRITICAL, "acknowledged", by=care_team_member
    )
    make_flag(CourseFactory(unit=ward_a), Flag.Severity.WARNING, "gone", status="resolved")
    make_flag(CourseFactory(unit=ward_b), Flag.Severity.CRITICAL, "elsewhere")

    for url in (
        "/worklist/",
        BOARD,
        reverse("monitoring:patient-course", args=[course.patient.public_id]),
    ):
        page = care_client.get(url).content.decode()
        count = re.search(r'id="nav-flag-count"[^>]*>(\d+)<', page)
        assert count, url
        assert count.group(1) == "2", url
    assert re.search(r">Board\s+<span", page)


# --- Who may see and do what ------------------------------------------------------------------


def test_the_care_team_of_another_unit_gets_404_and_changes_nothing(other_care_client, course):
    flag = make_flag(course, Flag.Severity.CRITICAL, "CRS grade 3: one vasopressor")

    assert other_care_client.post(ack_url(flag), {"note": "mine?"}).status_code == 404
    assert other_care_client.post(resolve_url(flag), {"reason": "mine?"}).status_code == 404
    assert "CRS grade 3" not in other_care_client.get(BOARD).content.decode()
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN


def test_nurses_see_the_board_but_only_the_care_team_acts(nurse_client, admin_client_, course):
    flag = make_flag(course, Flag.Severity.CRITICAL, "CRS grade 3: one vasopressor")

    response = nurse_client.get(BOARD)
    expanded = nurse_client.get(flags_url(course), headers=HTMX)

    assert response.status_code == 200
    assert "CRS grade 3" in response.content.decode()
    assert "Acknowledge all" not in response.content.decode()
    assert expanded.status_code == 200
    assert f'id="flag-{flag.pk}"' in expanded.content.decode()
    assert "Acknowledge…" not in expanded.content.decode()
    assert "Resolve…" not in expanded.content.decode()
    # Acknowledging tells the physicians someone owns the flag: not a nurse's or an admin's call.
    for client in (nurse_client, admin_client_):
        assert client.post(ack_url(flag), {"note": "seen"}).status_code == 403
        assert client.post(resolve_url(flag), {"reason": "done"}).status_code == 403
    flag.refresh_from_db()
    assert flag.status == Flag.Status.OPEN


def test_an_admin_sees_every_units_flags(admin_client_, ward_a, ward_b):
    make_flag(CourseFactory(unit=ward_a), Flag.Severity.URGENT, "ward A flag")
    make_flag(CourseFactory(unit=ward_b), Flag.Severity.URGENT, "ward B flag")

    page = admin_client_.get(BOARD).content.decode()

    assert "ward A flag" in page
    assert "ward B flag" in page


# --- Filters, pages and the 30-second refresh ---------------------------------------------------


@pytest.fixture
def two_unit_carer(ward_a, ward_b):
    """A care-team member of wards A and C (not B)."""
    ward_c = UnitFactory(name="Ward C", code="ward-c")
    user = UserFactory(username="cora", role=User.Role.CARE_TEAM, units=[ward_a, ward_c])
    client = Client()
    client.force_login(user)
    make_flag(CourseFactory(unit=ward_a), Flag.Severity.URGENT, "flag on A")
    make_flag(CourseFactory(unit=ward_c), Flag.Severity.WARNING, "flag on C")
    make_flag(CourseFactory(unit=ward_b), Flag.Severity.CRITICAL, "flag on B")
    client.user, client.ward_c = user, ward_c
    return client, ward_c


def test_the_unit_filter_shows_one_of_the_users_units(two_unit_carer):
    client, ward_c = two_unit_carer

    everything = client.get(BOARD).content.decode()
    only_c = client.get(f"{BOARD}?unit={ward_c.pk}").content.decode()

    assert "flag on A" in everything
    assert "flag on C" in everything
    assert "flag on B" not in everything
    assert "flag on C" in only_c
    assert "flag on A" not in only_c


def test_the_severity_filter_shows_patients_with_that_severity_or_worse(two_unit_carer, nurse):
    client, _ = two_unit_carer
    CourseFactory(unit=nurse.units.get(), patient__family_name="Onlyoverdue")

    page = client.get(BOARD, {"severity": Flag.Severity.URGENT}).content.decode()

    assert "flag on A" in page  # urgent
    assert "flag on C" not in page  # warning
    assert "Onlyoverdue" not in page  # no flag at all
    assert "Onlyoverdue" in client.get(BOARD).content.decode()


@pytest.mark.parametrize("value", ["7", "0", "urgent", "3abc", "٣"])
def test_an_unknown_severity_shows_every_severity_with_a_message(two_unit_carer, value):
    client, _ = two_unit_carer

    response = client.get(BOARD, {"severity": value})

    assert response.status_code == 200
    assert "Unknown severity: showing every severity." in response.content.decode()
    assert "flag on C" in response.content.decode()


def test_mine_shows_the_units_i_am_on_call_for_now(two_unit_carer, ward_a):
    client, ward_c = two_unit_carer
    now = timezone.now()
    OnCallShift.objects.create(
        unit=ward_c, tier="app_fellow", user=client.user, starts_at=now - timedelta(hours=1)
    )
    OnCallShift.objects.create(  # over
        unit=ward_a,
        tier="attending",
        user=client.user,
        starts_at=now - timedelta(hours=10),
        ends_at=now - timedelta(hours=2),
    )

    page = client.get(BOARD, {"mine": "1"}).content.decode()

    assert "flag on C" in page
    assert "flag on A" not in page
    assert "On call now for: Ward C." in page
    assert 'name="mine" value="1" id="board-mine" checked' in page


def test_mine_without_a_shift_shows_nobody_and_says_why(two_unit_carer):
    client, _ = two_unit_carer

    page = client.get(BOARD, {"mine": "1"}).content.decode()

    assert ROW_CLASS not in page
    assert "you hold no on-call shift now" in page


def test_an_unknown_mine_value_shows_everyone_with_a_message(two_unit_carer):
    client, _ = two_unit_carer

    response = client.get(BOARD, {"mine": "yes please"})

    assert response.status_code == 200
    assert "showing every patient of your units" in response.content.decode()
    assert "flag on A" in response.content.decode()


def test_the_board_shows_50_patients_a_page(care_client, ward_a):
    for n, course in enumerate(CourseFactory.create_batch(51, unit=ward_a)):
        make_flag(course, Flag.Severity.WARNING, f"flag number {n:02d}", hours_ago=100 - n)

    first = care_client.get(BOARD).content.decode()
    second = care_client.get(BOARD, {"page": 2, "severity": 2}).content.decode()

    assert first.count(ROW_CLASS) == 50
    assert "Page 1 of 2" in first
    assert second.count(ROW_CLASS) == 1
    assert "flag number 50" in second
    assert "?page=1&amp;severity=2" in second
    assert "flag number 50" in care_client.get(BOARD, {"page": "999"}).content.decode()
    assert "flag number 00" in care_client.get(BOARD, {"page": "abc"}).content.decode()


def test_the_refresh_gets_the_rows_alone_with_the_navigation_count(care_client, course):
    make_flag(course, Flag.Severity.URGENT, "CRS grade 2: hypoxia")
    full = care_client.get(BOARD, {"severity": 2})

    partial = care_client.get(BOARD, {"severity": 2}, headers=POLL)

    page = full.content.decode()
    assert 'hx-trigger="every 30s"' in page
    assert 'hx-get="/flags/?severity=2"' in page
    # static/js/live.js marks the region's own refreshes as polls (tests/e2e/test_board.py).
    assert re.search(r'id="flag-board" class="live-region"', page)
    assert "/static/js/live.js" in page
    assert "htmx-config" in page  # no injected indicator <style> under our CSP
    fragment = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in fragment
    assert fragment.lstrip().startswith("<p")
    assert "CRS grade 2: hypoxia" in fragment
    assert re.search(r'id="nav-flag-count"[^>]*hx-swap-oob="true"', fragment)
    assert "HX-Request" in partial.headers["Vary"]


# --- Cost -------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_patients", [3, 30])
def test_the_board_costs_the_same_queries_for_3_or_30_patients(
    care_client, care_team_member, nurse, ward_a, django_assert_num_queries, n_patients
):
    doctor = UserFactory(role=User.Role.CARE_TEAM, units=[ward_a])
    for n, course in enumerate(CourseFactory.create_batch(n_patients, unit=ward_a)):
        services.record_check(
            course=course,
            by=nurse,
            observed_at=timezone.now() - timedelta(hours=5),
            vitals={
                **ROOM_AIR,
                "temp_c": 38.4,
                "oxygen_support": "low_flow",
                "oxygen_flow_l_min": 3,
            },
            symptoms={"fever": True},
        )
        flag = Flag.objects.get(course=course, kind="crs")
        Flag.objects.filter(pk=flag.pk).update(ladder_tier="charge_nurse")
        EscalationStep.objects.create(
            flag=flag,
            course=course,
            ladder_round=1,
            step=0,
            tier="charge_nurse",
            severity=flag.severity,
            note="nobody on call as Bedside nurse",
        )
        failed_page(course, flag, doctor, at=timezone.now())
        if n % 2:
            services.acknowledge_flag(flag=flag, by=care_team_member)
    care_client.get(BOARD)  # a look before: this one moves it (one read, one update)
    # session, user, the user's units (filter menu); the previous look, and this one; count
    # of patients (paginator), one page of them (its ids a subquery) with patient, unit,
    # status row and grade time, their protocol versions, the versions' schedules, their
    # products; the page's unresolved flags with who acknowledged them and their latest
    # escalation note; each patient's latest failed page; the workers' last heartbeat; the
    # navigation bar's patient count and unread notifications.
    with django_assert_num_queries(15):
        response = care_client.get(BOARD)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count(ROW_CLASS) == n_patients
    assert page.count("nobody on call as Bedside nurse") == n_patients
    assert page.count("failed at") == n_patients
    assert page.count("overdue") >= n_patients

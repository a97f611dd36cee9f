"""Escalation until someone answers, run by the real job worker with time under control.

The worker is django-tasks-db's own ``Worker`` (what ``manage.py run_worker`` runs), in batch
mode in this process so that time-machine moves its clock: it claims the jobs that are due with
``SELECT … FOR UPDATE SKIP LOCKED`` exactly as in production. Flags are raised through the
write path (services.record_check), acknowledged through services.acknowledge_flag.

The protocol's defaults (alert_rules): a critical flag may wait 5 minutes, an urgent one 15;
the ladder is bedside nurse → charge nurse → CAR-T APP/fellow → attending physician.
"""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from django_tasks_db.management.commands import db_worker
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from monitoring import alert_rules, escalation, services, worker
from monitoring.models import (
    AuditEvent,
    Delivery,
    EscalationStep,
    Flag,
    Notification,
    OnCallShift,
    OverdueAlert,
    User,
)
from tests.factories import ROOM_AIR, CourseFactory, UserFactory

VASOPRESSOR = {**ROOM_AIR, "temp_c": 38.6, "sbp_mmhg": 84, "vasopressors_count": 1}
LOW_FLOW = {**ROOM_AIR, "temp_c": 38.6, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3}


def run_worker():
    """Run every job that is due now, as a production worker would, then return.

    The worker closes "old" connections between jobs, as Django does between requests; here
    that would close the test's own transaction, so that one call is made a no-op."""
    with mock.patch.object(db_worker, "close_old_connections"):
        _worker()


def _worker():
    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    ).run()


@pytest.fixture
def t0():
    """A moment in the course (D+3 of a course infused three days ago), to the second."""
    return timezone.now().replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def course(ward_a, t0):
    return CourseFactory(unit=ward_a, infused_at=t0 - timedelta(days=3))


@pytest.fixture
def rota(ward_a, nurse, t0):
    """Every tier of ward A held by one person since before the infusion."""
    people = {
        alert_rules.BEDSIDE_NURSE: nurse,
        alert_rules.CHARGE_NURSE: UserFactory(
            username="chidi", role=User.Role.CHARGE_NURSE, units=[ward_a]
        ),
        alert_rules.APP_FELLOW: UserFactory(
            username="fran", role=User.Role.CARE_TEAM, units=[ward_a]
        ),
        alert_rules.ATTENDING: UserFactory(
            username="alma", role=User.Role.CARE_TEAM, units=[ward_a]
        ),
    }
    for tier, user in people.items():
        OnCallShift.objects.create(
            unit=ward_a, tier=tier, user=user, starts_at=t0 - timedelta(days=5)
        )
    return people


def at(moment):
    return time_machine.travel(moment, tick=False)


def told(flag, user) -> list[Notification]:
    return list(Notification.objects.filter(flag=flag, recipient=user).order_by("created_at"))


def raise_critical(course, nurse, when) -> Flag:
    with at(when):
        services.record_check(course=course, by=nurse, observed_at=when, vitals=VASOPRESSOR)
    return Flag.objects.get(course=course, kind=Flag.Kind.VASOPRESSOR)


def test_an_unacknowledged_critical_flag_escalates_at_exactly_the_protocol_limit(
    course, nurse, rota, t0
):
    flag = raise_critical(course, nurse, t0)
    assert flag.severity == Flag.Severity.CRITICAL

    with at(t0):
        run_worker()
    first = told(flag, rota[alert_rules.BEDSIDE_NURSE])
    assert [n.reason for n in first] == [Notification.Reason.FLAG]
    assert first[0].title == f"cartmonitor: critical flag, {course.unit.name}"

    with at(t0 + timedelta(minutes=5) - timedelta(seconds=1)):
        run_worker()
    assert told(flag, rota[alert_rules.CHARGE_NURSE]) == []

    with at(t0 + timedelta(minutes=5)):
        run_worker()
    escalated = told(flag, rota[alert_rules.CHARGE_NURSE])
    assert [(n.reason, n.created_at) for n in escalated] == [
        (Notification.Reason.ESCALATION, t0 + timedelta(minutes=5))
    ]
    flag.refresh_from_db()
    assert flag.ladder_tier == alert_rules.CHARGE_NURSE
    assert "unacknowledged for 5 min" in escalated[0].body

    for minutes, tier in ((10, alert_rules.APP_FELLOW), (15, alert_rules.ATTENDING)):
        with at(t0 + timedelta(minutes=minutes)):
            run_worker()
        assert len(told(flag, rota[tier])) == 1, tier
    # Past the top of the ladder the attending is told again, every limit, until someone answers.
    with at(t0 + timedelta(minutes=20)):
        run_worker()
    assert len(told(flag, rota[alert_rules.ATTENDING])) == 2
    escalations = AuditEvent.objects.filter(action=AuditEvent.Action.FLAG_ESCALATED).order_by("at")
    assert [e.details["tier"] for e in escalations if e.details["flag"] == flag.pk] == [
        alert_rules.CHARGE_NURSE,
        alert_rules.APP_FELLOW,
        alert_rules.ATTENDING,
        alert_rules.ATTENDING,
    ]


def test_acknowledging_first_cancels_the_ladder(course, nurse, rota, t0, care_team_member):
    flag = raise_critical(course, nurse, t0)
    with at(t0):
        run_worker()
    with at(t0 + timedelta(minutes=3)):
        services.acknowledge_flag(flag=flag, by=care_team_member, note="On my way")

    for minutes in (5, 10, 30):
        with at(t0 + timedelta(minutes=minutes)):
            run_worker()

    assert Notification.objects.filter(flag=flag).exclude(recipient=nurse).count() == 0
    assert EscalationStep.objects.filter(flag=flag).count() == 1  # the first notice only
    flag.refresh_from_db()
    assert flag.escalate_at is None


def test_a_flag_that_gets_worse_starts_the_ladder_again(course, nurse, rota, t0, care_team_member):
    with at(t0):
        services.record_check(course=course, by=nurse, observed_at=t0, vitals=LOW_FLOW)
        run_worker()
    crs = Flag.objects.get(course=course, kind=Flag.Kind.CRS)
    assert crs.severity == Flag.Severity.URGENT  # CRS 2: low-flow oxygen
    with at(t0 + timedelta(minutes=2)):
        services.acknowledge_flag(flag=crs, by=care_team_member, note="Seen")

    later = t0 + timedelta(minutes=30)
    with at(later):
        services.record_check(course=course, by=nurse, observed_at=later, vitals=VASOPRESSOR)
        run_worker()
    crs.refresh_from_db()
    assert (crs.status, crs.severity, crs.ladder_round) == ("open", Flag.Severity.CRITICAL, 2)
    assert len(told(crs, nurse)) == 2  # told again at once: it got worse

    with at(later + timedelta(minutes=5)):
        run_worker()
    assert len(told(crs, rota[alert_rules.CHARGE_NURSE])) == 1


@transaction.atomic
def save_then_fail(course, nurse, when):
    services.record_check(course=course, by=nurse, observed_at=when, vitals=VASOPRESSOR)
    raise RuntimeError("the save failed after the flag was written")


def test_a_rolled_back_save_pages_nobody_and_a_committed_one_always_does(course, nurse, rota, t0):
    with at(t0):
        with pytest.raises(RuntimeError):
            save_then_fail(course, nurse, t0)
        run_worker()
    assert not Flag.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert not Notification.objects.exists()

    raise_critical(course, nurse, t0)
    assert DBTaskResult.objects.ready().count() >= 1  # written with the flag, same transaction


def test_a_tier_nobody_holds_is_skipped_and_the_board_can_say_so(course, nurse, rota, t0):
    OnCallShift.objects.filter(tier=alert_rules.CHARGE_NURSE).update(ends_at=t0)
    flag = raise_critical(course, nurse, t0)
    with at(t0):
        run_worker()
    with at(t0 + timedelta(minutes=5)):
        run_worker()

    assert len(told(flag, rota[alert_rules.APP_FELLOW])) == 1
    last = EscalationStep.objects.filter(flag=flag).last()
    assert (last.tier, last.note) == (alert_rules.APP_FELLOW, "nobody on call as Charge nurse")


def test_with_nobody_on_call_the_units_care_team_is_told(
    course, nurse, t0, care_team_member, outsider
):
    flag = raise_critical(course, nurse, t0)
    with at(t0):
        run_worker()

    assert [n.recipient for n in Notification.objects.filter(flag=flag)] == [care_team_member]
    step = EscalationStep.objects.get(flag=flag)
    assert step.note.endswith(f"told the care team of {course.unit.name}")


def test_a_worker_that_was_down_goes_straight_to_the_tier_owed(course, nurse, rota, t0):
    flag = raise_critical(course, nurse, t0)

    with at(t0 + timedelta(minutes=12)):  # no worker ran for 12 minutes
        run_worker()

    # One message, to the tier the flag should have reached (step 2: the APP/fellow).
    assert [n.recipient for n in Notification.objects.filter(flag=flag)] == [
        rota[alert_rules.APP_FELLOW]
    ]
    flag.refresh_from_db()
    assert flag.escalate_at == t0 + timedelta(minutes=15)  # back on the protocol's clock


def test_a_step_run_twice_tells_nobody_twice(course, nurse, rota, t0):
    flag = raise_critical(course, nurse, t0)
    with at(t0):
        assert escalation.step(flag.pk, flag.ladder_round).startswith("told 1")
        assert escalation.step(flag.pk, flag.ladder_round) == "not due"
        assert escalation.step(flag.pk, flag.ladder_round - 1) == "stopped"  # an old round
        run_worker()  # the job queued at the raise finds the step already taken
    assert Notification.objects.filter(flag=flag).count() == 1


def test_an_overdue_check_past_the_grace_tells_the_nurse_in_charge_once(course, nurse, rota, t0):
    with at(t0):
        services.record_check(
            course=course, by=nurse, observed_at=t0, vitals={**ROOM_AIR, "temp_c": 36.8}
        )
    course.status_row.refresh_from_db()
    due = course.status_row.next_due_at
    grace = timedelta(minutes=course.protocol_version.overdue_grace_minutes)

    with at(due + grace - timedelta(seconds=1)):
        escalation.sweep()
    assert not OverdueAlert.objects.exists()

    for _ in range(2):
        with at(due + grace + timedelta(minutes=1)):
            escalation.sweep()
    charge = rota[alert_rules.CHARGE_NURSE]
    alerts = Notification.objects.filter(reason=Notification.Reason.OVERDUE)
    assert {n.recipient for n in alerts} == {charge}
    assert alerts.count() == OverdueAlert.objects.count() >= 1
    assert {n.title for n in alerts} >= {f"cartmonitor: labs overdue, {course.unit.name}"}
    assert not any(course.patient.family_name in n.title for n in alerts)


def test_patient_names_leave_the_building_only_when_the_protocol_allows(course, nurse, rota, t0):
    flag = raise_critical(course, nurse, t0)
    with at(t0):
        run_worker()
    assert course.patient.family_name not in Notification.objects.get(flag=flag).title
    assert course.patient.family_name in Notification.objects.get(flag=flag).body  # in-app

    version = course.protocol_version
    version.notify_patient_names = True
    version.save()
    course.bed = "3"
    course.save()
    with at(t0 + timedelta(minutes=5)):
        run_worker()
    charge = told(flag, rota[alert_rules.CHARGE_NURSE])[0]
    assert charge.title.startswith(
        f"cartmonitor: critical flag not acknowledged, {course.unit.name}"
    )
    assert charge.title.endswith(f"bed 3 — {course.patient.full_name}")


def test_an_email_is_sent_by_the_worker_to_whoever_chose_it(course, nurse, rota, t0, mailoutbox):
    nurse.email, nurse.notify_by_email = "nina@example.org", True
    nurse.save()
    raise_critical(course, nurse, t0)
    assert mailoutbox == []  # nothing is sent in the web request

    with at(t0):
        run_worker()

    subjects = {m.subject for m in mailoutbox}
    assert f"cartmonitor: critical flag, {course.unit.name}" in subjects
    assert all(m.to == ["nina@example.org"] for m in mailoutbox)
    assert {d.status for d in Delivery.objects.all()} == {Delivery.Status.SENT}


def test_the_workers_heartbeat_is_what_healthz_reads(client, db):
    assert client.get("/healthz").json()["workers"] == "delayed"
    assert client.get("/healthz?require=worker").status_code == 503

    worker.heartbeat("w-1")
    assert client.get("/healthz").json() == {"status": "ok", "workers": "ok"}
    assert client.get("/healthz?require=worker").status_code == 200

    with at(timezone.now() + timedelta(minutes=12)):
        body = client.get("/healthz").json()
        assert client.get("/healthz").status_code == 200  # the web servers stay in rotation
    assert body["escalations"] == "escalations delayed: no worker seen for 12 min"


def test_a_course_without_a_protocol_version_escalates_on_the_defaults(course, nurse, rota, t0):
    course.protocol_version = None
    course.save()
    flag = raise_critical(course, nurse, t0)

    for minutes in (0, 5):
        with at(t0 + timedelta(minutes=minutes)):
            run_worker()

    assert len(told(flag, rota[alert_rules.CHARGE_NURSE])) == 1

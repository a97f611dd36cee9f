"""Step-up dosing through the write path over days: plan → dose 1 → checks due only inside its
window → CRS → dose 2 refused until CRS has resolved long enough → physician override audited →
a delayed dose restarts the step-up. Access and query counts of the dosing page."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import dosing, schedule, services
from monitoring.models import AuditEvent, CourseDose, CourseStatus, DoseStep, TreatmentCourse
from tests.factories import ICE_10, ROOM_AIR, CourseFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=5)


def at(hours):
    return T0 + timedelta(hours=hours)


def teclistamab_version(admin, crs_hours=24):
    """The shipped teclistamab template with the centre's gate: CRS resolved for 24 h."""
    version = services.protocol_version_for("teclistamab")
    steps = [
        {**s.settings(), "crs_clear_hours": crs_hours if s.sequence > 1 else None}
        for s in version.dose_steps.all()
    ]
    for step in steps:
        step.pop("sequence")
    return services.revise_protocol(
        version=version,
        changes={},
        schedules={},
        note="Centre: CRS resolved 24 h",
        by=admin,
        dose_steps=steps,
    )


def engager_course(unit, by, version=None):
    course = CourseFactory.build(
        patient=PatientFactory(),
        unit=unit,
        product="teclistamab",
        infused_at=at(1),
        protocol_version=version or services.protocol_version_for("teclistamab"),
    )
    return services.start_course(course=course, by=by)


def due_types(course, now):
    course = TreatmentCourse.objects.select_related("status_row", "protocol_version").get(
        pk=course.pk
    )
    return sorted(d.check_type for d in schedule.due_checks(course, course.status_row, now=now))


def vitals(temp):
    return {"temp_c": temp, "heart_rate_bpm": 80, "sbp_mmhg": 120, "dbp_mmhg": 70, **ROOM_AIR}


def test_an_engager_course_gets_its_step_up_template(ward_a, care_team_member):
    course = engager_course(ward_a, care_team_member)
    assert course.protocol_version.protocol.name.startswith("Teclistamab")
    assert [s.day_offset for s in course.protocol_version.dose_steps.all()] == [0, 3, 6]
    assert course.status_row.dosed


def test_the_step_up_over_days(ward_a, nurse, care_team_member, admin_user):
    version = teclistamab_version(admin_user)
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member, version)
        doses = dosing.plan_doses(course=course, first_dose_at=at(1), by=care_team_member)
        assert [d.planned_at for d in doses] == [at(1), at(1 + 72), at(1 + 144)]
        course.refresh_from_db()
        assert course.infused_at == at(1)  # day 0 is the first dose
        assert due_types(course, at(0.5)) == []  # no dose given: nothing due

    with time_machine.travel(at(1), tick=False):
        dosing.record_dose_given(dose=doses[0], given_at=at(1), by=nurse)
    # Inside dose 1's 48 h window: vitals, neuro and symptoms are due from the dose on.
    assert due_types(course, at(2)) == ["neuro", "symptoms", "vitals"]
    with time_machine.travel(at(2), tick=False):
        services.record_check(
            course=course, by=nurse, observed_at=at(2), vitals=vitals(37.0), neuro=ICE_10
        )
    assert due_types(course, at(3)) == ["neuro", "symptoms", "vitals"]  # listed, not overdue
    course.refresh_from_db()
    status = course.status_row
    assert dosing.window_words(status, at(3)).startswith(
        "In monitoring window after step-up dose 1"
    )
    # Outside the window (dose + 48 h): none due.
    assert due_types(course, at(50)) == []
    assert "next: step-up dose 2" in dosing.window_words(status, at(50))

    # CRS grade 1 at +40 h, resolved at +60 h.
    with time_machine.travel(at(40), tick=False):
        services.record_check(course=course, by=nurse, observed_at=at(40), vitals=vitals(38.6))
    with time_machine.travel(at(60), tick=False):
        services.record_check(course=course, by=nurse, observed_at=at(60), vitals=vitals(37.0))

    # Dose 2 as planned (+73 h): CRS resolved only 13 h ago, the centre wants 24 h.
    with time_machine.travel(at(73), tick=False):
        with pytest.raises(dosing.GateNotMet) as refused:
            dosing.record_dose_given(dose=doses[1], given_at=at(73), by=nurse)
        assert [p.code for p in refused.value.problems] == ["crs_recent"]
        assert refused.value.problems[0].until == at(84)
        with pytest.raises(PermissionDenied):  # a nurse cannot override
            dosing.record_dose_given(
                dose=doses[1], given_at=at(73), by=nurse, override_reason="in a hurry"
            )
        assert CourseDose.objects.get(pk=doses[1].pk).status == "planned"
        given = dosing.record_dose_given(
            dose=doses[1],
            given_at=at(73),
            by=care_team_member,
            override_reason="CRS was a line infection; ID agrees",
        )
    assert given.override_by == care_team_member
    event = AuditEvent.objects.filter(action="dose_given").latest("at")
    assert "gate overridden (CRS was a line infection; ID agrees)" in event.summary
    assert "CRS resolved at" in event.summary

    # The first treatment dose delayed 9 days after dose 2: the step-up restarts at dose 2.
    late = at(73 + 9 * 24)
    steps = list(version.dose_steps.all())
    with time_machine.travel(late, tick=False):
        all_doses = list(CourseDose.objects.filter(course=course).select_related("step"))
        upcoming = dosing.next_dose(all_doses)
        gate = dosing.gate_now(
            course,
            upcoming,
            doses=all_doses,
            points=dosing.grade_points(course),
            steps=steps,
            now=late,
        )
        assert [p.code for p in gate.problems] == ["restart"]
        assert gate.restart_step.label == "Step-up dose 2"
        assert "must restart at step 2" in dosing.problem_text(gate.problems[0])
        new = dosing.restart_step_up(
            course=course,
            from_sequence=2,
            first_dose_at=late,
            reason="9 days' delay (label Table 2)",
            by=care_team_member,
        )
    assert [(d.step.sequence, d.attempt, d.planned_at) for d in new] == [
        (2, 2, late),
        (3, 2, late + timedelta(days=3)),
    ]
    assert CourseDose.objects.get(pk=doses[2].pk).status == "cancelled"
    assert AuditEvent.objects.filter(action="step_up_restarted").exists()


def test_a_gate_met_lets_the_nurse_give_the_dose(ward_a, nurse, care_team_member, admin_user):
    version = teclistamab_version(admin_user)
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member, version)
        doses = dosing.plan_doses(course=course, first_dose_at=at(1), by=care_team_member)
    with time_machine.travel(at(1), tick=False):
        dosing.record_dose_given(dose=doses[0], given_at=at(1), by=nurse)
    with time_machine.travel(at(20), tick=False):
        services.record_check(course=course, by=nurse, observed_at=at(20), vitals=vitals(38.4))
    with time_machine.travel(at(30), tick=False):
        services.record_check(course=course, by=nurse, observed_at=at(30), vitals=vitals(36.9))
    with time_machine.travel(at(73), tick=False):
        dose = dosing.record_dose_given(dose=doses[1], given_at=at(73), by=nurse)
    assert dose.status == "given"
    assert not dose.override_reason


def test_replan_is_audited_old_to_new_and_moves_day_0(ward_a, care_team_member):
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member)
        doses = dosing.plan_doses(course=course, first_dose_at=at(1), by=care_team_member)
        dosing.replan_dose(
            dose=doses[0], planned_at=at(5), reason="bed not ready", by=care_team_member
        )
    course.refresh_from_db()
    assert course.infused_at == at(5)
    event = AuditEvent.objects.get(action="dose_replanned")
    assert "re-planned" in event.summary
    assert "bed not ready" in event.summary
    assert CourseDose.history.filter(id=doses[0].pk).count() == 2  # the old time is kept


def test_doses_are_given_in_order(ward_a, nurse, care_team_member):
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member)
        doses = dosing.plan_doses(course=course, first_dose_at=at(1), by=care_team_member)
    with time_machine.travel(at(2), tick=False), pytest.raises(Exception, match="in order"):
        dosing.record_dose_given(dose=doses[1], given_at=at(2), by=nurse)


def test_a_nurse_cannot_plan(ward_a, nurse, care_team_member):
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member)
        with pytest.raises(PermissionDenied):
            dosing.plan_doses(course=course, first_dose_at=at(1), by=nurse)


# --- Pages ------------------------------------------------------------------------------------


def logged_in(user):
    """A client logged in now (inside a time travel: an idle session would have ended)."""
    client = Client()
    client.force_login(user)
    return client


def url(course):
    return reverse("monitoring:course-dosing", args=[course.patient.public_id])


def test_another_units_user_cannot_see_or_change_the_doses(
    ward_a, care_team_member, outsider_client
):
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member)
    assert outsider_client.get(url(course)).status_code == 404
    response = outsider_client.post(url(course), {"action": "plan", "plan-first_dose_at": "x"})
    assert response.status_code == 404
    assert not CourseDose.objects.exists()


def test_a_nurse_gets_403_planning_on_the_page(ward_a, care_team_member, nurse_client):
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member)
    response = nurse_client.post(
        url(course), {"action": "plan", "plan-first_dose_at": "2026-01-01T10:00"}
    )
    assert response.status_code == 403


def test_the_page_plans_and_refuses_a_gate_with_why(ward_a, nurse, care_team_member, admin_user):
    version = teclistamab_version(admin_user)
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member, version)
        first = timezone.localtime(at(1)).strftime("%Y-%m-%dT%H:%M")
        response = logged_in(care_team_member).post(
            url(course), {"action": "plan", "plan-first_dose_at": first}
        )
        assert response.status_code == 302
    doses = list(CourseDose.objects.filter(course=course).order_by("planned_at"))
    with time_machine.travel(at(1), tick=False):
        dosing.record_dose_given(dose=doses[0], given_at=at(1), by=nurse)
    with time_machine.travel(at(40), tick=False):
        services.record_check(course=course, by=nurse, observed_at=at(40), vitals=vitals(38.6))
    with time_machine.travel(at(73), tick=False):
        nurse_client = logged_in(nurse)
        page = nurse_client.get(url(course)).content.decode()
        assert "Gate not met" in page
        assert "CRS grade 1 now" in page
        given_at = timezone.localtime(at(73)).strftime("%Y-%m-%dT%H:%M")
        response = nurse_client.post(
            url(course), {"action": "give", "dose": doses[1].public_id, "give-given_at": given_at}
        )
        assert response.status_code == 400
        assert "CRS grade 1 now" in response.content.decode()
        assert given_at in response.content.decode()  # the value typed is kept
    assert CourseDose.objects.get(pk=doses[1].pk).status == "planned"


@pytest.mark.parametrize("extra_doses", [0, 4])
def test_the_dosing_page_costs_a_constant_number_of_queries(
    ward_a, care_team_member, nurse, django_assert_num_queries, extra_doses
):
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member)
        doses = dosing.plan_doses(course=course, first_dose_at=at(1), by=care_team_member)
        step = DoseStep.objects.get(version=course.protocol_version, sequence=3)
        for n in range(extra_doses):  # cancelled doses of earlier restarts
            CourseDose.objects.create(
                course=course,
                step=step,
                attempt=9,
                planned_at=at(n),
                status="cancelled",
                created_by=care_team_member,
            )
    with time_machine.travel(at(1), tick=False):
        dosing.record_dose_given(dose=doses[0], given_at=at(1), by=nurse)
        care_client = logged_in(care_team_member)
        # session, user, course (patient, unit, status row, version), steps, doses, grade
        # points, premedication treatments, savepoints/messages of the page
        with django_assert_num_queries(9):
            assert care_client.get(url(course)).status_code == 200


def test_the_worklist_says_the_window(ward_a, nurse, care_team_member):
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member)
        doses = dosing.plan_doses(course=course, first_dose_at=at(1), by=care_team_member)
    with time_machine.travel(at(1), tick=False):
        dosing.record_dose_given(dose=doses[0], given_at=at(1), by=nurse)
    with time_machine.travel(at(2), tick=False):
        nurse_client = logged_in(nurse)
        page = nurse_client.get(reverse("monitoring:nurse-worklist")).content.decode()
        assert "In monitoring window after step-up dose 1 until" in page
        page = nurse_client.get(course.get_absolute_url()).content.decode()
    assert "In monitoring window after step-up dose 1 until" in page


def worklist_window(user) -> str:
    """The worklist row's dosing line (one dosed course on the ward), as the nurse reads it."""
    page = logged_in(user).get(reverse("monitoring:nurse-worklist")).content.decode()
    lines = re.findall(r'class="fw-semibold dose-window">([^<]*)<', page)
    assert len(lines) == 1, lines
    return lines[0]


def test_the_worklist_follows_each_replan_hold_and_restart(ward_a, nurse, care_team_member):
    """The worklist reads the dose window and the next dose from the status row
    (dosing.refresh_dosing): every re-plan, hold and restart must leave it right."""
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member)
        doses = dosing.plan_doses(course=course, first_dose_at=at(1), by=care_team_member)
        window_hours = [dose.step.window_hours for dose in doses]
        assert worklist_window(nurse) == (
            f"Outside a monitoring window; next: step-up dose 1 {dosing.moment_words(at(1), T0)}"
        )
        # The first dose re-planned: the worklist waits for the new time.
        dosing.replan_dose(
            dose=doses[0], planned_at=at(5), reason="bed not ready", by=care_team_member
        )
        assert worklist_window(nurse) == (
            f"Outside a monitoring window; next: step-up dose 1 {dosing.moment_words(at(5), T0)}"
        )
    with time_machine.travel(at(5), tick=False):
        dosing.record_dose_given(dose=doses[0], given_at=at(5), by=nurse)
    window_end = at(5 + window_hours[0])
    in_window = (
        f"In monitoring window after step-up dose 1 until {dosing.moment_words(window_end, at(6))}"
    )
    with time_machine.travel(at(6), tick=False):
        assert worklist_window(nurse) == in_window
        # Step-up dose 2 re-planned a day later inside dose 1's window: the window stays.
        dosing.replan_dose(
            dose=doses[1], planned_at=at(5 + 96), reason="clinic capacity", by=care_team_member
        )
        assert worklist_window(nurse) == in_window
    status = CourseStatus.objects.get(course=course)
    assert (status.dose_window_start, status.dose_window_end) == (at(5), window_end)
    assert (status.next_dose_at, status.next_dose_label) == (at(5 + 96), "Step-up dose 2")

    after = at(5 + window_hours[0] + 2)
    with time_machine.travel(after, tick=False):
        assert worklist_window(nurse) == (
            "Outside a monitoring window; next: step-up dose 2 "
            + dosing.moment_words(at(5 + 96), after)
        )
        # Held, it is still the next dose to give.
        dosing.hold_dose(dose=doses[1], reason="platelets 18", by=care_team_member)
        assert worklist_window(nurse) == (
            "Outside a monitoring window; next: step-up dose 2 "
            + dosing.moment_words(at(5 + 96), after)
        )
        # Restarted at step 1 an hour from now: the old doses are cancelled, the new plan shown.
        restart_at = after + timedelta(hours=1)
        new = dosing.restart_step_up(
            course=course,
            from_sequence=1,
            first_dose_at=restart_at,
            reason="delay over the label's limit",
            by=care_team_member,
        )
        assert worklist_window(nurse) == (
            "Outside a monitoring window; next: step-up dose 1 "
            + dosing.moment_words(restart_at, after)
        )
    with time_machine.travel(restart_at, tick=False):
        dosing.record_dose_given(dose=new[0], given_at=restart_at, by=nurse)
        assert worklist_window(nurse) == (
            "In monitoring window after step-up dose 1 until "
            + dosing.moment_words(restart_at + timedelta(hours=window_hours[0]), restart_at)
        )
    status.refresh_from_db()
    assert (status.next_dose_at, status.next_dose_label) == (
        schedule.add_interval(restart_at, timedelta(days=new[1].step.day_offset)),
        "Step-up dose 2",
    )


def test_other_users_are_unaffected(db):
    assert UserFactory(role="nurse").can_record_doses


# --- The protocol page edits the dose steps -----------------------------------------------------


def step_data(version, **overrides):
    """The edit page's dose-step rows as posted, with ``overrides`` by field name."""
    from monitoring.forms.dosing import rules_text

    data = {}
    for index, step in enumerate(version.dose_steps.all()):
        for name, value in step.settings().items():
            if name == "sequence":
                continue
            key = f"step{index}-{name}"
            if name == "is_step_up":
                if value:
                    data[key] = "on"
            elif name == "restart_rules":
                data[key] = rules_text(value)
            else:
                data[key] = "" if value is None else str(value)
    data.update(overrides)
    return data


def test_the_protocol_page_edits_dose_steps_with_validation(admin_user):
    from tests.web.test_protocol_pages import edit_url, form_data

    version = services.protocol_version_for("teclistamab")
    client = logged_in(admin_user)
    bad = {**form_data(version), **step_data(version, **{"step1-restart_rules": "7>9"})}
    response = client.post(edit_url(version), {**bad, "save": "1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "A restart must name one of the steps." in page
    assert 'value="7&gt;9"' in page  # what the admin typed is kept
    assert DoseStep.objects.get(version=version, sequence=2).restart_rules == [
        {"after_days": 7, "restart_at": 1}
    ]

    good = {**form_data(version), **step_data(version, **{"step1-crs_clear_hours": "24"})}
    response = client.post(edit_url(version), {**good, "save": "1"})
    assert response.status_code == 302
    assert DoseStep.objects.get(version=version, sequence=2).crs_clear_hours == 24
    assert DoseStep.objects.filter(version=version).count() == 3


def test_a_used_versions_steps_are_copied_to_the_new_version(ward_a, care_team_member, admin_user):
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member)
    new = services.revise_protocol(
        version=course.protocol_version,
        changes={"heart_rate_high": 125},
        schedules={},
        note="tachycardia limit",
        by=admin_user,
    )
    assert new.pk != course.protocol_version_id
    assert [s.label for s in new.dose_steps.all()] == [
        "Step-up dose 1",
        "Step-up dose 2",
        "First treatment dose",
    ]


def test_a_dose_before_its_day_in_the_schedule_needs_an_override(ward_a, nurse, care_team_member):
    # TECVAYLI §2.1 Table 1: step-up dose 2 on day 4, three days after step-up dose 1. Given
    # the next morning, the gap is a gate like CRS: the nurse is refused with why, and only the
    # care team may override it, with a reason.
    with time_machine.travel(T0, tick=False):
        course = engager_course(ward_a, care_team_member)
        doses = dosing.plan_doses(course=course, first_dose_at=at(1), by=care_team_member)
    with time_machine.travel(at(1), tick=False):
        dosing.record_dose_given(dose=doses[0], given_at=at(1), by=nurse)
    with time_machine.travel(at(25), tick=False):
        with pytest.raises(dosing.GateNotMet) as refused:
            dosing.record_dose_given(dose=doses[1], given_at=at(25), by=nurse)
        assert [p.code for p in refused.value.problems] == ["too_soon"]
        assert "by the schedule this dose is 3 days later" in dosing.problem_text(
            refused.value.problems[0]
        )
        given = dosing.record_dose_given(
            dose=doses[1],
            given_at=at(25),
            by=care_team_member,
            override_reason="Trial protocol allows day 2",
        )
    assert given.override_reason == "Trial protocol allows day 2"

"""Due and overdue checks on the worklist: what is overdue and by how long, what was not done
and when to retry, what is due next — overdue patients at the top, cheaply."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import schedule, services
from monitoring.models import CourseStatus, ProtocolVersion
from tests.factories import ICE_10, ROOM_AIR, CourseFactory

LABS = {"crp_mg_l": 12}
NO_SYMPTOMS = {"fever": False}


def everything_done(course, by, *, hours_ago=0.0, **vitals):
    """One check with every scheduled section, so nothing is due for a while."""
    services.record_check(
        course=course,
        by=by,
        observed_at=timezone.now() - timedelta(hours=hours_ago),
        vitals={"temp_c": 37.0, **ROOM_AIR, **vitals},
        neuro=ICE_10,
        labs=LABS,
        symptoms=NO_SYMPTOMS,
    )


def row_of(page: str, name: str) -> str:
    start = page.index(name)
    return page[start : page.index("</tr>", start)]


def test_an_overdue_check_says_how_long_it_has_waited(nurse_client, nurse, course):
    everything_done(course, nurse, hours_ago=5)

    row = row_of(nurse_client.get("/worklist/").content.decode(), "Lovelace")

    # Vital signs and symptom review are 4-hourly: overdue by 1 h; neuro (8 h), labs (24 h) not.
    assert "Vital signs overdue 1 h 00 min" in row
    assert "Symptom review overdue 1 h 00 min" in row
    assert "Neuro assessment" not in row.split("Next:")[0]


def test_what_is_due_next_is_shown_with_its_time(nurse_client, nurse, course):
    everything_done(course, nurse, hours_ago=1)
    due_at = timezone.localtime(timezone.now() + timedelta(hours=3))

    row = row_of(nurse_client.get("/worklist/").content.decode(), "Lovelace")

    assert "overdue" not in row
    assert (
        f"Next: Vital signs {due_at:%H:%M}" in row or f"Next: Symptom review {due_at:%H:%M}" in row
    )


def test_a_check_never_done_is_overdue_since_day_0(nurse_client, course):
    CourseStatus.objects.create(course=course)  # as services.start_course leaves it

    row = row_of(nurse_client.get("/worklist/").content.decode(), "Lovelace")

    assert "Labs overdue 3 d 0 h" in row


def test_a_deferred_check_shows_not_done_and_when_to_retry(nurse_client, nurse, course):
    everything_done(course, nurse, hours_ago=5)
    not_done = services.record_check_not_done(
        course=course, check_type="vitals", reason="off_unit", note="CT chest", by=nurse
    )
    retry = timezone.localtime(not_done.observed_at + timedelta(hours=1))

    row = row_of(nurse_client.get("/worklist/").content.decode(), "Lovelace")

    assert "Vital signs overdue" not in row
    assert "not done — Off the unit (imaging, procedure), retry" in row
    assert f"retry {retry:%H:%M}" in row
    assert "Symptom review overdue 1 h 00 min" in row  # only vitals were deferred


def test_overdue_patients_come_first_even_before_a_sicker_patient(nurse_client, nurse, ward_a):
    sick = CourseFactory(unit=ward_a, patient__family_name="Aaronson")
    everything_done(sick, nurse, temp_c=38.6, oxygen_support="low_flow", oxygen_flow_l_min=4)
    waiting = CourseFactory(unit=ward_a, patient__family_name="Zimmer")
    everything_done(waiting, nurse, hours_ago=5)

    page = nurse_client.get("/worklist/").content.decode()

    assert sick.status_row.crs_grade == 2
    assert page.index("Zimmer") < page.index("Aaronson")


def test_among_overdue_patients_the_sickest_comes_first(nurse_client, nurse, ward_a):
    well = CourseFactory(unit=ward_a, patient__family_name="Aaronson")
    everything_done(well, nurse, hours_ago=6)
    sick = CourseFactory(unit=ward_a, patient__family_name="Zimmer")
    everything_done(
        sick, nurse, hours_ago=2, temp_c=38.6, oxygen_support="low_flow", oxygen_flow_l_min=4
    )  # CRS 2: vitals hourly, so overdue by 1 h

    page = nurse_client.get("/worklist/").content.decode()

    assert "Vital signs overdue 1 h 00 min" in row_of(page, "Zimmer")
    assert page.index("Zimmer") < page.index("Aaronson")


def test_without_anything_overdue_the_sickest_comes_first(nurse_client, nurse, ward_a):
    well = CourseFactory(unit=ward_a, patient__family_name="Aaronson")
    everything_done(well, nurse)
    sick = CourseFactory(unit=ward_a, patient__family_name="Zimmer")
    everything_done(sick, nurse, temp_c=38.6, oxygen_support="low_flow", oxygen_flow_l_min=4)

    page = nurse_client.get("/worklist/").content.decode()

    assert page.index("Zimmer") < page.index("Aaronson")


def test_a_course_without_a_protocol_says_nothing_is_scheduled(nurse_client, ward_a):
    CourseFactory(unit=ward_a, protocol_version=None, patient__family_name="Noproto")

    row = row_of(nurse_client.get("/worklist/").content.decode(), "Noproto")

    assert "No protocol: nothing scheduled" in row


def test_after_the_monitoring_window_nothing_is_due(nurse_client, ward_a):
    CourseFactory(
        unit=ward_a, infused_at=timezone.now() - timedelta(days=20), patient__family_name="Longago"
    )

    row = row_of(nurse_client.get("/worklist/").content.decode(), "Longago")

    assert "Monitoring window over" in row
    assert "overdue" not in row


def test_the_not_done_button_preselects_the_most_overdue_check(nurse_client, nurse, course):
    everything_done(course, nurse, hours_ago=5)

    page = nurse_client.get("/worklist/").content.decode()

    assert f"/patients/{course.patient.public_id}/not-done/?type=" in page


@pytest.mark.parametrize("n_patients", [1, 15])
def test_due_and_overdue_cost_no_query_per_patient(
    nurse_client, nurse, ward_a, admin_user, django_assert_num_queries, n_patients
):
    courses = CourseFactory.create_batch(n_patients, unit=ward_a)
    # Two protocol versions, an overdue, a deferred and a never-checked patient in the mix.
    template = courses[0].protocol_version
    newer = services.revise_protocol(
        version=template,
        changes={},
        schedules={"vitals": {"interval_minutes": 180}},
        note="q3h",
        by=admin_user,
    )
    for index, course in enumerate(courses):
        if index % 2:
            course.protocol_version = newer
            course.save(update_fields=["protocol_version"])
        if index % 3 == 0:
            everything_done(course, nurse, hours_ago=5)
        if index % 3 == 1:
            everything_done(course, nurse, hours_ago=1)
            services.record_check_not_done(
                course=course, check_type="labs", reason="refused", by=nurse
            )
    assert ProtocolVersion.objects.filter(protocol=template.protocol).count() == 2

    # session, user, the user's units (unit menu), the versions' windows, the ranked count,
    # the page's courses (+ patient, unit, status row, version), their schedules, the
    # navigation bar's open-flag and unread-notification counts. The database ranks by the
    # due time kept on each status row.
    with django_assert_num_queries(9):
        response = nurse_client.get("/worklist/")

    assert response.status_code == 200
    assert response.content.decode().count("Not done…") == n_patients


def test_the_database_ranks_as_the_due_checks_shown_on_each_row(nurse_client, nurse, ward_a):
    """The worklist ranks and pages in SQL from each status row's earliest due time
    (schedule.earliest_due); the rows show due checks computed on read (schedule.due_checks).
    Through the write path, a mix of states must come out in the order those due checks and
    grades give — a stale or wrongly kept due time would put a patient out of place."""
    mix = [
        ("Adams", dict(hours_ago=7)),  # overdue 3 h
        ("Baker", dict(hours_ago=5)),  # overdue 1 h
        ("Clark", dict(hours_ago=0.5)),  # due in 3.5 h
        ("Davis", dict(hours_ago=2)),  # due in 2 h
        ("Evans", dict(hours_ago=2, temp_c=38.6)),  # CRS 1, febrile: vitals 2-hourly, overdue
        ("Frost", dict(hours_ago=1, temp_c=38.6, oxygen_support="low_flow", oxygen_flow_l_min=4)),
        ("Green", dict(hours_ago=6)),  # vitals deferred below: symptoms still overdue
    ]
    courses = {}
    for name, check in mix:
        courses[name] = CourseFactory(unit=ward_a, patient__family_name=name)
        everything_done(courses[name], nurse, **check)
    services.record_check_not_done(
        course=courses["Green"], check_type="vitals", reason="off_unit", note="CT", by=nurse
    )
    over = CourseFactory(
        unit=ward_a, infused_at=timezone.now() - timedelta(days=20), patient__family_name="Hale"
    )
    everything_done(over, nurse, hours_ago=30)  # the window is over: nothing due

    now = timezone.now()

    def reference(course):
        course.refresh_from_db()
        status = CourseStatus.objects.get(course=course)
        due = schedule.due_checks(course, status, now=now)
        overdue = [d for d in due if d.is_overdue]
        grade = max(status.crs_grade or 0, status.icans_grade or 0)
        soonest = min((d.next_due for d in due), default=None)
        return (
            0 if overdue else 1,
            -grade,
            -(status.worst_open_severity or 0),
            soonest.timestamp() if soonest else float("inf"),
            course.patient.family_name,
        )

    expected = sorted([*courses.values(), over], key=reference)
    page = nurse_client.get("/worklist/").content.decode()
    shown = sorted(expected, key=lambda c: page.index(c.patient.family_name))

    assert [c.patient.family_name for c in shown] == [c.patient.family_name for c in expected]
    assert shown[-1] == over  # nothing due: last

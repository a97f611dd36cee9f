"""Due and overdue checks on the worklist: what is overdue and by how long, what was not done
and when to retry, what is due next — overdue patients at the top, cheaply."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import services
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

    # session, user, every course's status values (one lean query), the versions and their
    # schedules (2), the page's courses (+ patient, unit, status row), the navigation bar's
    # open-flag and unread-notification counts, the user's units (unit menu). Ranking by due
    # time happens in Python.
    with django_assert_num_queries(9):
        response = nurse_client.get("/worklist/")

    assert response.status_code == 200
    assert response.content.decode().count("Not done…") == n_patients

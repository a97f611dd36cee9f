"""The nurse's worklist: her units' patients with D+n and grades, the sickest first, cheaply."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import services
from monitoring.models import TreatmentCourse
from tests.factories import ROOM_AIR, CourseFactory, active_now


def test_it_shows_the_day_since_infusion_as_d_plus_n(nurse_client, ward_a):
    # Infused at 10:00 local three calendar days ago -> D+3, whatever the time of day now.
    infused = timezone.localtime().replace(hour=10, minute=0) - timedelta(days=3)
    CourseFactory(unit=ward_a, infused_at=infused, patient__family_name="Dayton")

    page = nurse_client.get("/worklist/").content.decode()

    assert "D+3" in page
    assert "Dayton" in page


def test_finished_courses_are_not_on_the_worklist(nurse_client, ward_a):
    CourseFactory(
        unit=ward_a, status=TreatmentCourse.Status.COMPLETED, patient__family_name="Finished"
    )

    assert "Finished" not in nurse_client.get("/worklist/").content.decode()


def test_the_sickest_patient_is_listed_first_with_grades_and_flags(nurse_client, nurse, ward_a):
    well = CourseFactory(unit=ward_a, patient__family_name="Aaronson")
    sick = CourseFactory(unit=ward_a, patient__family_name="Zimmer")
    now = timezone.now()
    services.record_check(
        course=well, by=nurse, observed_at=now, vitals={"temp_c": 37.0, **ROOM_AIR}
    )
    services.record_check(
        course=sick,
        by=nurse,
        observed_at=now,
        vitals={**ROOM_AIR, "temp_c": 38.6, "oxygen_support": "low_flow", "oxygen_flow_l_min": 4},
    )

    page = nurse_client.get("/worklist/").content.decode()

    assert page.index("Zimmer") < page.index("Aaronson")
    assert "CRS 2" in page
    assert "open" in page


@pytest.mark.parametrize("n_patients", [1, 12])
def test_worklist_query_budget_does_not_grow_with_patients(
    nurse_client, nurse, ward_a, django_assert_num_queries, n_patients
):
    for course in CourseFactory.create_batch(n_patients, unit=ward_a):
        services.record_check(
            course=course, by=nurse, observed_at=timezone.now(), vitals={"temp_c": 38.2, **ROOM_AIR}
        )
    active_now(nurse_client)
    # session, user, every course's status values in one lean query (for ranking by due
    # time), the protocol versions and their schedules (2), the page's courses joined with
    # patient, unit and status row, the open-flag and unread-notification counts in the
    # navigation bar, and the user's units (unit filter menu). Never one per patient.
    with django_assert_num_queries(9):
        response = nurse_client.get("/worklist/")
    assert response.status_code == 200
    assert response.content.decode().count("Record check") == n_patients

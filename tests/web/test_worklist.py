"""The nurse's worklist: her units' patients with D+n and grades, the sickest first, cheaply."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring import services
from monitoring.models import Patient, TreatmentCourse
from monitoring.services import protocol_version_for
from tests.factories import (
    ROOM_AIR,
    CourseFactory,
    PatientFactory,
    active_now,
    therapy_product,
)


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
    # session, user, the user's units (unit filter menu), the windows of the protocol
    # versions in use (schedule.with_earliest_due), the count of ranked courses, the page's
    # courses joined with patient, unit, status row and protocol version, their schedules,
    # the open-flag and unread-notification counts in the navigation bar. Never one per
    # patient: the database ranks by the due time kept on each status row.
    with django_assert_num_queries(9):
        response = nurse_client.get("/worklist/")
    assert response.status_code == 200
    assert response.content.decode().count("Record check") == n_patients


# Pages of 50 rows and the unit filter (issue 16 §2): bounded work whatever the hospital's size.

FIXED_INFUSION = timezone.now().replace(microsecond=0) - timedelta(days=3)


def _patients(unit, count, prefix="Pat"):
    """``count`` courses alike but for the family name: the worklist orders them by name."""
    return [
        CourseFactory(
            unit=unit, infused_at=FIXED_INFUSION, patient__family_name=f"{prefix}{index:03d}"
        )
        for index in range(count)
    ]


@pytest.fixture
def care_on_two_units(care_team_member, ward_a, ward_b):
    care_team_member.units.set([ward_a, ward_b])
    return care_team_member


def test_the_worklist_shows_50_patients_a_page_and_page_2_goes_on_in_order(nurse_client, ward_a):
    _patients(ward_a, 55)

    first = nurse_client.get("/worklist/").content.decode()
    second = nurse_client.get("/worklist/?page=2").content.decode()

    assert first.count("Record check") == 50
    assert "Pat049" in first
    assert "Pat050" not in first
    assert second.count("Record check") == 5
    assert "Pat049" not in second
    assert second.index("Pat050") < second.index("Pat051") < second.index("Pat054")
    # Accessible navigation: named, the current page marked, a link to the next.
    assert 'aria-label="Worklist pages"' in first
    assert 'aria-current="page" href="?page=1"' in first
    assert 'aria-current="page" href="?page=2"' in second
    assert 'rel="next" href="?page=2"' in first
    assert "Page 2 of 2: patients 51–55 of 55" in second


def test_the_unit_filter_shows_that_unit_only_and_page_links_keep_it(
    client, care_on_two_units, ward_a, ward_b
):
    client.force_login(care_on_two_units)
    _patients(ward_a, 55, prefix="Alpha")
    CourseFactory(unit=ward_b, infused_at=FIXED_INFUSION, patient__family_name="Bravo")

    everyone = client.get("/worklist/").content.decode()
    first = client.get(f"/worklist/?unit={ward_a.pk}").content.decode()
    second = client.get(f"/worklist/?unit={ward_a.pk}&page=2").content.decode()
    only_b = client.get(f"/worklist/?unit={ward_b.pk}").content.decode()

    # By default all the user's units (the select's first option), sorted together.
    assert "Bravo" in everyone + client.get("/worklist/?page=2").content.decode()
    assert f'<option value="{ward_a.pk}">Ward A</option>' in everyone
    assert "Bravo" not in first + second
    assert f'href="?unit={ward_a.pk}&amp;page=2"' in first
    assert "Alpha054" in second
    assert "Bravo" in only_b
    assert "Alpha" not in only_b
    assert f'<option value="{ward_b.pk}" selected>Ward B</option>' in only_b


@pytest.mark.parametrize("value", ["{b}", "{b}&unit={a}", "99999", "abc", "-1", "{a}.0"])
def test_a_unit_not_of_the_user_is_a_404_that_shows_no_patient(nurse_client, ward_a, ward_b, value):
    CourseFactory(unit=ward_a, patient__family_name="Ownward")
    CourseFactory(unit=ward_b, patient__family_name="Elsewhere")

    unit = value.format(a=ward_a.pk, b=ward_b.pk)
    for query in (f"?unit={unit}", f"?unit={unit}&page=2", f"?list=clinic&unit={unit}"):
        response = nurse_client.get("/worklist/" + query)
        assert response.status_code == 404
        assert "Elsewhere" not in response.content.decode()
        assert "Ownward" not in response.content.decode()


@pytest.mark.parametrize(
    ("page", "shows"),
    [
        ("abc", "Pat000"),
        ("", "Pat000"),
        ("0", "Pat050"),  # below the first: Paginator.get_page gives the last page
        ("-3", "Pat050"),
        ("1.5", "Pat000"),
        ("99999", "Pat050"),
        ("2", "Pat050"),
        ("9" * 400, "Pat050"),
    ],
)
def test_a_page_number_that_is_not_a_page_gives_a_page_never_an_error(
    nurse_client, ward_a, page, shows
):
    _patients(ward_a, 51)

    response = nurse_client.get(f"/worklist/?page={page}")

    assert response.status_code == 200
    assert shows in response.content.decode()


def test_the_30_second_refresh_keeps_the_page_and_the_unit(
    client, care_on_two_units, ward_a, ward_b
):
    client.force_login(care_on_two_units)
    _patients(ward_a, 52)
    CourseFactory(unit=ward_b, infused_at=FIXED_INFUSION, patient__family_name="Bravo")
    url = f"/worklist/?unit={ward_a.pk}&page=2"

    page = client.get(url).content.decode()
    refresh = client.get(url, headers={"HX-Request": "true"}).content.decode()

    assert f'hx-get="{url.replace("&", "&amp;")}"' in page
    assert "<html" not in refresh
    assert "Pat050" in refresh
    assert "Pat051" in refresh
    assert "Pat000" not in refresh
    assert "Bravo" not in refresh


@pytest.mark.parametrize("n_patients", [100, 1000])
def test_the_care_teams_worklist_costs_the_same_queries_at_100_and_1000_patients(
    client, care_on_two_units, ward_a, ward_b, django_assert_num_queries, n_patients
):
    client.force_login(care_on_two_units)
    product = therapy_product("axi-cel")
    version = protocol_version_for("axi-cel")
    units = (ward_a, ward_b)
    patients = Patient.objects.bulk_create(
        PatientFactory.build(family_name=f"Bulk{index:04d}") for index in range(n_patients)
    )
    TreatmentCourse.objects.bulk_create(
        CourseFactory.build(
            patient=patient,
            unit=units[index % 2],
            product=product,
            protocol_version=version,
            infused_at=FIXED_INFUSION,
        )
        for index, patient in enumerate(patients)
    )
    active_now(client)
    # The same nine as the nurse's (test above): the database ranks and counts every course;
    # only the page's 50 courses are loaded and rendered.
    with django_assert_num_queries(9):
        response = client.get("/worklist/?page=2")
    assert response.status_code == 200
    assert response.content.decode().count('class="stack-title"') == 50
    assert "Bulk0050" in response.content.decode()

"""Late entries are recorded as they were at their own time: the oxygen and vasopressors carried
onto the check page come from the state at the entered time, and ICE or CAPD follows the
patient's age on the observation date (reference §2.3), through the page."""

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import BedsideCheck, GradeSnapshot, NeuroAssessment, VitalSigns
from tests.factories import CourseFactory, local_input


def check_url(course):
    return reverse("monitoring:nurse-check", args=[course.patient.public_id])


def support_url(course):
    return reverse("monitoring:nurse-check-support", args=[course.patient.public_id])


NOW = None  # set per test by the ``morning`` fixture


def hours_ago(hours: float) -> datetime:
    """A whole minute ``hours`` before the test's now (the page takes times to the minute)."""
    return NOW - timedelta(hours=hours)


def label(course, at) -> str:
    """How the page names a check: "the D+3 04:00 check"."""
    local = timezone.localtime(at)
    return f"the D+{course.day_number(local)} {local:%H:%M} check"


@pytest.fixture
def morning(course, nurse):
    """Room air five hours ago ("04:00"), then BiPAP and one vasopressor from an hour ago
    ("08:00"); a paper-chart temperature from three hours ago ("06:00") is typed in late."""
    global NOW
    NOW = timezone.now().replace(second=0, microsecond=0)
    early = services.record_check(
        course=course,
        by=nurse,
        observed_at=hours_ago(5),
        vitals={"temp_c": 37.2, "oxygen_support": "room_air", "vasopressors_count": 0},
    )
    bipap = services.record_check(
        course=course,
        by=nurse,
        observed_at=hours_ago(1),
        vitals={"temp_c": 37.4, "oxygen_support": "bipap", "vasopressors_count": 1},
    )
    return early, bipap


def late_temperature(at, *, carried_from=None, **support):
    """What the page posts for a temperature typed in late: the support fields as shown."""
    data = {
        "observed_at": local_input(at),
        "vitals-temperature": "38.2",
        "vitals-temperature_unit": "C",
        "vitals-oxygen_support": "room_air",
        "vitals-vasopressors_count": "0",
        **{f"vitals-{name}": value for name, value in support.items()},
    }
    if carried_from is not None:
        data["carried_from"] = carried_from
    return data


# --- Carry-forward from the state at the entered time ---------------------------------------


def test_a_late_paper_chart_temperature_is_stored_with_the_support_running_then(
    nurse_client, course, morning
):
    early, _ = morning
    response = nurse_client.post(
        check_url(course),
        late_temperature(hours_ago(3), carried_from=str(early.public_id)),
    )

    assert response.status_code == 302
    late = BedsideCheck.objects.get(observed_at=hours_ago(3))
    vitals = VitalSigns.objects.get(check_entry=late)
    assert (vitals.oxygen_support, vitals.vasopressors_count) == ("room_air", 0)
    # Fever on room air at 06:00 is CRS 1 (ref §1.1), not CRS 4 from the 08:00 BiPAP.
    assert GradeSnapshot.objects.get(check_entry=late).crs_grade == 1


@pytest.mark.parametrize(
    ("hours", "oxygen", "vasopressors", "source"),
    [
        (0, "bipap", "1", 1),  # now: the BiPAP record an hour ago
        (1, "bipap", "1", 1),  # at the BiPAP record's own time
        (3, "room_air", "0", 5),  # between: the room-air record five hours ago
        (6, "room_air", "0", None),  # before any record
    ],
    ids=["now", "at-the-bipap-check", "between", "before-any"],
)
def test_changing_the_time_fetches_the_support_running_then(
    nurse_client, course, morning, hours, oxygen, vasopressors, source
):
    response = nurse_client.get(
        support_url(course),
        {"observed_at": local_input(hours_ago(hours)), "neuro_tool": "ice"},
        headers={"hx-request": "true"},
    )

    assert response.status_code == 200
    vitals = response.context["page"].vitals
    assert vitals["oxygen_support"].value() == oxygen
    assert str(vitals["vasopressors_count"].value()) == vasopressors
    fragment = response.content.decode()
    if source is None:
        assert "<strong>No earlier record</strong> before this time" in fragment
    else:
        assert f"carried from <strong>{label(course, hours_ago(source))}</strong>" in fragment
    assert 'id="vitals-support"' in fragment
    assert 'id="neuro-screen"' not in fragment  # same screen: the neuro section is untouched


def test_the_page_says_where_the_carried_values_came_from(nurse_client, course, morning):
    page = nurse_client.get(check_url(course)).content.decode()

    carried = label(course, hours_ago(1))
    assert f"Oxygen and vasopressors carried from <strong>{carried}</strong>" in page
    _, bipap = morning
    assert f'name="carried_from" value="{bipap.public_id}"' in page
    # The time field asks for the support at the time the nurse enters.
    assert f'hx-get="{support_url(course)}"' in page
    assert 'hx-target="#vitals-support"' in page


def test_a_record_entered_in_error_is_never_carried_to_a_late_entry(
    nurse_client, nurse, course, morning
):
    early, _ = morning
    services.mark_entered_in_error(
        record=early.vitalsigns_set.get(), reason="Another patient's chart", by=nurse
    )

    response = nurse_client.get(support_url(course), {"observed_at": local_input(hours_ago(3))})

    assert "No earlier record" in response.content.decode()
    assert 'name="carried_from" value="none"' in response.content.decode()


def test_a_post_of_values_shown_for_another_time_saves_nothing_and_shows_the_right_ones(
    nurse_client, course, morning
):
    # The nurse set the time back to 06:00 and saved before the page caught up: the support
    # fields still show the 08:00 BiPAP and one vasopressor, untouched.
    early, bipap = morning
    shown_then = late_temperature(
        hours_ago(3),
        carried_from=str(bipap.public_id),
        oxygen_support="bipap",
        vasopressors_count="1",
    )

    response = nurse_client.post(check_url(course), shown_then)

    assert response.status_code == 400
    assert not BedsideCheck.objects.filter(observed_at=hours_ago(3)).exists()
    page = response.content.decode()
    shown, carried = label(course, hours_ago(1)), label(course, hours_ago(5))
    assert f"were carried from {shown}, not from the time of this entry" in page
    assert f"(from {carried}): check them and save again" in page
    vitals = response.context["page"].vitals
    assert vitals["oxygen_support"].value() == "room_air"
    assert vitals["vasopressors_count"].value() == "0"
    assert vitals["temperature"].value() == "38.2"  # what the nurse typed is kept
    assert f'name="carried_from" value="{early.public_id}"' in page

    # Saving the page as it now stands records the state at 06:00.
    again = late_temperature(hours_ago(3), carried_from=str(early.public_id))
    assert nurse_client.post(check_url(course), again).status_code == 302
    saved = VitalSigns.objects.get(check_entry__observed_at=hours_ago(3))
    assert (saved.oxygen_support, saved.vasopressors_count) == ("room_air", 0)


def test_a_late_neuro_only_entry_never_adds_vital_signs_from_another_time(
    nurse_client, course, morning
):
    _, bipap = morning
    neuro_only = {
        "observed_at": local_input(hours_ago(3)),
        "carried_from": str(bipap.public_id),
        "vitals-temperature_unit": "C",
        "vitals-oxygen_support": "bipap",
        "vitals-vasopressors_count": "1",
        "neuro-ice_orientation": "4",
        "neuro-ice_naming": "3",
        "neuro-ice_commands": "1",
        "neuro-ice_writing": "1",
        "neuro-ice_attention": "1",
        "neuro-consciousness": "alert",
        "neuro-seizure": "none",
        "neuro-motor_weakness": "none",
        "neuro-cerebral_edema": "none",
    }

    assert nurse_client.post(check_url(course), neuro_only).status_code == 400
    resubmitted = {
        **neuro_only,
        "carried_from": str(morning[0].public_id),
        "vitals-oxygen_support": "room_air",
        "vitals-vasopressors_count": "0",
    }
    assert nurse_client.post(check_url(course), resubmitted).status_code == 302

    late = BedsideCheck.objects.get(observed_at=hours_ago(3))
    assert not VitalSigns.objects.filter(check_entry=late).exists()
    assert NeuroAssessment.objects.get(check_entry=late).ice_total == 10


def test_support_the_nurse_changed_herself_is_kept(nurse_client, course, morning):
    _, bipap = morning
    changed = late_temperature(
        hours_ago(3),
        carried_from=str(bipap.public_id),
        oxygen_support="facemask",  # not what the page showed (BiPAP): her own entry
        vasopressors_count="0",
    )

    assert nurse_client.post(check_url(course), changed).status_code == 302
    saved = VitalSigns.objects.get(check_entry__observed_at=hours_ago(3))
    assert (saved.oxygen_support, saved.vasopressors_count) == ("facemask", 0)


@pytest.mark.parametrize("claim", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_a_carried_from_that_names_nothing_is_ignored(nurse_client, course, morning, claim):
    response = nurse_client.post(
        check_url(course), late_temperature(hours_ago(3), carried_from=claim)
    )

    assert response.status_code == 302
    saved = VitalSigns.objects.get(check_entry__observed_at=hours_ago(3))
    assert saved.oxygen_support == "room_air"


def test_another_courses_check_cannot_be_named_as_shown(
    nurse_client, nurse, course, ward_a, morning
):
    other = CourseFactory(unit=ward_a)
    theirs = services.record_check(
        course=other,
        by=nurse,
        observed_at=hours_ago(2),
        vitals={"temp_c": 37.0, "oxygen_support": "cpap"},
    )

    response = nurse_client.post(
        check_url(course),
        late_temperature(hours_ago(3), carried_from=str(theirs.public_id), oxygen_support="cpap"),
    )

    # Not read as "shown": CPAP differs from what was carried (room air), so it is her entry.
    assert response.status_code == 302
    assert VitalSigns.objects.get(check_entry__observed_at=hours_ago(3)).oxygen_support == "cpap"


# --- The support endpoint: access, no writes, queries ----------------------------------------


def test_the_support_endpoint_checks_login_role_and_unit(
    client, outsider_client, admin_client_, nurse_client, course
):
    url = support_url(course)

    assert client.get(url).status_code == 302
    assert outsider_client.get(url).status_code == 404
    assert admin_client_.get(url).status_code == 403
    assert nurse_client.post(url).status_code == 405
    assert nurse_client.get(url, {"observed_at": "junk"}).status_code == 200


def test_the_support_endpoint_costs_a_fixed_number_of_queries(
    nurse_client, course, morning, django_assert_num_queries
):
    # session, user, course (+patient, unit, status), the vital signs at that time.
    with django_assert_num_queries(4):
        response = nurse_client.get(support_url(course), {"observed_at": local_input(hours_ago(3))})
    assert response.status_code == 200


# --- ICE or CAPD by the age on the observation date -----------------------------------------


def twelfth_birthday_days_ago(days: int) -> date:
    birthday = timezone.localdate() - timedelta(days=days)
    try:
        return birthday.replace(year=birthday.year - 12)
    except ValueError:  # 29 February
        return (birthday - timedelta(days=1)).replace(year=birthday.year - 12)


@pytest.fixture
def turned_12_yesterday(ward_a):
    """A child who turned 12 yesterday, infused five days ago."""
    return CourseFactory(
        unit=ward_a,
        patient__date_of_birth=twelfth_birthday_days_ago(1),
        patient__weight_kg=38,
        infused_at=timezone.now() - timedelta(days=5),
        product="tisa-cel",
    )


CAPD_WELL = {f"neuro-capd_item_{n}": "4" if n <= 4 else "0" for n in range(1, 9)}
CAPD_DELIRIUM = {f"neuro-capd_item_{n}": "1" if n <= 4 else "2" for n in range(1, 9)}  # 12 + 8
NEURO_REST = {
    "neuro-consciousness": "alert",
    "neuro-seizure": "none",
    "neuro-motor_weakness": "none",
    "neuro-cerebral_edema": "none",
    "vitals-temperature_unit": "C",
    "vitals-oxygen_support": "room_air",
    "vitals-vasopressors_count": "0",
}


def test_a_late_capd_for_a_child_who_has_since_turned_12_can_be_recorded(
    nurse_client, turned_12_yesterday
):
    course = turned_12_yesterday
    two_days_ago = timezone.now() - timedelta(days=2)

    assert "ice_orientation" in nurse_client.get(check_url(course)).content.decode()  # 12 today
    response = nurse_client.post(
        check_url(course),
        {"observed_at": local_input(two_days_ago), **CAPD_DELIRIUM, **NEURO_REST},
        follow=True,
    )

    assert response.status_code == 200
    assessment = NeuroAssessment.objects.get()
    assert (assessment.capd_total, assessment.ice_total) == (20, None)
    assert "ICANS 3" in response.content.decode()  # CAPD ≥ 9 (ref §2.3)


def test_changing_the_time_to_before_the_12th_birthday_swaps_in_the_capd(
    nurse_client, turned_12_yesterday
):
    response = nurse_client.get(
        support_url(turned_12_yesterday),
        {"observed_at": local_input(timezone.now() - timedelta(days=2)), "neuro_tool": "ice"},
    )

    fragment = response.content.decode()
    assert '<div id="neuro-screen" hx-swap-oob="true">' in fragment
    assert '<span id="neuro-screen-name" hx-swap-oob="true">CAPD' in fragment
    assert "eye contact" in fragment
    assert 'name="neuro_tool" value="capd"' in fragment
    assert "ice_orientation" not in fragment


def test_a_late_ice_screen_for_a_date_before_the_12th_birthday_is_refused_and_capd_offered(
    nurse_client, turned_12_yesterday
):
    items = {
        "neuro-ice_orientation": "4",
        "neuro-ice_naming": "3",
        "neuro-ice_commands": "1",
        "neuro-ice_writing": "1",
        "neuro-ice_attention": "1",
    }
    response = nurse_client.post(
        check_url(turned_12_yesterday),
        {
            "observed_at": local_input(timezone.now() - timedelta(days=2)),
            **items,
            **NEURO_REST,
        },
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Complete every CAPD item" in page
    assert "eye contact" in page
    assert not NeuroAssessment.objects.exists()


def test_on_and_after_the_12th_birthday_the_ice_screen_is_used(nurse_client, turned_12_yesterday):
    response = nurse_client.post(
        check_url(turned_12_yesterday),
        {
            "observed_at": local_input(timezone.now() - timedelta(hours=1)),
            **CAPD_WELL,
            **NEURO_REST,
        },
    )

    assert response.status_code == 400  # CAPD items are not the ICE screen
    assert "Complete every ICE item" in response.content.decode()

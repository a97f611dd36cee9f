"""A course's life through the app's own pages and services (issue 11 §3): admit a patient and
start a course, correct day 0 (every D+n moves, the course is regraded), correct the date of
birth or weight, transfer, end monitoring — each audited old → new, each refusing implausible
dates with the allowed range and changing nothing, each for the care team and admins only."""

from datetime import date, timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from monitoring import schedule, services
from monitoring.models import (
    AuditEvent,
    Flag,
    GradeSnapshot,
    Patient,
    TreatmentCourse,
    User,
)
from tests.factories import UserFactory, local_input
from tests.web.test_hostile_input import HOSTILE, web_examples

FEVER_HYPOTENSIVE_FOR_AN_ADULT = {
    # 38.5 °C and SBP 85 mmHg on room air: CRS 2 for an adult (SBP < 90 mmHg), CRS 1 for a
    # five-year-old, whose limit is 70 + 2 × 5 = 80 mmHg (reference §1.3; ASTCT, Lee 2019).
    "temp_c": 38.5,
    "sbp_mmhg": 85,
    "oxygen_support": "room_air",
    "vasopressors_count": 0,
    "vasopressin": False,
}


def row_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in apps.get_app_config("monitoring").get_models()}


def url(name: str, course) -> str:
    return reverse(f"monitoring:{name}", args=[course.patient.public_id])


def audit_of(action, course=None) -> AuditEvent:
    events = AuditEvent.objects.filter(action=action)
    if course is not None:
        events = events.filter(patient=course.patient)
    return events.get()


@pytest.fixture
def outsider_care_client(ward_b):
    """A care-team member of ward B: ward A's patients do not exist for them."""
    client = Client()
    client.force_login(UserFactory(username="olga", role=User.Role.CARE_TEAM, units=[ward_b]))
    return client


@pytest.fixture
def fever_check(course, nurse):
    """A febrile, hypotensive check two hours ago, graded CRS 2 for this adult."""
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=2),
        vitals=FEVER_HYPOTENSIVE_FOR_AN_ADULT,
    )
    return GradeSnapshot.objects.get(check_entry=check)


# --- Admit a patient and start a course ---------------------------------------------------


def admission(**overrides) -> dict:
    data = {
        "patient-mrn": "MRN-NEW-1",
        "patient-given_name": "Rosalind",
        "patient-family_name": "Franklin",
        "patient-date_of_birth": "1970-07-25",
        "patient-sex": "female",
        "patient-weight_kg": "58.5",
        "course-unit": "",
        "course-product": "axi-cel",
        "course-product_other": "",
        "course-indication": "Relapsed DLBCL",
        "course-infused_at": local_input(timezone.now() - timedelta(hours=1)),
    }
    data.update(overrides)
    return data


def test_the_care_team_admits_a_patient_and_starts_a_course_from_the_worklist(
    care_client, ward_a, nurse_client
):
    worklist = care_client.get(reverse("monitoring:nurse-worklist")).content.decode()
    assert reverse("monitoring:course-start") in worklist  # "Admit patient / start course"

    response = care_client.post(
        reverse("monitoring:course-start"), admission(**{"course-unit": ward_a.pk})
    )

    patient = Patient.objects.get(mrn="MRN-NEW-1")
    course = TreatmentCourse.objects.get(patient=patient)
    assert response.status_code == 302
    assert response.url == course.get_absolute_url()
    assert course.unit == ward_a
    assert course.status == "monitoring"
    assert course.protocol_version is not None  # the default protocol for axi-cel
    assert course.status_row.monitoring_ends_at is not None
    assert "Patient admitted: FRANKLIN, Rosalind" in audit_of("patient_admitted").summary
    assert "day 0" in audit_of("course_started").summary
    # The nurse of ward A finds the new patient on the worklist.
    assert (
        "Rosalind Franklin"
        in nurse_client.get(reverse("monitoring:nurse-worklist")).content.decode()
    )


def test_a_known_mrn_with_the_same_name_and_birth_gets_a_new_course_not_a_new_patient(
    care_client, ward_a, course
):
    course.status = "completed"
    course.monitoring_ended_at = timezone.now() - timedelta(hours=3)
    course.save()
    known = course.patient
    data = admission(
        **{
            "patient-mrn": known.mrn,
            "patient-given_name": "ada",  # as typed at the desk: case does not matter
            "patient-family_name": known.family_name,
            "patient-date_of_birth": known.date_of_birth.isoformat(),
            "patient-weight_kg": "70",
            "course-unit": ward_a.pk,
        }
    )

    response = care_client.post(reverse("monitoring:course-start"), data)

    assert response.status_code == 302
    assert Patient.objects.filter(mrn=known.mrn).count() == 1
    assert known.courses.count() == 2


def test_a_known_mrn_with_another_name_is_refused_without_saying_whose_it_is(
    care_client, ward_a, course
):
    before = row_counts()
    data = admission(**{"patient-mrn": course.patient.mrn, "course-unit": ward_a.pk})

    response = care_client.post(reverse("monitoring:course-start"), data)

    page = response.content.decode()
    assert response.status_code == 400
    assert "already registered with another name or date of birth" in page
    assert course.patient.given_name not in page  # the MRN's owner is not revealed
    assert row_counts() == before


def test_a_patient_under_monitoring_cannot_start_a_second_course(care_client, ward_a, course):
    before = row_counts()

    response = care_client.post(
        reverse("monitoring:course-start") + f"?patient={course.patient.public_id}",
        admission(**{"course-unit": ward_a.pk}),
    )

    assert response.status_code == 400
    assert "already under monitoring" in response.content.decode()
    assert row_counts() == before


def test_a_care_team_member_admits_only_to_their_own_units(care_client, ward_b):
    before = row_counts()

    response = care_client.post(
        reverse("monitoring:course-start"), admission(**{"course-unit": ward_b.pk})
    )

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert row_counts() == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("course-infused_at", "9999-12-31T10:00", "within the last year and at most a week ahead"),
        ("course-infused_at", "0001-01-01T00:00", "within the last year and at most a week ahead"),
        ("course-infused_at", "99999999999999999999-01-01T00:00", "Enter a valid date/time"),
        ("course-infused_at", "2024-01-01T10:00", "within the last year and at most a week ahead"),
        ("patient-date_of_birth", "2999-01-01", "age of 0-120 years"),
        ("patient-date_of_birth", "0001-01-01", "age of 0-120 years"),
        ("patient-date_of_birth", "1850-01-01", "age of 0-120 years"),
        ("patient-date_of_birth", "99999-01-01", "Enter a valid date"),
        ("patient-weight_kg", "0", "between 1 and 350 kg"),
        ("patient-weight_kg", "351", "between 1 and 350 kg"),
        ("patient-weight_kg", "NaN", "Enter a number"),
    ],
)
def test_implausible_admission_values_are_refused_with_the_range_and_kept(
    care_client, ward_a, field, value, message
):
    before = row_counts()
    data = admission(**{"course-unit": ward_a.pk, field: value})

    response = care_client.post(reverse("monitoring:course-start"), data)

    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert 'value="Franklin"' in page  # everything typed is kept
    assert row_counts() == before


@pytest.mark.parametrize(
    ("days_from_now", "refused"), [(-366, True), (-364, False), (6, False), (8, True)]
)
def test_start_course_keeps_day_0_within_the_last_year_and_a_week_ahead(
    ward_a, care_team_member, days_from_now, refused
):
    patient = Patient.objects.create(
        mrn="P1", given_name="A", family_name="B", date_of_birth=date(1980, 1, 1), weight_kg=70
    )
    course = TreatmentCourse(
        patient=patient,
        unit=ward_a,
        product_id="axi-cel",
        indication="DLBCL",
        infused_at=timezone.now() + timedelta(days=days_from_now),
    )
    if refused:
        with pytest.raises(ValidationError, match="within the last year"):
            services.start_course(course=course, by=care_team_member)
        assert not TreatmentCourse.objects.exists()
    else:
        services.start_course(course=course, by=care_team_member)
        assert course.status_row is not None


@pytest.mark.parametrize(
    ("weight", "plausible"),
    [
        ("0.9", False),
        ("1", True),
        ("350", True),
        ("350.1", False),
        ("NaN", False),
        ("-Infinity", False),
        ("heavy", False),
        (None, False),
        (70.5, True),
    ],
)
def test_the_weight_range_is_1_to_350_kg(weight, plausible):
    if plausible:
        services.check_weight(weight)
    else:
        with pytest.raises(ValidationError, match="between 1 and 350 kg"):
            services.check_weight(weight)


@pytest.mark.parametrize(
    ("born", "plausible"),
    [
        (date(2026, 3, 1), True),  # today: age 0
        (date(2026, 3, 2), False),  # tomorrow
        (date(1906, 3, 1), True),  # 120 years today
        (date(1906, 2, 28), False),
    ],
)
def test_the_age_range_is_0_to_120_years(born, plausible):
    today = date(2026, 3, 1)
    if plausible:
        services.check_date_of_birth(born, today=today)
    else:
        with pytest.raises(ValidationError, match="age of 0-120 years"):
            services.check_date_of_birth(born, today=today)


def test_a_patient_the_user_cannot_see_gives_404_on_the_start_page(outsider_care_client, course):
    start = reverse("monitoring:course-start")
    assert (
        outsider_care_client.get(f"{start}?patient={course.patient.public_id}").status_code == 404
    )
    assert outsider_care_client.get(f"{start}?patient=not-a-uuid").status_code == 404


def test_admitting_a_known_patient_with_a_new_weight_records_it_old_and_new(
    course, care_team_member
):
    known = course.patient

    patient = services.admit_patient(
        mrn=known.mrn,
        given_name=known.given_name,
        family_name=known.family_name,
        date_of_birth=known.date_of_birth,
        sex=known.sex,
        weight_kg="72.0",
        by=care_team_member,
    )

    assert patient.pk == known.pk
    assert Patient.objects.get(pk=known.pk).weight_kg == 72
    assert "weight (kg) 70.0 → 72.0 (Weight at admission)" in audit_of("patient_corrected").summary
    assert not AuditEvent.objects.filter(action="patient_admitted").exists()


# --- Correct the infusion time (day 0) ----------------------------------------------------


def test_moving_day_0_after_a_fever_check_makes_it_an_ungraded_baseline(
    course, fever_check, care_team_member
):
    assert fever_check.crs_grade == 2
    assert course.day_number() == 3
    old_day_0 = course.infused_at
    new_day_0 = timezone.now() - timedelta(hours=1)  # the check is now an hour before day 0

    services.correct_infusion_time(
        course=course,
        infused_at=new_day_0,
        reason="Day 0 typed from the wrong chart",
        by=care_team_member,
    )

    fever_check.refresh_from_db()
    course.refresh_from_db()
    assert fever_check.crs_grade is None  # before day 0: a baseline, not CRS (timeline.py)
    assert course.infused_at == new_day_0
    # Day 0 is today's calendar date, or yesterday's in the first hour after midnight.
    assert course.day_number() == (timezone.localdate() - timezone.localdate(new_day_0)).days
    assert course.status_row.crs_grade is None
    event = audit_of("infusion_corrected", course)
    assert f"{timezone.localtime(old_day_0):%Y-%m-%d %H:%M} → " in event.summary
    assert "CRS 2 → —" in event.summary
    assert "2 → —" in event.summary
    assert event.details["infused_at"] == [old_day_0.isoformat(), new_day_0.isoformat()]


def test_moving_day_0_before_a_baseline_check_grades_it(course, care_team_member, nurse):
    baseline = services.record_check(
        course=course,
        by=nurse,
        observed_at=course.infused_at - timedelta(hours=2),
        vitals=FEVER_HYPOTENSIVE_FOR_AN_ADULT,
    )
    assert baseline.snapshot.crs_grade is None

    services.correct_infusion_time(
        course=course,
        infused_at=course.infused_at - timedelta(hours=3),
        reason="Infusion started earlier",
        by=care_team_member,
    )

    baseline.snapshot.refresh_from_db()
    assert baseline.snapshot.crs_grade == 2


def test_moving_day_0_back_ten_days_moves_d_n_and_the_end_of_monitoring(
    care_client, course, fever_check
):
    ends_before = course.status_row.monitoring_ends_at
    new_day_0 = timezone.localtime(course.infused_at - timedelta(days=10))

    response = care_client.post(
        url("course-infusion", course),
        {"infused_at": local_input(new_day_0), "reason": "Transcription error"},
    )

    assert response.status_code == 302
    course.refresh_from_db()
    course.status_row.refresh_from_db()
    assert course.day_number() == 13
    # The flag board reads this: before issue 11 an admin edit left it ten days late.
    assert course.status_row.monitoring_ends_at == schedule.monitoring_ends_at(course)
    assert course.status_row.monitoring_ends_at < ends_before - timedelta(days=9)
    page = care_client.get(url("patient-course", course)).content.decode()
    assert "D+13" in page
    assert "Day 0 corrected" in page  # the success message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9999-12-31T23:59", "within the last year and at most a week ahead"),
        ("0001-01-01T00:00", "within the last year and at most a week ahead"),
        ("99999999999999999999-01-01T00:00", "Enter a valid date/time"),
        ("", "This field is required"),
    ],
)
def test_an_implausible_day_0_is_refused_and_changes_nothing(
    care_client, course, fever_check, value, message
):
    before = row_counts()

    response = care_client.post(
        url("course-infusion", course), {"infused_at": value, "reason": "Oops"}
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    assert TreatmentCourse.objects.get(pk=course.pk).infused_at == course.infused_at
    assert row_counts() == before


def test_day_0_cannot_move_more_than_a_week_after_the_first_check(
    course, fever_check, care_team_member
):
    with pytest.raises(ValidationError, match="more than 7 days before day 0"):
        services.correct_infusion_time(
            course=course,
            # Still within a week ahead, but the check two hours ago would be 7 days 2 h early.
            infused_at=timezone.now() + timedelta(days=7, minutes=-1),
            reason="Planned infusion",
            by=care_team_member,
        )


def test_a_correction_of_day_0_needs_a_reason(care_client, course):
    response = care_client.post(
        url("course-infusion", course),
        {"infused_at": local_input(course.infused_at - timedelta(days=1)), "reason": ""},
    )

    assert response.status_code == 400
    assert TreatmentCourse.objects.get(pk=course.pk).infused_at == course.infused_at


# --- Correct the date of birth or weight --------------------------------------------------


def test_a_child_s_date_of_birth_regrades_with_the_child_s_blood_pressure_limit(
    care_client, course, fever_check
):
    five_years_ago = timezone.localdate() - timedelta(days=5 * 365 + 30)

    response = care_client.post(
        url("patient-details", course),
        {"date_of_birth": five_years_ago.isoformat(), "weight_kg": "70.0", "reason": "Wrong chart"},
    )

    assert response.status_code == 302
    fever_check.refresh_from_db()
    assert fever_check.crs_grade == 1  # SBP 85 is not below a five-year-old's 80 mmHg
    event = audit_of("patient_corrected", course)
    assert f"date of birth 1970-05-17 → {five_years_ago:%Y-%m-%d}" in event.summary
    assert "2 → 1" in event.summary


def test_a_weight_correction_is_audited_and_changes_the_usual_dose(care_client, course):
    response = care_client.post(
        url("patient-details", course),
        {"date_of_birth": "1970-05-17", "weight_kg": "25.0", "reason": "Weighed today"},
    )

    assert response.status_code == 302
    assert Patient.objects.get(pk=course.patient.pk).weight_kg == 25
    assert "weight (kg) 70.0 → 25.0 (Weighed today)" in audit_of("patient_corrected").summary
    page = care_client.get(url("patient-course", course)).content.decode()
    assert "25.0 kg" in page


@pytest.mark.parametrize(
    ("dob", "weight", "message"),
    [
        ("2999-01-01", "70.0", "age of 0-120 years"),
        ("1066-10-14", "70.0", "age of 0-120 years"),
        ("99999999999999999999-01-01", "70.0", "Enter a valid date"),
        ("1970-05-17", "0.5", "between 1 and 350 kg"),
        ("1970-05-17", "1e999", "Ensure that there are no more than"),
        ("1970-05-17", "70.0", "Nothing to correct"),
    ],
)
def test_implausible_patient_details_are_refused_and_change_nothing(
    care_client, course, fever_check, dob, weight, message
):
    before = row_counts()

    response = care_client.post(
        url("patient-details", course), {"date_of_birth": dob, "weight_kg": weight, "reason": "x"}
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    patient = Patient.objects.get(pk=course.patient.pk)
    assert (patient.date_of_birth, patient.weight_kg) == (date(1970, 5, 17), 70)
    assert row_counts() == before


def test_a_date_of_birth_after_the_infusion_is_refused(course, care_team_member):
    with pytest.raises(ValidationError, match="cannot be after the infusion"):
        services.correct_patient_details(
            patient=course.patient,
            date_of_birth=timezone.localdate(),
            reason="Newborn?",
            by=care_team_member,
        )


# --- Transfer -------------------------------------------------------------------------------


def test_a_transfer_moves_the_course_to_the_other_unit_s_team(
    care_client, course, ward_b, nurse_client, outsider_client
):
    response = care_client.post(
        url("course-transfer", course), {"unit": ward_b.pk, "reason": "Bed on the ICU"}
    )

    assert response.status_code == 302
    assert TreatmentCourse.objects.get(pk=course.pk).unit == ward_b
    assert audit_of("course_transferred").summary == "Transferred Ward A → Ward B (Bed on the ICU)"
    assert nurse_client.get(url("patient-course", course)).status_code == 404
    assert outsider_client.get(url("patient-course", course)).status_code == 200


def test_a_transfer_names_the_bed_alerts_will_give_instead_of_the_patient(
    care_client, course, ward_b
):
    care_client.post(url("course-transfer", course), {"unit": ward_b.pk, "bed": " 4 "})

    course.refresh_from_db()
    assert (course.unit, course.bed) == (ward_b, "4")
    assert audit_of("course_transferred").summary == "Transferred Ward A → Ward B, bed 4"


def test_a_transfer_to_the_same_unit_is_refused(course, care_team_member):
    with pytest.raises(ValidationError, match="already on Ward A"):
        services.transfer_course(course=course, unit=course.unit, by=care_team_member)
    assert not AuditEvent.objects.exists()


# --- End monitoring -----------------------------------------------------------------------


def test_ending_monitoring_closes_flags_and_leaves_the_worklist_and_due_checks(
    care_client, course, fever_check, nurse_client
):
    open_flags = Flag.objects.unresolved().filter(course=course).count()
    # The CRS grade, the vital signs beyond the protocol's limits and the new oxygen need.
    assert open_flags == 3
    ended_at = timezone.now() - timedelta(minutes=30)

    response = care_client.post(
        url("course-end", course),
        {"outcome": "died", "ended_at": local_input(ended_at), "reason": "Refractory CRS"},
    )

    assert response.status_code == 302
    course.refresh_from_db()
    assert course.status == "died"
    assert course.end_reason == "Refractory CRS"
    assert not Flag.objects.unresolved().filter(course=course).exists()
    assert {f.resolve_reason for f in Flag.objects.filter(course=course)} == {
        "Monitoring ended (died): Refractory CRS"
    }
    status = course.status_row
    status.refresh_from_db()
    assert status.open_flag_count == 0
    assert schedule.due_checks(course, status) == []
    assert (
        course.patient.full_name
        not in nurse_client.get(reverse("monitoring:nurse-worklist")).content.decode()
    )
    board = care_client.get(reverse("monitoring:care-flags")).content.decode()
    assert course.patient.full_name not in board
    summary = audit_of("monitoring_ended").summary
    assert "under monitoring → died" in summary
    assert "3 open flags closed" in summary
    # The course page says so, and offers a new course instead of ending it again.
    page = care_client.get(url("patient-course", course)).content.decode()
    assert "Refractory CRS" in page
    assert "Start a new course" in page
    assert url("course-end", course) not in page


@pytest.mark.parametrize(
    ("ended", "message"),
    [
        (timedelta(hours=1), "cannot end in the future"),
        (-timedelta(hours=3), "the last check recorded"),  # the fever check was 2 h ago
        (None, "This field is required"),
    ],
)
def test_monitoring_cannot_end_in_the_future_or_before_the_last_check(
    care_client, course, fever_check, ended, message
):
    before = row_counts()
    ended_at = local_input(timezone.now() + ended) if ended is not None else ""

    response = care_client.post(
        url("course-end", course), {"outcome": "completed", "ended_at": ended_at, "reason": "x"}
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    assert row_counts() == before
    assert TreatmentCourse.objects.get(pk=course.pk).status == "monitoring"


def test_monitoring_ends_once(course, care_team_member):
    services.end_monitoring(
        course=course,
        outcome="completed",
        ended_at=timezone.now(),
        reason="D+28",
        by=care_team_member,
    )

    with pytest.raises(ValidationError, match="already ended"):
        services.end_monitoring(
            course=course,
            outcome="discontinued",
            ended_at=timezone.now(),
            reason="again",
            by=care_team_member,
        )


# --- Access ---------------------------------------------------------------------------------

COURSE_PAGES = ["course-end", "course-transfer", "course-infusion", "patient-details"]


def test_a_nurse_can_use_none_of_these_pages(nurse_client, course):
    assert nurse_client.get(reverse("monitoring:course-start")).status_code == 403
    for name in COURSE_PAGES:
        assert nurse_client.get(url(name, course)).status_code == 403, name
        assert nurse_client.post(url(name, course), {}).status_code == 403, name
    page = nurse_client.get(url("patient-course", course)).content.decode()
    assert url("course-end", course) not in page
    assert (
        reverse("monitoring:course-start")
        not in nurse_client.get(reverse("monitoring:nurse-worklist")).content.decode()
    )


def test_another_unit_s_care_team_gets_404_and_changes_nothing(outsider_care_client, course):
    before = row_counts()
    for name in COURSE_PAGES:
        assert outsider_care_client.get(url(name, course)).status_code == 404, name
        assert outsider_care_client.post(url(name, course), {"reason": "x"}).status_code == 404
    assert row_counts() == before


def test_an_admin_may_use_every_page_on_any_unit(admin_client_, course):
    assert admin_client_.get(reverse("monitoring:course-start")).status_code == 200
    for name in COURSE_PAGES:
        assert admin_client_.get(url(name, course)).status_code == 200, name


def test_anonymous_users_are_sent_to_login(course):
    for target in [reverse("monitoring:course-start"), *(url(n, course) for n in COURSE_PAGES)]:
        response = Client().get(target)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_an_ended_course_cannot_be_ended_or_transferred_again(care_client, course, ward_b):
    services.end_monitoring(
        course=course,
        outcome="transferred_out",
        ended_at=timezone.now(),
        reason="Home hospital",
        by=User.objects.get(username="carl"),
    )

    for name in ("course-end", "course-transfer"):
        response = care_client.post(url(name, course), {"unit": ward_b.pk, "reason": "x"})
        assert response.status_code == 302
        assert response.url == url("patient-course", course)
    assert TreatmentCourse.objects.get(pk=course.pk).unit != ward_b


def test_an_absurd_day_0_stored_before_the_constraints_still_opens_the_pages(
    care_client, course, fever_check
):
    # A row typed in 1900 (the database's bound; the services refuse it) must not make the
    # course page build 46,000 empty days or the worklist fail.
    TreatmentCourse.objects.filter(pk=course.pk).update(
        infused_at=timezone.now().replace(year=1900)
    )

    response = care_client.get(url("patient-course", course))
    assert response.status_code == 200
    assert response.content.decode().count('class="day-line"') <= 401  # MAX_GRID_DAYS + 1
    assert care_client.get(reverse("monitoring:nurse-worklist")).status_code == 200
    assert care_client.get(reverse("monitoring:care-flags")).status_code == 200


def test_factories_give_courses_that_the_services_accept(course, care_team_member):
    # Guards the tests above: a factory course outside the plausible range would be refused
    # for that reason rather than the one under test.
    services.check_infusion_time(course.infused_at)
    services.check_date_of_birth(course.patient.date_of_birth)
    services.check_weight(course.patient.weight_kg)


# --- Any input: a saved change or a refusal, never a 500 ----------------------------------

CORRECTION_FIELDS = {
    "course-infusion": ["infused_at", "reason"],
    "patient-details": ["date_of_birth", "weight_kg", "reason"],
}


@web_examples
@given(
    page=st.sampled_from(sorted(CORRECTION_FIELDS)),
    values=st.lists(HOSTILE, min_size=3, max_size=3),
)
def test_any_correction_input_is_saved_or_refused_never_a_500(care_client, course, page, values):
    data = dict(zip(CORRECTION_FIELDS[page], values, strict=False))
    before = row_counts()
    care_client.raise_request_exception = False

    response = care_client.post(url(page, course), data)

    assert response.status_code in (302, 400), data
    if response.status_code == 400:
        assert row_counts() == before, "a refused correction must change nothing"


@web_examples
@given(changes=st.dictionaries(st.sampled_from(sorted(admission())), HOSTILE, max_size=4))
def test_any_admission_input_is_saved_or_refused_never_a_500(care_client, ward_a, changes):
    data = admission(**{"course-unit": ward_a.pk}) | changes
    before = row_counts()
    care_client.raise_request_exception = False

    response = care_client.post(reverse("monitoring:course-start"), data)

    assert response.status_code in (302, 400), data
    if response.status_code == 400:
        assert row_counts() == before, "a refused admission must leave no row behind"

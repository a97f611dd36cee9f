"""Check-ins at home (issue 15 §2): a caregiver or patient records one on their phone; the same
engine grades it as the ward's; they are told at once what to do; the team sees it."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from monitoring import alert_rules, escalation, home, home_checkins, services
from monitoring.models import (
    AuditEvent,
    BedsideCheck,
    Flag,
    HomeCheckIn,
    Notification,
    OnCallShift,
    Treatment,
    VitalSigns,
)
from tests.factories import CourseFactory
from tests.home_helpers import home_client, make_home_user, text_of

CHECKIN = reverse("monitoring:home-checkin")
DONE = reverse("monitoring:home-checkin-done")
HOME = reverse("monitoring:home-start")
NUMBER = "+44 20 7946 0999"


@pytest.fixture
def caregiver(course, care_team_member):
    course.unit.contact_phone = NUMBER
    course.unit.save()
    return make_home_user(course, care_team_member)


@pytest.fixture
def phone(caregiver):
    return home_client(caregiver)


def entry(**values) -> dict:
    """A check-in as the page posts it: 36.8 °C, no symptoms, no cuff, no medicine, no screen."""
    return {"temperature": "36.8", "temperature_unit": "c", "no_symptoms": "on", **values}


SCREEN_RIGHT = {f"screen_{item}": "right" for item in ("year", "month", "place")} | {
    f"screen_{item}": "right" for item in ("naming", "command", "counting")
}


def saved(course) -> HomeCheckIn:
    return HomeCheckIn.objects.select_related("check_entry__snapshot").get(course=course)


def test_a_fever_at_home_is_graded_crs_1_as_the_ward_would_and_says_call_now(phone, course):
    response = phone.post(CHECKIN, entry(temperature="38.4"))

    assert response.status_code == 302
    assert response.url == DONE  # no id, no patient data in the address
    checkin = saved(course)
    check = checkin.check_entry
    assert check.setting == "home"
    assert VitalSigns.objects.get(check_entry=check).temp_c == Decimal("38.4")
    assert check.snapshot.crs_grade == 1  # ASTCT: fever ≥ 38.0 °C alone (reference §1.1)
    assert (checkin.entered_by_kind, checkin.instruction) == ("caregiver", "call_now")
    page = text_of(phone.get(DONE))
    assert "Call your team now" in page
    assert f"Call your team now on {NUMBER}" in page
    assert 'href="tel:+442079460999"' in phone.get(DONE).content.decode()
    assert Flag.objects.filter(course=course, kind="crs", status="open").exists()


def test_no_fever_and_no_symptoms_says_no_action_and_when_the_next_check_in_is(phone, course):
    phone.post(CHECKIN, entry())

    checkin = saved(course)
    assert checkin.instruction == "no_action"
    assert checkin.next_checkin_at == checkin.entered_at + timedelta(hours=8)  # the protocol's
    next_at = timezone.localtime(checkin.next_checkin_at)
    assert f"Next check-in at {next_at:%H:%M}" in text_of(phone.get(DONE))
    home_page = text_of(phone.get(HOME))
    assert "36.8 °C" in home_page
    assert "Maria (daughter)" in home_page


def test_fahrenheit_is_converted_and_kept_as_typed(phone, course):
    phone.post(CHECKIN, entry(temperature="101.3", temperature_unit="f"))

    checkin = saved(course)
    assert (checkin.temperature_typed, checkin.temperature_unit) == (Decimal("101.3"), "f")
    assert VitalSigns.objects.get(check_entry=checkin.check_entry).temp_c == Decimal("38.5")
    assert checkin.check_entry.snapshot.crs_grade == 1


@pytest.mark.parametrize(
    ("typed", "unit"), [("120", "f"), ("29.9", "c"), ("45.1", "c"), ("50", "f")]
)
def test_an_impossible_temperature_is_refused_with_both_ranges_and_every_value_kept(
    phone, course, typed, unit
):
    response = phone.post(
        CHECKIN,
        {
            "temperature": typed,
            "temperature_unit": unit,
            "symptoms": ["headache"],
            "sbp_mmhg": "118",
            "dbp_mmhg": "76",
        },
    )

    assert response.status_code == 400
    page = text_of(response)
    assert "Type a temperature from 30 to 45 °C (86 to 113 °F)." in page
    html = response.content.decode()
    assert f'value="{typed}"' in html
    assert 'value="118"' in html
    assert 'value="76"' in html
    assert re.search(r'<input[^>]*value="headache"[^>]*checked', html)
    assert not BedsideCheck.objects.filter(course=course).exists()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"no_symptoms": ""}, "Tick each symptom there is, or"),
        ({"symptoms": ["fever"]}, "Tick the symptoms, or"),
        ({"sbp_mmhg": "120"}, "Type both numbers of the blood pressure"),
        ({"sbp_mmhg": "80", "dbp_mmhg": "90"}, "The bottom number must be lower"),
        ({"heart_rate_bpm": "400"}, "Type a number from 20 to 300 /min."),
        ({"fever_medicine": "paracetamol"}, "Say when it was taken."),
        ({"fever_medicine": "paracetamol", "fever_medicine_time": "07:00"}, "Say how many mg"),
        ({"screen_year": "wrong"}, "Mark every question of the screen right or wrong"),
    ],
)
def test_a_wrong_field_saves_nothing_and_says_why(phone, course, values, message):
    response = phone.post(CHECKIN, entry(**values))

    assert response.status_code == 400
    assert message in text_of(response)
    assert 'value="36.8"' in response.content.decode()
    assert not BedsideCheck.objects.filter(course=course).exists()


def test_a_confused_answer_flags_the_team_urgently_and_says_do_not_drive(phone, course):
    response = phone.post(CHECKIN, entry(**{**SCREEN_RIGHT, "screen_month": "wrong"}))

    assert response.status_code == 302
    checkin = saved(course)
    assert checkin.instruction == "call_neuro"
    assert checkin.neuro_screen.wrong_items == ["month"]
    flag = Flag.objects.get(course=course, kind="home_confusion")
    assert (flag.severity, flag.status) == (Flag.Severity.URGENT, "open")
    assert flag.message == (
        "Reported at home by the caregiver: guided screen answered wrongly: month"
    )
    assert flag.escalate_at is not None  # on the escalation ladder like any urgent flag
    # Not graded as ICANS: no ICE score is taken at home.
    assert checkin.check_entry.snapshot.icans_grade in (None, 0)
    page = text_of(phone.get(DONE))
    assert "Call now" in page
    assert "Do not drive" in page
    assert "emergency department" in page


def test_confusion_ticked_flags_the_team_too(phone, course):
    phone.post(CHECKIN, entry(no_symptoms="", symptoms=["confusion"]))

    flag = Flag.objects.get(course=course, kind="home_confusion")
    assert flag.message == "Reported at home by the caregiver: confusion"
    assert saved(course).instruction == "call_neuro"


def test_a_medicine_for_fever_is_a_treatment_at_the_time_it_was_taken(phone, course):
    taken = timezone.localtime() - timedelta(hours=2)
    phone.post(
        CHECKIN,
        entry(
            temperature="37.6",
            fever_medicine="paracetamol",
            fever_medicine_time=f"{taken:%H:%M}",
            fever_medicine_mg="1000",
        ),
    )

    checkin = saved(course)
    treatment = Treatment.objects.get(check_entry__course=course)
    assert (treatment.drug, treatment.dose, treatment.route) == ("antipyretic", 1000, "po")
    assert treatment.check_entry == checkin.fever_medicine_check
    assert treatment.check_entry.setting == "home"
    assert timezone.localtime(treatment.check_entry.observed_at).strftime("%H:%M") == (
        f"{taken:%H:%M}"
    )
    assert checkin.fever_medicine == "paracetamol"


def test_the_check_in_is_audited_with_who_and_what_they_were_told(phone, course):
    phone.post(CHECKIN, entry(temperature="101.3", temperature_unit="f"))

    event = AuditEvent.objects.get(action=AuditEvent.Action.HOME_CHECKIN_RECORDED)
    assert event.course == course
    assert event.summary.startswith("Check-in at home by Maria (daughter) (caregiver)")
    assert "101.3 °F (38.5 °C)" in event.summary
    assert "told: call now" in event.summary
    assert AuditEvent.objects.filter(action="check_recorded", course=course).exists()


def test_home_cannot_record_what_only_the_ward_measures(phone, course, caregiver):
    # Fields of the ward's page sent to the home page are not read.
    phone.post(CHECKIN, entry(spo2_pct="85", oxygen_support="low_flow", ice_orientation="1"))
    vitals = VitalSigns.objects.get(check_entry__course=course)
    assert (vitals.spo2_pct, vitals.oxygen_support) == (None, "")
    # And the one write path refuses them from any caller.
    with pytest.raises(ValidationError, match="cannot measure"):
        services.record_check(
            course=course,
            by=caregiver,
            observed_at=timezone.now(),
            setting="home",
            vitals={"temp_c": 37, "spo2_pct": 95},
        )


def test_a_home_session_records_only_on_its_own_course(phone, course, ward_b, care_team_member):
    other = CourseFactory(unit=ward_b)
    phone.post(CHECKIN, {**entry(), "course": str(other.pk), "public_id": str(other.public_id)})

    assert HomeCheckIn.objects.get().course == course
    assert not BedsideCheck.objects.filter(course=other).exists()


def test_the_done_page_shows_only_this_browsers_own_check_in(phone, course, ward_b, caregiver):
    assert phone.get(DONE).url == HOME  # nothing saved here yet
    phone.post(CHECKIN, entry())
    session = phone.session
    session["home_checkin_done"] = 999999  # not theirs (or no such check-in)
    session.save()
    assert phone.get(DONE).url == HOME


def test_staff_cannot_use_the_home_check_in(care_client, nurse_client, admin_client_, caregiver):
    for client in (care_client, nurse_client, admin_client_):
        assert client.get(CHECKIN).status_code == 403
        assert client.post(CHECKIN, entry()).status_code == 403
    assert not HomeCheckIn.objects.exists()


def test_a_revoked_access_records_nothing(phone, caregiver, care_team_member):
    home.revoke_access(access=caregiver.home_access, reason="moved away", by=care_team_member)

    response = phone.post(CHECKIN, entry())

    assert response.status_code == 302
    assert response.url != DONE
    assert not HomeCheckIn.objects.exists()


def test_before_day_0_there_is_nothing_to_record_yet(phone, course):
    course.status = course.Status.PLANNED
    course.save()

    assert "Check-ins start on the day of the treatment" in text_of(phone.get(CHECKIN))
    response = phone.post(CHECKIN, entry())
    assert response.status_code == 400
    assert not HomeCheckIn.objects.exists()


def test_the_check_in_page_costs_two_queries(phone, django_assert_num_queries):
    # The session; the user with their access, course, unit, patient and protocol version.
    with django_assert_num_queries(2):
        response = phone.get(CHECKIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="temperature"' in html
    assert 'value="f"' in html
    assert "Blood pressure: top number" in text_of(response)


def test_the_patient_themself_records_as_the_patient(course, care_team_member):
    patient = make_home_user(course, care_team_member, kind="patient", name="Ada")

    home_client(patient).post(CHECKIN, entry())

    assert saved(course).entered_by_kind == "patient"


# --- The care team's side (issue 15 §3) -----------------------------------------------------


def test_the_team_sees_a_confused_answer_on_the_board_marked_home(
    phone, course, care_client, nurse_client
):
    phone.post(CHECKIN, entry(temperature="38.5", **{**SCREEN_RIGHT, "screen_year": "wrong"}))

    board = text_of(care_client.get(reverse("monitoring:care-flags")))
    assert "Ada Lovelace" in board
    assert "Home · caregiver" in board
    flags = text_of(
        care_client.get(
            reverse("monitoring:care-patient-flags", args=[course.patient.public_id]),
            HTTP_HX_REQUEST="true",
        )
    )
    assert "Confusion reported at home" in flags
    assert "Home · caregiver" in flags
    assert "Reported at home by the caregiver: guided screen answered wrongly: year" in flags
    worklist = text_of(nurse_client.get(reverse("monitoring:nurse-worklist")))
    assert "Home · caregiver" in worklist


def test_the_course_day_shows_the_home_entry_beside_the_ward_ones(phone, course, care_client):
    phone.post(CHECKIN, entry(temperature="101.3", temperature_unit="f", **SCREEN_RIGHT))
    day = course.day_number()

    page = text_of(
        care_client.get(reverse("monitoring:course-day", args=[course.patient.public_id, day]))
    )

    assert "Home · caregiver" in page
    assert "typed 101.3 °F" in page
    assert "guided screen all right" in page
    course_page = text_of(
        care_client.get(reverse("monitoring:patient-course", args=[course.patient.public_id]))
    )
    assert "Home ×1" in course_page  # the day's line counts the check-in from home


def test_the_done_page_costs_three_queries(phone, django_assert_num_queries):
    phone.post(CHECKIN, entry())
    # The session; the user with their access and course; the check-in with its screen.
    with django_assert_num_queries(3):
        response = phone.get(DONE)
    assert response.status_code == 200


def test_the_protocol_sets_when_to_call_while_the_grade_stays_astcts(phone, course):
    version = course.protocol_version
    version.home_call_temperature_c = Decimal("38.5")
    version.home_checkin_interval_hours = 4
    version.save()

    phone.post(CHECKIN, entry(temperature="38.2"))

    checkin = saved(course)
    assert checkin.instruction == "no_action"  # below the centre's 38.5 °C to call at
    assert checkin.next_checkin_at == checkin.entered_at + timedelta(hours=4)
    assert checkin.check_entry.snapshot.crs_grade == 1  # still fever by ASTCT (≥ 38.0 °C)


def test_confusion_at_home_escalates_like_any_flag(phone, course, nurse, care_client):
    OnCallShift.objects.create(
        unit=course.unit,
        tier=alert_rules.BEDSIDE_NURSE,
        user=nurse,
        starts_at=timezone.now() - timedelta(days=1),
    )
    phone.post(CHECKIN, entry(no_symptoms="", symptoms=["difficulty_speaking"]))
    flag = Flag.objects.get(course=course, kind="home_confusion")

    assert escalation.step(flag.pk, flag.ladder_round).startswith("told 1")

    assert Notification.objects.filter(flag=flag, recipient=nurse).exists()
    board = text_of(care_client.get(reverse("monitoring:care-flags")))
    assert "Confusion reported at home" in board
    assert f"told: {alert_rules.TIER_LABELS[alert_rules.BEDSIDE_NURSE]}" in board


def test_the_same_form_sent_twice_saves_one_check_in(phone, course):
    page = phone.get(CHECKIN).content.decode()
    token = re.search(r'name="submission" value="([0-9a-f-]{36})"', page).group(1)

    first = phone.post(CHECKIN, entry(temperature="38.4", submission=token))
    again = phone.post(CHECKIN, entry(temperature="38.4", submission=token))  # a double tap

    assert first.url == again.url == DONE
    assert HomeCheckIn.objects.filter(course=course).count() == 1
    assert BedsideCheck.objects.filter(course=course).count() == 1
    assert "Call your team now" in text_of(phone.get(DONE))
    fresh = re.search(r'name="submission" value="([^"]+)"', phone.get(CHECKIN).content.decode())
    assert fresh.group(1) != token  # a new form, a new token
    refused = phone.post(CHECKIN, entry(temperature="50", submission=fresh.group(1)))
    assert refused.status_code == 400
    assert f'name="submission" value="{fresh.group(1)}"' in refused.content.decode()  # kept


def test_back_then_save_again_keeps_one_check_in_and_one_dose(phone, course):
    """The browser's Back refills a new form (a new token) with what was typed: saving it again
    within minutes is the same check-in, not a second one with a second paracetamol dose."""
    taken = timezone.localtime() - timedelta(minutes=30)
    typed = entry(
        temperature="38.6",
        fever_medicine="paracetamol",
        fever_medicine_time=f"{taken:%H:%M}",
        fever_medicine_mg="500",
        **SCREEN_RIGHT,
    )
    for _ in range(2):
        token = re.search(
            r'name="submission" value="([0-9a-f-]{36})"', phone.get(CHECKIN).content.decode()
        ).group(1)
        assert phone.post(CHECKIN, {**typed, "submission": token}).url == DONE

    assert HomeCheckIn.objects.filter(course=course).count() == 1
    assert Treatment.objects.filter(check_entry__course=course).count() == 1
    assert "Call your team now" in text_of(phone.get(DONE))
    # Something different typed (a new temperature) is a new check-in.
    token = re.search(
        r'name="submission" value="([0-9a-f-]{36})"', phone.get(CHECKIN).content.decode()
    ).group(1)
    phone.post(CHECKIN, {**typed, "temperature": "38.9", "submission": token})
    assert HomeCheckIn.objects.filter(course=course).count() == 2
    assert Treatment.objects.filter(check_entry__course=course).count() == 1  # the same dose


def test_the_last_dose_reported_again_hours_later_is_recorded_once(caregiver, course):
    """Each check-in asks for the last paracetamol: the same dose comes again at the next
    check-in, and the 24-hour dose count and fever masking must see one dose."""
    access = caregiver.home_access
    taken = timezone.now() - timedelta(hours=5)
    for hours_ago in (4, 1):
        home_checkins.record_home_checkin(
            access=access,
            by=caregiver,
            temperature=Decimal("37.9"),
            temperature_unit="c",
            no_symptoms=True,
            fever_medicine="paracetamol",
            fever_medicine_at=taken,
            fever_medicine_mg=500,
            now=timezone.now() - timedelta(hours=hours_ago),
        )

    assert HomeCheckIn.objects.filter(course=course).count() == 2
    treatment = Treatment.objects.get(check_entry__course=course)
    assert treatment.check_entry.observed_at == taken
    # A new dose (another time) is a new treatment.
    home_checkins.record_home_checkin(
        access=access,
        by=caregiver,
        temperature=Decimal("37.9"),
        temperature_unit="c",
        no_symptoms=True,
        fever_medicine="paracetamol",
        fever_medicine_at=timezone.now() - timedelta(minutes=20),
        fever_medicine_mg=500,
    )
    assert Treatment.objects.filter(check_entry__course=course).count() == 2


def test_the_course_day_names_the_wrong_answers_as_the_flag_does(phone, course, care_client):
    """A list of wrong answers must not read as right ones ("wrong: knows the year")."""
    phone.post(CHECKIN, entry(**{**SCREEN_RIGHT, "screen_year": "wrong"}))

    page = text_of(
        care_client.get(
            reverse("monitoring:course-day", args=[course.patient.public_id, course.day_number()])
        )
    )

    assert "guided screen, answered wrongly: year" in page
    assert "knows the year" not in page


def test_the_call_page_says_what_to_tell_the_team_fever_and_medicine_included(phone):
    """Told to call for confusion, the caregiver still reports the fever and the paracetamol
    that may hide it (the instruction shows the most urgent reason only)."""
    taken = timezone.localtime() - timedelta(hours=1)
    phone.post(
        CHECKIN,
        entry(
            temperature="38.6",
            fever_medicine="paracetamol",
            fever_medicine_time=f"{taken:%H:%M}",
            fever_medicine_mg="500",
            **{**SCREEN_RIGHT, "screen_year": "wrong"},
        ),
    )

    page = text_of(phone.get(DONE))

    assert "Confusion or trouble speaking" in page
    assert "Tell them what you entered: temperature 38.6 °C" in page
    assert f"paracetamol (acetaminophen) taken at {taken:%H:%M} (it can hide a fever)" in page


def test_a_screen_begun_and_then_skipped_saves_without_it(phone, course):
    """One answer tapped cannot be untapped on a phone: ticking 'cannot do them now' skips the
    screen instead of refusing the whole check-in."""
    response = phone.post(CHECKIN, entry(temperature="37.2", screen_year="wrong", skip_screen="on"))

    assert response.status_code == 302
    checkin = saved(course)
    assert not hasattr(checkin, "neuro_screen") or checkin.neuro_screen is None
    assert checkin.instruction == "no_action"
    refused = phone.post(CHECKIN, entry(temperature="37.2", screen_year="wrong"))
    assert refused.status_code == 400
    assert "tick that you cannot do them now" in text_of(refused)

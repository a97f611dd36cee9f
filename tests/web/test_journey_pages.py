"""The journey's pages: a nurse registers a patient for therapy and follows the journey end to end
through the write path; another unit's user gets 403/404; the program page's query budget."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import journey
from monitoring.models import (
    AuditEvent,
    CoursePhase,
    FollowUpVisit,
    Phase,
    TreatmentCourse,
    User,
)
from tests.factories import CourseFactory, PatientFactory, UserFactory, active_now

pytestmark = pytest.mark.django_db


def moment(at):
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")


def errors(response) -> str:
    """The error messages of a re-rendered form, for a failing assertion."""
    text = response.content.decode()
    return (
        " | ".join(re.findall(r'class="invalid-feedback[^"]*"[^>]*>(.*?)<', text, re.S))
        or text[-2000:]
    )


def day(value):
    return value.strftime("%Y-%m-%d")


def planned_course(unit, by, *, day0_in=timedelta(days=40)):
    course = TreatmentCourse(
        patient=PatientFactory(),
        unit=unit,
        product_id="axi-cel",
        indication="Relapsed large B-cell lymphoma",
        infused_at=timezone.now() + day0_in,
    )
    return journey.register_course(
        course=course, referred_on=timezone.localdate() - timedelta(days=5), by=by
    )


def test_a_nurse_follows_the_journey_end_to_end(nurse_client, nurse, ward_a, care_client):
    today = timezone.localdate()
    # Register at referral: a new patient and a planned course.
    response = nurse_client.post(
        reverse("monitoring:journey-register"),
        {
            "patient-mrn": "J0001",
            "patient-given_name": "Ana",
            "patient-family_name": "Ruiz",
            "patient-date_of_birth": "1961-04-02",
            "patient-sex": "female",
            "patient-weight_kg": "64",
            "course-unit": ward_a.pk,
            "course-product": "axi-cel",
            "course-indication": "DLBCL, second relapse",
            "course-referred_on": day(today - timedelta(days=40)),
            "course-infused_at": moment(timezone.now() + timedelta(days=30)),
        },
    )
    assert response.status_code == 302, errors(response)
    course = TreatmentCourse.objects.get(patient__mrn="J0001")
    assert course.status == TreatmentCourse.Status.PLANNED
    page = nurse_client.get(response.url).content.decode()
    assert "Referral and evaluation" in page
    assert "Pre-infusion baseline" in page
    # Not on the worklist; on the program page.
    assert "Ruiz" not in nurse_client.get(reverse("monitoring:nurse-worklist")).content.decode()
    assert "Ana Ruiz" in care_client.get(reverse("monitoring:program")).content.decode()

    phase_url = reverse("monitoring:journey-phase", args=[course.patient.public_id])
    for phase, start, end in [
        ("collection", 35, 35),
        ("manufacturing", 34, None),
    ]:
        response = nurse_client.post(
            phase_url,
            {
                "phase": phase,
                "started_on": day(today - timedelta(days=start)),
                "ended_on": day(today - timedelta(days=end)) if end else "",
            },
        )
        assert response.status_code == 302, errors(response)
    assert journey.phase_of(course) == Phase.MANUFACTURING
    # A correction without a reason re-renders with the values kept.
    response = nurse_client.post(
        phase_url, {"phase": "collection", "started_on": day(today - timedelta(days=36))}
    )
    assert response.status_code == 400
    assert "say why it is corrected" in response.content.decode()
    assert day(today - timedelta(days=36)) in response.content.decode()

    baseline_url = reverse("monitoring:journey-baseline", args=[course.patient.public_id])
    response = nurse_client.post(
        baseline_url, {"item": "ice", "ice_score": "10", "taken_at": moment(timezone.now())}
    )
    assert response.status_code == 302
    response = nurse_client.post(
        baseline_url, {"item": "ice", "ice_score": "12", "taken_at": moment(timezone.now())}
    )
    assert response.status_code == 400
    assert "0–10" in response.content.decode()

    # The infusion is given: monitoring starts, the course goes on the worklist.
    infused = timezone.now() - timedelta(minutes=10)
    response = nurse_client.post(
        reverse("monitoring:journey-infusion", args=[course.patient.public_id]),
        {"infused_at": moment(infused)},
    )
    assert response.status_code == 302, errors(response)
    course.refresh_from_db()
    assert course.status == TreatmentCourse.Status.MONITORING
    worklist = nurse_client.get(reverse("monitoring:nurse-worklist")).content.decode()
    assert "Ana Ruiz" in worklist
    assert "Acute monitoring" in worklist
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MONITORING_STARTED).exists()

    # Weeks later: the D+14 visit is overdue, D+28 due; recorded done through the page.
    course.infused_at = timezone.now() - timedelta(days=28)
    course.save(update_fields=["infused_at"])
    program = care_client.get(reverse("monitoring:program") + "?group=visits").content.decode()
    assert "overdue" in program
    assert "D+14" in program
    response = nurse_client.post(
        reverse("monitoring:journey-visit", args=[course.patient.public_id, 14]),
        {"done_at": moment(timezone.now() - timedelta(days=13)), "notes": "ICE 10, CBC"},
    )
    assert response.status_code == 302, errors(response)
    visit = FollowUpVisit.objects.get(course=course)
    assert visit.recorded_by == nurse
    page = nurse_client.get(course.get_absolute_url()).content.decode()
    assert "ICE 10, CBC" in page


def test_another_units_user_cannot_see_or_change_the_journey(
    outsider_client, ward_a, ward_b, nurse, client
):
    course = planned_course(ward_a, nurse)
    public_id = course.patient.public_id
    for name, args in [
        ("patient-course", [public_id]),
        ("journey-phase", [public_id]),
        ("journey-baseline", [public_id]),
        ("journey-infusion", [public_id]),
        ("journey-visit", [public_id, 14]),
        ("journey-end", [public_id]),
    ]:
        url = reverse(f"monitoring:{name}", args=args)
        assert outsider_client.get(url).status_code == 404, name
        assert outsider_client.post(url, {}).status_code == 404, name
    assert CoursePhase.objects.filter(course=course).count() == 1  # nothing changed
    # The program page: their own units only; another unit's filter is a 404.
    charge = UserFactory(role=User.Role.CHARGE_NURSE, units=[ward_b])
    client.force_login(charge)
    page = client.get(reverse("monitoring:program")).content.decode()
    assert course.patient.full_name not in page
    assert client.get(reverse("monitoring:program") + f"?unit={ward_a.pk}").status_code == 404
    # A nurse cannot open the program page; a display cannot register.
    client.force_login(UserFactory(role=User.Role.NURSE, units=[ward_a]))
    assert client.get(reverse("monitoring:program")).status_code == 403
    client.force_login(UserFactory(role=User.Role.DISPLAY, units=[ward_a]))
    assert client.get(reverse("monitoring:journey-register")).status_code == 403


def _program_world(unit, by, n):
    """n patients in each kind of row: planned (manufacturing, due for infusion), under
    monitoring, completed in follow-up with a visit due."""
    for i in range(n):
        course = planned_course(unit, by, day0_in=timedelta(days=3 + i))
        journey.record_phase(
            course=course,
            phase="manufacturing",
            started_on=timezone.localdate() - timedelta(days=10),
            by=by,
        )
        CourseFactory(unit=unit, infused_at=timezone.now() - timedelta(days=2))
        CourseFactory(
            unit=unit,
            infused_at=timezone.now() - timedelta(days=90),
            status=TreatmentCourse.Status.COMPLETED,
            monitoring_ended_at=timezone.now() - timedelta(days=70),
        )


@pytest.mark.parametrize("n", [1, 4])
def test_program_page_query_budget(
    care_client, care_team_member, ward_a, n, django_assert_num_queries
):
    _program_world(ward_a, care_team_member, n)
    active_now(care_client)
    # session, user, the user's units, the courses (patient, unit, version), their phases,
    # the planned ones' baseline items, their follow-up visits done, and the navigation bar's
    # open-flag and unread-notification counts (base.html). Not one more per patient.
    with django_assert_num_queries(9):
        response = care_client.get(reverse("monitoring:program"))
    page = response.content.decode()
    assert response.status_code == 200
    # Each planned patient is in manufacturing, due for conditioning and due for infusion.
    assert page.count("Manufacturing</td>") == 3 * n
    assert "Due for infusion within a week" in page


def test_program_groups_page_through_50_rows(care_client, care_team_member, ward_a):
    for _ in range(51):
        planned_course(ward_a, care_team_member)
    page = care_client.get(reverse("monitoring:program")).content.decode()
    assert "Page 1 of 2" in page
    page = care_client.get(reverse("monitoring:program") + "?group=referral&page=2").content
    assert b"Page 2 of 2" in page


def test_journey_settings_are_validated_and_versioned(client, admin_user, ward_a, nurse):
    course = CourseFactory(unit=ward_a)  # the version is in use: saving makes a new one
    version = course.protocol_version
    client.force_login(admin_user)
    url = reverse("monitoring:admin-protocol-version-journey", args=[version.pk])
    assert client.get(url).status_code == 200
    data = {
        "conditioning_regimen": "Bendamustine",
        "conditioning_start_day": "-4",
        "conditioning_end_day": "-6",
        "follow_up_visits": "D+14 ±2: ICE\nD+30 ±3: CBC",
        "baseline_labs": ["crp_mg_l"],
        "days_manufacturing_low": "21",
        "days_manufacturing_high": "35",
        "change_note": "Centre's own journey",
    }
    response = client.post(url, data)
    assert response.status_code == 400
    assert "Conditioning" in response.content.decode()
    data["conditioning_end_day"] = "-2"
    data["follow_up_visits"] = "D+14 ±2: ICE\nfortnightly"
    response = client.post(url, data)
    assert response.status_code == 400
    assert "Line 2" in response.content.decode()
    data["follow_up_visits"] = "D+14 ±2: ICE\nD+30 ±3: CBC"
    response = client.post(url, data)
    assert response.status_code == 302
    version.refresh_from_db()
    new = version.protocol.versions.order_by("-number").first()
    assert new.pk != version.pk
    assert new.conditioning_regimen == "Bendamustine"
    assert new.follow_up_visits == [
        {"day": 14, "window_days": 2, "asks": "ICE"},
        {"day": 30, "window_days": 3, "asks": "CBC"},
    ]
    assert new.phase_days == {"manufacturing": [21, 35]}
    assert version.conditioning_regimen != "Bendamustine"  # the course's version is kept
    assert nurse  # the nurse cannot open it
    client.force_login(nurse)
    assert client.get(url).status_code == 403

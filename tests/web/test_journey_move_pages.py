"""The pages for a planned day 0 moved and a follow-up visit missed (views/journey.py), the
program page's missed visits, and the wall display's care setting: through the write path, as
the coordinator, the nurse and the wall screen see them; query counts pinned."""

import html
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import journey, services
from monitoring.models import AuditEvent, Flag, TreatmentCourse, User
from tests.factories import ROOM_AIR, CourseFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def moment(at):
    return timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def part(page: str, element_id: str, end: str = "</ul>") -> str:
    start = page.index(f'id="{element_id}"')
    return page[start : page.index(end, start)]


def register(unit, by, *, day0_in=timedelta(days=20)):
    course = TreatmentCourse(
        patient=PatientFactory(given_name="Ana", family_name="Ruiz"),
        unit=unit,
        product_id="axi-cel",
        indication="Relapsed large B-cell lymphoma",
        infused_at=(timezone.now() + day0_in).replace(second=0, microsecond=0),
    )
    return journey.register_course(
        course=course, referred_on=timezone.localdate() - timedelta(days=30), by=by
    )


def move_url(course):
    return reverse("monitoring:journey-move-day0", args=[course.patient.public_id])


def missed_url(course, day):
    return reverse("monitoring:journey-visit-missed", args=[course.patient.public_id, day])


# --- Moving a planned day 0 --------------------------------------------------------------------


def test_the_care_team_moves_a_planned_day0_and_conditioning_and_visits_follow(
    care_client, nurse, ward_a
):
    course = register(ward_a, nurse, day0_in=timedelta(days=5))
    journey.record_baseline(
        course=course, item="ice", ice_score=10, taken_at=timezone.now(), by=nurse
    )
    old_day0 = timezone.localdate(course.infused_at)
    course_page = care_client.get(course.get_absolute_url()).content.decode()
    assert "Move planned day 0" in course_page
    assert f"D+14</strong> {old_day0 + timedelta(days=14)}" in part(course_page, "visits")

    # The page says what moves with day 0.
    page = care_client.get(move_url(course)).content.decode()
    moves = text_of(part(page, "moves-with-day0"))
    assert f"Conditioning: {old_day0 - timedelta(days=5)} – {old_day0 - timedelta(days=3)}" in moves
    assert f"Follow-up visit D+14: {old_day0 + timedelta(days=14)}" in moves
    assert 'id="kept-as-recorded"' not in page  # nothing recorded that would stay

    # Manufacturing slipped two weeks: the coordinator moves day 0.
    new = course.infused_at + timedelta(days=14)
    response = care_client.post(
        move_url(course),
        {"infused_at": moment(new), "reason": "Manufacturing delayed: release testing"},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == course.get_absolute_url()
    course.refresh_from_db()
    assert course.infused_at == new
    day0 = timezone.localdate(new)
    page = response.content.decode()
    message = text_of(page)
    assert f"now planned {day0 - timedelta(days=5)} – {day0 - timedelta(days=3)}" in message
    assert f"Follow-up visits move with it (D+14: {day0 + timedelta(days=14)})" in message
    # The baseline ICE taken today is 19 days before the new day 0: to repeat.
    assert "Baseline to repeat (more than 7 days before the new day 0): Baseline ICE" in message
    journey_table = text_of(part(page, "journey-heading", "</table>"))
    assert (
        f"Conditioning planned {day0 - timedelta(days=5)} {day0 - timedelta(days=3)}"
        in journey_table
    )
    visits = part(page, "visits")
    assert f"D+14</strong> {day0 + timedelta(days=14)}" in visits
    assert f"D+28</strong> {day0 + timedelta(days=28)}" in visits
    assert "record visit" not in visits  # a planned course's visits are not due
    assert "more than 7 days before day 0" in part(page, "baseline")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PLANNED_DAY0_MOVED).count() == 1


def test_the_move_page_says_which_recorded_phases_keep_their_dates(care_client, nurse, ward_a):
    course = register(ward_a, nurse, day0_in=timedelta(days=3))
    started = timezone.localdate() - timedelta(days=1)
    journey.record_phase(
        course=course, phase="conditioning", started_on=started, regimen="Flu/Cy", by=nurse
    )

    page = care_client.get(move_url(course)).content.decode()

    kept = text_of(part(page, "kept-as-recorded"))
    assert f"Conditioning, recorded from {started}: its dates stay" in kept
    assert "Conditioning" not in text_of(part(page, "moves-with-day0"))
    response = care_client.post(
        move_url(course),
        {"infused_at": moment(course.infused_at + timedelta(days=7)), "reason": "Slot moved"},
        follow=True,
    )
    assert "Kept as recorded: Conditioning." in text_of(response.content.decode())


def test_a_refused_move_keeps_every_value_and_says_the_range(care_client, nurse, ward_a):
    course = register(ward_a, nurse)
    on_file = course.infused_at
    too_far = timezone.now() + timedelta(days=200)

    response = care_client.post(
        move_url(course), {"infused_at": moment(too_far), "reason": "Manufacturing failed twice"}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "between now and 180 days ahead" in page
    assert f'value="{moment(too_far)}"' in page
    assert "Manufacturing failed twice" in page
    response = care_client.post(move_url(course), {"infused_at": moment(on_file), "reason": ""})
    assert response.status_code == 400
    assert f'value="{moment(on_file)}"' in response.content.decode()
    course.refresh_from_db()
    assert course.infused_at == on_file


def test_who_may_move_a_planned_day0(nurse_client, client, care_client, nurse, ward_a, ward_b):
    course = register(ward_a, nurse)
    client.force_login(UserFactory(role=User.Role.CARE_TEAM, units=[ward_b]))
    new = {"infused_at": moment(course.infused_at + timedelta(days=7)), "reason": "Slot moved"}
    # A nurse records the journey but never moves day 0 alone (User.can_manage_courses).
    assert nurse_client.get(move_url(course)).status_code == 403
    assert nurse_client.post(move_url(course), new).status_code == 403
    assert client.get(move_url(course)).status_code == 404  # another unit's care team
    assert client.post(move_url(course), new).status_code == 404
    assert "Move planned day 0" not in nurse_client.get(course.get_absolute_url()).content.decode()
    # A planned course's "correct infusion time" is the move; a monitored course's move is
    # the correction (services.correct_infusion_time): one path each.
    correct = reverse("monitoring:course-infusion", args=[course.patient.public_id])
    assert care_client.get(correct).url == move_url(course)
    monitored = CourseFactory(unit=ward_a)
    response = care_client.get(move_url(monitored))
    assert response.url == reverse("monitoring:course-infusion", args=[monitored.patient.public_id])
    course.refresh_from_db()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PLANNED_DAY0_MOVED).exists()


def test_the_move_page_and_the_planned_course_page_query_budget(
    care_client, nurse, ward_a, django_assert_num_queries
):
    course = register(ward_a, nurse)
    journey.record_phase(
        course=course,
        phase="collection",
        started_on=timezone.localdate() - timedelta(days=3),
        by=nurse,
    )
    journey.record_baseline(
        course=course, item="ice", ice_score=10, taken_at=timezone.now(), by=nurse
    )
    # session, user, the course with its patient, unit, status, protocol version and product
    # (access.get_course_for), its phases, its baseline items (the planned conditioning and
    # visits are counted from day 0: no query), and the navigation bar's open-flag and
    # unread-notification counts.
    with django_assert_num_queries(7):
        response = care_client.get(move_url(course))
    assert response.status_code == 200


# --- Missed follow-up visits -------------------------------------------------------------------


def in_follow_up(unit, by, *, days=30):
    """Monitoring completed; infused ``days`` ago (at 30: D+14 overdue, D+28 due)."""
    course = CourseFactory(
        unit=unit,
        infused_at=timezone.now() - timedelta(days=days),
        patient__given_name="Hana",
        patient__family_name="Sato",
    )
    services.end_monitoring(
        course=course,
        outcome=TreatmentCourse.Status.COMPLETED,
        ended_at=course.infused_at + timedelta(days=14),
        reason="Window completed",
        by=by,
    )
    return course


def program_group(care_client, key) -> str:
    page = care_client.get(reverse("monitoring:program") + f"?group={key}").content.decode()
    return part(page, f"group-{key}", "</section>")


def test_a_nurse_records_a_visit_missed_and_later_done(
    nurse_client, care_client, care_team_member, ward_a
):
    course = in_follow_up(ward_a, care_team_member)
    assert "D+14" in program_group(care_client, "visits")
    page = nurse_client.get(course.get_absolute_url()).content.decode()
    assert "missed…" in part(page, "visits")

    # Without a reason: refused, nothing saved.
    response = nurse_client.post(missed_url(course, 14), {"reason": " "})
    assert response.status_code == 400
    assert not course.follow_up_visits.exists()
    response = nurse_client.post(missed_url(course, 14), {"reason": "Did not come: no transport"})
    assert response.status_code == 302

    # No longer overdue: counted apart, with why.
    visits = program_group(care_client, "visits")
    assert "D+14" not in visits
    assert "D+28" in visits
    missed = program_group(care_client, "missed")
    assert "Follow-up visits missed" in missed
    assert "D+14" in text_of(missed)
    assert "Did not come: no transport" in missed
    counts = text_of(
        part(care_client.get(reverse("monitoring:program")).content.decode(), "program-counts")
    )
    assert "Follow-up visits missed 1" in counts
    assert "Follow-up visits due or overdue 1" in counts
    page = nurse_client.get(course.get_absolute_url()).content.decode()
    visits = text_of(part(page, "visits"))
    assert "missed D+14" in visits
    assert "missed: Did not come: no transport (recorded by" in visits
    assert "record visit done (late)" in visits

    # Seen a week later: recorded done, a late visit; no longer missed.
    visit_url = reverse("monitoring:journey-visit", args=[course.patient.public_id, 14])
    assert "Recorded missed: Did not come" in nurse_client.get(visit_url).content.decode()
    response = nurse_client.post(
        visit_url, {"done_at": moment(timezone.now() - timedelta(hours=2)), "notes": "ICE 10"}
    )
    assert response.status_code == 302
    page = nurse_client.get(course.get_absolute_url()).content.decode()
    visits = text_of(part(page, "visits"))
    assert re.search(r"done D\+14 .* — done .* late ?: ICE 10", visits)
    assert "D+14" not in program_group(care_client, "missed")


def test_a_visit_not_yet_due_cannot_be_missed(nurse_client, care_team_member, ward_a):
    course = in_follow_up(ward_a, care_team_member)
    page = nurse_client.get(missed_url(course, 90)).content.decode()
    assert "Due" in page

    response = nurse_client.post(missed_url(course, 90), {"reason": "Moving abroad"})

    assert response.status_code == 400
    page = response.content.decode()
    assert "not due yet" in page
    assert "Moving abroad" in page  # kept
    assert not course.follow_up_visits.exists()


def test_who_may_record_a_visit_missed(client, outsider_client, care_team_member, ward_a):
    course = in_follow_up(ward_a, care_team_member)
    assert outsider_client.post(missed_url(course, 14), {"reason": "x"}).status_code == 404
    client.force_login(UserFactory(role=User.Role.DISPLAY, units=[ward_a]))
    assert client.post(missed_url(course, 14), {"reason": "x"}).status_code == 403
    assert not course.follow_up_visits.exists()


def test_the_missed_visit_page_query_budget(
    nurse_client, care_team_member, ward_a, django_assert_num_queries
):
    course = in_follow_up(ward_a, care_team_member)
    # session, user, the course with its patient, unit, status, protocol version and product
    # (access.get_course_for), its visits recorded (for the visit's due date), and the
    # navigation bar's open-flag and unread-notification counts.
    with django_assert_num_queries(6):
        response = nurse_client.get(missed_url(course, 14))
    assert response.status_code == 200


@pytest.mark.parametrize("n", [1, 4])
def test_the_program_page_with_missed_visits_and_moved_days0_stays_at_9_queries(
    care_client, care_team_member, nurse, ward_a, n, django_assert_num_queries
):
    for _ in range(n):
        course = in_follow_up(ward_a, care_team_member)
        journey.record_missed_visit(course=course, day=14, reason="Did not come", by=nurse)
        planned = register(ward_a, nurse, day0_in=timedelta(days=20))
        journey.move_planned_infusion(
            course=planned,
            infused_at=planned.infused_at - timedelta(days=15),
            reason="Slot earlier",
            by=care_team_member,
        )
    # session, user, the user's units, the courses (patient, unit, version, product), their
    # phases, the planned ones' baseline items, their follow-up visits (done or missed), and
    # the navigation bar's open-flag and unread-notification counts. Not one more per row.
    with django_assert_num_queries(9):
        response = care_client.get(reverse("monitoring:program"))
    page = response.content.decode()
    assert text_of(part(page, "group-missed", "</section>")).count("Did not come") == n
    # Moved to 5 days ahead: due for infusion and for conditioning (D-5) this week.
    assert text_of(part(page, "group-due_infusion", "</section>")).count("Ana Ruiz") == n
    assert text_of(part(page, "group-due_conditioning", "</section>")).count("Ana Ruiz") == n


# --- The wall display: the care setting, as on the worklist -----------------------------------


@pytest.fixture
def screen(ward_a):
    client = Client()
    client.force_login(UserFactory(role=User.Role.DISPLAY, units=[ward_a]))
    return client


def flagged(unit, nurse, **course):
    course = CourseFactory(unit=unit, **course)
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(minutes=30),
        vitals={**ROOM_AIR, "temp_c": 38.6},
    )
    return course


def wall_rows(screen) -> list[str]:
    page = screen.get(reverse("monitoring:wall-display")).content.decode()
    return [text_of(r) for r in re.findall(r'<tr class="wall-row[^"]*">(.*?)</tr>', page, re.S)]


def test_the_wall_shows_an_outpatient_as_the_worklist_does(screen, nurse, ward_a):
    flagged(ward_a, nurse, bed="7")
    flagged(ward_a, nurse, care_setting="outpatient")

    rows = sorted(r.split(" CRS")[0] for r in wall_rows(screen))

    assert any(r.startswith("Ward A · bed 7") and "Outpatient" not in r for r in rows)
    assert any(r.startswith("Ward A · Outpatient") for r in rows)  # no bed: no dash
    page = screen.get(reverse("monitoring:wall-display")).content.decode()
    assert page.count('class="badge text-bg-info care-setting"') == 1


@pytest.mark.parametrize("n", [1, 5])
def test_the_wall_display_query_budget(screen, nurse, ward_a, n, django_assert_num_queries):
    for i in range(n):
        flagged(ward_a, nurse, bed=str(i), care_setting="outpatient" if i % 2 else "inpatient")
    # session, user, the board's ids then its courses (with unit and status), their
    # protocol versions and products read once a page, the versions'
    # check schedules (overdue checks), their unresolved flags, the display's units and the
    # worker's last heartbeat (a display has no bell and no board count). Not one more per
    # patient: the care setting is the course's own field.
    with django_assert_num_queries(9):
        response = screen.get(reverse("monitoring:wall-display"))
    assert response.status_code == 200
    assert Flag.objects.count() >= n

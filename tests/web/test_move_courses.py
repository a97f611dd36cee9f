"""Moving several courses on one protocol version to another at once: care team or admin, with a
reason, all or none, each course audited as a single move is; only the user's own units'
courses; the moves the single move refuses are refused, and the page says which and why."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring import services
from monitoring.models import AuditEvent, ProtocolVersion, TreatmentCourse
from tests.factories import CourseFactory

MOVED = AuditEvent.Action.COURSE_PROTOCOL_MOVED


@pytest.fixture
def v1(db):
    """The shipped template protocol version (migration 0002)."""
    return ProtocolVersion.objects.get(protocol__name__startswith="Default", number=1)


@pytest.fixture
def ward_a_courses(ward_a, v1):
    """Three running courses on ward A, all on version 1."""
    return [
        CourseFactory(unit=ward_a, patient__family_name=name, protocol_version=v1)
        for name in ("Abel", "Baker", "Cole")
    ]


@pytest.fixture
def v2(ward_a_courses, v1, admin_user):
    """Version 2, saved by editing version 1 while courses use it (version 1 is then no longer
    offered for new courses)."""
    return services.revise_protocol(
        version=v1,
        changes={},
        schedules={"vitals": {"interval_minutes": 180}},
        note="q3h vitals",
        by=admin_user,
    )


@pytest.fixture
def ward_b_course(ward_b, v1):
    return CourseFactory(unit=ward_b, patient__family_name="Outside", protocol_version=v1)


def move_url(version):
    return reverse("monitoring:protocol-version-move-courses", args=[version.pk])


def versions_of(courses) -> list[int]:
    return [TreatmentCourse.objects.get(pk=c.pk).protocol_version_id for c in courses]


def end_monitoring(course):
    TreatmentCourse.objects.filter(pk=course.pk).update(status=TreatmentCourse.Status.COMPLETED)
    course.refresh_from_db()


# --- The service ---------------------------------------------------------------------------------


def test_the_service_moves_every_course_and_audits_each_like_a_single_move(
    care_team_member, ward_a_courses, v1, v2
):
    services.move_courses_to_version(
        courses=ward_a_courses, version=v2, reason="Program moved to q3h", by=care_team_member
    )

    assert versions_of(ward_a_courses) == [v2.pk] * 3
    events = AuditEvent.objects.filter(action=MOVED).order_by("pk")
    assert [e.course_id for e in events] == [c.pk for c in ward_a_courses]
    for event in events:
        assert event.user == care_team_member
        assert event.summary == f"Moved from {v1} to {v2}: Program moved to q3h"
        assert event.details == {"from": v1.pk, "to": v2.pk}
        assert event.at is not None


def test_one_course_that_cannot_move_moves_none_and_is_named_with_why(
    care_team_member, ward_a_courses, v1, v2
):
    end_monitoring(ward_a_courses[1])

    with pytest.raises(services.MovesRefused) as refused:
        services.move_courses_to_version(
            courses=ward_a_courses, version=v2, reason="q3h", by=care_team_member
        )

    assert versions_of(ward_a_courses) == [v1.pk] * 3  # the first one's move is undone too
    assert not AuditEvent.objects.filter(action=MOVED).exists()
    ((course, why),) = refused.value.refused
    assert course == ward_a_courses[1]
    assert why == "Monitoring of this course has ended: its protocol version stays."
    assert "BAKER" in refused.value.messages[0]


def test_a_version_for_another_product_is_refused_as_the_single_move_refuses_it(
    care_team_member, ward_a_courses, v2
):
    ProtocolVersion.objects.filter(pk=v2.pk).update(products=["tisa_cel"])
    v2.refresh_from_db()

    with pytest.raises(services.MovesRefused) as refused:
        services.move_courses_to_version(
            courses=ward_a_courses[:1], version=v2, reason="q3h", by=care_team_member
        )
    with pytest.raises(ValidationError, match="does not apply to"):  # the one rule, both paths
        services.move_course_to_version(
            course=ward_a_courses[0], version=v2, reason="q3h", by=care_team_member
        )

    assert refused.value.refused[0][1].endswith(
        "does not apply to Axicabtagene ciloleucel (Yescarta) courses."
    )
    assert not AuditEvent.objects.filter(action=MOVED).exists()


def test_the_service_needs_a_reason_and_a_course(care_team_member, ward_a_courses, v1, v2):
    with pytest.raises(ValidationError, match="Say why the courses change protocol version."):
        services.move_courses_to_version(
            courses=ward_a_courses, version=v2, reason="  ", by=care_team_member
        )
    with pytest.raises(ValidationError, match="Choose at least one course"):
        services.move_courses_to_version(courses=[], version=v2, reason="q3h", by=care_team_member)

    assert versions_of(ward_a_courses) == [v1.pk] * 3


# --- The pages -----------------------------------------------------------------------------------


def test_a_nurse_cannot_open_the_page(nurse_client, v1, v2):
    assert nurse_client.get(move_url(v1)).status_code == 403


def test_care_team_sees_only_their_units_courses_on_the_version(
    care_client, ward_a_courses, ward_b_course, v1, v2
):
    page = care_client.get(move_url(v1)).content.decode()

    for name in ("ABEL", "BAKER", "COLE"):
        assert name in page.upper()
    assert "OUTSIDE" not in page.upper()
    assert "3 courses under monitoring on this version" in page


def test_admin_sees_every_unit_and_can_choose_all(
    admin_client_, ward_a_courses, ward_b_course, v1, v2
):
    page = admin_client_.get(move_url(v1), {"all": "1"}).content.decode()

    assert page.count(" checked>") == 4
    assert "OUTSIDE" in page.upper()


def test_review_lists_the_courses_that_will_move_and_moves_nothing(
    care_client, ward_a_courses, v1, v2
):
    chosen = ward_a_courses[:2]
    response = care_client.post(
        move_url(v1),
        {"courses": [c.pk for c in chosen], "version": v2.pk, "reason": "q3h", "review": "1"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "2 courses will move" in page
    assert f"{v1} → <strong>{v2}</strong>" in page
    assert "Abel" in page
    assert "Baker" in page
    assert "Cole" not in page
    assert "Move 2 courses" in page
    assert versions_of(ward_a_courses) == [v1.pk] * 3
    assert not AuditEvent.objects.filter(action=MOVED).exists()


def test_confirming_moves_them_all_with_the_reason_on_record(
    care_client, care_team_member, ward_a_courses, v1, v2
):
    response = care_client.post(
        move_url(v1),
        {
            "courses": [c.pk for c in ward_a_courses],
            "version": v2.pk,
            "reason": "Program moved current patients to q3h",
            "confirm": "1",
        },
        follow=True,
    )

    assert f"3 courses moved to {v2}." in response.content.decode()
    assert versions_of(ward_a_courses) == [v2.pk] * 3
    events = AuditEvent.objects.filter(action=MOVED)
    assert events.count() == 3
    assert {e.user for e in events} == {care_team_member}
    assert all("Program moved current patients to q3h" in e.summary for e in events)


def test_another_units_course_cannot_be_moved(care_client, ward_a_courses, ward_b_course, v1, v2):
    for step in ("review", "confirm"):
        response = care_client.post(
            move_url(v1),
            {
                "courses": [ward_a_courses[0].pk, ward_b_course.pk],
                "version": v2.pk,
                "reason": "q3h",
                step: "1",
            },
        )

        assert response.status_code == 400
        assert "One of the chosen courses is not on this version or not yours." in (
            response.content.decode()
        )
        assert "OUTSIDE" not in response.content.decode().upper()
    assert versions_of([*ward_a_courses, ward_b_course]) == [v1.pk] * 4
    assert not AuditEvent.objects.filter(action=MOVED).exists()


def test_a_course_the_single_move_refuses_is_named_with_why_and_nothing_moves(
    care_client, ward_a_courses, v1, v2
):
    end_monitoring(ward_a_courses[2])  # e.g. ended in another tab after the list was opened
    data = {"courses": [c.pk for c in ward_a_courses], "version": v2.pk, "reason": "q3h"}

    review = care_client.post(move_url(v1), {**data, "review": "1"})
    confirm = care_client.post(move_url(v1), {**data, "confirm": "1"})

    for response in (review, confirm):
        page = response.content.decode()
        assert response.status_code == 400
        assert "Nothing was moved." in page
        assert "Monitoring of this course has ended: its protocol version stays." in page
        assert 'name="confirm"' not in page  # all or none: untick it first
    assert versions_of(ward_a_courses) == [v1.pk] * 3
    assert not AuditEvent.objects.filter(action=MOVED).exists()


def test_a_move_without_a_reason_or_courses_is_refused(care_client, ward_a_courses, v1, v2):
    response = care_client.post(
        move_url(v1), {"courses": [], "version": v2.pk, "reason": " ", "confirm": "1"}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Choose at least one course to move." in page
    assert "Say why the courses change protocol version." in page
    assert versions_of(ward_a_courses) == [v1.pk] * 3


def test_changing_the_choice_keeps_what_was_chosen(care_client, ward_a_courses, v1, v2):
    response = care_client.post(
        move_url(v1),
        {"courses": [ward_a_courses[1].pk], "version": v2.pk, "reason": "q3h", "edit": "1"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert f'value="{ward_a_courses[1].pk}" id="course-{ward_a_courses[1].pk}" checked' in page
    assert page.count(" checked>") == 1
    assert "q3h</textarea>" in page


@pytest.mark.parametrize("n_courses", [1, 6])
def test_the_pages_cost_a_fixed_number_of_queries(
    care_client, ward_a, v1, django_assert_num_queries, n_courses
):
    courses = [CourseFactory(unit=ward_a, protocol_version=v1) for _ in range(n_courses)]
    v2 = ProtocolVersion.objects.create(protocol=v1.protocol, number=2)
    # session, user, the navigation bar's open-flag and unread-notification counts, the version
    # with its course counts, the courses on it (with patient, unit, version), the target
    # versions (with their counts) for the menu.
    with django_assert_num_queries(7):
        response = care_client.get(move_url(v1), {"all": "1"})
    assert response.status_code == 200

    # session, user, the two navigation counts, the version, the target versions for the menu,
    # then the form's validation: the chosen courses among the user's courses on the version
    # (one query, with patient, unit, version) and the chosen target version.
    data = {"courses": [c.pk for c in courses], "version": v2.pk, "reason": "q3h", "review": "1"}
    with django_assert_num_queries(8):
        response = care_client.post(move_url(v1), data)
    assert response.status_code == 200


def test_moving_n_courses_costs_no_more_than_n_single_moves(
    care_client, care_team_member, ward_a, v1
):
    single, *courses = [CourseFactory(unit=ward_a, protocol_version=v1) for _ in range(6)]
    v2 = ProtocolVersion.objects.create(protocol=v1.protocol, number=2)
    with CaptureQueriesContext(connection) as one_move:
        services.move_course_to_version(
            course=single, version=v2, reason="q3h", by=care_team_member
        )

    data = {"courses": [c.pk for c in courses], "version": v2.pk, "reason": "q3h", "confirm": "1"}
    with CaptureQueriesContext(connection) as page:
        response = care_client.post(move_url(v1), data)

    assert response.status_code == 302
    assert versions_of(courses) == [v2.pk] * 5
    # The page's own 8 queries (as the review) and a savepoint pair per course, then each course
    # exactly what one move costs: nothing extra per course.
    assert len(page.captured_queries) <= 8 + 2 + len(courses) * (len(one_move.captured_queries) + 2)


def test_a_version_no_longer_offered_says_how_many_courses_still_run_on_it(
    admin_client_, care_client, ward_a_courses, v1, v2
):
    end_monitoring(ward_a_courses[0])

    listing = admin_client_.get(reverse("monitoring:admin-protocols")).content.decode()
    course_page = care_client.get(
        reverse("monitoring:course-protocol", args=[ward_a_courses[1].patient.public_id])
    ).content.decode()

    for page in (listing, course_page):
        assert "in use by 2 courses · not offered for new courses" in page
    assert ">inactive<" not in listing
    assert "Move several courses on" in course_page

    for course in ward_a_courses[1:]:
        end_monitoring(course)
    listing = admin_client_.get(reverse("monitoring:admin-protocols")).content.decode()
    assert "not offered for new courses" not in listing
    assert ">inactive<" in listing

"""Protocol pages for admins: a version that courses use is never edited — saving makes a new
version, the courses keep theirs, and new courses start on the new one. Moving a course to
another version is explicit, with a reason, and audited."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.forms.protocols import ProtocolVersionForm
from monitoring.models import (
    AuditEvent,
    CheckSchedule,
    CourseStatus,
    Protocol,
    ProtocolVersion,
    TreatmentCourse,
    User,
)
from tests.factories import CourseFactory, PatientFactory, UserFactory


@pytest.fixture
def template(db):
    """The shipped template protocol version (migration 0002)."""
    return ProtocolVersion.objects.get(protocol__name__startswith="Default", number=1)


def edit_url(version):
    return reverse("monitoring:admin-protocol-version-edit", args=[version.pk])


def version_url(version):
    return reverse("monitoring:admin-protocol-version", args=[version.pk])


def form_data(version, *, schedules=None, note="Reviewed by the CAR-T program", **changes):
    """What the edit page posts when the admin changes only ``changes`` and ``schedules``."""
    values = {**ProtocolVersionForm.initial_for(version), **changes}
    data = {"change_note": note}
    for name, value in values.items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = value
        else:
            data[name] = "" if value is None else str(value)
    current = {s.check_type: s for s in version.schedules.all()}
    for check_type, overrides in {**dict.fromkeys(current, {}), **(schedules or {})}.items():
        schedule = current.get(check_type)
        row = schedule.settings() if schedule else {}
        row.update(overrides)
        for name, value in row.items():
            key = f"schedule-{check_type}-{name}"
            if name == "tighten_on_neuro_change":
                if value:
                    data[key] = "on"
            else:
                data[key] = "" if value is None else str(value)
    return data


def intervals(version):
    return {s.check_type: s.interval_minutes for s in version.schedules.all()}


# --- Access ------------------------------------------------------------------------------------


def test_only_admins_open_the_protocol_pages(nurse_client, care_client, admin_client_, template):
    for url in (reverse("monitoring:admin-protocols"), version_url(template), edit_url(template)):
        assert nurse_client.get(url).status_code == 403, url
        assert care_client.get(url).status_code == 403, url
        assert admin_client_.get(url).status_code == 200, url


def test_a_nurse_cannot_post_a_protocol_change(nurse_client, template):
    response = nurse_client.post(edit_url(template), form_data(template, heart_rate_high=120))

    assert response.status_code == 403
    assert ProtocolVersion.objects.filter(protocol__name__startswith="Default").count() == 1


# --- List and detail -----------------------------------------------------------------------------


def test_the_list_shows_versions_with_the_template_badge_products_and_course_counts(
    admin_client_, course, template
):
    CourseFactory(unit=course.unit)

    page = admin_client_.get(reverse("monitoring:admin-protocols")).content.decode()

    assert "Default CAR-T monitoring (template)" in page
    assert "TEMPLATE — review before clinical use" in page
    assert "every product" in page
    assert ">v1<" in page
    assert '<td data-label="Courses using it">2</td>' in page


@pytest.mark.parametrize("n_versions", [1, 6])
def test_the_protocol_list_costs_a_fixed_number_of_queries(
    admin_client_, admin_user, course, template, django_assert_num_queries, n_versions
):
    version = template
    for n in range(1, n_versions):
        version = services.revise_protocol(
            version=version,
            changes={"heart_rate_high": 130 - n},
            schedules={},
            note=f"change {n}",
            by=admin_user,
        )
        CourseFactory(unit=course.unit, protocol_version=version)

    # session, user, the navigation bar's open-flag and unread-notification counts, protocols,
    # and their versions with author and course count (one prefetch), and the product list's
    # names for the versions' product codes (one).
    with django_assert_num_queries(7):
        response = admin_client_.get(reverse("monitoring:admin-protocols"))

    # + the six shipped step-up templates (teclistamab, epcoritamab: 0017; elranatamab,
    # talquetamab, linvoseltamab, tarlatamab: 0024)
    assert response.content.decode().count("TEMPLATE — review") == n_versions + 6


def test_the_version_page_says_the_schedule_in_plain_words(admin_client_, course, template):
    page = admin_client_.get(version_url(template)).content.decode()

    # Reference §6.1 (issue 10 §7): vital signs every 2 h with fever; neuro checks closer
    # once CRS or ICANS is present.
    assert "every 4 h; every 2 h with fever (any CRS grade); every 1 h while CRS grade ≥ 2" in page
    assert (
        "every 8 h; every 2 h while CRS grade ≥ 1 or ICANS grade ≥ 1 or any ICE point is lost"
    ) in page
    assert "every 1 day" in page
    assert "notify the CAR-T physician now" in page  # escalation text per grade
    assert "Shipped template" in page  # change note
    assert course.patient.mrn in page  # the courses using it


# --- Editing -------------------------------------------------------------------------------------


def test_the_edit_page_says_up_front_that_saving_makes_a_new_version(
    admin_client_, course, template
):
    page = admin_client_.get(edit_url(template)).content.decode()

    assert "1 course uses this version:" in page
    assert "saving creates version 2; that course keeps version 1" in page


def test_the_edit_page_says_an_unused_version_is_edited_in_place(admin_client_, template):
    page = admin_client_.get(edit_url(template)).content.decode()

    assert "No course uses this version yet:" in page
    assert "saving edits version 1 in place" in page


def test_editing_a_used_version_makes_a_new_one_and_the_course_keeps_the_old(
    admin_client_, admin_user, course, template
):
    data = form_data(
        template,
        schedules={"vitals": {"interval_minutes": 180}},
        note="Vitals every 3 h after our program review",
    )

    response = admin_client_.post(edit_url(template), data)

    new = ProtocolVersion.objects.get(protocol=template.protocol, number=2)
    assert response.status_code == 302
    assert response.url == version_url(new)
    assert intervals(new) == {"vitals": 180, "symptoms": 240, "neuro": 480, "labs": 1440}
    assert new.created_by == admin_user
    assert new.change_note == "Vitals every 3 h after our program review"
    template.refresh_from_db()
    assert intervals(template)["vitals"] == 240  # what the course's nurses were asked: unchanged
    assert not template.is_active  # new courses get the new version
    course.refresh_from_db()
    assert course.protocol_version == template
    event = AuditEvent.objects.get(action=AuditEvent.Action.PROTOCOL_CHANGED)
    assert event.user == admin_user
    assert "v2 created from v1" in event.summary
    assert new.history.get().history_user == admin_user  # simple-history: who made it


def test_a_course_started_after_the_change_uses_the_new_version(
    admin_client_, admin_user, course, template
):
    admin_client_.post(
        edit_url(template), form_data(template, schedules={"vitals": {"interval_minutes": 180}})
    )
    later = TreatmentCourse(
        patient=PatientFactory(),
        unit=course.unit,
        product_id="tisa-cel",
        indication="ALL",
        infused_at=timezone.now(),
    )

    services.start_course(course=later, by=admin_user)

    assert later.protocol_version.number == 2
    assert intervals(later.protocol_version)["vitals"] == 180


def test_editing_an_unused_version_changes_it_in_place(admin_client_, template):
    response = admin_client_.post(
        edit_url(template),
        form_data(
            template,
            heart_rate_high=125,
            is_template=False,
            schedules={"labs": {"interval_minutes": 720}},
        ),
    )

    assert response.status_code == 302
    assert response.url == version_url(template)
    assert ProtocolVersion.objects.filter(protocol__name__startswith="Default").count() == 1
    template.refresh_from_db()
    assert (template.heart_rate_high, template.is_template) == (125, False)
    assert intervals(template)["labs"] == 720
    assert CheckSchedule.objects.filter(version=template).count() == 4
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PROTOCOL_CHANGED).count() == 1


def test_escalation_text_is_kept_per_grade(admin_client_, template):
    admin_client_.post(
        edit_url(template),
        form_data(template, escalation_crs_2="Grade 2: page the CAR-T fellow on 4455 now."),
    )

    template.refresh_from_db()
    assert template.escalation_text("crs", 2) == "Grade 2: page the CAR-T fellow on 4455 now."
    assert "notify the CAR-T physician now" in template.escalation_text("crs", 3)


def test_products_narrow_which_courses_start_on_a_version(admin_client_, admin_user, template):
    admin_client_.post(edit_url(template), form_data(template, products=["ide-cel", "cilta-cel"]))

    template.refresh_from_db()
    assert template.products == ["ide-cel", "cilta-cel"]
    assert services.protocol_version_for("cilta-cel") == template
    assert services.protocol_version_for("axi-cel") is None


def test_deactivating_the_last_version_for_a_product_warns_the_admin(admin_client_, template):
    response = admin_client_.post(
        edit_url(template), form_data(template, is_active=False), follow=True
    )

    page = response.content.decode()
    assert "No active protocol version applies to" in page
    assert "would start without a schedule" in page


def test_bad_input_saves_nothing_keeps_every_value_and_names_the_allowed_ranges(
    admin_client_, course, template
):
    data = form_data(
        template,
        spo2_low_pct=150,
        heart_rate_low=140,
        monitoring_window_days=14,
        schedules={"vitals": {"interval_minutes": 5}, "labs": {"tightened_interval_minutes": 720}},
        note="",
    )

    response = admin_client_.post(edit_url(template), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved." in page
    assert "must be between 70 and 99 %" in page
    assert "must be between 15 and 10080 min" in page
    assert "Must be below the tachycardia limit (131/min)" in page
    assert "Choose when the shorter interval applies" in page
    assert "Say what changed and why." in page
    assert 'value="150"' in page  # what the admin typed is kept
    assert 'value="720"' in page
    assert ProtocolVersion.objects.filter(protocol__name__startswith="Default").count() == 1
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PROTOCOL_CHANGED).exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("products", ["zzz"]),
        ("temperature_high_c", "sNaN"),
        ("marker_rise_factor", "1e400"),
        ("spo2_low_pct", "9" * 30),
        ("schedule-vitals-tighten_at_crs_grade", "9"),
        ("schedule-labs-interval_minutes", "-5"),
        ("heart_rate_high", "٣"),
    ],
)
def test_any_odd_value_is_refused_with_a_message_never_a_500(admin_client_, template, field, value):
    admin_client_.raise_request_exception = False

    response = admin_client_.post(edit_url(template), {**form_data(template), field: value})

    assert response.status_code == 400
    assert "Nothing was saved." in response.content.decode()
    assert ProtocolVersion.objects.filter(protocol__name__startswith="Default").count() == 1


def test_a_shorter_interval_that_is_not_shorter_is_refused(admin_client_, template):
    response = admin_client_.post(
        edit_url(template),
        form_data(template, schedules={"vitals": {"tightened_interval_minutes": 300}}),
    )

    assert response.status_code == 400
    assert "Must be shorter than the usual interval (240 min)." in response.content.decode()


def test_a_scheduled_check_cannot_be_removed(admin_client_, template):
    response = admin_client_.post(
        edit_url(template), form_data(template, schedules={"labs": {"interval_minutes": None}})
    )

    assert response.status_code == 400
    assert "a scheduled check cannot be removed" in response.content.decode()


def test_saving_without_a_change_is_refused(admin_client_, template):
    response = admin_client_.post(edit_url(template), form_data(template))

    assert response.status_code == 400
    assert "Nothing changed" in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_the_preview_says_the_resulting_schedule_and_saves_nothing(admin_client_, course, template):
    data = {**form_data(template, schedules={"vitals": {"interval_minutes": 180}}), "preview": "1"}

    response = admin_client_.post(edit_url(template), data)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Preview — nothing saved yet" in page
    assert "Saving creates <strong>version 2</strong>" in page
    assert "every 3 h; every 2 h with fever (any CRS grade); every 1 h while CRS grade ≥ 2" in page
    assert "Vital signs, interval minutes: 240 → 180" in page
    assert ProtocolVersion.objects.filter(protocol__name__startswith="Default").count() == 1


def test_the_preview_needs_no_change_note(admin_client_, course, template):
    data = {
        **form_data(template, schedules={"vitals": {"interval_minutes": 180}}, note=""),
        "preview": "1",
    }

    response = admin_client_.post(edit_url(template), data)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Preview — nothing saved yet" in page
    assert "Vital signs, interval minutes: 240 → 180" in page
    assert "Nothing was saved" not in page
    assert "Say what changed and why." not in page
    assert "To save, write a change note" in page  # what saving will ask for, said beforehand
    assert ProtocolVersion.objects.filter(protocol__name__startswith="Default").count() == 1


def test_saving_still_needs_a_change_note(admin_client_, course, template):
    data = form_data(template, schedules={"vitals": {"interval_minutes": 180}}, note="  ")

    response = admin_client_.post(edit_url(template), {**data, "save": "1"})

    page = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved" in page
    assert "Say what changed and why." in page
    assert ProtocolVersion.objects.filter(protocol__name__startswith="Default").count() == 1
    assert not AuditEvent.objects.exists()


def test_a_preview_with_a_note_does_not_ask_for_one(admin_client_, course, template):
    data = {**form_data(template, schedules={"vitals": {"interval_minutes": 180}}), "preview": "1"}

    page = admin_client_.post(edit_url(template), data).content.decode()

    assert "Preview — nothing saved yet" in page
    assert "To save, write a change note" not in page


# --- Courses and their protocol version ------------------------------------------------------


def course_protocol_url(course):
    return reverse("monitoring:course-protocol", args=[course.patient.public_id])


@pytest.fixture
def second_version(course, template, admin_user):
    """Version 2, saved by editing the template while ``course`` uses it."""
    return services.revise_protocol(
        version=template,
        changes={},
        schedules={"vitals": {"interval_minutes": 180}},
        note="q3h",
        by=admin_user,
    )


def test_the_course_protocol_page_shows_the_version_and_its_schedule(care_client, course):
    page = care_client.get(course_protocol_url(course)).content.decode()

    assert "Default CAR-T monitoring (template) v1" in page
    assert "every 4 h; every 2 h with fever (any CRS grade); every 1 h while CRS grade ≥ 2" in page


def test_care_team_moves_a_course_to_another_version_with_a_reason(
    care_client, care_team_member, course, second_version
):
    response = care_client.post(
        course_protocol_url(course),
        {
            "version": second_version.pk,
            "reason": "Program moved current patients to q3h vitals",
        },
    )

    assert response.status_code == 302
    course.refresh_from_db()
    assert course.protocol_version == second_version
    event = AuditEvent.objects.get(action=AuditEvent.Action.COURSE_PROTOCOL_MOVED)
    assert event.user == care_team_member
    assert event.course == course
    assert "q3h vitals" in event.summary
    page = care_client.get(course_protocol_url(course)).content.decode()
    assert "Moved from Default CAR-T monitoring (template) v1 to" in page


def test_a_move_without_a_reason_saves_nothing(care_client, course, second_version, template):
    response = care_client.post(
        course_protocol_url(course), {"version": second_version.pk, "reason": " "}
    )

    assert response.status_code == 400
    assert "Say why the course changes protocol version." in response.content.decode()
    course.refresh_from_db()
    assert course.protocol_version == template


def test_the_service_refuses_to_move_a_course_whose_monitoring_has_ended(
    care_team_member, course, second_version, template
):
    """An ended course keeps the version it was monitored by, whichever caller asks."""
    TreatmentCourse.objects.filter(pk=course.pk).update(status=TreatmentCourse.Status.COMPLETED)

    with pytest.raises(ValidationError, match="Monitoring of this course has ended"):
        services.move_course_to_version(
            course=course, version=second_version, reason="tidy up", by=care_team_member
        )

    course.refresh_from_db()
    assert course.protocol_version == template
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.COURSE_PROTOCOL_MOVED).exists()


def test_the_page_says_an_ended_course_keeps_its_version(
    care_client, course, second_version, template
):
    TreatmentCourse.objects.filter(pk=course.pk).update(status=TreatmentCourse.Status.COMPLETED)

    shown = care_client.get(course_protocol_url(course)).content.decode()
    response = care_client.post(
        course_protocol_url(course), {"version": second_version.pk, "reason": "tidy up"}
    )

    assert 'id="move-refused"' in shown
    assert "Move the course</button>" not in shown
    assert response.status_code == 400
    assert "its protocol version stays" in response.content.decode()
    course.refresh_from_db()
    assert course.protocol_version == template


def test_a_version_for_another_product_cannot_be_chosen(care_client, course, admin_user):
    other = Protocol.objects.create(name="Myeloma BCMA")
    bcma = ProtocolVersion.objects.create(protocol=other, products=["cilta-cel"], is_template=False)

    response = care_client.post(course_protocol_url(course), {"version": bcma.pk, "reason": "try"})

    assert response.status_code == 400
    course.refresh_from_db()
    assert course.protocol_version != bcma


def test_nurses_cannot_move_a_course_and_other_units_get_404(
    nurse_client, ward_b, course, second_version
):
    other_care = Client()
    other_care.force_login(UserFactory(role=User.Role.CARE_TEAM, units=[ward_b]))

    assert nurse_client.get(course_protocol_url(course)).status_code == 403
    assert (
        nurse_client.post(
            course_protocol_url(course), {"version": second_version.pk, "reason": "x"}
        ).status_code
        == 403
    )
    assert other_care.get(course_protocol_url(course)).status_code == 404
    assert (
        other_care.post(
            course_protocol_url(course), {"version": second_version.pk, "reason": "x"}
        ).status_code
        == 404
    )
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.COURSE_PROTOCOL_MOVED).exists()


def test_an_admin_can_move_a_course_too(admin_client_, course, second_version):
    response = admin_client_.post(
        course_protocol_url(course),
        {"version": second_version.pk, "reason": "Wrong version picked at admission"},
    )

    assert response.status_code == 302
    course.refresh_from_db()
    assert course.protocol_version == second_version


# --- Courses created in the Django admin -------------------------------------------------------


@pytest.fixture
def superuser_client(db):
    client = Client()
    client.force_login(
        UserFactory(username="root", role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    )
    return client


def test_a_course_added_in_the_django_admin_starts_on_the_newest_version_for_its_product(
    superuser_client, ward_a, course, second_version
):
    patient = PatientFactory()
    infused = timezone.localtime() - timedelta(hours=2)

    response = superuser_client.post(
        "/admin/monitoring/treatmentcourse/add/",
        {
            "patient": patient.pk,
            "unit": ward_a.pk,
            "product": "liso-cel",
            "product_other": "",
            "indication": "DLBCL",
            "infused_at_0": infused.strftime("%Y-%m-%d"),
            "infused_at_1": infused.strftime("%H:%M:%S"),
            "status": "monitoring",
            "care_setting": "inpatient",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    new = TreatmentCourse.objects.get(patient=patient)
    assert new.protocol_version == second_version
    assert CourseStatus.objects.filter(course=new).exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.COURSE_STARTED, course=new).exists()


def test_the_django_admin_cannot_change_a_courses_protocol_version(
    superuser_client, course, second_version
):
    page = superuser_client.get(f"/admin/monitoring/treatmentcourse/{course.pk}/change/")

    assert page.status_code == 200
    assert 'name="protocol_version"' not in page.content.decode()


def test_validity_windows_and_deterioration_severities_are_edited_with_the_thresholds(
    admin_client_, course, template
):
    # Issue 10 §1 and §5: each protocol version sets how long values count and how severe each
    # deterioration flag is; a new version carries them over.
    data = form_data(
        template,
        point_valid_minutes=180,
        masked_fever_window_hours=96,
        deterioration_hypotension=4,
        note="Tighter windows",
    )
    assert admin_client_.post(edit_url(template), data).status_code == 302
    new = ProtocolVersion.objects.get(protocol=template.protocol, number=2)
    assert new.point_valid_minutes == 180
    assert new.masked_fever_window_hours == 96
    assert new.neuro_valid_minutes == template.neuro_valid_minutes  # carried over
    assert new.deterioration_severity_for("hypotension") == 4
    assert new.deterioration_severity_for("oxygen_need") == 3
    page = admin_client_.get(version_url(new)).content.decode()
    assert "Vital signs current for" in page
    assert "New hypotension: Critical" in page  # the version page says the severities


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("point_valid_minutes", "5", "between 15 and 1440 min"),
        ("neuro_valid_minutes", "99999", "between 60 and 2880 min"),
        ("masked_fever_window_hours", "2", "between 24 and 720 h"),
    ],
)
def test_an_implausible_window_is_refused_with_its_range(
    admin_client_, template, field, value, message
):
    response = admin_client_.post(edit_url(template), {**form_data(template), field: value})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert ProtocolVersion.objects.filter(protocol__name__startswith="Default").count() == 1

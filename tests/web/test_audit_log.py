"""The audit log page: every change and export, newest first, for admins only, filterable."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import AuditEvent
from tests.factories import CourseFactory, PatientFactory

AUDIT = reverse("monitoring:admin-audit-log")


def at_local(year, month, day, hour=12):
    return datetime(year, month, day, hour, tzinfo=timezone.get_current_timezone())


def event(
    user=None,
    *,
    action=AuditEvent.Action.CHECK_RECORDED,
    patient=None,
    at=None,
    summary="something",
    details=None,
):
    return AuditEvent.objects.create(
        user=user,
        action=action,
        patient=patient,
        at=at or timezone.now(),
        summary=summary,
        details=details or {},
    )


def summaries(response) -> list[str]:
    return [e.summary for e in response.context["page"].object_list]


def test_only_admins_read_the_audit_log(nurse_client, care_client, admin_client_):
    assert nurse_client.get(AUDIT).status_code == 403
    assert care_client.get(AUDIT).status_code == 403
    assert admin_client_.get(AUDIT).status_code == 200


def test_every_change_and_export_is_listed_newest_first(admin_client_, nurse, course):
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now(),
        vitals={"temp_c": 38.2, "oxygen_support": "room_air"},
    )
    event(
        nurse,
        action=AuditEvent.Action.EXPORTED,
        patient=course.patient,
        summary="Registry CSV exported",
        at=timezone.now() + timedelta(seconds=1),
    )

    response = admin_client_.get(AUDIT)

    page = response.content.decode()
    assert summaries(response)[0] == "Registry CSV exported"
    assert summaries(response)[1].startswith("Check at ")
    assert "Data exported" in page
    assert course.patient.mrn in page


def test_an_amendment_shows_the_fields_labels_and_both_values(admin_client_, nurse, course):
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now(),
        vitals={
            "temp_c": 37.0,
            "heart_rate_bpm": 112,
            "spo2_pct": 97,
            "oxygen_support": "room_air",
        },
    )
    vitals = check.vitalsigns_set.get()
    services.amend_record(
        record=vitals, values={"heart_rate_bpm": 102, "spo2_pct": 95}, reason="misread", by=nurse
    )

    page = admin_client_.get(AUDIT).content.decode()

    assert "Vital signs amended: Heart rate (/min) 112 → 102; SpO₂ (%) 97 → 95 (misread)" in page
    assert "heart_rate_bpm" not in page
    assert "spo2_pct" not in page


def test_events_written_with_field_names_are_shown_with_labels(admin_client_, nurse):
    # Rows written before the summaries used labels stay as they were in the database; the
    # page labels them from the changes kept beside the summary.
    event(
        nurse,
        action=AuditEvent.Action.RECORD_AMENDED,
        summary="Lab result amended: crp_mg_l 12 → 120; retired_marker 1 → 2 (typo)",
        details={
            "model": "labresult",
            "changes": {"crp_mg_l": ["12", "120"], "retired_marker": ["1", "2"]},
        },
    )
    event(
        nurse,
        action=AuditEvent.Action.ADMIN_EDITED,
        summary="Old thing edited in the admin: some_field a → b",
        details={"model": "nosuchmodel", "changed": {"some_field": ["a", "b"]}},
    )

    page = admin_client_.get(AUDIT).content.decode()

    assert "Lab result amended: CRP (mg/L) 12 → 120; Retired marker 1 → 2 (typo)" in page
    assert "Old thing edited in the admin: Some field a → b" in page
    stored = AuditEvent.objects.get(action=AuditEvent.Action.RECORD_AMENDED)
    assert stored.summary.startswith("Lab result amended: crp_mg_l 12 → 120")  # never rewritten


def test_it_filters_by_user(admin_client_, nurse, care_team_member):
    event(nurse, summary="by the nurse")
    event(care_team_member, summary="by the care team")

    response = admin_client_.get(AUDIT, {"user": care_team_member.pk})

    assert summaries(response) == ["by the care team"]


def test_it_filters_by_patient_mrn(admin_client_, ward_a):
    mine = CourseFactory(unit=ward_a, patient__mrn="A123456")
    event(patient=mine.patient, summary="about A123456")
    event(patient=PatientFactory(mrn="B999999"), summary="about someone else")

    assert summaries(admin_client_.get(AUDIT, {"mrn": "a1234"})) == ["about A123456"]


def test_it_filters_by_action(admin_client_):
    event(action=AuditEvent.Action.EXPORTED, summary="export")
    event(action=AuditEvent.Action.RECORD_AMENDED, summary="amendment")

    assert summaries(admin_client_.get(AUDIT, {"action": "exported"})) == ["export"]


def test_it_filters_by_local_date_range_inclusive(admin_client_):
    event(at=at_local(2026, 3, 1, 23), summary="1 March late")
    event(at=at_local(2026, 3, 2, 0), summary="2 March midnight")
    event(at=at_local(2026, 3, 3, 23), summary="3 March late")
    event(at=at_local(2026, 3, 4, 0), summary="4 March midnight")

    response = admin_client_.get(AUDIT, {"date_from": "2026-03-02", "date_to": "2026-03-03"})

    assert summaries(response) == ["3 March late", "2 March midnight"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"date_from": "2026-03-05", "date_to": "2026-03-01"},
            "The end date must be on or after the start date.",
        ),
        ({"date_from": "yesterday"}, "Enter a valid date."),
        ({"date_to": "9999-12-31"}, "Give a date between 2000-01-01 and 2100-12-31."),
        ({"user": "99999999999999999999999"}, "Select a valid choice."),
        ({"user": "²"}, "Select a valid choice."),
    ],
)
def test_a_bad_filter_is_refused_with_a_message_and_no_unfiltered_list(
    admin_client_, query, message
):
    event(summary="must not be shown as a filtered result")

    response = admin_client_.get(AUDIT, query)

    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert "must not be shown" not in page
    for name, value in query.items():
        if name != "user":  # a menu cannot show a user that does not exist
            assert value in page  # what was typed is kept


def test_it_pages_by_50_and_keeps_the_filter(admin_client_, nurse):
    for n in range(60):
        event(nurse, at=timezone.now() - timedelta(minutes=n), summary=f"event {n:02d}")
    event(summary="someone else")

    first = admin_client_.get(AUDIT, {"user": nurse.pk})
    second = admin_client_.get(AUDIT, {"user": nurse.pk, "page": 2})

    assert len(summaries(first)) == 50
    assert summaries(second) == [f"event {n:02d}" for n in range(50, 60)]
    assert f"user={nurse.pk}&amp;page=2" in first.content.decode()


@pytest.mark.parametrize("n_events", [1, 60])
def test_the_audit_log_costs_a_fixed_number_of_queries(
    admin_client_, nurse, course, django_assert_num_queries, n_events
):
    for n in range(n_events):  # every other one labelled from its details (no query)
        details = {"model": "vitalsigns", "changes": {"temp_c": ["38.0", "37.0"]}} if n % 2 else {}
        event(
            nurse, patient=course.patient, summary=f"event {n}: temp_c 38.0 → 37.0", details=details
        )

    # session, user, the navigation bar's open-flag and unread-notification counts, the users
    # for the filter menu, the count for the paginator, and one page of events joined with user
    # and patient.
    with django_assert_num_queries(7):
        response = admin_client_.get(AUDIT)

    assert response.status_code == 200
    assert len(summaries(response)) == min(n_events, 50)

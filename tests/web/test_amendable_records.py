"""Bedside records and infection records are corrected the same way (models.records,
services.amend / services.enter_in_error): a correction supersedes the record with who, when
and why; a mistake is struck, not removed; the audit log says old → new. One base, one write
path: these tests hold both kinds to it side by side."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.utils import timezone

from monitoring import infection, services
from monitoring.models import (
    AmendableRecord,
    AuditEvent,
    CurrentRecord,
    Infection,
    RecordQuerySet,
    RecordStatus,
    VitalSigns,
)
from tests.factories import ROOM_AIR

pytestmark = pytest.mark.django_db


@pytest.fixture
def vitals(course, nurse):
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=1),
        vitals={**ROOM_AIR, "temp_c": 37.0, "heart_rate_bpm": 112, "spo2_pct": 97},
    )
    return check.vitalsigns_set.get()


@pytest.fixture
def lung_infection(course, care_team_member):
    return infection.record_infection(
        course=course,
        site="lower_respiratory",
        organism_type="bacterial",
        organism="S. pneumoniae",
        severity=3,
        onset_on=course.infusion_date,
        by=care_team_member,
    )


def amend(record, values, reason, by):
    if isinstance(record, Infection):
        return infection.amend(record=record, values=values, reason=reason, by=by)
    return services.amend_record(record=record, values=values, reason=reason, by=by)


def enter_in_error(record, reason, by):
    if isinstance(record, Infection):
        return infection.mark_entered_in_error(record=record, reason=reason, by=by)
    return services.mark_entered_in_error(record=record, reason=reason, by=by)


KINDS = [
    pytest.param("vitals", {"heart_rate_bpm": 102}, "heart_rate_bpm", id="bedside vitals"),
    pytest.param("lung_infection", {"severity": 4}, "severity", id="infection"),
]


def test_every_record_with_amendments_shares_the_one_base():
    amendable = [
        model
        for model in apps.get_app_config("monitoring").get_models()
        if any(f.name == "amends" for f in model._meta.concrete_fields)
        and not model.__name__.startswith("Historical")
    ]
    assert len(amendable) == 8  # five bedside records, three infection records
    assert all(issubclass(model, AmendableRecord) for model in amendable)


def test_every_record_a_correction_can_supersede_counts_current_rows_one_way():
    """The journey's rows (phases, baseline items, visits) are superseded by their own rule
    (monitoring/journey.py), and a handwriting sample is only ever marked entered in error
    (monitoring/handwriting.py), but they say which rows count like every amendable record."""
    superseded = [
        model
        for model in apps.get_app_config("monitoring").get_models()
        if not model.__name__.startswith("Historical")
        and any(
            f.name == "status" and f.choices == RecordStatus.choices
            for f in model._meta.concrete_fields
        )
    ]
    # Eight amendable records, three journey records, handwriting samples.
    assert len(superseded) == 12
    assert all(issubclass(model, CurrentRecord) for model in superseded)
    assert all(isinstance(model.objects.all(), RecordQuerySet) for model in superseded)


@pytest.mark.parametrize(("fixture", "values", "field"), KINDS)
def test_a_correction_supersedes_the_record_with_who_when_and_why(
    request, care_team_member, fixture, values, field
):
    record = request.getfixturevalue(fixture)
    old = getattr(record, field)

    amendment = amend(record, values, "  misread  ", care_team_member)

    record.refresh_from_db()
    assert (record.status, getattr(record, field)) == (RecordStatus.AMENDED, old)
    assert record.status_changed_by == care_team_member
    assert record.status_reason == "misread"
    assert record.status_changed_at is not None
    assert amendment.amends == record
    assert (amendment.amendment_reason, amendment.recorded_by) == ("misread", care_team_member)
    assert getattr(amendment, field) == values[field]
    assert amendment.is_current
    # Everything else is the record's: the same check or course, the same other values.
    owner = "check_entry" if isinstance(record, VitalSigns) else "course"
    assert getattr(amendment, owner) == getattr(record, owner)
    event = AuditEvent.objects.get(action=AuditEvent.Action.RECORD_AMENDED)
    assert event.details["changes"] == {field: [str(old), str(values[field])]}
    assert event.summary.endswith(f"{old} → {values[field]} (misread)")


@pytest.mark.parametrize(("fixture", "values", "field"), KINDS)
def test_a_superseded_record_is_not_amended_again(
    request, care_team_member, fixture, values, field
):
    record = request.getfixturevalue(fixture)
    amend(record, values, "misread", care_team_member)

    with pytest.raises(ValidationError, match="already superseded by a correction"):
        amend(record, {field: values[field] - 1}, "again", care_team_member)


@pytest.mark.parametrize(("fixture", "values", "field"), KINDS)
def test_a_correction_needs_a_reason_and_a_change(
    request, care_team_member, fixture, values, field
):
    record = request.getfixturevalue(fixture)
    model = type(record)

    with pytest.raises(ValidationError, match="Say why the record is corrected"):
        amend(record, values, "   ", care_team_member)
    with pytest.raises(ValidationError, match="Nothing changed"):
        amend(record, {field: getattr(record, field)}, "typo", care_team_member)

    assert model.objects.get(pk=record.pk).is_current
    assert model.objects.count() == 1
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.RECORD_AMENDED).exists()


@pytest.mark.parametrize(("fixture", "values", "field"), KINDS)
def test_a_record_entered_in_error_stays_struck_with_why(
    request, care_team_member, fixture, values, field
):
    record = request.getfixturevalue(fixture)

    with pytest.raises(ValidationError, match="Say why the record was entered in error"):
        enter_in_error(record, "", care_team_member)
    enter_in_error(record, "wrong patient", care_team_member)

    record.refresh_from_db()
    assert record.status == RecordStatus.ENTERED_IN_ERROR
    assert (record.status_reason, record.status_changed_by) == ("wrong patient", care_team_member)
    event = AuditEvent.objects.get(action=AuditEvent.Action.ENTERED_IN_ERROR)
    assert event.summary.endswith("marked entered in error (wrong patient)")
    assert event.details == {"model": type(record)._meta.model_name, "record": record.pk}
    with pytest.raises(ValidationError, match="no longer current"):
        enter_in_error(record, "twice", care_team_member)

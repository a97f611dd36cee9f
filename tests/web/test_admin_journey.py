"""The treatment journey's records in the Django admin (issue 14 §4): phases, baseline items and
follow-up visits can be looked at, with their corrections, but not added, changed or deleted —
they change only through monitoring/journey.py's services, which validate and audit."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitoring import journey
from monitoring.models import BaselineItem, CoursePhase, FollowUpVisit, RecordStatus, User
from tests.factories import CourseFactory, UserFactory
from tests.web.test_journey import register

pytestmark = pytest.mark.django_db

JOURNEY_MODELS = [CoursePhase, BaselineItem, FollowUpVisit]


def url(model, view, *args):
    return reverse(f"admin:monitoring_{model._meta.model_name}_{view}", args=args)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def it_admin():
    """The admin role with the Django admin opened (as createsuperuser makes one)."""
    return UserFactory(username="it-root", role=User.Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def records(ward_a, nurse):
    """A planned course with its referral corrected once and a baseline ICE; a course under
    monitoring with its D+14 visit done."""
    planned = register(ward_a, nurse, referred_ago=10)
    today = timezone.localdate()
    journey.record_phase(
        course=planned,
        phase="referral",
        started_on=today - timedelta(days=11),
        reason="Letter dated the day before",
        by=nurse,
    )
    journey.record_baseline(
        course=planned, item="ice", ice_score=10, taken_at=timezone.now(), by=nurse
    )
    infused = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=15))
    journey.record_visit(
        course=infused, day=14, done_at=infused.infused_at + timedelta(days=14), by=nurse
    )
    return {
        CoursePhase: CoursePhase.objects.current().get(course=planned),
        BaselineItem: BaselineItem.objects.get(course=planned),
        FollowUpVisit: FollowUpVisit.objects.get(course=infused),
    }


def test_an_admin_sees_every_journey_record_with_its_correction(it_admin, records):
    client = client_for(it_admin)

    phases = client.get(url(CoursePhase, "changelist"))
    assert phases.status_code == 200
    text = phases.content.decode()
    assert text.count("Referral and evaluation from") == 2  # the correction and the original
    assert "Letter dated the day before" in text  # why it was corrected
    for model, row in records.items():
        assert client.get(url(model, "changelist")).status_code == 200, model.__name__
        page = client.get(url(model, "change", row.pk))
        assert page.status_code == 200, model.__name__
        assert not page.context["has_change_permission"], model.__name__
        assert page.context["has_view_permission"], model.__name__


def test_an_admin_cannot_add_change_or_delete_a_journey_record(it_admin, records):
    client = client_for(it_admin)
    phase = records[CoursePhase]
    started_on = phase.started_on

    for model, row in records.items():
        assert client.get(url(model, "add")).status_code == 403, model.__name__
        assert client.get(url(model, "delete", row.pk)).status_code == 403, model.__name__
        assert client.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
        changelist = client.get(url(model, "changelist")).content.decode()
        assert "delete_selected" not in changelist, model.__name__
        assert url(model, "add") not in changelist, model.__name__
    response = client.post(
        url(CoursePhase, "change", phase.pk),
        {"phase": "referral", "started_on": "2026-01-01", "status": "current", "reason": "x"},
    )

    assert response.status_code == 403
    phase.refresh_from_db()
    assert (phase.started_on, phase.status) == (started_on, RecordStatus.CURRENT)
    assert all(model.objects.filter(pk=row.pk).exists() for model, row in records.items())


def test_even_a_granted_change_permission_does_not_open_them(records):
    """A staff login given every permission on them in the admin still only looks."""
    staff = UserFactory(username="it-staff", role=User.Role.ADMIN, is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(
            content_type__model__in=[m._meta.model_name for m in JOURNEY_MODELS]
        )
    )
    client = client_for(staff)
    visit = records[FollowUpVisit]

    assert client.get(url(FollowUpVisit, "change", visit.pk)).status_code == 200
    assert client.post(url(FollowUpVisit, "change", visit.pk), {"day": 28}).status_code == 403
    assert client.get(url(FollowUpVisit, "add")).status_code == 403
    visit.refresh_from_db()
    assert visit.day == 14


def test_a_staff_login_without_permission_sees_nothing(records):
    staff = UserFactory(username="it-none", role=User.Role.ADMIN, is_staff=True)

    assert client_for(staff).get(url(CoursePhase, "changelist")).status_code == 403


def test_the_changelist_costs_the_same_queries_for_one_or_many_rows(it_admin, ward_a, nurse):
    client = client_for(it_admin)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url(CoursePhase, "changelist")).status_code == 200
        return len(captured)

    register(ward_a, nurse)
    one = queries()
    for _ in range(4):  # each with its referral: the course, patient, product and recorder
        register(ward_a, nurse)
    assert queries() == one

"""Edits made in the Django admin reach the audit log: an infusion date moves every D+n."""

from datetime import timedelta

from django.test import Client
from django.urls import reverse

from monitoring.models import AuditEvent


def test_changing_a_courses_infusion_date_in_the_admin_is_audited(course, db):
    from tests.factories import UserFactory

    it = UserFactory(username="it-admin", role="admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(it)
    url = reverse("admin:monitoring_treatmentcourse_change", args=[course.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    new_day_0 = course.infused_at - timedelta(days=1)
    data.update(
        {
            "infused_at_0": new_day_0.strftime("%Y-%m-%d"),
            "infused_at_1": new_day_0.strftime("%H:%M:%S"),
        }
    )

    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action=AuditEvent.Action.ADMIN_EDITED)
    assert event.user == it
    assert event.patient == course.patient
    assert "infused_at" in event.summary

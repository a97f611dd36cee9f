"""Issue 12 §2: each protocol version sets how long a flag may wait unacknowledged, by
severity, the ladder of tiers it climbs, the grace before an overdue check tells the nurse in
charge, and whether patient names go out in messages. Admins edit them with the rest of the
version; the service refuses bad values from anywhere; a new version carries them over."""

import pytest
from django.core.exceptions import ValidationError

from monitoring import alert_rules, services
from monitoring.models import AuditEvent, ProtocolVersion
from tests.web.test_protocol_pages import edit_url, form_data, version_url


@pytest.fixture
def template(db):
    return ProtocolVersion.objects.get(protocol__name__startswith="Default", number=1)


LADDER = {"ladder_1": "charge_nurse", "ladder_2": "attending", "ladder_3": "", "ladder_4": ""}


def test_the_admin_sets_the_limits_the_ladder_the_grace_and_names(admin_client_, template):
    data = form_data(
        template,
        ack_critical=3,
        ack_urgent=10,
        ack_warning=45,
        overdue_grace_minutes=20,
        notify_patient_names=True,
        note="Our escalation policy",
        **LADDER,
    )

    response = admin_client_.post(edit_url(template), data)

    assert response.status_code == 302
    template.refresh_from_db()
    assert template.ack_minutes == {"4": 3, "3": 10, "2": 45}
    assert template.ladder() == ["charge_nurse", "attending"]
    assert template.overdue_grace_minutes == 20
    assert template.notify_patient_names is True
    assert template.ack_limit_for(4).total_seconds() == 180
    event = AuditEvent.objects.get(action=AuditEvent.Action.PROTOCOL_CHANGED)
    assert "ack_minutes" in event.details["changes"]


def test_the_version_page_shows_the_limits_with_default_marks_and_the_ladder_in_order(
    admin_client_, template
):
    template.ack_minutes = {"4": 3, "3": 15, "2": 60}
    template.escalation_ladder = ["charge_nurse", "app_fellow", "attending"]
    template.save()

    page = admin_client_.get(version_url(template)).content.decode()
    section = page[page.index('id="escalation-settings"') :]
    section = section[: section.index("</table>")]

    assert "Critical flag waits at most</th><td>3 min</td>" in section  # set: no mark
    assert "Urgent flag waits at most</th><td>15 min <span" in section  # the default, marked
    ladder = section[section.index("<ol") :]
    assert ladder.index("Charge nurse") < ladder.index("CAR-T APP / fellow")
    assert ladder.index("CAR-T APP / fellow") < ladder.index("Attending physician")
    assert "Bedside nurse" not in ladder
    assert "No guideline gives minutes" in page  # the source of the defaults, in short
    assert "no — unit, bed and severity only" in section


def test_the_edit_page_starts_from_the_defaults_and_warns_about_names(admin_client_, template):
    page = admin_client_.get(edit_url(template)).content.decode()

    assert 'name="ack_critical" value="5"' in page
    assert 'name="ack_warning" value="60"' in page
    assert '<option value="bedside_nurse" selected>' in page
    assert "Patient names leave the building" in page
    assert "a forwarded e-mail shows it to anyone nearby" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ack_critical": 20, "ack_urgent": 15}, "Urgent (15 min) must not be shorter than "),
        ({"ack_warning": 10}, "Warning (10 min) must not be shorter than urgent (15 min)"),
        ({"ack_critical": 0}, "Critical must be between 1 and 1440 min (got 0)."),
        ({"ack_urgent": 2000}, "Urgent must be between 1 and 1440 min (got 2000)."),
        ({"ack_warning": ""}, "This field is required."),
        ({"ladder_2": "bedside_nurse"}, "Bedside nurse is chosen twice: each tier once."),
        (
            {"ladder_1": "", "ladder_2": "", "ladder_3": "", "ladder_4": ""},
            "Choose at least one tier.",
        ),
        ({"ladder_2": ""}, "Fill the ladder from the 1st tier down: the 2nd is empty"),
        ({"ladder_3": "janitor"}, "Select a valid choice. janitor is not one of the"),
        ({"overdue_grace_minutes": 721}, "must be between 0 and 720 min (got 721)"),
        ({"overdue_grace_minutes": -1}, "must be between 0 and 720 min (got -1)"),
    ],
)
def test_bad_escalation_settings_are_refused_with_a_message_and_kept(
    admin_client_, template, changes, message
):
    response = admin_client_.post(edit_url(template), form_data(template, **changes))

    page = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved." in page
    assert message in page
    for name, value in changes.items():
        if name.startswith("ack_") and value != "":
            assert f'name="{name}" value="{value}"' in page  # what the admin typed is kept
    template.refresh_from_db()
    assert (template.ack_minutes, template.escalation_ladder) == ({}, [])
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ack_minutes": {"4": 30}}, "ack_minutes", "Urgent (15 min) must not be shorter"),
        ({"ack_minutes": {"1": 5}}, "ack_minutes", "Only critical, urgent and warning"),
        ({"ack_minutes": {"4": "5"}}, "ack_minutes", "Critical must be between 1 and 1440"),
        ({"ack_minutes": {"2": 0}}, "ack_minutes", "Warning must be between 1 and 1440"),
        ({"ack_minutes": {"3": True}}, "ack_minutes", "Urgent must be between 1 and 1440"),
        ({"ack_minutes": [5, 15, 60]}, "ack_minutes", "Give the minutes as critical"),
        ({"escalation_ladder": ["attending", "attending"]}, "escalation_ladder", "twice"),
        ({"escalation_ladder": ["janitor"]}, "escalation_ladder", "Unknown tier"),
        ({"escalation_ladder": "attending"}, "escalation_ladder", "as a list of tiers"),
        ({"overdue_grace_minutes": 10_000}, "overdue_grace_minutes", "between 0 and 720"),
        ({"notify_patient_names": "yes"}, "notify_patient_names", "Say yes or no"),
    ],
)
def test_the_service_refuses_bad_settings_from_anywhere(
    template, admin_user, course, changes, field, message
):
    """Called directly (no form), with a course on the version: no new version is made."""
    with pytest.raises(ValidationError) as refused:
        services.revise_protocol(
            version=template, changes=changes, schedules={}, note="script", by=admin_user
        )

    assert field in refused.value.message_dict
    assert message in " ".join(refused.value.message_dict[field])
    assert ProtocolVersion.objects.filter(protocol=template.protocol).count() == 1


def test_an_empty_ladder_is_the_default_one_for_the_service(template, admin_user):
    services.revise_protocol(
        version=template,
        changes={"escalation_ladder": [], "ack_minutes": {}},
        schedules={},
        note="back to the defaults",
        by=admin_user,
    )

    template.refresh_from_db()
    assert template.ladder() == alert_rules.DEFAULT_LADDER


def test_revising_a_version_in_use_carries_the_settings_and_keeps_the_old_values(
    admin_client_, template, course
):
    template.ack_minutes = {"4": 4, "3": 12, "2": 50}
    template.escalation_ladder = ["bedside_nurse", "attending"]
    template.overdue_grace_minutes = 45
    template.notify_patient_names = True
    template.save()

    response = admin_client_.post(
        edit_url(template),
        form_data(template, ack_critical=2, note="Critical flags escalate after 2 min"),
    )

    assert response.status_code == 302
    new = ProtocolVersion.objects.get(protocol=template.protocol, number=2)
    assert new.ack_minutes == {"4": 2, "3": 12, "2": 50}
    assert new.ladder() == ["bedside_nurse", "attending"]  # carried over
    assert (new.overdue_grace_minutes, new.notify_patient_names) == (45, True)
    template.refresh_from_db()
    assert template.ack_minutes == {"4": 4, "3": 12, "2": 50}  # the course's version: unchanged
    assert template.ladder() == ["bedside_nurse", "attending"]
    course.refresh_from_db()
    assert course.protocol_version.ack_limit_for(4).total_seconds() == 4 * 60


def test_a_change_of_other_settings_carries_the_escalation_settings(
    admin_client_, template, course
):
    template.escalation_ladder = ["charge_nurse"]
    template.overdue_grace_minutes = 90
    template.save()

    admin_client_.post(edit_url(template), form_data(template, heart_rate_high=125))

    new = ProtocolVersion.objects.get(protocol=template.protocol, number=2)
    assert (new.ladder(), new.overdue_grace_minutes) == (["charge_nurse"], 90)


def test_the_preview_says_the_escalation_changes_in_words(admin_client_, template):
    data = {**form_data(template, ack_urgent=10, **LADDER), "preview": "1"}

    page = admin_client_.post(edit_url(template), data).content.decode()

    assert (
        "Minutes a flag may wait unacknowledged: critical 5, urgent 15, warning 60 min → "
        "critical 5, urgent 10, warning 60 min"
    ) in page
    assert (
        "Escalation ladder was Bedside nurse → Charge nurse → CAR-T APP / fellow → Attending "
        "physician; now Charge nurse → Attending physician"
    ) in page
    template.refresh_from_db()
    assert template.ack_minutes == {}


def test_the_django_admin_cannot_edit_a_protocol_version(client, template):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="it", is_staff=True, is_superuser=True, role="admin"))
    url = f"/admin/monitoring/protocolversion/{template.pk}/change/"

    page = client.get(url).content.decode()
    client.post(url, {"overdue_grace_minutes": "5"})

    assert 'name="overdue_grace_minutes"' not in page
    template.refresh_from_db()
    assert template.overdue_grace_minutes == alert_rules.DEFAULT_OVERDUE_GRACE_MINUTES


# --- The rules themselves (pure, alert_rules) -----------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "problems"),
    [
        ({}, []),
        ({"4": 5, "3": 15, "2": 60}, []),
        ({"4": 15, "3": 15, "2": 15}, []),  # equal limits are allowed
        ({"4": 16}, [3]),  # urgent (default 15) shorter than critical
        ({"2": 10}, [2]),  # warning shorter than urgent (default 15)
        ({"4": 1441}, [4]),
        ({"4": 0, "2": 0}, [4, 2]),
        ({"5": 5}, [None]),
        ("5", [None]),
    ],
)
def test_ack_minutes_problems(minutes, problems):
    assert [severity for severity, _ in alert_rules.ack_minutes_problems(minutes)] == problems


@pytest.mark.parametrize(
    ("ladder", "problems"),
    [
        (["bedside_nurse"], []),
        (alert_rules.DEFAULT_LADDER, []),
        (["attending", "bedside_nurse"], []),  # a centre may order its own ladder
        ([], [0]),
        (["attending", "attending"], [1]),
        (["charge_nurse", "nobody", "charge_nurse"], [1, 2]),
        ([None], [0]),
        ({"1": "attending"}, [None]),
    ],
)
def test_ladder_problems(ladder, problems):
    assert [position for position, _ in alert_rules.ladder_problems(ladder)] == problems

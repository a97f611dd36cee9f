"""The care team's side of home monitoring (issue 15 §1): inviting a patient and up to two
caregivers, the link and code shown once, withdrawing an invitation, giving a sign-in code in
person, revoking an access; and the protocol's countdowns the home page tells."""

import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import home, services
from monitoring.models import (
    AuditEvent,
    HomeAccess,
    HomeInvitation,
    HomeLoginCode,
    ProtocolVersion,
    User,
)
from tests.factories import CourseFactory, UserFactory
from tests.home_helpers import CAREGIVER_NAME, home_client, make_home_user, text_of


@pytest.fixture
def page_url(course):
    return reverse("monitoring:course-home-access", args=[course.patient.public_id])


def home_client_anonymous() -> Client:
    """A phone nobody has signed in on yet."""
    return Client(REMOTE_ADDR="198.51.100.9")


def invite_data(kind="caregiver", name=CAREGIVER_NAME, email=""):
    return {
        "action": "invite",
        "invite-kind": kind,
        "invite-display_name": name,
        "invite-email": email,
    }


def shown_secrets(response) -> tuple[str, str]:
    """The invitation link's token and the printed code, as the page shows them once."""
    page = response.content.decode()
    token = re.search(r"/home/join/([A-Za-z0-9_-]{40,})/", page).group(1)
    code = re.search(r"\b([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2})\b", page).group(1)
    return token, code


# --- Inviting -------------------------------------------------------------------------------


def test_the_care_team_invites_a_caregiver_and_sees_the_link_and_code_once(
    care_client, course, page_url
):
    response = care_client.post(page_url, invite_data(email="Maria@Example.org"))

    assert response.status_code == 302
    shown = care_client.get(page_url)
    token, code = shown_secrets(shown)
    assert "It is shown only this once." in text_of(shown)
    assert shown["Cache-Control"].startswith("max-age=0")  # never_cache: not kept by the browser
    # Only hashes are stored: neither secret is anywhere in the row.
    invitation = HomeInvitation.objects.get()
    stored = str(vars(invitation))
    assert token not in stored
    assert code.replace("-", "") not in stored
    assert (invitation.kind, invitation.display_name, invitation.email) == (
        "caregiver",
        CAREGIVER_NAME,
        "maria@example.org",
    )
    assert invitation.expires_at == invitation.created_at + timedelta(hours=72)
    # Never again: the next visit lists the invitation without its link or code.
    again = care_client.get(page_url).content.decode()
    assert token not in again
    assert code not in again
    assert "Waiting, until" in again


def test_a_charge_nurse_may_invite_a_nurse_and_an_admin_may_not(
    client, course, page_url, ward_a, nurse_client, admin_client_
):
    charge = UserFactory(role=User.Role.CHARGE_NURSE, units=[ward_a])
    client.force_login(charge)

    assert client.post(page_url, invite_data()).status_code == 302
    assert nurse_client.get(page_url).status_code == 403
    assert nurse_client.post(page_url, invite_data("patient", "Ada")).status_code == 403
    assert admin_client_.post(page_url, invite_data("patient", "Ada")).status_code == 403
    assert HomeInvitation.objects.count() == 1


def test_another_units_course_is_a_404_and_nothing_is_made(client, course, page_url, ward_b):
    client.force_login(UserFactory(role=User.Role.CARE_TEAM, units=[ward_b]))

    assert client.get(page_url).status_code == 404
    assert client.post(page_url, invite_data()).status_code == 404
    assert not HomeInvitation.objects.exists()


def test_at_most_two_caregivers_and_one_patient_counting_waiting_invitations(
    care_client, course, page_url
):
    for name in ("Maria (daughter)", "Jon (son)"):
        assert care_client.post(page_url, invite_data(name=name)).status_code == 302
    assert care_client.post(page_url, invite_data("patient", "Ada")).status_code == 302

    third = care_client.post(page_url, invite_data(name="Lee (neighbour)"))
    second_patient = care_client.post(page_url, invite_data("patient", "Ada again"))

    assert third.status_code == second_patient.status_code == 400
    assert "the most allowed: withdraw or revoke one first" in text_of(third)
    assert 'value="Lee (neighbour)"' in third.content.decode()  # what was typed is kept
    assert HomeInvitation.objects.count() == 3


def test_the_database_refuses_a_second_open_patient_or_a_third_caregiver(course, care_team_member):
    patient = make_home_user(course, care_team_member, kind="patient", name="Ada")
    access = patient.home_access
    invitation = HomeInvitation.objects.create(
        course=course,
        kind="patient",
        display_name="Ada twice",
        token_hash="t" * 64,
        code_hash="c" * 64,
        created_by=care_team_member,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        HomeAccess.objects.create(
            user=UserFactory(role=User.Role.PATIENT),
            course=course,
            kind="patient",
            slot=access.slot,
            display_name="Ada twice",
            invitation=invitation,
            consent_at=timezone.now(),
            consent_version=home.CONSENT_VERSION,
            consent_language="en",
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # slot 3 does not exist
        HomeAccess.objects.create(
            user=UserFactory(role=User.Role.CAREGIVER),
            course=course,
            kind="caregiver",
            slot=3,
            display_name="Third",
            invitation=invitation,
            consent_at=timezone.now(),
            consent_version=home.CONSENT_VERSION,
            consent_language="en",
        )


def test_two_acceptances_for_one_slot_leave_one_account(course, care_team_member):
    """Two caregiver invitations were accepted, then a third was made after one was revoked:
    the acceptance that finds no free slot is refused, never a third open caregiver."""
    first = home.invite(course=course, kind="caregiver", display_name="A", by=care_team_member)
    second = home.invite(course=course, kind="caregiver", display_name="B", by=care_team_member)
    home.accept_invitation(invitation=first.invitation, language="en")
    user_b = home.accept_invitation(invitation=second.invitation, language="en")
    home.revoke_access(access=user_b.home_access, reason="moved away", by=care_team_member)
    third = home.invite(course=course, kind="caregiver", display_name="C", by=care_team_member)

    home.accept_invitation(invitation=third.invitation, language="en")

    open_slots = sorted(home.open_accesses(course).values_list("slot", flat=True))
    assert open_slots == [1, 2]


def test_an_email_address_signs_in_to_one_open_account_only(course, care_team_member, ward_a):
    make_home_user(course, care_team_member, email="family@example.org")
    other = CourseFactory(unit=ward_a)

    with pytest.raises(Exception, match="already signs in to home monitoring"):
        home.invite(
            course=other,
            kind="caregiver",
            display_name="X",
            email="FAMILY@example.org",
            by=care_team_member,
        )


def test_an_ended_course_takes_no_invitation(care_client, course, page_url, care_team_member):
    services.end_monitoring(
        course=course,
        outcome="completed",
        ended_at=timezone.now(),
        reason="Monitoring window over",
        by=care_team_member,
    )

    page = care_client.get(page_url)
    response = care_client.post(page_url, invite_data())

    assert "nobody can be invited" in text_of(page)
    assert response.status_code == 400
    assert not HomeInvitation.objects.exists()


# --- Withdrawing, revoking, codes in person ---------------------------------------------------


def test_withdrawing_an_invitation_needs_a_reason_and_stops_it(care_client, course, page_url):
    care_client.post(page_url, invite_data())
    token, _code = shown_secrets(care_client.get(page_url))
    invitation = HomeInvitation.objects.get()

    refused = care_client.post(page_url, {"action": "withdraw", "id": invitation.pk, "reason": ""})
    done = care_client.post(
        page_url, {"action": "withdraw", "id": invitation.pk, "reason": "Wrong person"}
    )

    assert refused.status_code == 400
    assert done.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoke_reason == "Wrong person"
    link = reverse("monitoring:home-join-link", args=[token])
    assert home_client_anonymous().get(link).status_code == 404
    assert "Withdrawn" in text_of(care_client.get(page_url))


def test_an_id_of_another_course_is_a_404(care_client, course, page_url, care_team_member):
    other = CourseFactory(unit=course.unit)
    stranger = make_home_user(other, care_team_member, kind="patient", name="Other")

    response = care_client.post(
        page_url, {"action": "revoke", "id": stranger.home_access.pk, "reason": "x"}
    )
    code = care_client.post(page_url, {"action": "code", "id": stranger.home_access.pk})
    garbage = care_client.post(page_url, {"action": "revoke", "id": "1; drop", "reason": "x"})

    assert response.status_code == code.status_code == garbage.status_code == 404
    stranger.home_access.refresh_from_db()
    assert stranger.home_access.revoked_at is None


def test_revoking_an_access_closes_it_and_is_audited(
    care_client, course, page_url, care_team_member
):
    caregiver = make_home_user(course, care_team_member)
    access = caregiver.home_access

    refused = care_client.post(page_url, {"action": "revoke", "id": access.pk, "reason": " "})
    done = care_client.post(
        page_url, {"action": "revoke", "id": access.pk, "reason": "Patient asked"}
    )

    assert refused.status_code == 400
    assert done.status_code == 302
    access.refresh_from_db()
    caregiver.refresh_from_db()
    assert (access.revoked_by, access.revoke_reason) == (care_team_member, "Patient asked")
    assert not caregiver.is_active
    event = AuditEvent.objects.get(action=AuditEvent.Action.HOME_ACCESS_REVOKED)
    assert (event.user, event.course) == (care_team_member, course)
    assert "Patient asked" in event.summary
    page = text_of(care_client.get(page_url))
    assert "Revoked" in page
    assert "The home access of Maria (daughter) was revoked: they are signed out at once." in page


def test_a_code_given_in_person_is_shown_once_and_replaces_the_last(
    care_client, course, page_url, care_team_member
):
    caregiver = make_home_user(course, care_team_member)
    access = caregiver.home_access

    care_client.post(page_url, {"action": "code", "id": access.pk})
    first = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}", care_client.get(page_url).text)
    care_client.post(page_url, {"action": "code", "id": access.pk})
    page = care_client.get(page_url).text
    second = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}", page).group(0)

    assert first.group(0) not in page  # shown once
    assert HomeLoginCode.objects.filter(user=caregiver, voided_at__isnull=True).count() == 1
    phone = home_client_anonymous()
    stale = phone.post(
        reverse("monitoring:home-login"), {"action": "code", "code-code": first.group(0)}
    )
    fresh = phone.post(reverse("monitoring:home-login"), {"action": "code", "code-code": second})
    assert stale.status_code == 400
    assert (fresh.status_code, fresh.url) == (302, reverse("monitoring:home-start"))
    issued = AuditEvent.objects.filter(action=AuditEvent.Action.HOME_CODE_ISSUED)
    assert [e.user for e in issued] == [care_team_member, care_team_member]


def test_a_secret_made_on_one_course_is_never_shown_on_another(
    care_client, course, page_url, ward_a
):
    other = CourseFactory(unit=ward_a)
    care_client.post(page_url, invite_data())

    elsewhere = care_client.get(
        reverse("monitoring:course-home-access", args=[other.patient.public_id])
    )

    assert "It is shown only this once." not in text_of(elsewhere)
    assert "It is shown only this once." not in text_of(care_client.get(page_url))  # dropped


def test_the_invite_form_keeps_what_was_typed_and_says_what_is_wrong(care_client, page_url):
    response = care_client.post(page_url, invite_data(name="", email="not an address"))

    assert response.status_code == 400
    assert "There are 2 problems" in text_of(response)
    assert 'value="not an address"' in response.content.decode()
    assert not HomeInvitation.objects.exists()


def test_each_step_is_audited(care_client, course, page_url):
    care_client.post(page_url, invite_data())
    invitation = HomeInvitation.objects.get()
    care_client.post(page_url, {"action": "withdraw", "id": invitation.pk, "reason": "typo"})

    actions = list(AuditEvent.objects.order_by("pk").values_list("action", "course"))
    assert actions == [("home_invited", course.pk), ("home_invitation_revoked", course.pk)]
    assert CAREGIVER_NAME in AuditEvent.objects.first().summary


def test_the_course_page_links_to_home_access_for_who_may_use_it(
    care_client, nurse_client, course, page_url
):
    course_url = reverse("monitoring:patient-course", args=[course.patient.public_id])

    assert page_url in care_client.get(course_url).content.decode()
    assert page_url not in nurse_client.get(course_url).content.decode()


@pytest.mark.parametrize("rows", [1, 3])
def test_the_page_costs_the_same_queries_however_many_rows(
    care_client, course, page_url, care_team_member, django_assert_num_queries, rows
):
    for number in range(rows):
        kind = "patient" if number == 2 else "caregiver"
        make_home_user(course, care_team_member, kind=kind, name=f"Person {number}")
        if rows == 1:  # and an invitation still waiting
            home.invite(course=course, kind="caregiver", display_name="Later", by=care_team_member)
    # session, user, the course (get_course_for), the invitations not accepted (with who made
    # and withdrew them), the accounts (with their users and who revoked them); the
    # navigation's bell and board counts.
    with django_assert_num_queries(7):
        response = care_client.get(page_url)
    assert response.status_code == 200


# --- The protocol's countdowns ------------------------------------------------------------


def test_new_protocol_versions_copy_the_countdowns(admin_user, course):
    version = course.protocol_version
    services.revise_protocol(
        version=version,
        changes={"stay_near_days": 21, "no_driving_days": 56},
        schedules={},
        note="Centre policy: 3 weeks nearby, 8 weeks no driving",
        by=admin_user,
    )
    newest = ProtocolVersion.objects.filter(protocol=version.protocol).order_by("-number").first()
    services.revise_protocol(
        version=newest, changes={"spo2_low_pct": 92}, schedules={}, note="SpO2", by=admin_user
    )

    latest = ProtocolVersion.objects.filter(protocol=version.protocol).order_by("-number").first()
    assert (latest.stay_near_days, latest.no_driving_days) == (21, 56)
    assert (version.stay_near_days, version.no_driving_days) == (14, 14)  # June 2025 labels


def test_the_shipped_engager_templates_tell_no_countdown(db):
    """Reference §6.2's two weeks are the CAR-T labels'; the engager templates leave them blank
    (docs/clinical-rules.md, "Home monitoring")."""
    templates = {
        tuple(v.products): (v.stay_near_days, v.no_driving_days)
        for v in ProtocolVersion.objects.all()
    }

    assert templates[()] == (14, 14)  # the default CAR-T template, every product
    assert templates[("teclistamab",)] == (None, None)
    assert templates[("epcoritamab",)] == (None, None)


def test_the_protocol_page_edits_the_countdowns_in_range(client, admin_user, course):
    from tests.web.test_protocol_pages import form_data

    client.force_login(admin_user)
    version = course.protocol_version
    url = reverse("monitoring:admin-protocol-version-edit", args=[version.pk])

    refused = client.post(url, form_data(version, stay_near_days="400"))
    cleared = client.post(url, form_data(version, no_driving_days=""))

    assert refused.status_code == 400
    assert "1–365 days" in text_of(refused)
    assert cleared.status_code == 302
    newest = ProtocolVersion.objects.filter(protocol=version.protocol).order_by("-number").first()
    assert (newest.stay_near_days, newest.no_driving_days) == (14, None)


def test_home_client_helper_signs_in_through_the_home_backend(course, care_team_member):
    user = make_home_user(course, care_team_member)

    assert home_client(user).get(reverse("monitoring:home-start")).status_code == 200

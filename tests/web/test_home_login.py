"""A patient or caregiver at home (issue 15 §1 and §4): accepting an invitation, consenting
before anything else, signing in with a one-time code (e-mailed, or given in person), the
rate limits, and the home page of their course."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import home
from monitoring.models import (
    AuditEvent,
    HomeAccess,
    HomeInvitation,
    HomeLoginCode,
    HomeSignInAttempt,
    User,
)
from tests.factories import CourseFactory
from tests.home_helpers import (
    CAREGIVER_NAME,
    home_client,
    make_home_user,
    send_queued_codes,
    text_of,
)

HOME = reverse("monitoring:home-start")
LOGIN = reverse("monitoring:home-login")
LOGIN_CODE = reverse("monitoring:home-login-code")
CONSENT = reverse("monitoring:home-consent")
JOIN = reverse("monitoring:home-join")
EMAIL = "maria@example.org"


@pytest.fixture
def unit_phone(ward_a):
    ward_a.contact_phone = "+44 20 7946 0999"
    ward_a.save()
    return ward_a.contact_phone


@pytest.fixture
def invitation(course, care_team_member, unit_phone):
    """An invitation for Ada Lovelace's daughter, with her e-mail; its secrets as shown once."""
    return home.invite(
        course=course,
        kind="caregiver",
        display_name=CAREGIVER_NAME,
        email=EMAIL,
        by=care_team_member,
    )


@pytest.fixture
def phone():
    return Client(REMOTE_ADDR="203.0.113.20")


@pytest.fixture
def caregiver(course, care_team_member, unit_phone):
    return make_home_user(course, care_team_member, email=EMAIL)


def link(new) -> str:
    return reverse("monitoring:home-join-link", args=[new.token])


def ask_code(client, email=EMAIL):
    """Ask for an e-mailed code; the job worker's job then sends it."""
    response = client.post(LOGIN, {"action": "email", "email-email": email})
    send_queued_codes()
    return response


def emailed_code() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


# --- Accepting an invitation: consent first ---------------------------------------------------


def test_a_link_opens_the_consent_page_and_agreeing_makes_the_account(
    phone, invitation, course, unit_phone
):
    opened = phone.get(link(invitation))

    assert (opened.status_code, opened.url) == (302, CONSENT)  # the token leaves the address
    consent = phone.get(CONSENT)
    words = text_of(consent)
    assert f"This invitation is for {CAREGIVER_NAME}, from Ward A." in words
    assert course.patient.mrn not in words
    assert course.patient.family_name not in words
    assert not User.objects.filter(role=User.Role.CAREGIVER).exists()  # nothing before consent

    refused = phone.post(CONSENT, {})
    assert refused.status_code == 400
    assert "Tick the box to agree" in text_of(refused)
    assert not HomeAccess.objects.exists()

    agreed = phone.post(CONSENT, {"agree": "on"})
    assert (agreed.status_code, agreed.url) == (302, HOME)
    access = HomeAccess.objects.select_related("user").get()
    assert (access.kind, access.display_name, access.course) == (
        "caregiver",
        CAREGIVER_NAME,
        course,
    )
    assert access.consent_version == home.CONSENT_VERSION
    assert access.consent_language == "en"
    assert timezone.now() - access.consent_at < timedelta(minutes=1)
    assert access.user.role == User.Role.CAREGIVER
    assert access.user.email == EMAIL
    assert not access.user.has_usable_password()  # no password, nothing to steal
    assert phone.get(HOME).status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.HOME_ACCESS_GRANTED)
    assert (event.user, event.course) == (access.user, course)


def test_the_printed_code_works_typed_in_any_case_and_grouping(phone, invitation):
    typed = invitation.code.replace("-", " ").lower()

    response = phone.post(JOIN, {"code": typed})

    assert (response.status_code, response.url) == (302, CONSENT)


def test_the_home_page_needs_consent_first(phone, invitation):
    phone.get(link(invitation))

    response = phone.get(HOME)

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)
    assert not User.objects.filter(role=User.Role.CAREGIVER).exists()


def test_an_invitation_works_once(phone, invitation):
    phone.get(link(invitation))
    phone.post(CONSENT, {"agree": "on"})
    other_phone = Client(REMOTE_ADDR="203.0.113.21")

    again = other_phone.get(link(invitation))
    typed = other_phone.post(JOIN, {"code": invitation.code})

    assert again.status_code == 404
    assert "does not work" in text_of(again)
    assert typed.status_code == 400
    assert HomeAccess.objects.count() == 1


def test_an_expired_invitation_does_not_work(phone, course, care_team_member):
    new = home.invite(
        course=course,
        kind="patient",
        display_name="Ada",
        by=care_team_member,
        now=timezone.now() - timedelta(hours=settings.HOME_INVITATION_HOURS, minutes=1),
    )

    assert phone.get(link(new)).status_code == 404
    assert phone.post(JOIN, {"code": new.code}).status_code == 400
    assert not HomeAccess.objects.exists()


def test_an_invitation_withdrawn_after_opening_cannot_be_consented_to(
    phone, invitation, care_team_member
):
    phone.get(link(invitation))
    home.revoke_invitation(invitation=invitation.invitation, reason="wrong", by=care_team_member)

    response = phone.post(CONSENT, {"agree": "on"})

    assert response.status_code == 400
    assert "no longer works" in text_of(response)
    assert not HomeAccess.objects.exists()


def test_the_consent_page_without_an_invitation_asks_for_the_code(phone, db):
    response = phone.get(CONSENT)

    assert response.status_code == 200
    assert "Accept your invitation" in text_of(response)


def test_consent_is_recorded_in_the_language_it_was_read(invitation):
    phone = Client(REMOTE_ADDR="203.0.113.22", HTTP_ACCEPT_LANGUAGE="es")
    phone.get(link(invitation))

    page = phone.get(CONSENT)
    phone.post(CONSENT, {"agree": "on"})

    assert "Antes de empezar" in text_of(page)
    access = HomeAccess.objects.select_related("user").get()
    assert access.consent_language == access.user.language == "es"


# --- Signing in by e-mail ------------------------------------------------------------------


def test_an_emailed_code_signs_in_once(phone, caregiver):
    asked = ask_code(phone)

    assert (asked.status_code, asked.url) == (302, LOGIN_CODE)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [EMAIL]
    code = emailed_code()
    signed_in = phone.post(LOGIN_CODE, {"code": code})
    assert (signed_in.status_code, signed_in.url) == (302, HOME)
    assert phone.get(HOME).status_code == 200
    assert phone.session.get_expiry_age() == settings.HOME_SESSION_IDLE_HOURS * 3600

    again = Client(REMOTE_ADDR="203.0.113.23")
    ask_code(again, EMAIL.upper())  # the address in any case
    assert len(mail.outbox) == 2
    reused = again.post(LOGIN_CODE, {"code": code})  # the first code, spent
    assert reused.status_code == 400
    assert "That code does not work" in text_of(reused)


def test_the_job_worker_sends_the_code_not_the_request(phone, caregiver):
    """The request only queues the job (the answer takes as long with or without an account);
    the job sends it once, and nothing for a code already spent."""
    phone.post(LOGIN, {"action": "email", "email-email": EMAIL})
    assert mail.outbox == []

    assert send_queued_codes() == 1
    assert len(mail.outbox) == 1
    code = HomeLoginCode.objects.get()
    assert home.send_login_code.call(code.pk) == "nothing to send"  # sent already
    assert len(mail.outbox) == 1


def test_a_code_used_before_its_job_ran_is_not_sent(phone, caregiver):
    phone.post(LOGIN, {"action": "email", "email-email": EMAIL})
    HomeLoginCode.objects.update(used_at=timezone.now())

    send_queued_codes()

    assert mail.outbox == []


def test_production_without_a_mail_relay_never_prints_a_code(settings, phone, caregiver, caplog):
    settings.DEBUG = False
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    phone.post(LOGIN, {"action": "email", "email-email": EMAIL})
    code = home.email_code_of(HomeLoginCode.objects.get())

    send_queued_codes()

    assert code not in caplog.text
    assert "not e-mailed" in caplog.text


def test_the_email_holds_the_code_and_the_unit_and_no_patient_data(phone, caregiver, course):
    ask_code(phone)

    message = mail.outbox[0]
    text = f"{message.subject}\n{message.body}"
    assert re.search(r"\b\d{6}\b", text)
    assert "Ward A" in text
    patient = course.patient
    for secret in (
        patient.mrn,
        patient.given_name,
        patient.family_name,
        "Maria",
        str(patient.public_id),
        "http",
        str(patient.date_of_birth.year),
    ):
        assert secret not in text, secret


def test_an_address_with_no_account_gets_the_same_answer_and_no_email(phone, caregiver):
    response = ask_code(phone, "nobody@example.org")

    assert (response.status_code, response.url) == (302, LOGIN_CODE)
    page = text_of(phone.get(LOGIN_CODE))
    assert "If nobody@example.org can sign in to home monitoring" in page
    assert mail.outbox == []
    assert phone.post(LOGIN_CODE, {"code": "123456"}).status_code == 400
    failed = AuditEvent.objects.filter(action=AuditEvent.Action.HOME_SIGN_IN_FAILED)
    assert failed.filter(summary__contains="no open home account", user=None).exists()


def test_a_code_expires_after_ten_minutes(phone, caregiver):
    ask_code(phone)
    code = emailed_code()
    HomeLoginCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = phone.post(LOGIN_CODE, {"code": code})

    assert response.status_code == 400
    assert home.CODE_MINUTES == 10
    made = HomeLoginCode.objects.get()
    assert made.expires_at < timezone.now()


def test_five_wrong_codes_kill_the_code(phone, caregiver):
    ask_code(phone)
    code = emailed_code()

    for _ in range(home.CODE_MAX_WRONG - 1):
        assert phone.post(LOGIN_CODE, {"code": wrong(code)}).status_code == 400
    last = phone.post(LOGIN_CODE, {"code": wrong(code)})
    right_too_late = phone.post(LOGIN_CODE, {"code": code})

    assert "no longer works" in text_of(last)
    assert right_too_late.status_code == 400
    assert HomeLoginCode.objects.get().voided_at is not None
    locked = AuditEvent.objects.get(action=AuditEvent.Action.HOME_LOCKED_OUT)
    assert (locked.user, locked.course) == (caregiver, caregiver.home_access.course)
    failed = AuditEvent.objects.filter(action=AuditEvent.Action.HOME_SIGN_IN_FAILED).count()
    assert failed == home.CODE_MAX_WRONG + 1  # the five, and the right code too late


def test_a_new_code_replaces_the_old_one(phone, caregiver):
    ask_code(phone)
    old = emailed_code()
    ask_code(phone)
    new = emailed_code()

    assert phone.post(LOGIN_CODE, {"code": old}).status_code == 400 or old == new
    assert phone.post(LOGIN_CODE, {"code": new}).status_code == 302


def test_at_most_five_emails_an_hour_per_account(caregiver):
    for number in range(home.EMAIL_CODES_PER_HOUR + 1):
        ask_code(Client(REMOTE_ADDR=f"203.0.113.{100 + number}"))

    assert len(mail.outbox) == home.EMAIL_CODES_PER_HOUR
    assert AuditEvent.objects.filter(action=AuditEvent.Action.HOME_LOCKED_OUT).count() == 1


def test_a_code_request_for_a_revoked_account_sends_nothing(phone, caregiver, care_team_member):
    home.revoke_access(access=caregiver.home_access, reason="ended", by=care_team_member)

    ask_code(phone)

    assert mail.outbox == []


def test_the_code_page_without_an_address_goes_back_to_sign_in(phone, db):
    assert phone.get(LOGIN_CODE).url == LOGIN


# --- Codes given in person ----------------------------------------------------------------


def test_a_code_given_in_person_signs_in_once(phone, caregiver, care_team_member):
    code, until = home.issue_login_code(access=caregiver.home_access, by=care_team_member)

    signed_in = phone.post(LOGIN, {"action": "code", "code-code": code.lower()})
    again = Client(REMOTE_ADDR="203.0.113.30").post(LOGIN, {"action": "code", "code-code": code})

    assert (signed_in.status_code, signed_in.url) == (302, HOME)
    assert again.status_code == 400
    assert until - timezone.now() <= timedelta(minutes=10)
    event = AuditEvent.objects.get(action=AuditEvent.Action.HOME_SIGNED_IN)
    assert (event.user, event.details["ip"]) == (caregiver, "203.0.113.20")


def test_an_invitation_code_typed_on_the_sign_in_page_goes_to_consent(phone, invitation):
    response = phone.post(LOGIN, {"action": "code", "code-code": invitation.code})

    assert (response.status_code, response.url) == (302, CONSENT)


# --- The per-address rate limit -------------------------------------------------------------


def test_ten_failures_from_one_address_refuse_it_with_how_long_to_wait(
    phone, caregiver, care_team_member
):
    code, _until = home.issue_login_code(access=caregiver.home_access, by=care_team_member)
    for _ in range(home.IP_ATTEMPTS):
        assert phone.post(LOGIN, {"action": "code", "code-code": "AAAA-AAAA-AA"}).status_code == 400

    refused = phone.post(LOGIN, {"action": "code", "code-code": code})  # even the right one
    elsewhere = Client(REMOTE_ADDR="198.51.100.50").post(
        LOGIN, {"action": "code", "code-code": code}
    )

    assert refused.status_code == 429
    assert "Too many tries from this network. Try again in 15 minutes." in text_of(refused)
    assert (elsewhere.status_code, elsewhere.url) == (302, HOME)
    locked = AuditEvent.objects.filter(action=AuditEvent.Action.HOME_LOCKED_OUT)
    assert [e.details["ip"] for e in locked] == ["203.0.113.20"]  # once, when it filled up


def test_the_wait_shrinks_as_the_oldest_failure_ages(db):
    now = timezone.now()
    for minute in range(home.IP_ATTEMPTS):
        HomeSignInAttempt.objects.create(
            at=now - timedelta(minutes=12) + timedelta(seconds=minute),
            ip="192.0.2.1",
            kind="invitation",
        )

    assert home.retry_minutes("192.0.2.1", now) == 3
    assert home.retry_minutes("192.0.2.1", now + timedelta(minutes=3, seconds=10)) == 0
    assert home.retry_minutes("192.0.2.2", now) == 0


def test_code_requests_count_against_the_address(caregiver):
    phone = Client(REMOTE_ADDR="203.0.113.40")
    for _ in range(home.IP_ATTEMPTS):
        ask_code(phone, "someone@example.org")

    refused = ask_code(phone)

    assert refused.status_code == 429
    assert mail.outbox == []


def test_old_attempts_are_pruned(db):
    old = HomeSignInAttempt.objects.create(
        at=timezone.now() - timedelta(days=2), ip="192.0.2.9", kind="invitation"
    )

    Client(REMOTE_ADDR="192.0.2.10").get(reverse("monitoring:home-join-link", args=["nope"]))

    assert not HomeSignInAttempt.objects.filter(pk=old.pk).exists()
    assert HomeSignInAttempt.objects.get().ip == "192.0.2.10"


@pytest.mark.parametrize("behind_proxy", [False, True])
def test_the_address_counted_is_the_load_balancers_view(settings, caregiver, behind_proxy):
    settings.BEHIND_PROXY = behind_proxy
    phone = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.77")

    phone.post(LOGIN, {"action": "code", "code-code": "AAAA-AAAA-AA"})

    expected = "198.51.100.77" if behind_proxy else "10.0.0.1"
    assert HomeSignInAttempt.objects.get().ip == expected


# --- The home page --------------------------------------------------------------------------


def test_the_home_page_says_who_for_whom_whom_to_call_and_until_when(caregiver, course):
    course.infused_at = timezone.now() - timedelta(days=3)
    course.save()

    page = text_of(home_client(caregiver).get(HOME))

    assert f"You are signed in as {CAREGIVER_NAME}, for the monitoring of Ada." in page
    assert "Call +44 20 7946 0999" in page
    assert "answered 24 hours a day" in page
    assert "a temperature of 38.0 °C or higher" in page
    until = course.infusion_date + timedelta(days=14)
    assert f"Stay near the treatment centre until {until:%A} {until.day} {until:%B}." in page
    assert f"Do not drive until {until:%A} {until.day} {until:%B}." in page
    assert "11 more days." in page
    assert "Record a check-in" in page
    assert "No check-in yet today." in page
    # No identifiers: no MRN, no family name, no date of birth, no id in any link.
    assert course.patient.mrn not in page
    assert "Lovelace" not in page
    html = home_client(caregiver).get(HOME).content.decode()
    assert str(course.patient.public_id) not in html
    assert 'href="tel:+442079460999"' in html


def test_a_patient_is_told_they_are_signed_in_as_themselves(course, care_team_member, unit_phone):
    patient = make_home_user(course, care_team_member, kind="patient", name="Ada")

    page = text_of(home_client(patient).get(HOME))

    assert "You are signed in as Ada." in page
    assert "for the monitoring of" not in page


def test_a_unit_without_a_number_says_so(caregiver, ward_a):
    ward_a.contact_phone = ""
    ward_a.save()

    page = text_of(home_client(caregiver).get(HOME))

    assert "has not put its 24-hour number here yet" in page


def test_the_home_page_reads_in_spanish(caregiver):
    caregiver.language = "es"
    caregiver.save()

    page = text_of(home_client(caregiver).get(HOME))

    assert "Su seguimiento en casa" in page
    assert "Todavía no hay" in page


def test_the_home_page_costs_four_queries(caregiver, django_assert_num_queries):
    client = home_client(caregiver)
    # The session; the user with their access, course, unit, patient and protocol version
    # (HomeBackend: one query, which is also the session's check that the access is open);
    # today's check-ins with who entered them; when home monitoring started and the last home
    # check-in (home_sweep.course_state).
    with django_assert_num_queries(4):
        response = client.get(HOME)
    assert response.status_code == 200


def test_signing_out_ends_the_session(caregiver):
    client = home_client(caregiver)

    response = client.post(reverse("monitoring:home-logout"))

    assert (response.status_code, response.url) == (302, LOGIN)
    assert client.get(HOME).url.startswith(LOGIN)


def test_the_sign_in_pages_send_someone_signed_in_home(caregiver):
    client = home_client(caregiver)

    for url in (LOGIN, LOGIN_CODE, JOIN, CONSENT, reverse("monitoring:home-ended")):
        assert client.get(url).url == HOME, url


# --- Countdowns (reference §6.2: two weeks each since the June 2025 labels) ----------------


@pytest.mark.parametrize(
    ("day", "days_left", "over"),
    [
        (0, 14, False),  # the infusion day
        (13, 1, False),
        (14, 0, False),  # the last day
        (15, -1, True),
    ],
)
def test_the_countdowns_run_from_day_0(ward_a, day, days_left, over):
    course = CourseFactory(unit=ward_a, infused_at=timezone.now() - timedelta(days=day))

    found = home.countdowns(course, today=course.infusion_date + timedelta(days=day))

    assert [(c.kind, c.days_left, c.is_over) for c in found] == [
        ("stay_near", days_left, over),
        ("no_driving", days_left, over),
    ]


def test_a_version_without_countdowns_tells_none(ward_a):
    course = CourseFactory(unit=ward_a)
    course.protocol_version.stay_near_days = None
    course.protocol_version.no_driving_days = 56

    found = home.countdowns(course)

    assert [(c.kind, c.days) for c in found] == [("no_driving", 56)]


def test_home_invitations_never_leave_secrets_in_the_database(invitation):
    row = HomeInvitation.objects.get()

    for secret in (invitation.token, invitation.code, invitation.code.replace("-", "")):
        assert secret not in str(vars(row))
    assert row.token_hash == home.secret_hash(f"invitation-link:{invitation.token}")


def test_a_family_chooses_the_language_of_the_home_pages(caregiver, nurse_client):
    """Invited in English, a family reading Spanish switches on the home page; audited."""
    client = home_client(caregiver)
    assert "Record a check-in" in text_of(client.get(HOME))

    response = client.post(reverse("monitoring:home-language"), {"language": "es"})

    assert response.url == HOME
    caregiver.refresh_from_db()
    assert caregiver.language == "es"
    assert "Hacer un registro" in text_of(client.get(HOME))
    assert AuditEvent.objects.filter(
        user=caregiver, action=AuditEvent.Action.LANGUAGE_CHANGED
    ).exists()
    refused = client.post(reverse("monitoring:home-language"), {"language": "xx"})
    assert refused.url == HOME
    caregiver.refresh_from_db()
    assert caregiver.language == "es"  # an unknown language changes nothing
    assert nurse_client.post(
        reverse("monitoring:home-language"), {"language": "es"}
    ).status_code in (
        403,
        404,
    )

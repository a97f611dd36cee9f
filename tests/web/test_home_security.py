"""A home session reaches only the home pages of its own course (issue 15 §4).

Every URL pattern of the URLconf — the app's, the Django admin's, the accounts' — is asked for
with a patient's or caregiver's session, GET and POST, with real objects in its arguments: only
the home pages answer; every other page is a 404, which says nothing about what exists. A home
user of one course reaches nothing of another course's, whatever id or token they send. A
revoked access or an ended course ends the session on its very next request.
"""

import pytest
from django.contrib import admin
from django.contrib.auth.hashers import is_password_usable
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import home, services
from monitoring.access import HomeBackend
from monitoring.models import HomeInvitation, User
from tests.factories import CourseFactory, UserFactory
from tests.home_helpers import home_client, make_home_user, text_of
from tests.routes import (
    HOME_PUBLIC_PAGES,
    HOME_SIGNED_IN_PAGES,
    monitoring_routes,
    route_sample,
    url_of,
)

HOME = reverse("monitoring:home-start")
LOGIN = reverse("monitoring:home-login")

# What a home session gets from the home pages (route name: (GET, POST)); every other page of
# the URLconf answers 404. The sign-in pages send someone signed in to their home page; the
# pages that take only a GET answer a POST with 405.
HOME_ANSWERS = {
    "home": ((302, HOME), (302, HOME)),  # the site's root sends them home
    "home-start": ((200, None), (405, None)),
    "home-checkin": ((200, None), (400, None)),  # an empty form: refused, nothing saved
    "home-checkin-done": ((302, HOME), (405, None)),  # nothing saved in this browser yet
    "home-login": ((302, HOME), (302, HOME)),
    "home-login-code": ((302, HOME), (302, HOME)),
    "home-join": ((302, HOME), (302, HOME)),
    "home-consent": ((302, HOME), (302, HOME)),
    "home-join-link": ((302, HOME), (405, None)),
    "home-ended": ((302, HOME), (405, None)),
    # Nothing chosen or drawn: the form again, saying what to do.
    "home-handwriting-new": ((200, None), (400, None)),
    # Nothing chosen: back home, saying so (only a POST changes the language).
    "home-language": ((405, None), (302, HOME)),
}
SIGN_OUT = {"home-logout"}  # walked on its own: it ends the session


@pytest.fixture
def caregiver(course, care_team_member):
    course.unit.contact_phone = "+44 20 7946 0999"
    course.unit.save()
    return make_home_user(course, care_team_member)


@pytest.fixture
def other_course(ward_b):
    """Course B, on another ward, with its own caregiver and an invitation waiting."""
    return CourseFactory(unit=ward_b, patient__given_name="Bea", patient__family_name="Bennet")


def admin_urls() -> list[str]:
    """The Django admin's index, and each registered model's list and add pages."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        meta = model._meta
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
    return urls


def answer(response) -> tuple[int, str | None]:
    return response.status_code, response.get("Location")


def walk(client, sample) -> dict:
    """Every route's (GET, POST) answers for this client, but for signing out."""
    answers = {}
    for route in monitoring_routes():
        if route.name in SIGN_OUT:
            continue
        url = url_of(route, sample)
        answers[route.name] = (answer(client.get(url)), answer(client.post(url)))
    for url in [*admin_urls(), reverse("login")]:
        answers[url] = (answer(client.get(url)), answer(client.post(url)))
    return answers


def assert_home_only(answers: dict) -> None:
    wrong = {
        name: got
        for name, got in answers.items()
        if got != HOME_ANSWERS.get(name, ((404, None), (404, None)))
    }
    assert wrong == {}


def test_every_url_answers_a_home_session_only_on_the_home_pages(
    caregiver, course, nurse, admin_user
):
    sample = route_sample(course, nurse)  # real objects of the caregiver's own course
    client = home_client(caregiver)

    answers = walk(client, sample)

    assert_home_only(answers)
    assert len(answers) > 60  # the walk found the URLconf and the admin
    assert client.get(HOME).status_code == 200  # still signed in after all that


@pytest.mark.parametrize("kind", ["patient", "caregiver"])
def test_a_home_user_of_course_a_reaches_nothing_of_course_b(
    kind, course, other_course, care_team_member, outsider
):
    """Course B's objects in every address: all 404; B's invitation link sends A home and
    stays unused; A's home page shows A's course, never B's."""
    person = make_home_user(course, care_team_member, kind=kind, name="Ann")
    make_home_user(other_course, care_team_member, kind="caregiver", name="Bob (son)")
    waiting = home.invite(
        course=other_course, kind="patient", display_name="Bea", by=care_team_member
    )
    sample = {**route_sample(other_course, outsider), "token": waiting.token}
    client = home_client(person)

    assert_home_only(walk(client, sample))

    page = text_of(client.get(HOME))
    assert "Ann" in page
    for of_b in ("Bea", "Bennet", "Bob", "Ward B", other_course.patient.mrn):
        assert of_b not in page
    assert HomeInvitation.objects.get(pk=waiting.invitation.pk).used_at is None
    typed = client.post(LOGIN, {"action": "code", "code-code": waiting.code})
    assert typed.url == HOME  # signed in already: the code is not even looked at
    assert HomeInvitation.objects.get(pk=waiting.invitation.pk).used_at is None


def test_signing_out_is_allowed_and_ends_the_session(caregiver):
    for name, view in (("monitoring:home-logout", None), ("logout", None)):
        client = home_client(caregiver)
        assert client.post(reverse(name)).status_code == 302, view
        assert client.get(HOME).url.startswith(LOGIN)


def test_a_revoked_access_ends_an_open_session_on_its_next_request(caregiver, care_team_member):
    client = home_client(caregiver)
    assert client.get(HOME).status_code == 200

    home.revoke_access(access=caregiver.home_access, reason="Family asked", by=care_team_member)
    response = client.get(HOME)

    assert response.status_code == 302
    assert response.url.startswith(LOGIN)
    assert client.get(HOME).status_code == 302  # and stays out


def test_an_access_revoked_but_its_account_still_active_is_ended_by_the_session_check(
    caregiver, care_team_member
):
    """Someone re-activated the account in the admin: the access is still revoked, and the
    middleware ends the session anyway."""
    client = home_client(caregiver)
    home.revoke_access(access=caregiver.home_access, reason="Family asked", by=care_team_member)
    User.objects.filter(pk=caregiver.pk).update(is_active=True)

    response = client.get(HOME)

    assert (response.status_code, response.url) == (302, reverse("monitoring:home-ended"))
    assert "_auth_user_id" not in client.session
    assert "Your access has ended" in text_of(client.get(response.url))


def test_the_end_of_monitoring_ends_the_session(caregiver, course, care_team_member):
    client = home_client(caregiver)
    services.end_monitoring(
        course=course,
        outcome="completed",
        ended_at=timezone.now(),
        reason="Monitoring window over",
        by=care_team_member,
    )

    response = client.get(HOME)

    assert response.url == reverse("monitoring:home-ended")
    assert client.get(HOME).url.startswith(LOGIN)
    code_refused = Client(REMOTE_ADDR="203.0.113.50")
    with pytest.raises(Exception, match="closed"):
        home.issue_login_code(access=caregiver.home_access, by=care_team_member)
    assert code_refused.get(HOME).status_code == 302


def test_staff_never_reach_the_home_page(care_client, nurse_client, admin_client_, caregiver):
    for client in (care_client, nurse_client, admin_client_):
        assert client.get(HOME).status_code == 403


def test_a_role_at_home_without_an_access_is_signed_out(client, db):
    """A patient account made by hand in the admin has no course: its session ends at once."""
    orphan = UserFactory(role=User.Role.PATIENT)
    client.force_login(orphan)

    response = client.get(HOME)

    assert response.url == reverse("monitoring:home-ended")
    assert "_auth_user_id" not in client.session


def test_the_home_backend_loads_no_member_of_staff(nurse, caregiver):
    backend = HomeBackend()

    assert backend.get_user(nurse.pk) is None
    assert backend.get_user(caregiver.pk) == caregiver
    assert backend.authenticate(None, username=caregiver.username, password="x") is None


def test_home_accounts_have_no_password_to_log_in_with(client, caregiver):
    response = client.post(
        reverse("login"), {"username": caregiver.username, "password": "anything"}
    )

    assert not is_password_usable(caregiver.password)
    assert response.status_code == 200  # the form again
    assert "_auth_user_id" not in client.session


def test_no_home_address_carries_an_id(db):
    """Only the invitation link carries something: its opaque token."""
    for route in monitoring_routes():
        if route.name.startswith("home"):
            assert set(route.pattern.converters) <= {"token"}, route.name
    assert {r.name for r in monitoring_routes() if r.name.startswith("home-")} == (
        HOME_PUBLIC_PAGES | HOME_SIGNED_IN_PAGES
    )


def test_the_home_session_lasts_longer_idle_than_a_staff_one(settings, db, course):
    care_team = UserFactory(role=User.Role.CARE_TEAM, units=[course.unit])
    person = make_home_user(course, care_team)
    new = home.issue_login_code(access=person.home_access, by=care_team)[0]
    client = Client(REMOTE_ADDR="203.0.113.60")

    client.post(LOGIN, {"action": "code", "code-code": new})

    assert client.session.get_expiry_age() == settings.HOME_SESSION_IDLE_HOURS * 3600 == 43200
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert int(cookie["max-age"]) == 43200
    assert settings.SESSION_COOKIE_AGE == 30 * 60  # staff: 30 minutes


def test_the_sign_in_forms_need_their_csrf_token(caregiver):
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR="203.0.113.61")

    response = client.post(LOGIN, {"action": "email", "email-email": "maria@example.org"})

    assert response.status_code == 403

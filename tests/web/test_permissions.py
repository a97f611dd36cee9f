"""Who may do what is decided in one place: the ``can_*`` properties of ``User``, by role alone.

The superuser flag opens the Django admin and nothing else: no clinical action, no unit. Every
page in the URLconf names the permission it needs (``access.requires``), and answers 403 exactly
when the user lacks it; the navigation shows only links the user can open.
"""

import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from monitoring.models import BedsideCheck, User
from tests.factories import CourseFactory, UserFactory
from tests.routes import HOME_PUBLIC_PAGES, PUBLIC_PAGES, monitoring_routes, route_sample, url_of

NURSE, CARE_TEAM, ADMIN = User.Role.NURSE, User.Role.CARE_TEAM, User.Role.ADMIN
CHARGE_NURSE, DISPLAY = User.Role.CHARGE_NURSE, User.Role.DISPLAY
PATIENT, CAREGIVER = User.Role.PATIENT, User.Role.CAREGIVER
# The roles whose pages are decided by these permissions alone. A patient or caregiver at home
# reaches only the home pages of their own course (404 elsewhere, before any permission is
# asked): tests/web/test_home_security.py walks the URLconf with a real home session.
STAFF_ROLES = [role for role in User.Role if role not in (PATIENT, CAREGIVER)]

# permission: the roles that have it (README "Who uses it").
PERMISSIONS = {
    "sees_all_units": {ADMIN},
    "can_view_patients": {NURSE, CHARGE_NURSE, CARE_TEAM, ADMIN},
    "can_record_checks": {NURSE, CHARGE_NURSE, CARE_TEAM},
    "can_correct_records": {NURSE, CHARGE_NURSE, CARE_TEAM},
    "can_act_on_flags": {CARE_TEAM},
    "can_confirm_grades": {CARE_TEAM},
    "can_change_course_protocol": {CARE_TEAM, ADMIN},
    "can_manage_courses": {CARE_TEAM, ADMIN},
    "can_export": {CARE_TEAM, ADMIN},
    "can_plan_doses": {CARE_TEAM},
    "can_record_doses": {NURSE, CHARGE_NURSE, CARE_TEAM},
    "can_override_dose_gates": {CARE_TEAM},
    "can_record_infection_care": {CARE_TEAM},
    "can_manage_protocols": {ADMIN},
    "can_view_audit_log": {ADMIN},
    "can_edit_rota": {CHARGE_NURSE, ADMIN},
    "can_view_quality": {CARE_TEAM, ADMIN},
    "can_receive_notifications": {NURSE, CHARGE_NURSE, CARE_TEAM, ADMIN},
    "can_view_program": {CHARGE_NURSE, CARE_TEAM, ADMIN},
    "can_manage_journey": {NURSE, CHARGE_NURSE, CARE_TEAM, ADMIN},
    "can_view_wall_display": {DISPLAY},
    "can_manage_home_access": {CHARGE_NURSE, CARE_TEAM},
    "can_view_remote_patients": {CHARGE_NURSE, CARE_TEAM},
    "can_use_home": {PATIENT, CAREGIVER},
}


def test_the_table_names_every_permission_a_user_has():
    """A new ``can_*`` property must be added to the table above, with its roles."""
    declared = {name for name in vars(User) if name.startswith("can_")} | {"sees_all_units"}

    assert declared == set(PERMISSIONS)


@pytest.mark.parametrize("superuser", [False, True], ids=["", "superuser"])
@pytest.mark.parametrize("role", list(User.Role))
@pytest.mark.parametrize("permission", list(PERMISSIONS))
def test_the_role_alone_decides_each_permission(permission, role, superuser):
    user = User(role=role, is_staff=superuser, is_superuser=superuser)

    assert getattr(user, permission) is (role in PERMISSIONS[permission])


# --- Every page of the URLconf ----------------------------------------------------------------


@pytest.fixture
def sample(course, nurse):
    return route_sample(course, nurse)


def test_every_page_names_the_permission_it_needs():
    unguarded = [
        r.name
        for r in monitoring_routes()
        if r.name not in PUBLIC_PAGES | HOME_PUBLIC_PAGES
        and not hasattr(r.callback, "required_permission")
    ]

    assert unguarded == []


@pytest.mark.parametrize("superuser", [False, True], ids=["", "superuser"])
@pytest.mark.parametrize("role", STAFF_ROLES)
def test_every_page_is_403_exactly_when_the_role_lacks_its_permission(
    client, sample, ward_a, role, superuser
):
    user = UserFactory(role=role, units=[ward_a], is_staff=superuser, is_superuser=superuser)
    client.force_login(user)

    for route in monitoring_routes():
        if route.name in PUBLIC_PAGES | HOME_PUBLIC_PAGES:
            continue
        # Any one of the permissions the page names opens it (home: patients or a display).
        allowed = any(role in PERMISSIONS[p] for p in route.callback.required_permissions)
        status = client.get(url_of(route, sample)).status_code
        # Allowed: the page (200), a redirect, or 405 where the page takes POST only.
        assert (status == 403) is (not allowed), (route.name, status)


# --- The navigation bar -----------------------------------------------------------------------


def nav_links(client) -> list[str]:
    """The navigation bar's links on the user's home page (the board, the worklist, or a wall
    screen's display)."""
    response = client.get(reverse("monitoring:home"), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    nav = page[page.index("<nav") : page.index("</nav>")]
    return re.findall(r'href="([^"#]+)"', nav)


# Everyone who receives notifications (every role but the wall display) has the bell and
# their profile.
OWN = {"/notifications/", "/profile/"}
NAV = {
    NURSE: {"/worklist/", "/flags/", "/handover/", "/rota/"} | OWN,
    CHARGE_NURSE: {"/worklist/", "/flags/", "/handover/", "/rota/", "/program/", "/remote/"} | OWN,
    CARE_TEAM: {
        "/worklist/",
        "/flags/",
        "/handover/",
        "/rota/",
        "/program/",
        "/remote/",
        "/quality/",
        "/exports/registry/",
    }
    | OWN,
    ADMIN: {
        "/worklist/",
        "/flags/",
        "/handover/",
        "/rota/",
        "/program/",
        "/quality/",
        "/exports/registry/",
        "/protocols/",
        "/audit/",
    }
    | OWN,
    # A shared wall screen: its display, nothing else.
    DISPLAY: {"/display/"},
}


@pytest.mark.parametrize("superuser", [False, True], ids=["", "superuser"])
@pytest.mark.parametrize("role", STAFF_ROLES)
def test_the_navigation_shows_only_links_the_user_can_open(client, ward_a, role, superuser):
    user = UserFactory(role=role, units=[ward_a], is_staff=superuser, is_superuser=superuser)
    client.force_login(user)

    links = nav_links(client)

    for link in links:
        assert client.get(link, follow=True).status_code == 200, link
    # The brand goes home; the Django admin only for staff (the superuser flag's one effect).
    expected = NAV[role] | {"/"} | ({"/admin/"} if superuser else set())
    assert set(links) == expected


# --- The superuser flag grants the Django admin only ------------------------------------------


@pytest.fixture
def root_nurse(ward_a):
    """IT gave a nurse the superuser flag to fix a user account: she is still a nurse."""
    return UserFactory(
        username="root-nurse", role=NURSE, units=[ward_a], is_staff=True, is_superuser=True
    )


def test_a_nurse_role_superuser_sees_no_protocols_link_and_gets_403_there(client, root_nurse):
    client.force_login(root_nurse)

    assert "/protocols/" not in nav_links(client)
    assert client.get(reverse("monitoring:admin-protocols")).status_code == 403
    assert client.get(reverse("monitoring:admin-audit-log")).status_code == 403
    assert client.get(reverse("admin:index")).status_code == 200  # what the flag is for


def test_a_superuser_with_no_units_sees_and_records_nothing_on_a_unit(client, course):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    url = reverse("monitoring:nurse-check", args=[course.patient.public_id])

    assert client.get(url).status_code == 404
    response = client.post(url, {"vitals-temperature": "39", "vitals-temperature_unit": "C"})
    assert response.status_code == 404
    assert not BedsideCheck.objects.exists()
    assert course.patient.mrn not in client.get(reverse("monitoring:nurse-worklist")).text


def test_an_admin_role_superuser_sees_every_unit_because_of_the_role(client, course):
    client.force_login(UserFactory(username="root", role=ADMIN, is_staff=True, is_superuser=True))

    assert course.patient.mrn in client.get(reverse("monitoring:nurse-worklist")).text


def test_createsuperuser_makes_an_admin(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-password-for-it")

    call_command("createsuperuser", interactive=False, username="it", email="it@example.org")

    user = User.objects.get(username="it")
    assert (user.role, user.is_superuser, user.is_staff) == (ADMIN, True, True)


def test_a_superuser_cannot_be_made_with_a_clinical_role(db):
    with pytest.raises(ValueError, match="admin role"):
        User.objects.create_superuser("it", "it@example.org", "pw", role=NURSE)
    assert not User.objects.exists()


def test_another_units_course_stays_hidden_from_a_superuser_nurse(client, root_nurse, ward_b):
    other = CourseFactory(unit=ward_b)
    client.force_login(root_nurse)

    assert (
        client.get(reverse("monitoring:patient-course", args=[other.patient.public_id])).status_code
        == 404
    )

"""Every page a browser can open, per role: the walk that the layout (and accessibility) browser
tests share.

``ward_world()`` fills one ward with patients that stretch a layout (a febrile, hypoxic patient
on vasopressors with treatments, flags, an overdue check and a handover note; long names), one
user per role, and one of each object a URL names (``tests.routes.route_sample``).
``every_page(user, sample)`` asks Django's test client for each GET page of the URLconf as that
user and keeps the full HTML pages that answer 200: the routes that only take a POST (405), the
role may not open (403), or that answer a fragment, a file or a redirect are left out, so the
list follows the URLconf and the roles' rights without a hand-kept list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import User
from tests.factories import ICE_10, ROOM_AIR, CourseFactory, UnitFactory, UserFactory
from tests.home_helpers import make_home_user
from tests.routes import HOME_PUBLIC_PAGES, PUBLIC_PAGES, monitoring_routes, route_sample, url_of

ROLES = (
    User.Role.NURSE,
    User.Role.CHARGE_NURSE,
    User.Role.CARE_TEAM,
    User.Role.ADMIN,
    User.Role.DISPLAY,
)
LONG_GIVEN = "Maximiliana-Theodora"
LONG_FAMILY = "Vandenberghe-Oosterhuizen"


@dataclass(frozen=True)
class Page:
    name: str  # the URL pattern's name ("nurse-worklist"), or "login"
    url: str  # path, without the server


@dataclass
class World:
    unit: object
    users: dict  # role -> User
    courses: list  # the ward's courses, the sickest first
    sample: dict  # route_sample's objects: a check, a flag, a shift, ...


def ward_world() -> World:
    """One ward, one user per role on it, and three patients who make tables wide."""
    unit = UnitFactory(name="Haematology Ward A", code="haem-a")
    users = {
        role: UserFactory(
            username=f"layout-{role}",
            first_name="Alexandra-Katharina",
            last_name="Papadopoulou-Oosterhuizen",
            role=role,
            is_staff=role == User.Role.ADMIN,
            units=[unit],
        )
        for role in ROLES
    }
    nurse = users[User.Role.NURSE]
    now = timezone.now()
    sick = CourseFactory(
        unit=unit, bed="12B", patient__given_name="Ada", patient__family_name="Lovelace"
    )
    services.record_check(
        course=sick,
        by=nurse,
        observed_at=now - timedelta(hours=2),
        vitals={
            **ROOM_AIR,
            "temp_c": 39.1,
            "heart_rate_bpm": 128,
            "resp_rate_per_min": 26,
            "sbp_mmhg": 84,
            "dbp_mmhg": 48,
            "spo2_pct": 91,
            "oxygen_support": "high_flow",
            "oxygen_flow_l_min": 40,
            "vasopressors_count": 1,
        },
        symptoms={"fever": True, "breathing_difficulty": True, "confusion": True},
        neuro={**ICE_10, "ice_orientation": 1},
        treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"},
    )
    services.record_check(
        course=sick,
        by=nurse,
        observed_at=now - timedelta(hours=1),
        treatment={"drug": "dexamethasone", "dose": 10, "dose_unit": "mg", "route": "iv"},
    )
    services.write_handover_note(
        course=sick, text="Recheck ICE hourly; the daughter is the contact person", by=nurse
    )
    # No check since the infusion four days ago: every check type is overdue.
    overdue = CourseFactory(
        unit=unit,
        bed="14",
        infused_at=now - timedelta(days=4),
        patient__given_name=LONG_GIVEN,
        patient__family_name=LONG_FAMILY,
    )
    calm = CourseFactory(unit=unit, bed="3", patient__family_name="Hopper")
    services.record_check(
        course=calm, by=nurse, observed_at=now - timedelta(minutes=30), vitals={**ROOM_AIR}
    )
    # The long-named patient is at home with a caregiver (the remote patients page lists them,
    # with a missed check-in once the worker sweeps).
    make_home_user(
        overdue,
        users[User.Role.CARE_TEAM],
        name="Maximiliana-Theodora's husband",
        now=now - timedelta(days=1),
    )
    # The sample's flag is a CRS flag: on the calm patient, who has none open yet.
    sample = route_sample(calm, nurse)
    return World(unit=unit, users=users, courses=[sick, overdue, calm], sample=sample)


def every_page(user, sample: dict) -> list[Page]:
    """The full HTML pages ``user`` can open (GET, 200), in URLconf order."""
    client = Client()
    client.force_login(user)
    pages = []
    for route in monitoring_routes():
        # The health check's JSON and the push worker's script; the home sign-in pages are
        # walked anonymously (public_pages), the home page with a home session (its own test).
        if route.name in PUBLIC_PAGES | HOME_PUBLIC_PAGES:
            continue
        url = url_of(route, sample)
        response = client.get(url)
        if response.status_code != 200 or not is_full_page(response):
            continue
        pages.append(Page(route.name, url))
    return pages


def public_pages() -> list[Page]:
    """Pages anyone can open without logging in."""
    return [
        Page("login", reverse("login")),
        Page("home-login", reverse("monitoring:home-login")),
        Page("home-join", reverse("monitoring:home-join")),
        Page("home-ended", reverse("monitoring:home-ended")),
    ]


def is_full_page(response) -> bool:
    """A whole HTML document: not an htmx fragment, a CSV, a FHIR bundle or a script."""
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    return response.content.lstrip()[:15].lower() == b"<!doctype html>"

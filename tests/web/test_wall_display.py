"""The wall display (issue 12 §5): a shared screen's own login (User.Role.DISPLAY), showing
its units' patients in the board's order — unit, bed, what is wrong, grades, how long it has
waited, overdue checks and the tier reached — and never a name, MRN or date of birth. Read-only;
it refreshes itself like the board; every other page is closed to it."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import Flag, User
from tests.factories import ROOM_AIR, CourseFactory, UserFactory, keep_flag_leads

DISPLAY = reverse("monitoring:wall-display")


@pytest.fixture
def screen(ward_a):
    user = UserFactory(username="ward-a-screen", role=User.Role.DISPLAY, units=[ward_a])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def sick(nurse, ward_a):
    """Bed 7: CRS grade 2 on oxygen, the charge nurse told; and a patient elsewhere."""
    course = CourseFactory(
        unit=ward_a,
        bed="7",
        patient__given_name="Grace",
        patient__family_name="Hopper",
        patient__mrn="MRN-SECRET-1",
    )
    services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=3),
        vitals={**ROOM_AIR, "temp_c": 38.6, "oxygen_support": "low_flow", "oxygen_flow_l_min": 3},
    )
    Flag.objects.filter(course=course, kind="crs").update(
        ladder_tier="charge_nurse", raised_at=timezone.now() - timedelta(minutes=42)
    )
    keep_flag_leads(course)
    return course


def test_the_display_shows_what_is_wrong_where_without_identifiers(screen, sick, ward_b):
    CourseFactory(unit=ward_b, bed="3", patient__family_name="Elsewhere")

    response = screen.get(DISPLAY)

    assert response.status_code == 200
    page = response.content.decode()
    rows = re.findall(r'<tr class="wall-row[^"]*">(.*?)</tr>', page, re.S)
    assert len(rows) == 1
    row = " ".join(rows[0].split())
    assert "Ward A · bed 7" in row
    assert "Urgent</span> CRS" in row
    assert "42 min" in row
    assert "Charge nurse" in row
    assert "CRS 2" in row
    assert "Vital signs" in row  # overdue: every 2 h with fever
    patient = sick.patient
    for identifier in (
        patient.given_name,
        patient.family_name,
        patient.mrn,
        "MRN",
        str(patient.public_id),
        str(patient.date_of_birth.year),  # born 1970: in no format of the date
    ):
        assert identifier not in page, identifier
    assert "Elsewhere" not in page
    assert "bed 3" not in page


def test_the_display_is_read_only(screen, sick):
    page = screen.get(DISPLAY).content.decode()
    main = page[page.index("<main") :]

    assert "<form" not in main.split("</main>")[0]
    assert "/patients/" not in main  # no link to a patient's page either
    flag = Flag.objects.get(course=sick, kind="crs")
    assert (
        screen.post(reverse("monitoring:care-flag-acknowledge", args=[flag.pk])).status_code == 403
    )


def test_a_bed_not_given_reads_as_a_dash(screen, ward_a):
    CourseFactory(unit=ward_a)  # never checked: overdue

    page = " ".join(screen.get(DISPLAY).content.decode().split())

    assert "Ward A · —" in page


def test_the_display_refreshes_itself(screen, sick):
    page = screen.get(DISPLAY).content.decode()
    refresh = screen.get(DISPLAY, headers={"HX-Request": "true", "X-Cartmonitor-Poll": "1"})

    assert 'hx-trigger="every 30s"' in page
    assert 'hx-get="/display/"' in page
    assert 'id="wall-display" class="live-region wall"' in page
    assert refresh.status_code == 200
    assert "<html" not in refresh.content.decode()
    assert "Ward A · bed 7" in refresh.content.decode()


def test_a_display_goes_home_to_its_display_and_nowhere_else(screen, sick):
    home = screen.get("/")

    assert home.status_code == 302
    assert home.url == DISPLAY
    for url in (
        "/flags/",
        "/worklist/",
        "/handover/",
        reverse("monitoring:patient-course", args=[sick.patient.public_id]),
    ):
        assert screen.get(url).status_code == 403, url


def test_people_do_not_open_the_display(care_client, nurse_client, admin_client_):
    for client in (care_client, nurse_client, admin_client_):
        assert client.get(DISPLAY).status_code == 403


def test_a_display_without_units_says_so(db):
    user = UserFactory(role=User.Role.DISPLAY)
    client = Client()
    client.force_login(user)

    assert "This display has no unit" in client.get(DISPLAY).content.decode()

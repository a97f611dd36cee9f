"""Issue 12 §2: an on-call rota per unit says who holds each tier of the escalation ladder now.
Everyone who sees patients reads it; charge nurses edit their own units' rota and admins every
unit's. A shift is added with checks that say what is wrong, and ended — never deleted."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring import escalation, services
from monitoring.models import AuditEvent, OnCallShift, User
from tests.factories import UnitFactory, UserFactory
from tests.web.test_security import csp_violations

ROTA = reverse("monitoring:rota")
ADD = reverse("monitoring:rota-add")
NOW = timezone.make_aware(timezone.datetime(2026, 3, 10, 9, 0))


def end_url(shift):
    return reverse("monitoring:rota-end", args=[shift.pk])


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def charge(ward_a):
    return UserFactory(
        username="cora", first_name="Cora", last_name="Charge", role=User.Role.CHARGE_NURSE,
        units=[ward_a],
    )  # fmt: skip


@pytest.fixture
def doctor(ward_a):
    return UserFactory(
        username="dan", first_name="Dan", last_name="Doctor", role=User.Role.CARE_TEAM,
        units=[ward_a],
    )  # fmt: skip


def shift(unit, tier, user, *, starts=-2, ends=10, by=None):
    """A shift from ``starts`` to ``ends`` hours from now (``ends=None``: open-ended)."""
    return OnCallShift.objects.create(
        unit=unit,
        tier=tier,
        user=user,
        starts_at=NOW + timedelta(hours=starts),
        ends_at=None if ends is None else NOW + timedelta(hours=ends),
        created_by=by,
    )


def tier_cell(page: str, unit, tier: str) -> str:
    start = page.index(f'id="rota-{unit.pk}-{tier}"')
    end = page.find('class="row g-2 py-2 border-top rota-tier"', start + 1)
    return page[start : end if end != -1 else page.index("</section>", start)]


def form(unit, tier, user, *, starts="2026-03-10T09:00", ends="2026-03-10T20:00", **extra):
    return {"unit": unit.pk, "tier": tier, "user": user.pk, "starts_at": starts, "ends_at": ends}


# --- Reading it -------------------------------------------------------------------------------


def test_the_rota_says_who_is_on_call_now_until_when_and_who_comes_next(
    nurse_client, ward_a, charge, doctor, nurse
):
    shift(ward_a, "charge_nurse", charge, ends=None)
    shift(ward_a, "attending", doctor, ends=11)  # until 20:00
    shift(ward_a, "bedside_nurse", nurse, starts=-10, ends=-1)  # ended: not shown
    shift(ward_a, "app_fellow", doctor, starts=3, ends=9)  # 12:00 to 18:00: next
    shift(ward_a, "app_fellow", charge, starts=30, ends=40)  # beyond 24 h: not shown

    page = nurse_client.get(ROTA).content.decode()

    attending = tier_cell(page, ward_a, "attending")
    assert "Dan Doctor" in attending
    assert "until Tue 10 Mar 20:00" in attending
    assert "Nobody on call" not in attending
    assert "Cora Charge" in tier_cell(page, ward_a, "charge_nurse")
    assert "until ended" in tier_cell(page, ward_a, "charge_nurse")
    bedside = tier_cell(page, ward_a, "bedside_nurse")
    assert "Nobody on call</strong> — flags skip this tier" in bedside
    fellow = tier_cell(page, ward_a, "app_fellow")
    assert "Nobody on call" in fellow  # not yet
    assert "Next: Dan Doctor, Tue 12:00–Tue 18:00" in fellow
    assert "Cora Charge" not in fellow


def test_several_people_may_hold_one_tier_and_an_inactive_account_is_no_cover(
    nurse_client, ward_a, charge, doctor
):
    shift(ward_a, "attending", doctor)
    shift(ward_a, "attending", charge)
    gone = UserFactory(username="gone", units=[ward_a], is_active=False)
    shift(ward_a, "bedside_nurse", gone)

    page = nurse_client.get(ROTA).content.decode()

    attending = tier_cell(page, ward_a, "attending")
    assert "Dan Doctor" in attending
    assert "Cora Charge" in attending
    bedside = tier_cell(page, ward_a, "bedside_nurse")
    assert "account inactive — not told" in bedside
    assert "Nobody on call" in bedside


def test_a_nurse_reads_the_rota_of_her_units_only_and_cannot_edit_it(
    nurse_client, ward_a, ward_b, doctor
):
    other = UserFactory(username="olga", first_name="Olga", units=[ward_b])
    shift(ward_b, "attending", other)
    own = shift(ward_a, "attending", doctor)

    page = nurse_client.get(ROTA).content.decode()

    assert "Ward A" in page
    assert "Ward B" not in page
    assert "Olga" not in page
    assert "Put someone on call" not in page
    assert "End now" not in page
    assert nurse_client.post(ADD, form(ward_a, "attending", doctor)).status_code == 403
    assert nurse_client.post(end_url(own)).status_code == 403
    own.refresh_from_db()
    assert own.ends_at == NOW + timedelta(hours=10)


def test_the_care_team_reads_but_cannot_edit_the_rota(care_client, ward_a, doctor):
    assert care_client.get(ROTA).status_code == 200
    assert care_client.post(ADD, form(ward_a, "attending", doctor)).status_code == 403
    assert not OnCallShift.objects.exists()


def test_a_wall_display_cannot_open_the_rota(ward_a):
    screen = UserFactory(username="screen", role=User.Role.DISPLAY, units=[ward_a])

    assert client_for(screen).get(ROTA).status_code == 403


def test_the_rota_page_costs_the_same_queries_for_3_or_20_shifts(
    django_assert_max_num_queries, ward_a, ward_b, charge
):
    admin = UserFactory(username="adm", role=User.Role.ADMIN)
    client = client_for(admin)
    people = [UserFactory(units=[ward_a, ward_b]) for _ in range(10)]
    for person in people[:3]:
        shift(ward_a, "attending", person)
    with django_assert_max_num_queries(10) as few:  # 9, and the bell's unread count
        client.get(ROTA)
    for person in people:
        shift(ward_b, "app_fellow", person)
        shift(ward_b, "bedside_nurse", person, starts=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(ROTA).content.decode()
    assert page.count('btn btn-sm btn-outline-danger" type="submit"') == 13  # End now


# --- Adding a shift ---------------------------------------------------------------------------


def test_a_charge_nurse_puts_a_doctor_on_call_and_the_ladder_finds_him(ward_a, charge, doctor):
    response = client_for(charge).post(ADD, form(ward_a, "attending", doctor), follow=True)

    assert response.status_code == 200
    new = OnCallShift.objects.get()
    assert (new.unit, new.tier, new.user, new.created_by) == (ward_a, "attending", doctor, charge)
    assert new.starts_at == NOW
    assert new.ends_at == NOW + timedelta(hours=11)
    event = AuditEvent.objects.get(action=AuditEvent.Action.ROTA_CHANGED)
    assert event.user == charge
    assert event.summary == (
        "Ward A: Dan Doctor on call as Attending physician from Tue 10 Mar 09:00 to "
        "Tue 10 Mar 20:00"
    )
    assert "Dan Doctor on call as Attending physician" in response.content.decode()
    # The escalation ladder reads the same rota.
    assert escalation.holders(ward_a, "attending", NOW + timedelta(hours=1)) == [doctor]
    assert escalation.holders(ward_a, "attending", NOW + timedelta(hours=12)) == []


def test_a_shift_without_an_end_is_open_ended(ward_a, charge, doctor):
    client_for(charge).post(ADD, form(ward_a, "app_fellow", doctor, ends=""))

    assert OnCallShift.objects.get().ends_at is None
    assert AuditEvent.objects.get().summary.endswith("from Tue 10 Mar 09:00 until ended")


def test_an_admin_edits_every_units_rota(admin_client_, ward_b):
    person = UserFactory(username="bea", units=[ward_b])

    admin_client_.post(ADD, form(ward_b, "bedside_nurse", person))

    assert OnCallShift.objects.get().unit == ward_b


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_at": "2026-03-10T08:00"}, "The shift must end after it starts"),
        ({"ends_at": "2026-03-10T09:00"}, "The shift must end after it starts"),
        ({"ends_at": "2026-03-17T09:01"}, "A shift lasts at most 7 days: end it by"),
        ({"starts_at": "2026-04-09T09:01", "ends_at": ""}, "at most 30 days ahead: between"),
        ({"starts_at": "2026-03-10T07:59"}, "A shift starts at most an hour ago"),
        ({"starts_at": "2026-03-10T08:00", "ends_at": "2026-03-10T08:30"}, "end in the future"),
        ({"starts_at": "tomorrow"}, "Enter a valid date/time."),
        ({"starts_at": "9999-12-31T23:59"}, "A shift starts at most an hour ago"),
        ({"starts_at": ""}, "This field is required."),
        ({"tier": "janitor"}, "Select a valid choice. janitor is not one of the"),
        ({"user": "stranger"}, "Select a valid choice."),  # not on the charge nurse's units
        ({"user": "inactive"}, "Select a valid choice."),
        ({"unit": "ward_b"}, "Select a valid choice."),
        ({"user": "both_units"}, "is not a member of Ward A: only its staff can be on call."),
    ],
)
def test_a_bad_shift_is_refused_with_a_message_and_the_values_are_kept(
    ward_a, ward_b, charge, doctor, changes, message
):
    people = {
        "stranger": UserFactory(username="stranger", units=[UnitFactory(name="Ward C")]),
        "inactive": UserFactory(username="inactive", units=[ward_a], is_active=False),
        "both_units": UserFactory(username="bo", first_name="Bo", last_name="B", units=[ward_b]),
    }
    charge.units.add(ward_b)  # edits both units: a ward B nurse is offered, but not for ward A
    if changes.get("unit") == "ward_b":
        charge.units.remove(ward_b)
    data = form(ward_a, "attending", doctor)
    for name, value in changes.items():
        data[name] = {"ward_b": ward_b.pk, **{k: v.pk for k, v in people.items()}}.get(value, value)

    response = client_for(charge).post(ADD, data)

    page = response.content.decode()
    assert response.status_code == 400
    assert "Nobody was put on call." in page
    assert message in page
    for name in ("starts_at", "ends_at"):
        if data[name]:
            assert f'value="{data[name]}"' in page  # what was typed is kept
    assert not OnCallShift.objects.exists()
    assert not AuditEvent.objects.exists()


def test_the_same_person_twice_on_one_tier_at_once_is_refused(ward_a, charge, doctor):
    shift(ward_a, "attending", doctor, starts=5, ends=None)

    response = client_for(charge).post(ADD, form(ward_a, "attending", doctor))

    assert response.status_code == 400
    assert (
        "Dan Doctor is already on call as Attending physician on Ward A from Tue 10 Mar 14:00 "
        "until ended."
    ) in response.content.decode()
    assert OnCallShift.objects.count() == 1


def test_a_wall_display_login_cannot_be_put_on_call(ward_a, charge):
    screen = UserFactory(username="screen", role=User.Role.DISPLAY, units=[ward_a])

    with pytest.raises(ValidationError) as refused:
        services.add_on_call_shift(unit=ward_a, tier="attending", user=screen, by=charge)

    assert "wall-display login" in refused.value.message_dict["user"][0]
    page = client_for(charge).get(ROTA).content.decode()
    assert f'value="{screen.pk}"' not in page  # nor offered


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"unit": "ward_b"}, "unit", "You can edit the rota of your own units only."),
        ({"tier": "chief"}, "tier", "Choose a tier of the escalation ladder."),
        ({"user": "outsider"}, "user", "is not a member of Ward A"),
        ({"ends_at": 8 * 24}, "ends_at", "A shift lasts at most 7 days"),
        ({"ends_at": -1}, "ends_at", "The shift must end after it starts"),
        ({"starts_at": 31 * 24}, "starts_at", "at most 30 days ahead"),
        ({"starts_at": -2}, "starts_at", "at most an hour ago"),
        ({"starts_at": "naive"}, "starts_at", "Give the date and time the shift starts."),
    ],
)
def test_the_service_refuses_the_same_when_called_directly(
    ward_a, ward_b, charge, doctor, outsider, kwargs, field, message
):
    values = {
        "unit": ward_a,
        "tier": "attending",
        "user": doctor,
        "starts_at": NOW,
        "ends_at": None,
    }
    for name, value in kwargs.items():
        if value == "ward_b":
            value = ward_b
        elif value == "outsider":
            value = outsider
        elif value == "naive":
            value = timezone.make_naive(NOW)
        elif isinstance(value, int):
            value = NOW + timedelta(hours=value)
        values[name] = value
    if field == "unit":
        values["user"] = outsider

    with pytest.raises(ValidationError) as refused:
        services.add_on_call_shift(**values, by=charge)

    assert message in " ".join(refused.value.message_dict[field])
    assert not OnCallShift.objects.exists()


# --- Ending a shift ---------------------------------------------------------------------------


def test_ending_a_shift_now_keeps_it_on_record(ward_a, charge, doctor):
    held = shift(ward_a, "attending", doctor, ends=11)

    response = client_for(charge).post(end_url(held), follow=True)

    held.refresh_from_db()
    assert held.ends_at == NOW  # ended, not deleted
    assert list(OnCallShift.objects.at(NOW)) == []
    event = AuditEvent.objects.get(action=AuditEvent.Action.ROTA_CHANGED)
    assert event.summary == (
        "Ward A: Dan Doctor's shift as Attending physician (from Tue 10 Mar 07:00, planned to "
        "Tue 10 Mar 20:00) ended early by Cora Charge"
    )
    assert event.details["planned_end"] == (NOW + timedelta(hours=11)).isoformat()
    assert "Nobody on call" in tier_cell(response.content.decode(), ward_a, "attending")


def test_a_shift_cannot_be_ended_twice_or_before_it_starts(ward_a, charge, doctor):
    ended = shift(ward_a, "attending", doctor, starts=-5, ends=-1)
    coming = shift(ward_a, "app_fellow", doctor, starts=2, ends=8)
    client = client_for(charge)

    first = client.post(end_url(ended), follow=True).content.decode()
    second = client.post(end_url(coming), follow=True).content.decode()

    assert "This shift has already ended (Tue 10 Mar 08:00)." in first
    assert "This shift has not started yet (Tue 10 Mar 11:00)" in second
    coming.refresh_from_db()
    assert coming.ends_at == NOW + timedelta(hours=8)
    assert not AuditEvent.objects.exists()


def test_another_units_shift_is_a_404_for_a_charge_nurse(ward_a, ward_b, charge):
    other = shift(ward_b, "attending", UserFactory(units=[ward_b]))
    client = client_for(charge)

    assert client.post(end_url(other)).status_code == 404
    assert client.post(reverse("monitoring:rota-end", args=[999999])).status_code == 404
    other.refresh_from_db()
    assert other.ends_at == NOW + timedelta(hours=10)


def test_the_service_refuses_to_end_another_units_shift(ward_b, charge):
    other = shift(ward_b, "attending", UserFactory(units=[ward_b]))

    with pytest.raises(ValidationError, match="own units only"):
        services.end_on_call_shift(shift=other, by=charge)


def test_the_page_fits_a_tablet_list_many_units_for_an_admin(admin_client_):
    for n in range(3):
        UnitFactory(name=f"Unit {n}", code=f"u{n}")

    page = admin_client_.get(ROTA).content.decode()

    assert len(re.findall(r'<section class="card', page)) == 4  # three units and the form
    assert 'name="unit"' in page


# --- The Django admin: read-only --------------------------------------------------------------


@pytest.fixture
def it_client(db):
    return client_for(
        UserFactory(username="it", role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    )


def test_the_django_admin_shows_the_rota_read_only(it_client, ward_a, doctor):
    held = shift(ward_a, "attending", doctor)
    base = "/admin/monitoring/oncallshift/"

    listing = it_client.get(base)
    assert listing.status_code == 200
    assert "Dan Doctor" in listing.content.decode()
    assert it_client.get(f"{base}add/").status_code == 403
    it_client.post(f"{base}{held.pk}/change/", {"ends_at_0": "2026-03-10", "ends_at_1": "09:30"})
    assert it_client.get(f"{base}{held.pk}/delete/").status_code == 403
    held.refresh_from_db()
    assert held.ends_at == NOW + timedelta(hours=10)


def test_the_rota_page_needs_no_inline_script_or_style(ward_a, charge, doctor):
    shift(ward_a, "attending", doctor)
    client = client_for(charge)

    assert csp_violations(client.get(ROTA).content.decode()) == []
    assert csp_violations(client.post(ADD, {"unit": ward_a.pk}).content.decode()) == []

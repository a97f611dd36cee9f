"""The same tocilizumab safety checks at every door (issue 10 §7.1; clinical reference §7.1:
8 mg/kg, at most 800 mg a dose, 3 doses in 24 h, 4 in total, repeated every 8 h).

A dose recorded with a bedside check, on the treatments page, or corrected by an amendment is
held by the service (``services.DoseWarningsPending``) until the clinician has seen each warning
and chosen to give it anyway; nothing is saved before, and the decision is audited."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import AuditEvent, BedsideCheck, RecordStatus, Treatment
from tests.factories import full_check, local_input

TOCI = {"drug": "tocilizumab", "dose": Decimal("560"), "dose_unit": "mg", "route": "iv"}


def give(course, by, hours_ago, **values):
    return services.record_check(
        course=course,
        by=by,
        observed_at=timezone.now() - timedelta(hours=hours_ago),
        treatment={**TOCI, **values},
    )


def dose_of(check) -> Treatment:
    return check.treatment_set.get()


def toci_doses(course) -> list[Decimal]:
    return list(
        Treatment.objects.current()
        .filter(check_entry__course=course, drug="tocilizumab")
        .order_by("check_entry__observed_at")
        .values_list("dose", flat=True)
    )


@pytest.fixture
def course_80kg(course):
    """80 kg: the usual dose is 640 mg (8 mg/kg, reference §7.1)."""
    course.patient.weight_kg = Decimal("80")
    course.patient.save()
    return course


def overrides():
    return AuditEvent.objects.filter(summary__contains="despite dose warnings")


# --- The three doors, one set of checks ---------------------------------------------------------


def _through_check(course, by, at, values, accepted=()):
    services.record_check(
        course=course, by=by, observed_at=at, treatment=values, accepted_warnings=accepted
    )


def _through_treatments_page(course, by, at, values, accepted=()):
    services.record_treatment(
        course=course, by=by, observed_at=at, treatment=values, accepted_warnings=accepted
    )


def _through_amendment(course, by, at, values, accepted=()):
    """The dose was first charted as dexamethasone at ``at``, then corrected to ``values``."""
    check = services.record_check(
        course=course,
        by=by,
        observed_at=at,
        treatment={"drug": "dexamethasone", "dose": 10, "dose_unit": "mg", "route": "iv"},
    )
    services.amend_record(
        record=dose_of(check),
        values=values,
        reason="charted the wrong drug",
        by=by,
        accepted_warnings=accepted,
    )


DOORS = [_through_check, _through_treatments_page, _through_amendment]


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(
    ("earlier_hours_ago", "dose", "codes"),
    [
        # §7.1 "maximum 3 doses in 24 h" (and "every 8 h": the third was 4 h ago)
        ((20, 12, 4), "560", ["per_24h", "interval"]),
        # §7.1 "maximum total 4 doses"
        ((70, 60, 50, 40), "560", ["total"]),
        # §7.1 "not to exceed 800 mg per dose": 6400 typed for 640
        ((), "6400", ["max_dose"]),
        # §7.1 8 mg/kg: 70 kg → 560 mg usual; 700 mg is more than 10 % above it
        ((), "700", ["above_usual"]),
        # §7.1 "repeat every 8 h": a dose 2 h after the last
        ((2,), "560", ["interval"]),
    ],
)
def test_every_door_holds_a_dose_beyond_the_limits_until_the_clinician_decides(
    door, course, nurse, earlier_hours_ago, dose, codes
):
    for hours_ago in earlier_hours_ago:
        give(course, nurse, hours_ago)
    at = timezone.now() - timedelta(minutes=5)
    values = {**TOCI, "dose": Decimal(dose)}

    with pytest.raises(services.DoseWarningsPending) as held:
        door(course, nurse, at, values)

    assert [w.code for w in held.value.warnings] == codes
    assert len(toci_doses(course)) == len(earlier_hours_ago)  # nothing saved
    assert not overrides().exists()

    door(course, nurse, at, values, accepted=[w.message for w in held.value.warnings])

    assert toci_doses(course)[-1] == Decimal(dose)
    (override,) = overrides()
    assert override.user == nurse
    assert override.details["warnings"] == codes


@pytest.mark.parametrize("door", DOORS)
def test_a_usual_dose_within_the_limits_is_saved_at_once(door, course, nurse):
    give(course, nurse, 20)

    door(course, nurse, timezone.now() - timedelta(minutes=5), dict(TOCI))

    assert toci_doses(course) == [Decimal("560"), Decimal("560")]
    assert not overrides().exists()


def test_a_warning_that_changed_since_it_was_shown_holds_the_dose_again(
    course, nurse, care_team_member
):
    for hours_ago in (20, 12):
        give(course, nurse, hours_ago)
    at = timezone.now() - timedelta(minutes=5)
    with pytest.raises(services.DoseWarningsPending) as first:
        services.record_check(
            course=course, by=nurse, observed_at=at, treatment={**TOCI, "dose": 1000}
        )
    seen = [w.message for w in first.value.warnings]  # above 800 mg only
    give(course, care_team_member, 4)  # meanwhile a colleague records a third dose

    with pytest.raises(services.DoseWarningsPending) as second:
        services.record_check(
            course=course,
            by=nurse,
            observed_at=at,
            treatment={**TOCI, "dose": 1000},
            accepted_warnings=seen,
        )

    assert {w.code for w in second.value.warnings} == {"max_dose", "per_24h", "interval"}
    assert len(toci_doses(course)) == 3


# --- Corrections --------------------------------------------------------------------------------


def test_a_correction_from_640_to_6400_mg_is_held_and_nothing_changes(course_80kg, nurse):
    course = course_80kg
    record = dose_of(give(course, nurse, 3, dose=640))

    with pytest.raises(services.DoseWarningsPending) as held:
        services.amend_record(record=record, values={"dose": 6400}, reason="typo", by=nurse)

    assert [w.code for w in held.value.warnings] == ["max_dose"]
    record.refresh_from_db()
    assert record.status == RecordStatus.CURRENT
    assert toci_doses(course) == [Decimal("640")]

    amendment = services.amend_record(
        record=record,
        values={"dose": 6400},
        reason="typo",
        by=nurse,
        accepted_warnings=[w.message for w in held.value.warnings],
    )

    assert amendment.dose == 6400
    (override,) = overrides()
    assert override.summary.startswith("Corrected despite dose warnings (clinician's decision)")
    assert override.details["record"] == record.pk


def test_the_corrected_dose_is_not_counted_twice(course, nurse):
    """Correcting the third dose of 24 h is not a fourth dose."""
    give(course, nurse, 20)
    give(course, nurse, 12)
    third = dose_of(give(course, nurse, 3, dose=500))

    amendment = services.amend_record(
        record=third, values={"dose": 560}, reason="was 560 mg", by=nurse
    )

    assert amendment.dose == 560
    assert toci_doses(course) == [Decimal("560")] * 3


def test_correcting_only_the_route_of_a_dose_given_by_decision_asks_nothing_again(course, nurse):
    for hours_ago in (22, 14, 6):
        give(course, nurse, hours_ago)
    at = timezone.now() - timedelta(hours=3)
    with pytest.raises(services.DoseWarningsPending) as held:
        services.record_check(course=course, by=nurse, observed_at=at, treatment=dict(TOCI))
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=at,
        treatment=dict(TOCI),
        accepted_warnings=[w.message for w in held.value.warnings],
    )

    services.amend_record(
        record=dose_of(check), values={"route": "sc"}, reason="given SC", by=nurse
    )

    assert Treatment.objects.current().get(check_entry=check).route == "sc"


def test_a_service_caller_with_an_impossible_dose_gets_a_message_not_a_crash(course, nurse):
    with pytest.raises(ValidationError):
        give(course, nurse, 1, dose=0)
    assert not BedsideCheck.objects.exists()


# --- Through the pages --------------------------------------------------------------------------


def check_url(course):
    return reverse("monitoring:nurse-check", args=[course.patient.public_id])


def test_the_nurse_check_page_shows_the_warnings_keeps_every_value_and_saves_on_decision(
    nurse_client, nurse, course
):
    data = full_check(**{"treatment-drug": "tocilizumab", "treatment-dose": "6400"})
    data["treatment-route"] = "iv"

    first = nurse_client.post(check_url(course), data)

    assert first.status_code == 200
    page = first.content.decode()
    assert "6400 mg is above the maximum of 800 mg per dose" in page
    assert "Give anyway — clinician&#x27;s decision" in page
    box = page[page.index('name="give_anyway"') :]
    assert "checked" not in box[: box.index(">")]  # a fresh decision each time
    assert 'name="vitals-temperature" value="38.6"' in page  # every typed value kept
    assert 'name="labs-crp_mg_l" value="85"' in page
    assert not BedsideCheck.objects.exists()
    shown = [w.message for w in first.context["pending"]]

    # Saving again without ticking the box saves nothing either.
    again = nurse_client.post(check_url(course), {**data, "shown_warnings": shown})
    assert again.status_code == 200
    assert not BedsideCheck.objects.exists()

    saved = nurse_client.post(
        check_url(course), {**data, "shown_warnings": shown, "give_anyway": "on"}
    )

    assert saved.status_code == 302
    assert toci_doses(course) == [Decimal("6400")]
    (override,) = overrides()
    assert override.user == nurse


def test_a_late_check_page_dose_is_counted_against_the_doses_around_it(nurse_client, nurse, course):
    for hours_ago in (16, 4):
        give(course, nurse, hours_ago)
    data = {
        "observed_at": local_input(timezone.now() - timedelta(hours=10)),  # typed in late
        # what the browser posts for the untouched vital-signs section
        "vitals-temperature_unit": "C",
        "vitals-oxygen_support": "room_air",
        "vitals-vasopressors_count": "0",
        "treatment-drug": "tocilizumab",
        "treatment-dose": "560",
        "treatment-dose_unit": "mg",
        "treatment-route": "iv",
    }

    response = nurse_client.post(check_url(course), data)

    assert response.status_code == 200, response.context["page"].summary()
    assert "Another dose is recorded 6.0 h from this one" in response.content.decode()
    assert len(toci_doses(course)) == 2


def test_the_same_dose_typed_twice_is_said_to_be_at_the_same_time(nurse_client, nurse, course):
    give(course, nurse, 0)
    data = {
        "observed_at": local_input(timezone.now()),  # a second nurse records the same dose
        "vitals-temperature_unit": "C",
        "vitals-oxygen_support": "room_air",
        "vitals-vasopressors_count": "0",
        "treatment-drug": "tocilizumab",
        "treatment-dose": "560",
        "treatment-dose_unit": "mg",
        "treatment-route": "iv",
    }

    response = nurse_client.post(check_url(course), data)

    page = response.content.decode()
    assert response.status_code == 200, response.context["page"].summary()
    assert "Another dose is recorded at the same time as this one" in page
    assert "0.0 h" not in page
    assert len(toci_doses(course)) == 1  # held until someone decides


def test_the_amendment_page_holds_640_to_6400_and_keeps_what_was_typed(
    care_client, nurse, course_80kg
):
    course = course_80kg
    record = dose_of(give(course, nurse, 3, dose=640))
    amend = reverse("monitoring:record-amend", args=["treatment", record.pk])
    data = {
        "treatment-drug": "tocilizumab",
        "treatment-dose": "6400",
        "treatment-dose_unit": "mg",
        "treatment-route": "iv",
        "reason": "pharmacy says 6400",
    }

    first = care_client.post(amend, data)

    assert first.status_code == 200
    page = first.content.decode()
    assert "Check this tocilizumab dose before the correction is saved" in page
    assert "6400 mg is above the maximum of 800 mg per dose" in page
    assert "pharmacy says 6400" in page
    assert 'name="treatment-dose" value="6400"' in page
    record.refresh_from_db()
    assert record.is_current

    shown = [w.message for w in first.context["pending"]]
    saved = care_client.post(amend, {**data, "shown_warnings": shown, "give_anyway": "on"})

    assert saved.status_code == 302
    assert toci_doses(course) == [Decimal("6400")]
    assert overrides().get().summary.startswith("Corrected despite dose warnings")

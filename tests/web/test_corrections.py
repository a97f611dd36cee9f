"""Corrections never edit in place: an amendment supersedes a record, entered-in-error strikes
it; both keep the original with who, when and why, and the grade follows. Nothing clinical can
be deleted — not through our pages, not through the Django admin, not by an admin."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone

from monitoring import services
from monitoring.models import (
    AuditEvent,
    BedsideCheck,
    CheckNotDone,
    CheckSchedule,
    Flag,
    FlagAcknowledgement,
    GradeConfirmation,
    GradeSnapshot,
    LabResult,
    NeuroAssessment,
    Patient,
    Protocol,
    ProtocolVersion,
    RecordStatus,
    SymptomCheck,
    Treatment,
    TreatmentCourse,
    User,
    VitalSigns,
)
from tests.factories import ROOM_AIR, CourseFactory, UserFactory

FEVER_ON_NASAL_CANNULA = {
    **ROOM_AIR,
    "temp_c": Decimal("38.6"),
    "heart_rate_bpm": 104,
    "oxygen_support": "low_flow",
    "oxygen_flow_l_min": Decimal("4"),
}
ICE_9 = {
    "ice_orientation": 3,
    "ice_naming": 3,
    "ice_commands": 1,
    "ice_writing": 1,
    "ice_attention": 1,
    "consciousness": "alert",
}


def url(action, kind, record):
    return reverse(f"monitoring:record-{action}", args=[kind, record.pk])


def course_url(course):
    return reverse("monitoring:patient-course", args=[course.patient.public_id])


def vitals_post(record, **changes) -> dict:
    """The amend page's form as the nurse submits it: prefilled values plus her changes."""
    values = {
        "temperature": record.temp_c,
        "heart_rate_bpm": record.heart_rate_bpm,
        "resp_rate_per_min": record.resp_rate_per_min,
        "sbp_mmhg": record.sbp_mmhg,
        "dbp_mmhg": record.dbp_mmhg,
        "spo2_pct": record.spo2_pct,
        "oxygen_support": record.oxygen_support,
        "oxygen_flow_l_min": record.oxygen_flow_l_min,
        "vasopressors_count": record.vasopressors_count,
        **({"vasopressin": "on"} if record.vasopressin else {}),
        **changes,
    }
    reason = values.pop("reason", "")
    data = {f"vitals-{name}": "" if value is None else str(value) for name, value in values.items()}
    return {**data, "reason": reason}


@pytest.fixture
def febrile_check(course, nurse):
    """Fever 38.6 °C on 4 L/min nasal cannula an hour ago: CRS grade 2."""
    return services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now() - timedelta(hours=1),
        vitals=FEVER_ON_NASAL_CANNULA,
    )


@pytest.fixture
def fever(febrile_check):
    return febrile_check.vitalsigns_set.get()


def day_of(client, check) -> str:
    """The course page's day of the check, opened: where its records and their corrections
    are listed (the course page itself lists days, not checks)."""
    course = check.course
    day = reverse(
        "monitoring:course-day",
        args=[course.patient.public_id, course.day_number(check.observed_at)],
    )
    response = client.get(day, headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def snapshot_of(check) -> GradeSnapshot:
    return GradeSnapshot.objects.get(check_entry=check)


# --- Amendments ----------------------------------------------------------------------------------


def test_the_amend_form_is_prefilled_with_the_record_in_celsius(nurse_client, fever):
    response = nurse_client.get(url("amend", "vitals", fever))

    form = response.context["form"]
    assert response.status_code == 200
    assert form["temperature"].value() == Decimal("38.6")
    assert form["oxygen_flow_l_min"].value() == Decimal("4.0")
    assert "temperature_unit" not in form.fields  # corrected in the unit it was stored in
    assert "Temperature (°C)" in response.content.decode()


def test_amending_a_fever_to_37_2_regrades_and_keeps_both_values(
    nurse_client, nurse, course, febrile_check, fever
):
    assert snapshot_of(febrile_check).crs_grade == 2

    response = nurse_client.post(
        url("amend", "vitals", fever),
        vitals_post(fever, temperature="37.2", reason="Typed 38.6 for 37.2 (tympanic 37.2)"),
    )

    assert response.status_code == 302
    assert response.url == course_url(course)
    fever.refresh_from_db()
    assert fever.status == RecordStatus.AMENDED
    assert fever.temp_c == Decimal("38.6")  # never edited in place
    assert (fever.status_changed_by, fever.status_reason) == (
        nurse,
        "Typed 38.6 for 37.2 (tympanic 37.2)",
    )
    correction = VitalSigns.objects.get(amends=fever)
    assert correction.temp_c == Decimal("37.2")
    assert correction.oxygen_flow_l_min == Decimal("4.0")  # untouched values carried over
    assert correction.recorded_by == nurse
    # ASTCT needs a fever for CRS: without it the moment is no longer CRS grade 2.
    assert snapshot_of(febrile_check).crs_grade == 0
    course.status_row.refresh_from_db()
    assert course.status_row.crs_grade == 0

    page = day_of(nurse_client, febrile_check)
    assert "T 38.6 °C" in page
    assert "T 37.2 °C" in page
    assert 'class="struck"' in page
    assert "Amended by Test " in page
    assert "Typed 38.6 for 37.2 (tympanic 37.2)" in page
    result = nurse_client.get(
        reverse(
            "monitoring:nurse-check-result",
            args=[course.patient.public_id, febrile_check.public_id],
        )
    ).content.decode()
    assert "T 38.6 °C" in result
    assert "T 37.2 °C" in result
    assert "CRS 0" in result


def test_only_the_changed_values_are_amended_and_audited(nurse_client, nurse, fever):
    nurse_client.post(
        url("amend", "vitals", fever), vitals_post(fever, heart_rate_bpm=96, reason="HR was 96")
    )

    event = AuditEvent.objects.get(action=AuditEvent.Action.RECORD_AMENDED)
    assert event.details["changes"] == {"heart_rate_bpm": ["104", "96"]}
    assert event.user == nurse


def test_the_history_page_shows_who_changed_what_and_why(nurse_client, care_client, fever):
    nurse_client.post(
        url("amend", "vitals", fever),
        vitals_post(fever, temperature="37.2", reason="Typed 38.6 for 37.2"),
    )
    correction = VitalSigns.objects.get(amends=fever)

    for record in (fever, correction):  # the same history from either end of the chain
        page = care_client.get(url("history", "vitals", record)).content.decode()
        assert "Original" in page
        assert "Correction" in page
        assert "Superseded by a correction" in page
        assert "Why: Typed 38.6 for 37.2" in page
        assert 'temperature (°C): <span class="struck">38.6</span> → <strong>37.2</strong>' in page
        assert "Test User" in page  # who (simple-history's history_user)


def test_a_correction_needs_a_reason_and_saves_nothing_without_one(nurse_client, fever):
    response = nurse_client.post(
        url("amend", "vitals", fever), vitals_post(fever, temperature="37.2", reason="")
    )

    assert response.status_code == 400
    assert "Give the reason: it is kept with the record." in response.content.decode()
    assert VitalSigns.objects.count() == 1
    fever.refresh_from_db()
    assert fever.is_current


def test_a_correction_that_changes_nothing_is_refused(nurse_client, fever):
    response = nurse_client.post(
        url("amend", "vitals", fever), vitals_post(fever, reason="checking")
    )

    assert response.status_code == 400
    assert "Nothing changed" in response.content.decode()
    assert VitalSigns.objects.count() == 1


def test_an_impossible_correction_names_the_range_and_keeps_what_was_typed(nurse_client, fever):
    response = nurse_client.post(
        url("amend", "vitals", fever),
        vitals_post(fever, temperature="48", heart_rate_bpm=120, reason="typo"),
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Temperature must be between 30 and 45 °C" in page
    assert 'value="120"' in page
    assert VitalSigns.objects.count() == 1


def test_a_superseded_record_cannot_be_amended_again(nurse_client, fever):
    nurse_client.post(
        url("amend", "vitals", fever), vitals_post(fever, temperature="37.2", reason="typo")
    )

    response = nurse_client.post(
        url("amend", "vitals", fever), vitals_post(fever, temperature="37.5", reason="again")
    )

    assert response.status_code == 302
    assert response.url == url("history", "vitals", fever)
    assert VitalSigns.objects.count() == 2


def test_a_correction_can_itself_be_corrected(nurse_client, fever):
    nurse_client.post(
        url("amend", "vitals", fever), vitals_post(fever, temperature="37.2", reason="typo")
    )
    first = VitalSigns.objects.get(amends=fever)

    nurse_client.post(
        url("amend", "vitals", first), vitals_post(first, temperature="37.3", reason="second look")
    )

    page = nurse_client.get(url("history", "vitals", fever)).content.decode()
    assert page.count("Correction</strong>") == 2
    assert VitalSigns.objects.current().get().temp_c == Decimal("37.3")


def test_amending_an_ice_screen_regrades_icans(care_client, course, nurse):
    check = services.record_check(course=course, by=nurse, observed_at=timezone.now(), neuro=ICE_9)
    screen = check.neuroassessment_set.get()
    assert snapshot_of(check).icans_grade == 1

    response = care_client.post(
        url("amend", "neuro", screen),
        {
            "neuro-ice_orientation": "4",
            "neuro-ice_naming": "3",
            "neuro-ice_commands": "1",
            "neuro-ice_writing": "1",
            "neuro-ice_attention": "1",
            "neuro-consciousness": "alert",
            "neuro-seizure": "none",
            "neuro-motor_weakness": "none",
            "neuro-cerebral_edema": "none",
            "neuro-unable_to_assess_reason": "",
            "reason": "Orientation: knew the year",
        },
    )

    assert response.status_code == 302
    assert NeuroAssessment.objects.current().get().ice_total == 10
    assert snapshot_of(check).icans_grade == 0


def test_a_childs_capd_is_corrected_on_the_capd_items(nurse_client, nurse, ward_a):
    child = CourseFactory(
        unit=ward_a,
        product="tisa-cel",
        patient__weight_kg=24,
        patient__date_of_birth=timezone.localdate() - timedelta(days=7 * 365),
    )
    well = {f"capd_item_{n}": 4 if n <= 4 else 0 for n in range(1, 9)}
    check = services.record_check(
        course=child, by=nurse, observed_at=timezone.now(), neuro={**well, "consciousness": "alert"}
    )
    screen = check.neuroassessment_set.get()
    edit = url("amend", "neuro", screen)

    page = nurse_client.get(edit).content.decode()
    assert "eye contact" in page
    assert "ice_orientation" not in page

    answers = {f"neuro-capd_item_{n}": v for n, v in ((n, 4 if n <= 4 else 0) for n in range(1, 9))}
    answers["neuro-capd_item_5"] = 3  # restless "often": 3 points
    response = nurse_client.post(
        edit,
        {
            **answers,
            "neuro-consciousness": "alert",
            "neuro-seizure": "none",
            "neuro-motor_weakness": "none",
            "neuro-cerebral_edema": "none",
            "reason": "Item 5 ticked on the wrong line",
        },
    )

    assert response.status_code == 302
    assert NeuroAssessment.objects.current().get().capd_total == 3


def test_amending_a_treatment_dose_keeps_the_original(nurse_client, course, nurse):
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now(),
        treatment={"drug": "tocilizumab", "dose": 560, "dose_unit": "mg", "route": "iv"},
    )
    dose = check.treatment_set.get()

    response = nurse_client.post(
        url("amend", "treatment", dose),
        {
            "treatment-drug": "tocilizumab",
            "treatment-drug_other": "",
            "treatment-dose": "480",
            "treatment-dose_unit": "mg",
            "treatment-route": "iv",
            "reason": "8 mg/kg for 60 kg is 480 mg",
        },
    )

    assert response.status_code == 302
    assert list(Treatment.objects.order_by("pk").values_list("dose", "status")) == [
        (Decimal("560.00"), "amended"),
        (Decimal("480.00"), "current"),
    ]


# --- Entered in error -------------------------------------------------------------------------


def test_entered_in_error_strikes_the_record_with_the_reason_and_regrades(
    care_client, care_team_member, course, febrile_check, fever
):
    response = care_client.post(
        url("error", "vitals", fever), {"reason": "Charted on the wrong patient"}
    )

    assert response.status_code == 302
    assert response.url == course_url(course)
    fever.refresh_from_db()
    assert fever.status == RecordStatus.ENTERED_IN_ERROR
    assert (fever.status_changed_by, fever.status_reason) == (
        care_team_member,
        "Charted on the wrong patient",
    )
    assert snapshot_of(febrile_check).crs_grade is None  # no vital signs count any more
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.ENTERED_IN_ERROR, user=care_team_member
    ).exists()
    page = day_of(care_client, febrile_check)
    assert "T 38.6 °C" in page  # kept, struck through
    assert "Entered in error — marked by" in page
    assert "Charted on the wrong patient" in page


def test_entered_in_error_needs_a_reason(nurse_client, fever):
    response = nurse_client.post(url("error", "vitals", fever), {"reason": ""})

    assert response.status_code == 400
    fever.refresh_from_db()
    assert fever.is_current


def test_current_records_offer_corrections_and_struck_ones_their_history(
    nurse_client, admin_client_, febrile_check, fever
):
    page = day_of(nurse_client, febrile_check)
    assert url("amend", "vitals", fever) in page
    assert url("error", "vitals", fever) in page
    # Admins read everything but do not chart: no correction links for them.
    admin_page = day_of(admin_client_, febrile_check)
    assert url("amend", "vitals", fever) not in admin_page

    nurse_client.post(url("error", "vitals", fever), {"reason": "duplicate"})

    page = day_of(nurse_client, febrile_check)
    assert url("amend", "vitals", fever) not in page
    assert url("history", "vitals", fever) in page


# --- Access --------------------------------------------------------------------------------------


def test_another_units_record_is_404_for_every_correction_page(outsider_client, ward_b, fever):
    other_care = Client()
    other_care.force_login(UserFactory(role=User.Role.CARE_TEAM, units=[ward_b]))
    for client in (outsider_client, other_care):
        for action in ("amend", "error", "history"):
            assert client.get(url(action, "vitals", fever)).status_code == 404, action
        assert (
            client.post(
                url("amend", "vitals", fever), vitals_post(fever, temperature="37.0", reason="x")
            ).status_code
            == 404
        )
        assert client.post(url("error", "vitals", fever), {"reason": "x"}).status_code == 404
    fever.refresh_from_db()
    assert fever.is_current


def test_admins_read_the_history_but_do_not_correct(admin_client_, fever):
    assert admin_client_.get(url("history", "vitals", fever)).status_code == 200
    assert admin_client_.get(url("amend", "vitals", fever)).status_code == 403
    assert admin_client_.post(url("error", "vitals", fever), {"reason": "x"}).status_code == 403


def test_an_unknown_kind_or_record_is_404(nurse_client, fever):
    assert nurse_client.get(f"/records/flags/{fever.pk}/amend/").status_code == 404
    assert nurse_client.get(f"/records/labs/{fever.pk}/amend/").status_code == 404  # not labs
    assert nurse_client.get("/records/vitals/999999/history/").status_code == 404


# --- Query budgets -----------------------------------------------------------------------------


def count_queries(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_corrected_records_cost_no_extra_queries_on_the_course_and_result_pages(
    nurse_client, care_team_member, nurse, course
):
    def check_with_corrections():
        check = services.record_check(
            course=course,
            by=nurse,
            observed_at=timezone.now() - timedelta(hours=1),
            vitals=FEVER_ON_NASAL_CANNULA,
            symptoms={"fever": True},
            labs={"crp_mg_l": 80},
        )
        vitals = check.vitalsigns_set.get()
        services.amend_record(
            record=vitals, values={"temp_c": Decimal("37.2")}, reason="typo", by=care_team_member
        )
        services.mark_entered_in_error(
            record=check.symptomcheck_set.get(), reason="duplicate", by=nurse
        )
        return check

    first = check_with_corrections()
    result_url = reverse(
        "monitoring:nurse-check-result", args=[course.patient.public_id, first.public_id]
    )
    day_url = reverse(
        "monitoring:course-day",
        args=[course.patient.public_id, course.day_number(first.observed_at)],
    )
    course_page, day_page, result_page = (
        count_queries(nurse_client, course_url(course)),
        count_queries(nurse_client, day_url),
        count_queries(nurse_client, result_url),
    )
    for _ in range(4):
        check_with_corrections()

    # Whoever amended or struck a record is joined to it (select_related), never fetched per
    # record: the same number of queries with 1 or 5 corrected checks.
    assert count_queries(nurse_client, course_url(course)) == course_page
    assert count_queries(nurse_client, day_url) == day_page
    assert count_queries(nurse_client, result_url) == result_page


def test_the_history_page_costs_a_fixed_number_of_queries(nurse_client, care_team_member, fever):
    record, costs = fever, []
    for n in range(4):
        services.amend_record(
            record=record,
            values={"heart_rate_bpm": 100 + n},
            reason=f"look {n}",
            by=care_team_member,
        )
        record = VitalSigns.objects.get(amends=record)
        costs.append(count_queries(nurse_client, url("history", "vitals", fever)))

    assert len(set(costs)) == 1, costs


# --- Nothing clinical can be deleted ------------------------------------------------------------

CLINICAL_MODELS = [
    Patient,
    TreatmentCourse,
    BedsideCheck,
    VitalSigns,
    SymptomCheck,
    NeuroAssessment,
    LabResult,
    Treatment,
    GradeSnapshot,
    GradeConfirmation,
    Flag,
    FlagAcknowledgement,
    CheckNotDone,
    AuditEvent,
    Protocol,
    ProtocolVersion,
    CheckSchedule,
]


@pytest.fixture
def superuser_client(db):
    client = Client()
    client.force_login(
        UserFactory(username="root", role=User.Role.ADMIN, is_staff=True, is_superuser=True)
    )
    return client


@pytest.fixture
def one_of_each(course, nurse, care_team_member, admin_user, febrile_check):
    """A row of every clinical model, so that each delete page has something to refuse."""
    check = services.record_check(
        course=course,
        by=nurse,
        observed_at=timezone.now(),
        symptoms={"fever": True},
        neuro=ICE_9,
        labs={"crp_mg_l": 80},
        treatment={"drug": "antipyretic", "dose": 1, "dose_unit": "g", "route": "po"},
    )
    services.confirm_grade(
        snapshot=snapshot_of(check), domain="crs", grade=2, reason="agree", by=care_team_member
    )
    services.record_check_not_done(course=course, check_type="labs", reason="refused", by=nurse)
    services.acknowledge_flag(flag=Flag.objects.first(), by=care_team_member, note="seen")
    return {model: model.objects.order_by("pk").first() for model in CLINICAL_MODELS}


def admin_url(model, view, *args):
    return reverse(f"admin:monitoring_{model._meta.model_name}_{view}", args=args)


def test_an_admin_superuser_cannot_delete_any_clinical_record(superuser_client, one_of_each):
    for model, row in one_of_each.items():
        assert row is not None, model
        assert model in admin.site._registry, f"{model.__name__} should be viewable read-only"
        delete = admin_url(model, "delete", row.pk)
        assert superuser_client.get(delete).status_code == 403, model.__name__
        assert superuser_client.post(delete, {"post": "yes"}).status_code == 403, model.__name__
        changelist = superuser_client.get(admin_url(model, "changelist"))
        assert changelist.status_code == 200, model.__name__
        assert "delete_selected" not in changelist.content.decode(), model.__name__
        # The action cannot be forced by posting it either.
        superuser_client.post(
            admin_url(model, "changelist"),
            {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
        )
        assert model.objects.filter(pk=row.pk).exists(), model.__name__


def test_every_monitoring_model_in_the_admin_refuses_deletes_except_units_and_users(db, rf):
    request = rf.get("/admin/")
    request.user = UserFactory(username="root2", is_staff=True, is_superuser=True)
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label != "monitoring" or model._meta.model_name in ("unit", "user"):
            continue
        assert not model_admin.has_delete_permission(request), model.__name__
        assert "delete_selected" not in model_admin.get_actions(request), model.__name__


def test_observations_are_read_only_in_the_admin_with_their_history(superuser_client, fever):
    change = superuser_client.get(admin_url(VitalSigns, "change", fever.pk))
    history = superuser_client.get(admin_url(VitalSigns, "history", fever.pk))

    assert change.status_code == 200
    assert 'name="temp_c"' not in change.content.decode()  # shown, not editable
    assert history.status_code == 200
    assert superuser_client.get(admin_url(VitalSigns, "add")).status_code == 403


def test_the_admin_never_reverts_a_record_to_an_old_version(superuser_client, nurse, fever):
    services.mark_entered_in_error(record=fever, reason="duplicate", by=nurse)
    first = fever.history.order_by("history_date").first()
    revert = reverse(
        "admin:monitoring_vitalsigns_simple_history", args=[fever.pk, first.history_id]
    )

    assert superuser_client.get(revert).status_code == 200  # may look at it
    assert superuser_client.post(revert, {}).status_code == 403
    fever.refresh_from_db()
    assert fever.status == RecordStatus.ENTERED_IN_ERROR


def test_our_pages_have_no_delete_route():
    routes = [p for p in get_resolver("monitoring.urls").url_patterns if isinstance(p, URLPattern)]

    assert routes
    assert not [p for p in routes if "delete" in str(p.pattern) or "delete" in (p.name or "")]

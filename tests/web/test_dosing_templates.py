"""The shipped step-up templates, one per T-cell engager whose label we could read (migrations
0017 and 0024; docs/clinical-rules.md "T-cell engagers: step-up dosing, windows and gates"),
table-driven from each label: steps, days, doses, monitoring windows, gates and restart rules.
Planning from the first dose gives the label's days, and checks are due exactly inside each
dose's window. Epcoritamab's restart rule after the 0.8 mg dose is filled by 0024 without
touching a version a course used. Products whose label could not be verified for a template
(glofitamab, mosunetuzumab) or that dose steps cannot represent (blinatumomab) stay on the
default protocol."""

import importlib
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.utils import timezone

from monitoring import dosing, schedule, services
from monitoring.models import (
    AuditEvent,
    DoseStep,
    Protocol,
    ProtocolVersion,
    TreatmentCourse,
)
from tests.factories import CourseFactory, PatientFactory

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("monitoring.migrations.0024_more_engager_templates")
T0 = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=5)
NOT_VERIFIED = []  # restart rules a label copy did not show: empty, the source says so
TEC_RESTART_2 = [{"after_days": 7, "restart_at": 1}]
TEC_RESTART_3 = [{"after_days": 7, "restart_at": 2}, {"after_days": 28, "restart_at": 1}]

# product: (protocol, [(label, step-up, label's day, dose, window h, CRS/ICANS gate h, restart)])
TEMPLATES = {
    # TECVAYLI PI §2.1 Table 1: 0.06 / 0.3 / 1.5 mg/kg on days 1, 4, 7; hospitalise 48 h after
    # each dose of the step-up schedule. §2.3 Table 2: SUD1 > 7 days → SUD1; SUD2 8-28 days →
    # SUD2, > 28 days → SUD1. Gates: withhold until resolved (§2.5), hours a centre choice (0).
    "teclistamab": (
        "Teclistamab step-up (template)",
        [
            ("Step-up dose 1", True, 1, "0.06 mg/kg SC", 48, None, []),
            ("Step-up dose 2", True, 4, "0.3 mg/kg SC", 48, 0, TEC_RESTART_2),
            ("First treatment dose", False, 7, "1.5 mg/kg SC", 48, 0, TEC_RESTART_3),
        ],
    ),
    # EPKINLY PI §2.2 Table 1 (DLBCL/HGBCL): 0.16 / 0.8 / 48 mg on C1 days 1, 8, 15; §2.1:
    # hospitalise 24 h after the C1D15 48 mg dose (24 h after the first two: centre choice).
    # §2.3: 0.16 mg > 8 days → repeat 0.16 mg; 0.8 mg ≤ 14 days → 48 mg, > 14 days → repeat from
    # 0.16 mg (Drugs.com copy of 17 Nov 2023; filled by 0024).
    "epcoritamab": (
        "Epcoritamab step-up, DLBCL (template)",
        [
            ("Step-up dose 1", True, 1, "0.16 mg SC (C1D1)", 24, None, []),
            (
                "Step-up dose 2",
                True,
                8,
                "0.8 mg SC (C1D8)",
                24,
                0,
                [{"after_days": 8, "restart_at": 1}],
            ),
            (
                "First full dose",
                False,
                15,
                "48 mg SC (C1D15)",
                24,
                0,
                [{"after_days": 14, "restart_at": 1}],
            ),
        ],
    ),
    # ELREXFIO PI §2.2 Table 1: 12 / 32 / 76 mg on days 1, 4, 8 (same in the 7/2025 revision);
    # §2.1: hospitalise 48 h after step-up dose 1 and 24 h after step-up dose 2 (none after the
    # first treatment dose: window 0). 2023 PI restart table: 12 mg > 14 days → 12 mg; 32 mg
    # ≤ 14 days → 76 mg, > 14 to 28 days → 32 mg, > 28 days → 12 mg.
    "elranatamab": (
        "Elranatamab step-up (template)",
        [
            ("Step-up dose 1", True, 1, "12 mg SC", 48, None, []),
            ("Step-up dose 2", True, 4, "32 mg SC", 24, 0, [{"after_days": 14, "restart_at": 1}]),
            (
                "First treatment dose",
                False,
                8,
                "76 mg SC",
                0,
                0,
                [{"after_days": 14, "restart_at": 2}, {"after_days": 28, "restart_at": 1}],
            ),
        ],
    ),
    # TALVEY PI §2.2 Table 1 (weekly): 0.01 / 0.06 / 0.4 mg/kg on days 1, 4, 7; §2.1:
    # hospitalise 48 h after all doses of the step-up schedule. Restart table: not verified.
    "talquetamab": (
        "Talquetamab weekly step-up (template)",
        [
            ("Step-up dose 1", True, 1, "0.01 mg/kg SC", 48, None, []),
            ("Step-up dose 2", True, 4, "0.06 mg/kg SC", 48, 0, NOT_VERIFIED),
            ("First treatment dose", False, 7, "0.4 mg/kg SC", 48, 0, NOT_VERIFIED),
        ],
    ),
    # LYNOZYFIC PI §2.2 Table 1: 5 / 25 / 200 mg IV on days 1, 8, 15; §2.1: hospitalise 24 h
    # after step-up doses 1 and 2 (none after the first treatment dose: window 0). Restart
    # table: not verified.
    "linvoseltamab": (
        "Linvoseltamab step-up (template)",
        [
            ("Step-up dose 1", True, 1, "5 mg IV", 24, None, []),
            ("Step-up dose 2", True, 8, "25 mg IV", 24, 0, NOT_VERIFIED),
            ("First treatment dose", False, 15, "200 mg IV", 0, 0, NOT_VERIFIED),
        ],
    ),
    # IMDELLTRA PI §2.2 Table 1: 1 mg C1D1, 10 mg C1D8 (monitor 22-24 h from the start of the
    # infusion), 10 mg C1D15 (observe 6-8 h after the infusion). Table 4 restarts: not verified.
    "tarlatamab": (
        "Tarlatamab step-up (template)",
        [
            ("Step-up dose 1", True, 1, "1 mg IV (C1D1)", 24, None, []),
            ("First treatment dose", False, 8, "10 mg IV (C1D8)", 24, 0, NOT_VERIFIED),
            ("Second treatment dose", False, 15, "10 mg IV (C1D15)", 8, 0, NOT_VERIFIED),
        ],
    ),
}
BRANDS = {
    "teclistamab": "TECVAYLI",
    "epcoritamab": "EPKINLY",
    "elranatamab": "ELREXFIO",
    "talquetamab": "TALVEY",
    "linvoseltamab": "LYNOZYFIC",
    "tarlatamab": "IMDELLTRA",
}
PRODUCTS = list(TEMPLATES)


def as_table(version):
    return [
        (
            s.label,
            s.is_step_up,
            s.day_offset + 1,
            s.dose_text,
            s.window_hours,
            s.crs_clear_hours,
            s.restart_rules,
        )
        for s in version.dose_steps.all()
    ]


@pytest.mark.parametrize("product", PRODUCTS)
def test_each_engager_gets_its_labels_step_up_template(product):
    name, steps = TEMPLATES[product]
    version = services.protocol_version_for(product)

    assert version.protocol.name == name
    assert (version.number, version.is_template, version.products) == (1, True, [product])
    assert as_table(version) == steps
    # ICANS is gated like CRS (each label: withhold until it resolves).
    assert [s.icans_clear_hours for s in version.dose_steps.all()] == [s[5] for s in steps]


@pytest.mark.parametrize("product", PRODUCTS)
def test_each_step_names_its_label_and_what_was_not_verified(product):
    for step in services.protocol_version_for(product).dose_steps.all():
        assert step.source.startswith(BRANDS[product]), step.source
        assert len(step.source) < 300  # nothing cut off
        if step.sequence > 1 and not step.restart_rules:
            assert "NOT VERIFIED" in step.source  # the centre must enter the label's table


@pytest.mark.parametrize("product", PRODUCTS)
def test_planning_from_the_first_dose_gives_the_labels_days(product, ward_a, care_team_member):
    with time_machine.travel(T0, tick=False):
        course = start(product, ward_a, care_team_member)
        doses = dosing.plan_doses(course=course, first_dose_at=T0, by=care_team_member)

    label_days = [day for _, _, day, *_ in TEMPLATES[product][1]]
    assert [d.planned_at for d in doses] == [T0 + timedelta(days=day - 1) for day in label_days]
    assert course.status_row.dosed


@pytest.mark.parametrize("product", PRODUCTS)
def test_checks_are_due_only_inside_each_doses_window(product, ward_a, nurse, care_team_member):
    with time_machine.travel(T0, tick=False):
        course = start(product, ward_a, care_team_member)
        doses = dosing.plan_doses(course=course, first_dose_at=T0, by=care_team_member)
    for dose, (label, _, _, _, window, _, _) in zip(doses, TEMPLATES[product][1], strict=True):
        given = dose.planned_at
        with time_machine.travel(given, tick=False):
            dosing.record_dose_given(dose=dose, given_at=given, by=nurse)
        after = timedelta(hours=window)
        if window:
            assert due(course, given + after - timedelta(minutes=30)) == ALL, label
        assert due(course, given + after + timedelta(minutes=30)) == [], label


ALL = ["neuro", "symptoms", "vitals"]


def start(product, unit, by):
    course = CourseFactory.build(
        patient=PatientFactory(), unit=unit, product=product, infused_at=T0
    )
    course.protocol_version = None  # as an admission: the version for the product
    return services.start_course(course=course, by=by)


def due(course, now):
    course = TreatmentCourse.objects.select_related("status_row", "protocol_version").get(
        pk=course.pk
    )
    return sorted(d.check_type for d in schedule.due_checks(course, course.status_row, now=now))


@pytest.mark.parametrize(
    ("product", "why"),
    [
        ("glofitamab", "monitoring after each dose not verified in a copy of the US label"),
        ("mosunetuzumab", "the US label copies state no monitoring period"),
        ("blinatumomab", "a continuous infusion: dose steps cannot represent it"),
    ],
)
def test_products_without_a_template_stay_on_the_default_protocol(product, why):
    version = services.protocol_version_for(product)

    assert version.protocol.name == "Default CAR-T monitoring (template)", why
    assert not version.dose_steps.exists()


def test_the_templates_are_shipped_once():
    protocols, steps = Protocol.objects.count(), DoseStep.objects.count()

    MIGRATION.create_templates(apps, None)

    assert (Protocol.objects.count(), DoseStep.objects.count()) == (protocols, steps)


# --- Epcoritamab's restart rule after the 0.8 mg dose -----------------------------------------


def epcoritamab_as_0017_shipped():
    version = ProtocolVersion.objects.get(protocol__name=MIGRATION.EPCORITAMAB, number=1)
    DoseStep.objects.filter(version=version, sequence=3).update(
        restart_rules=[], source=MIGRATION.EPK_SHIPPED_SOURCE
    )
    version.change_note = version.change_note.replace(MIGRATION.EPK_NOTE, "").strip()
    version.save()
    return version


def last_step(version):
    return version.dose_steps.get(sequence=3)


def test_an_unused_epcoritamab_template_gets_the_rule_in_place():
    version = epcoritamab_as_0017_shipped()

    MIGRATION.fill_epcoritamab_restart(apps)

    assert last_step(version).restart_rules == [{"after_days": 14, "restart_at": 1}]
    assert "more than 14 days: repeat from 0.16 mg" in last_step(version).source
    version.refresh_from_db()
    assert MIGRATION.EPK_NOTE in version.change_note
    assert ProtocolVersion.objects.filter(protocol=version.protocol).count() == 1


def test_a_used_epcoritamab_template_keeps_its_version_and_gets_a_new_one(ward_a):
    old = epcoritamab_as_0017_shipped()
    course = CourseFactory(unit=ward_a, product="epcoritamab", protocol_version=old)

    MIGRATION.fill_epcoritamab_restart(apps)

    new = ProtocolVersion.objects.get(protocol=old.protocol, number=2)
    assert last_step(new).restart_rules == [{"after_days": 14, "restart_at": 1}]
    assert last_step(old).restart_rules == []  # what the course was monitored by stays
    assert [s.label for s in new.dose_steps.all()] == [s.label for s in old.dose_steps.all()]
    assert new.schedules.count() == old.schedules.count() == 3
    old.refresh_from_db()
    assert (old.is_active, new.is_active, new.products) == (False, True, ["epcoritamab"])
    assert services.protocol_version_for("epcoritamab") == new
    course.refresh_from_db()
    assert course.protocol_version == old
    event = AuditEvent.objects.get(action=AuditEvent.Action.PROTOCOL_CHANGED)
    assert event.summary.startswith(f"{MIGRATION.EPCORITAMAB} v2 created from v1")


def test_an_epcoritamab_template_the_centre_edited_is_left_as_it_is():
    version = epcoritamab_as_0017_shipped()
    DoseStep.objects.filter(version=version, sequence=3).update(
        restart_rules=[{"after_days": 21, "restart_at": 1}]
    )

    MIGRATION.fill_epcoritamab_restart(apps)

    assert last_step(version).restart_rules == [{"after_days": 21, "restart_at": 1}]
    assert ProtocolVersion.objects.filter(protocol=version.protocol).count() == 1


# --- Reversing the migration -------------------------------------------------------------------


def test_reversing_removes_unused_templates_and_the_rule(ward_a):
    used = ProtocolVersion.objects.get(protocol__name="Elranatamab step-up (template)")
    CourseFactory(unit=ward_a, product="elranatamab", protocol_version=used)

    MIGRATION.remove_templates(apps, None)

    left = set(Protocol.objects.filter(name__in=[t["name"] for t in MIGRATION.TEMPLATES]))
    assert left == {used.protocol}  # a course was monitored by it: it stays on the record
    epcoritamab = ProtocolVersion.objects.get(protocol__name=MIGRATION.EPCORITAMAB)
    assert last_step(epcoritamab).restart_rules == []
    assert last_step(epcoritamab).source == MIGRATION.EPK_SHIPPED_SOURCE
    assert MIGRATION.EPK_NOTE not in epcoritamab.change_note

    MIGRATION.create_templates(apps, None)  # and forward again

    assert Protocol.objects.filter(name__in=[t["name"] for t in MIGRATION.TEMPLATES]).count() == 4
    assert last_step(epcoritamab).restart_rules == [{"after_days": 14, "restart_at": 1}]


def test_reversing_a_new_epcoritamab_version_reactivates_the_old_one(ward_a):
    old = epcoritamab_as_0017_shipped()
    course = CourseFactory(unit=ward_a, product="epcoritamab", protocol_version=old)
    MIGRATION.fill_epcoritamab_restart(apps)

    MIGRATION.remove_templates(apps, None)

    assert not ProtocolVersion.objects.filter(protocol=old.protocol, number=2).exists()
    old.refresh_from_db()
    assert old.is_active
    course.refresh_from_db()
    assert course.protocol_version == old


# --- The febrile tier (migration 0025; reference §6.1) ----------------------------------------

FEBRILE = importlib.import_module("monitoring.migrations.0025_engager_templates_febrile_tier")


def schedules_of(version) -> dict:
    return {
        s.check_type: tuple(getattr(s, f) for f in FEBRILE.FIELDS) for s in version.schedules.all()
    }


def as_0017_shipped(version):
    for check_type, values in FEBRILE.OLD.items():
        version.schedules.filter(check_type=check_type).update(
            **dict(zip(FEBRILE.FIELDS, values, strict=True))
        )
    return version


@pytest.mark.parametrize("product", PRODUCTS)
def test_a_febrile_patient_in_a_step_up_window_is_checked_every_two_hours(product):
    # Reference §6.1: vital signs every 2 h with fever; ICE more often once CRS is present.
    # The templates had copied the default's schedules from before 0007: every 4 h with fever.
    version = services.protocol_version_for(product)
    vitals = version.schedules.get(check_type="vitals")
    neuro = version.schedules.get(check_type="neuro")

    assert (vitals.febrile_interval_minutes, neuro.tighten_at_crs_grade) == (120, 1)


def test_a_used_template_keeps_its_schedules_and_gets_a_new_version(ward_a):
    old = as_0017_shipped(ProtocolVersion.objects.get(protocol__name=TEMPLATES["teclistamab"][0]))
    course = CourseFactory(unit=ward_a, product="teclistamab", protocol_version=old)

    FEBRILE.follow_the_reference(apps, None)

    new = ProtocolVersion.objects.get(protocol=old.protocol, number=old.number + 1)
    assert schedules_of(new) == FEBRILE.FOLLOWING_THE_REFERENCE
    assert schedules_of(old) == FEBRILE.OLD  # what the course was monitored by stays
    assert [s.label for s in new.dose_steps.all()] == [s.label for s in old.dose_steps.all()]
    assert services.protocol_version_for("teclistamab") == new
    course.refresh_from_db()
    assert course.protocol_version == old
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.PROTOCOL_CHANGED, summary__contains="§6.1"
    ).exists()


def test_a_template_whose_schedules_the_centre_edited_is_left_as_it_is():
    version = as_0017_shipped(
        ProtocolVersion.objects.get(protocol__name=TEMPLATES["teclistamab"][0])
    )
    version.schedules.filter(check_type="vitals").update(interval_minutes=180)
    before = schedules_of(version)

    FEBRILE.follow_the_reference(apps, None)

    assert schedules_of(version) == before
    assert ProtocolVersion.objects.filter(protocol=version.protocol).count() == 1

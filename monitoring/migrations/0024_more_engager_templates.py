"""Ship step-up dosing templates for elranatamab, talquetamab (weekly schedule), linvoseltamab
and tarlatamab from copies of each product's US label; fill epcoritamab's restart rule after
the 0.8 mg step (left for the centre to enter in 0017).

Every value is cited in docs/clinical-rules.md ("T-cell engagers: step-up dosing, windows and
gates") and in each step's source; the centre must check them against the current label before
clinical use. A value we could not read in a copy of the label is left empty and the step's
source says "not verified" (talquetamab's, linvoseltamab's and tarlatamab's restart tables). No
template is shipped for glofitamab and mosunetuzumab (their monitoring after each dose could not
be verified in a copy of the US label, and a dosed course is checked only inside the windows)
nor for blinatumomab (a continuous infusion that dose steps cannot represent): the docs say why.

Like 0017: a template whose protocol name exists already is left as it is (idempotent; also
how tests/e2e/conftest.py re-creates the shipped protocols after a flush). Reversible: the
templates no course uses are removed again, and the epcoritamab rule is taken back where no
course has used it since.
"""

from django.db import migrations

# Check intervals inside a dose's window: the labels give none; the same as 0017's engager
# templates (vital signs q4h, hourly from CRS 2; ICE q8h, q2h from ICANS 1 / CRS 2 / ICE drop).
SCHEDULES = [
    ("vitals", 240, 60, 2, None, False),
    ("symptoms", 240, 60, 2, None, False),
    ("neuro", 480, 120, 2, 1, True),
]
CENTRE = "gate duration: centre choice (label: withhold until resolved)"
INFUSION = "label counts from the infusion's end: record that as the time given"

ELR = "ELREXFIO (elranatamab-bcmm) US PI §2.2 Table 1"
ELR_HOSP = "§2.1: hospitalise 48 h after step-up dose 1, 24 h after step-up dose 2"
ELR_RESTART = "restart: 2023 PI §2.4 (Drugs.com copy 8 Jan 2024; §2.4 revised 7/2025: check)"
ELR_PREMED = "premed ~1 h before (label); 2 h look-back: centre choice"
TAL = "TALVEY (talquetamab-tgvs) US PI §2.2 Table 1 (weekly); §2.1: hospitalise 48 h after each"
TAL_RESTART = "restart table (§2.4): NOT VERIFIED, centre to enter"
LIN = "LYNOZYFIC (linvoseltamab-gcpt) US PI §2.2 Table 1 (Drugs.com copy 2 Jul 2025)"
LIN_RESTART = "restart table: NOT VERIFIED, centre to enter"
TAR = "IMDELLTRA (tarlatamab-dlle) US PI §2.2 Table 1"
TAR_RESTART = "restart (Table 4): NOT VERIFIED, centre to enter"
TAR_PREMED = "premed look-back: centre choice (label Table 3)"

TEMPLATES = [
    {
        "name": "Elranatamab step-up (template)",
        "products": ["elranatamab"],
        "description": (
            "ELREXFIO step-up dosing from the US prescribing information: step-up dose 1 12 mg "
            "(day 1, hospitalise 48 hours), step-up dose 2 32 mg (day 4, hospitalise 24 hours), "
            "first treatment dose 76 mg (day 8, no hospitalisation in the label). A TEMPLATE: "
            "check it against the current label (its dosing and restart sections were revised "
            "in July 2025) and set the gate durations your centre uses."
        ),
        "steps": [
            # label, step-up, day offset, dose, window h, premed h, crs h, icans h, restart, source
            (
                "Step-up dose 1",
                True,
                0,
                "12 mg SC",
                48,
                2,
                None,
                None,
                [],
                f"{ELR}; {ELR_HOSP}; {ELR_PREMED}",
            ),
            (
                "Step-up dose 2",
                True,
                3,
                "32 mg SC",
                24,
                2,
                0,
                0,
                [{"after_days": 14, "restart_at": 1}],
                f"{ELR}; {ELR_HOSP}; {ELR_RESTART}; {CENTRE}",
            ),
            (
                "First treatment dose",
                False,
                7,
                "76 mg SC",
                0,
                2,
                0,
                0,
                [{"after_days": 14, "restart_at": 2}, {"after_days": 28, "restart_at": 1}],
                f"{ELR}; window 0 h: §2.1 asks no hospitalisation after this dose; "
                f"{ELR_RESTART}; {CENTRE}",
            ),
        ],
    },
    {
        "name": "Talquetamab weekly step-up (template)",
        "products": ["talquetamab"],
        "description": (
            "TALVEY weekly step-up dosing from the US prescribing information: 0.01 mg/kg "
            "(day 1), 0.06 mg/kg (day 4), first treatment dose 0.4 mg/kg (day 7); hospitalise "
            "for 48 hours after each. The every-2-weeks schedule adds 0.8 mg/kg on day 10: edit "
            "the template for it. A TEMPLATE: check it against the current label, enter the "
            "label's restart table and set the gate durations your centre uses."
        ),
        "steps": [
            (
                "Step-up dose 1",
                True,
                0,
                "0.01 mg/kg SC",
                48,
                3,
                None,
                None,
                [],
                f"{TAL}; premed 1-3 h before (label)",
            ),
            (
                "Step-up dose 2",
                True,
                3,
                "0.06 mg/kg SC",
                48,
                3,
                0,
                0,
                [],
                f"{TAL}; {TAL_RESTART}; {CENTRE}",
            ),
            (
                "First treatment dose",
                False,
                6,
                "0.4 mg/kg SC",
                48,
                3,
                0,
                0,
                [],
                f"{TAL}; {TAL_RESTART}; {CENTRE}",
            ),
        ],
    },
    {
        "name": "Linvoseltamab step-up (template)",
        "products": ["linvoseltamab"],
        "description": (
            "LYNOZYFIC step-up dosing from the US prescribing information: step-up dose 1 5 mg "
            "(day 1), step-up dose 2 25 mg (day 8), hospitalise for 24 hours after each; first "
            "treatment dose 200 mg (day 15, no hospitalisation in the label). Intravenous: the "
            "label counts the 24 hours after administration. A TEMPLATE: check it against the "
            "current label, enter the label's restart table and set the gate durations your "
            "centre uses."
        ),
        "steps": [
            (
                "Step-up dose 1",
                True,
                0,
                "5 mg IV",
                24,
                3,
                None,
                None,
                [],
                f"{LIN}; §2.1: hospitalise 24 h; {INFUSION}; premed look-back 3 h: centre choice",
            ),
            (
                "Step-up dose 2",
                True,
                7,
                "25 mg IV",
                24,
                3,
                0,
                0,
                [],
                f"{LIN}; §2.1: hospitalise 24 h; {INFUSION}; {LIN_RESTART}; {CENTRE}",
            ),
            (
                "First treatment dose",
                False,
                14,
                "200 mg IV",
                0,
                3,
                0,
                0,
                [],
                f"{LIN}; window 0 h: §2.1 asks no hospitalisation after this dose; "
                f"{LIN_RESTART}; {CENTRE}",
            ),
        ],
    },
    {
        "name": "Tarlatamab step-up (template)",
        "products": ["tarlatamab"],
        "description": (
            "IMDELLTRA cycle 1 from the US prescribing information: step-up dose 1 mg (cycle 1 "
            "day 1) and 10 mg (day 8), monitored for 22 to 24 hours from the start of each "
            "infusion (and within 1 hour of the centre with a caregiver for 48 hours); 10 mg on "
            "day 15, observed for 6 to 8 hours after the infusion. A TEMPLATE: check it against "
            "the current label, enter the label's restart table and set the gate durations "
            "your centre uses."
        ),
        "steps": [
            (
                "Step-up dose 1",
                True,
                0,
                "1 mg IV (C1D1)",
                24,
                3,
                None,
                None,
                [],
                f"{TAR}; monitor 22-24 h from the start of the infusion; {TAR_PREMED}",
            ),
            (
                "First treatment dose",
                False,
                7,
                "10 mg IV (C1D8)",
                24,
                3,
                0,
                0,
                [],
                f"{TAR}; monitor 22-24 h from the start of the infusion; {TAR_RESTART}; {CENTRE}",
            ),
            (
                "Second treatment dose",
                False,
                14,
                "10 mg IV (C1D15)",
                8,
                3,
                0,
                0,
                [],
                f"{TAR}; observe 6-8 h after the 1-h infusion; {INFUSION}; {TAR_RESTART}; {CENTRE}",
            ),
        ],
    },
]

# Epcoritamab (0017): the label's rule after a delay following the 0.8 mg dose (DLBCL).
EPCORITAMAB = "Epcoritamab step-up, DLBCL (template)"
EPK_SHIPPED_SOURCE = (
    "EPKINLY (epcoritamab-bysp) US PI §2.2 Table 1 (DLBCL / HGBCL); 24 h hospitalisation after "
    "C1D15 §2.1; restart table for 0.8 mg: centre to enter; gate duration: centre choice (label: "
    "withhold until resolved)"
)
EPK_RULES = [{"after_days": 14, "restart_at": 1}]
EPK_SOURCE = (
    "EPKINLY (epcoritamab-bysp) US PI §2.2 Table 1 (DLBCL / HGBCL); 24 h hospitalisation after "
    "C1D15 §2.1; restart: §2.3, last dose 0.8 mg, more than 14 days: repeat from 0.16 mg "
    "(Drugs.com copy 17 Nov 2023); gate duration: centre choice (label: withhold until resolved)"
)
EPK_NOTE = (
    "Restart after a delay following the 0.8 mg dose filled from the label: more than 14 days "
    "→ repeat the step-up from 0.16 mg (EPKINLY PI §2.3)."
)
# The three steps 0017 shipped: (sequence, label, day offset, dose, window h, crs h, icans h,
# restart rules).
EPK_STEPS = [
    (1, "Step-up dose 1", 0, "0.16 mg SC (C1D1)", 24, None, None, []),
    (2, "Step-up dose 2", 7, "0.8 mg SC (C1D8)", 24, 0, 0, [{"after_days": 8, "restart_at": 1}]),
    (3, "First full dose", 14, "48 mg SC (C1D15)", 24, 0, 0, []),
]
EPK_FIELDS = (
    "sequence",
    "label",
    "day_offset",
    "dose_text",
    "window_hours",
    "crs_clear_hours",
    "icans_clear_hours",
    "restart_rules",
)
# Bookkeeping of a version that a new version does not copy (as 0007).
NOT_COPIED = {"id", "protocol", "number", "created_at", "created_by", "change_note"}
STEP_NOT_COPIED = {"id", "version"}


def create_templates(apps, schema_editor):
    """The four templates (each once) and epcoritamab's restart rule."""
    from monitoring import flag_rules

    Protocol = apps.get_model("monitoring", "Protocol")
    ProtocolVersion = apps.get_model("monitoring", "ProtocolVersion")
    CheckSchedule = apps.get_model("monitoring", "CheckSchedule")
    DoseStep = apps.get_model("monitoring", "DoseStep")
    for template in TEMPLATES:
        protocol, created = Protocol.objects.get_or_create(
            name=template["name"], defaults={"description": template["description"]}
        )
        if not created:
            continue  # shipped before (or the centre named its own so): leave it as it is
        version = ProtocolVersion.objects.create(
            protocol=protocol,
            number=1,
            is_active=True,
            is_template=True,
            products=template["products"],
            monitoring_window_days=28,
            escalation={
                "crs": {str(k): v for k, v in flag_rules.CRS_ESCALATION.items()},
                "icans": {str(k): v for k, v in flag_rules.ICANS_ESCALATION.items()},
            },
            change_note="Shipped template from the product's US label (docs/clinical-rules.md).",
        )
        for check_type, interval, tightened, crs, icans, neuro in SCHEDULES:
            CheckSchedule.objects.create(
                version=version,
                check_type=check_type,
                interval_minutes=interval,
                tightened_interval_minutes=tightened,
                tighten_at_crs_grade=crs,
                tighten_at_icans_grade=icans,
                tighten_on_neuro_change=neuro,
            )
        for sequence, step in enumerate(template["steps"], start=1):
            label, step_up, offset, dose, window, premed, crs_h, icans_h, restart, source = step
            DoseStep.objects.create(
                version=version,
                sequence=sequence,
                label=label,
                is_step_up=step_up,
                day_offset=offset,
                dose_text=dose,
                window_hours=window,
                premed_lookback_hours=premed,
                crs_clear_hours=crs_h,
                icans_clear_hours=icans_h,
                restart_rules=restart,
                source=source[:300],
            )
    fill_epcoritamab_restart(apps)


def _steps_as_shipped(DoseStep, version) -> bool:
    steps = DoseStep.objects.filter(version=version).order_by("sequence")
    found = [tuple(getattr(step, name) for name in EPK_FIELDS) for step in steps]
    return found == EPK_STEPS


def fill_epcoritamab_restart(apps):
    """Fill the rule on the shipped epcoritamab template's last step. In place while no course
    uses the version; else in a new version (the courses keep theirs), as revise_protocol does.
    A template the centre has edited is left as it is."""
    Protocol = apps.get_model("monitoring", "Protocol")
    ProtocolVersion = apps.get_model("monitoring", "ProtocolVersion")
    CheckSchedule = apps.get_model("monitoring", "CheckSchedule")
    DoseStep = apps.get_model("monitoring", "DoseStep")
    TreatmentCourse = apps.get_model("monitoring", "TreatmentCourse")
    AuditEvent = apps.get_model("monitoring", "AuditEvent")
    protocol = Protocol.objects.filter(name=EPCORITAMAB).first()
    if protocol is None:
        return
    latest = ProtocolVersion.objects.filter(protocol=protocol).order_by("-number").first()
    if latest is None or not latest.is_template or not _steps_as_shipped(DoseStep, latest):
        return  # already filled, or the centre has made the template its own
    if not TreatmentCourse.objects.filter(protocol_version=latest).exists():
        DoseStep.objects.filter(version=latest, sequence=3).update(
            restart_rules=EPK_RULES, source=EPK_SOURCE[:300]
        )
        latest.change_note = f"{latest.change_note} {EPK_NOTE}".strip()[:500]
        latest.save(update_fields=["change_note"])
        return
    target = ProtocolVersion.objects.create(
        protocol=protocol,
        number=latest.number + 1,
        change_note=EPK_NOTE,
        **{
            f.attname: getattr(latest, f.attname)
            for f in ProtocolVersion._meta.concrete_fields
            if f.name not in NOT_COPIED
        },
    )
    for schedule in CheckSchedule.objects.filter(version=latest):
        CheckSchedule.objects.create(
            version=target,
            **{
                f.attname: getattr(schedule, f.attname)
                for f in CheckSchedule._meta.concrete_fields
                if f.name not in STEP_NOT_COPIED
            },
        )
    for step in DoseStep.objects.filter(version=latest).order_by("sequence"):
        values = {
            f.attname: getattr(step, f.attname)
            for f in DoseStep._meta.concrete_fields
            if f.name not in STEP_NOT_COPIED
        }
        if step.sequence == 3:
            values.update(restart_rules=EPK_RULES, source=EPK_SOURCE[:300])
        DoseStep.objects.create(version=target, **values)
    if latest.is_active:
        latest.is_active = False  # new courses get the new version
        latest.save(update_fields=["is_active"])
    # Courses were started on it: say in the audit log why there is a new version.
    AuditEvent.objects.create(
        action="protocol_changed",
        summary=f"{protocol.name} v{target.number} created from v{latest.number}: {EPK_NOTE}"[:500],
        details={"protocol": protocol.pk, "from_version": latest.pk, "to_version": target.pk},
    )


def remove_templates(apps, schema_editor):
    """Undo what no course has used yet: the templates, and the epcoritamab rule."""
    Protocol = apps.get_model("monitoring", "Protocol")
    ProtocolVersion = apps.get_model("monitoring", "ProtocolVersion")
    DoseStep = apps.get_model("monitoring", "DoseStep")
    TreatmentCourse = apps.get_model("monitoring", "TreatmentCourse")
    for template in TEMPLATES:
        protocol = Protocol.objects.filter(name=template["name"]).first()
        if protocol is None:
            continue
        versions = ProtocolVersion.objects.filter(protocol=protocol)
        if TreatmentCourse.objects.filter(protocol_version__in=versions).exists():
            continue  # courses were monitored by it: it stays on the record
        versions.delete()  # with their schedules and dose steps
        protocol.delete()
    protocol = Protocol.objects.filter(name=EPCORITAMAB).first()
    if protocol is None:
        return
    latest = ProtocolVersion.objects.filter(protocol=protocol).order_by("-number").first()
    if latest is None or TreatmentCourse.objects.filter(protocol_version=latest).exists():
        return
    if latest.change_note == EPK_NOTE and latest.number > 1:  # the version 0024 made
        previous = ProtocolVersion.objects.get(protocol=protocol, number=latest.number - 1)
        latest.delete()
        previous.is_active = True
        previous.save(update_fields=["is_active"])
        return
    step = DoseStep.objects.filter(version=latest, sequence=3, source=EPK_SOURCE[:300]).first()
    if step is not None and step.restart_rules == EPK_RULES:
        step.restart_rules = []
        step.source = EPK_SHIPPED_SOURCE[:300]
        step.save(update_fields=["restart_rules", "source"])
        latest.change_note = latest.change_note.replace(EPK_NOTE, "").strip()
        latest.save(update_fields=["change_note"])


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0023_audit_actions_journey")]

    operations = [migrations.RunPython(create_templates, remove_templates)]

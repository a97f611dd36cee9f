"""Ship step-up dosing templates for teclistamab and epcoritamab, from each product's US label.

Every value is cited in docs/clinical-rules.md ("T-cell engagers: step-up dosing, windows and
gates"); the centre must check them against the current label before clinical use. Where a label
gives no duration (how long CRS or ICANS must have resolved before the next dose, the window
after epcoritamab's first two step-up doses, the check intervals), the value is a centre choice,
and the step's source says so.
"""

from django.db import migrations

# Check intervals inside a dose's window: the labels give none; these copy the default CAR-T
# template's (vital signs q4h, hourly from CRS 2; ICE q8h, q2h from ICANS 1 / CRS 2 / ICE drop).
SCHEDULES = [
    ("vitals", 240, 60, 2, None, False),
    ("symptoms", 240, 60, 2, None, False),
    ("neuro", 480, 120, 2, 1, True),
]
TEC = "TECVAYLI (teclistamab-cqyv) US PI §2.1 Table 1"
TEC_RESTART = "TECVAYLI US PI §2.3 Table 2 (restart after dose delay)"
EPK = "EPKINLY (epcoritamab-bysp) US PI §2.2 Table 1 (DLBCL / HGBCL)"
CENTRE = "gate duration: centre choice (label: withhold until resolved)"
TEMPLATES = [
    {
        "name": "Teclistamab step-up (template)",
        "products": ["teclistamab"],
        "description": (
            "TECVAYLI step-up dosing from the US prescribing information: step-up dose 1 "
            "0.06 mg/kg (day 1), step-up dose 2 0.3 mg/kg (day 4), first treatment dose "
            "1.5 mg/kg (day 7); hospitalise for 48 hours after each. A TEMPLATE: check it "
            "against the current label and set the gate durations your centre uses."
        ),
        "steps": [
            # label, step-up, day offset, dose, window h, premed h, crs h, icans h, restart, source
            (
                "Step-up dose 1",
                True,
                0,
                "0.06 mg/kg SC",
                48,
                3,
                None,
                None,
                [],
                f"{TEC}; 48 h hospitalisation §2.1",
            ),
            (
                "Step-up dose 2",
                True,
                3,
                "0.3 mg/kg SC",
                48,
                3,
                0,
                0,
                [{"after_days": 7, "restart_at": 1}],
                f"{TEC}; {TEC_RESTART}; {CENTRE}",
            ),
            (
                "First treatment dose",
                False,
                6,
                "1.5 mg/kg SC",
                48,
                3,
                0,
                0,
                [{"after_days": 7, "restart_at": 2}, {"after_days": 28, "restart_at": 1}],
                f"{TEC}; {TEC_RESTART}; {CENTRE}",
            ),
        ],
    },
    {
        "name": "Epcoritamab step-up, DLBCL (template)",
        "products": ["epcoritamab"],
        "description": (
            "EPKINLY 2-step-up schedule for DLBCL / high-grade B-cell lymphoma from the US "
            "prescribing information: 0.16 mg (cycle 1 day 1), 0.8 mg (day 8), 48 mg first full "
            "dose (day 15, hospitalise for 24 hours). A TEMPLATE: check it against the current "
            "label; the windows after the first two doses and the gate durations are centre "
            "choices."
        ),
        "steps": [
            (
                "Step-up dose 1",
                True,
                0,
                "0.16 mg SC (C1D1)",
                24,
                2,
                None,
                None,
                [],
                f"{EPK}; window: centre choice (label: monitor for CRS/ICANS)",
            ),
            (
                "Step-up dose 2",
                True,
                7,
                "0.8 mg SC (C1D8)",
                24,
                2,
                0,
                0,
                [{"after_days": 8, "restart_at": 1}],
                f"{EPK}; restart: EPKINLY US PI §2.3 (0.16 mg, more than 8 days); window: centre "
                f"choice; {CENTRE}",
            ),
            (
                "First full dose",
                False,
                14,
                "48 mg SC (C1D15)",
                24,
                2,
                0,
                0,
                [],
                f"{EPK}; 24 h hospitalisation after C1D15 §2.1; restart table for 0.8 mg: centre "
                f"to enter; {CENTRE}",
            ),
        ],
    },
]


def create_templates(apps, schema_editor):
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
            continue
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


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0016_dosing_steps_doses")]

    operations = [migrations.RunPython(create_templates, migrations.RunPython.noop)]

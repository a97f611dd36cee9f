"""Ship a default monitoring protocol built from the clinical reference, marked as a template.

Schedules: vital signs every 4 h, hourly from CRS grade 2 (reference §6.1: q4h for ≥ 9 days;
ASCO: continuous monitoring from grade 2); ICE/CAPD every 8 h, every 2 h once ICANS ≥ 1, CRS ≥ 2
or any ICE point is lost (ASCO ≥ twice daily, ASH-SAP q8h, "increase frequency when ICANS or CRS
is present"); symptom review with the vital signs; labs daily. Monitoring window 14 days (US
labels since June 2025, §6.2). Thresholds: grading.VitalThresholds defaults. Escalation text:
flag_rules defaults (ASCO 2021, §7). Each centre must review it before clinical use.
"""

from django.db import migrations

SCHEDULES = [
    # check type, interval, tightened interval, at CRS >=, at ICANS >=, on any ICE point lost
    ("vitals", 240, 60, 2, None, False),
    ("symptoms", 240, 60, 2, None, False),
    ("neuro", 480, 120, 2, 1, True),
    ("labs", 1440, None, None, None, False),
]


def create_default_protocol(apps, schema_editor):
    from monitoring import flag_rules

    Protocol = apps.get_model("monitoring", "Protocol")
    ProtocolVersion = apps.get_model("monitoring", "ProtocolVersion")
    CheckSchedule = apps.get_model("monitoring", "CheckSchedule")
    protocol, created = Protocol.objects.get_or_create(
        name="Default CAR-T monitoring (template)",
        defaults={
            "description": (
                "Built from the ASCO 2021 / ASTCT 2019 guidance and the 2025 US labels as summarised "
                "in cartmonitor's clinical reference. A TEMPLATE: each centre's cellular-therapy "
                "program must review and sign off every interval, threshold and text."
            )
        },
    )
    if not created:
        return
    version = ProtocolVersion.objects.create(
        protocol=protocol,
        number=1,
        is_active=True,
        is_template=True,
        monitoring_window_days=14,
        escalation={
            "crs": {str(k): v for k, v in flag_rules.CRS_ESCALATION.items()},
            "icans": {str(k): v for k, v in flag_rules.ICANS_ESCALATION.items()},
        },
        change_note="Shipped template (reference §6, §7).",
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


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial")]

    operations = [migrations.RunPython(create_default_protocol, migrations.RunPython.noop)]

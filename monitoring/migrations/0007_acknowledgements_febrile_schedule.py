"""Every acknowledgement of a flag kept (FlagAcknowledgement); a febrile tier for check
schedules; and the shipped default protocol made to follow the clinical reference §6.1.

Reference §6.1: vital signs at least every 4 h, **every 2 h with fever and tachycardia**; ICE
"increase frequency when ICANS or CRS is present". The shipped template (0002) tightened only
from CRS grade 2. Now: vital signs and the symptom review every 4 h, every 2 h with fever (any
CRS grade: ASTCT grades CRS from fever, schedule.is_febrile), every hour from CRS 2 (kept: ASCO's
continuous monitoring from grade 2); ICE/CAPD every 8 h, every 2 h once CRS or ICANS is present
(grade ≥ 1) or any ICE point is lost; labs daily.

Courses keep their version: when a course uses the shipped version, the change is a new version
(the old one no longer offered to new courses), as services.revise_protocol does; otherwise the
template is updated in place. A centre that already edited its schedules keeps its own.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


DEFAULT_PROTOCOL = "Default CAR-T monitoring (template)"
# check type -> (interval, tightened, at CRS >=, at ICANS >=, on any ICE point lost, febrile)
SHIPPED = {  # migration 0002
    "vitals": (240, 60, 2, None, False, None),
    "symptoms": (240, 60, 2, None, False, None),
    "neuro": (480, 120, 2, 1, True, None),
    "labs": (1440, None, None, None, False, None),
}
FOLLOWING_THE_REFERENCE = {
    "vitals": (240, 60, 2, None, False, 120),
    "symptoms": (240, 60, 2, None, False, 120),
    "neuro": (480, 120, 1, 1, True, None),
    "labs": (1440, None, None, None, False, None),
}
FIELDS = (
    "interval_minutes",
    "tightened_interval_minutes",
    "tighten_at_crs_grade",
    "tighten_at_icans_grade",
    "tighten_on_neuro_change",
    "febrile_interval_minutes",
)
NOTE = (
    "Follows reference §6.1: vital signs and symptom review every 2 h with fever (any CRS "
    "grade), hourly from CRS 2; ICE/CAPD every 2 h once CRS or ICANS is present or an ICE point "
    "is lost (was: tightened only from CRS 2)."
)
# Bookkeeping of a version that a new version does not copy.
NOT_COPIED = {"id", "protocol", "number", "created_at", "created_by", "change_note"}


def follow_the_reference(apps, schema_editor):
    Protocol = apps.get_model("monitoring", "Protocol")
    ProtocolVersion = apps.get_model("monitoring", "ProtocolVersion")
    CheckSchedule = apps.get_model("monitoring", "CheckSchedule")
    TreatmentCourse = apps.get_model("monitoring", "TreatmentCourse")
    AuditEvent = apps.get_model("monitoring", "AuditEvent")
    protocol = Protocol.objects.filter(name=DEFAULT_PROTOCOL).first()
    if protocol is None:
        return
    latest = ProtocolVersion.objects.filter(protocol=protocol).order_by("-number").first()
    schedules = {s.check_type: s for s in CheckSchedule.objects.filter(version=latest)}
    current = {t: tuple(getattr(s, f) for f in FIELDS) for t, s in schedules.items()}
    if latest is None or current != SHIPPED:
        return  # the centre has made the template its own: leave it as it is
    if TreatmentCourse.objects.filter(protocol_version=latest).exists():
        target = ProtocolVersion.objects.create(
            protocol=protocol,
            number=latest.number + 1,
            change_note=NOTE,
            **{
                f.attname: getattr(latest, f.attname)
                for f in ProtocolVersion._meta.concrete_fields
                if f.name not in NOT_COPIED
            },
        )
        for check_type, values in FOLLOWING_THE_REFERENCE.items():
            CheckSchedule.objects.create(
                version=target, check_type=check_type, **dict(zip(FIELDS, values))
            )
        if latest.is_active:
            latest.is_active = False  # new courses get the new version
            latest.save(update_fields=["is_active"])
        # Courses were started on it: say in the audit log why there is a new version.
        AuditEvent.objects.create(
            action="protocol_changed",
            summary=f"{protocol.name} v{target.number} created from v{latest.number}: {NOTE}"[:500],
            details={"protocol": protocol.pk, "from_version": latest.pk, "to_version": target.pk},
        )
    else:  # a fresh install: no course has used the template yet
        for check_type, values in FOLLOWING_THE_REFERENCE.items():
            for name, value in zip(FIELDS, values):
                setattr(schedules[check_type], name, value)
            schedules[check_type].save()
        latest.change_note = f"{latest.change_note} {NOTE}".strip()[:500]
        latest.save(update_fields=["change_note"])


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0006_attribution_airway_protection"),
    ]

    operations = [
        migrations.CreateModel(
            name="FlagAcknowledgement",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("acknowledged_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("note", models.CharField(blank=True, max_length=500)),
                (
                    "severity",
                    models.PositiveSmallIntegerField(
                        choices=[(1, "Info"), (2, "Warning"), (3, "Urgent"), (4, "Critical")]
                    ),
                ),
                ("message", models.CharField(max_length=500)),
            ],
            options={
                "ordering": ["acknowledged_at", "pk"],
            },
        ),
        migrations.AddField(
            model_name="checkschedule",
            name="febrile_interval_minutes",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Interval while the patient has fever (any CRS grade), in minutes.",
                null=True,
                verbose_name="interval while febrile",
            ),
        ),
        migrations.AddField(
            model_name="historicalcheckschedule",
            name="febrile_interval_minutes",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Interval while the patient has fever (any CRS grade), in minutes.",
                null=True,
                verbose_name="interval while febrile",
            ),
        ),
        migrations.AddConstraint(
            model_name="checkschedule",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("febrile_interval_minutes__isnull", True),
                    models.Q(
                        ("febrile_interval_minutes__gte", 5),
                        ("febrile_interval_minutes__lte", 10080),
                    ),
                    _connector="OR",
                ),
                name="schedule_febrile_interval_minutes_plausible",
            ),
        ),
        migrations.AddField(
            model_name="flagacknowledgement",
            name="acknowledged_by",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="flagacknowledgement",
            name="flag",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="acknowledgements",
                to="monitoring.flag",
            ),
        ),
        migrations.RunPython(follow_the_reference, migrations.RunPython.noop),
    ]

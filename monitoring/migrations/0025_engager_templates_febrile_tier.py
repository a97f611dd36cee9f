"""The engager templates (0017, 0024) follow the clinical reference §6.1 like the default
protocol does since 0007: vital signs and the symptom review every 2 h with fever (any CRS
grade), hourly from CRS 2; ICE/CAPD every 2 h once CRS or ICANS is present (grade ≥ 1) or an
ICE point is lost. Their schedules had copied the default's from before 0007 (tightened only
from CRS 2, no febrile tier), so a febrile patient inside a step-up window was checked every
4 h.

As 0007 does: in place while no course uses the template's latest version; else a new version
(the courses keep theirs; every schedule and dose step copied), with an audit event. A template
whose schedules the centre has edited is left as it is.
"""

import importlib

from django.db import migrations

OLD = {  # 0017 / 0024 SCHEDULES
    "vitals": (240, 60, 2, None, False, None),
    "symptoms": (240, 60, 2, None, False, None),
    "neuro": (480, 120, 2, 1, True, None),
}
FOLLOWING_THE_REFERENCE = {  # 0007's, without labs (the engager templates ask for none)
    "vitals": (240, 60, 2, None, False, 120),
    "symptoms": (240, 60, 2, None, False, 120),
    "neuro": (480, 120, 1, 1, True, None),
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
    "Follows reference §6.1 as the default protocol does: vital signs and symptom review every "
    "2 h with fever (any CRS grade), hourly from CRS 2; ICE every 2 h once CRS or ICANS is "
    "present or an ICE point is lost (was: tightened only from CRS 2)."
)
NOT_COPIED = {"id", "protocol", "number", "created_at", "created_by", "change_note"}
CHILD_NOT_COPIED = {"id", "version"}


def template_names() -> list[str]:
    names = []
    for module in ("0017_dosing_engager_templates", "0024_more_engager_templates"):
        migration = importlib.import_module(f"monitoring.migrations.{module}")
        names += [template["name"] for template in migration.TEMPLATES]
    return names


def _copy(model, source, target, **changes):
    values = {
        f.attname: getattr(source, f.attname)
        for f in model._meta.concrete_fields
        if f.name not in CHILD_NOT_COPIED
    }
    values.update(changes)
    return model.objects.create(version=target, **values)


def follow_the_reference(apps, schema_editor):
    Protocol = apps.get_model("monitoring", "Protocol")
    ProtocolVersion = apps.get_model("monitoring", "ProtocolVersion")
    CheckSchedule = apps.get_model("monitoring", "CheckSchedule")
    DoseStep = apps.get_model("monitoring", "DoseStep")
    TreatmentCourse = apps.get_model("monitoring", "TreatmentCourse")
    AuditEvent = apps.get_model("monitoring", "AuditEvent")
    for protocol in Protocol.objects.filter(name__in=template_names()):
        latest = ProtocolVersion.objects.filter(protocol=protocol).order_by("-number").first()
        if latest is None:
            continue
        schedules = {s.check_type: s for s in CheckSchedule.objects.filter(version=latest)}
        current = {t: tuple(getattr(s, f) for f in FIELDS) for t, s in schedules.items()}
        if current != OLD:
            continue  # already following, or the centre has made the template its own
        if not TreatmentCourse.objects.filter(protocol_version=latest).exists():
            for check_type, values in FOLLOWING_THE_REFERENCE.items():
                for name, value in zip(FIELDS, values):
                    setattr(schedules[check_type], name, value)
                schedules[check_type].save()
            latest.change_note = f"{latest.change_note} {NOTE}".strip()[:500]
            latest.save(update_fields=["change_note"])
            continue
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
        for check_type, schedule in schedules.items():
            _copy(
                CheckSchedule,
                schedule,
                target,
                **dict(zip(FIELDS, FOLLOWING_THE_REFERENCE[check_type])),
            )
        for step in DoseStep.objects.filter(version=latest).order_by("sequence"):
            _copy(DoseStep, step, target)
        if latest.is_active:
            latest.is_active = False  # new courses get the new version
            latest.save(update_fields=["is_active"])
        AuditEvent.objects.create(
            action="protocol_changed",
            summary=f"{protocol.name} v{target.number} created from v{latest.number}: {NOTE}"[:500],
            details={"protocol": protocol.pk, "from_version": latest.pk, "to_version": target.pk},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0024_more_engager_templates"),
    ]

    operations = [
        # Not reversed: going back keeps the safer schedules (nothing to undo for a course).
        migrations.RunPython(follow_the_reference, migrations.RunPython.noop),
    ]

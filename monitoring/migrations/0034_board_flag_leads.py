"""The flag board's order keys on the status row (CourseStatus.open_lead_*/acked_lead_*),
filled for existing courses from their unresolved flags: one UPDATE, whatever their number."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce


def fill_flag_leads(apps, schema_editor):
    """As engine.flag_leads: per status, the most severe flag, then the longest waiting."""
    CourseStatus = apps.get_model("monitoring", "CourseStatus")
    Flag = apps.get_model("monitoring", "Flag")
    values = {}
    for prefix, status in (("open", "open"), ("acked", "acknowledged")):
        lead = (
            Flag.objects.filter(course=OuterRef("course"), status=status)
            .annotate(since=Coalesce("worsened_at", "raised_at"))
            .order_by("-severity", "since", "pk")
        )
        values[f"{prefix}_lead_severity"] = Subquery(lead.values("severity")[:1])
        values[f"{prefix}_lead_since"] = Subquery(lead.values("since")[:1])
    CourseStatus.objects.update(**values)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0033_home_checkin_submission"),
    ]

    operations = [
        migrations.AddField(
            model_name="coursestatus",
            name="open_lead_severity",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="coursestatus",
            name="open_lead_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="coursestatus",
            name="acked_lead_severity",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="coursestatus",
            name="acked_lead_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(fill_flag_leads, migrations.RunPython.noop, elidable=True),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0013_news2_missing")]

    operations = [
        migrations.AddField(
            model_name="historicalflag",
            name="message_data",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="flag",
            name="message_data",
            field=models.JSONField(blank=True, null=True),
        ),
    ]

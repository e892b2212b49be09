from django.db import migrations, models


def fill_master_call_id(apps, schema_editor):
    """Agent legs stored before the column existed name their customer's call in their data."""
    Call = apps.get_model("dashboard", "Call")
    for call in Call.objects.filter(data__has_key="master_call_id").iterator():
        master = str(call.data.get("master_call_id") or "")
        if master and master != "00000000-0000-0000-0000-000000000000":
            Call.objects.filter(pk=call.pk).update(master_call_id=master)


class Migration(migrations.Migration):

    dependencies = [
        ("dashboard", "0006_reply_send_start_and_threshold_limits"),
    ]

    operations = [
        migrations.AddField(
            model_name="call",
            name="master_call_id",
            field=models.CharField(
                blank=True, db_index=True, help_text="The customer's call this agent leg serves", max_length=64
            ),
        ),
        migrations.RunPython(fill_master_call_id, migrations.RunPython.noop),
    ]

"""Progress events packed per commit (engine.progress.pack): existing rows become one-event rows.
An instance created without an id has a NULL key (existing keys stay as they are)."""
import json

from django.db import migrations, models

CODES = {"workflow_queued": 1, "workflow_started": 2, "workflow_paused": 3, "workflow_waiting": 4,
         "workflow_completed": 5, "workflow_errored": 6, "workflow_terminated": 7, "step_started": 8,
         "step_completed": 9, "step_errored": 10, "attempt_started": 11, "attempt_errored": 12,
         "sleep_started": 13, "sleep_completed": 14, "wait_started": 15, "wait_completed": 16,
         "wait_timed_out": 17, "log": 18}  # engine.progress.KIND_CODES as of this migration


def pack_rows(apps, schema_editor):
    ProgressEvent = apps.get_model("engine", "ProgressEvent")
    batch = []
    for pk, type_, step, attempt, data in ProgressEvent.objects.values_list("pk", "type", "step", "attempt", "data").iterator(2000):
        event = [CODES.get(type_, type_), step, attempt, data or None]
        while len(event) > 1 and event[-1] is None:
            event.pop()
        batch.append(ProgressEvent(pk=pk, events=json.dumps([event], separators=(",", ":"), ensure_ascii=False),
                                   lifecycle=type_.startswith("workflow_")))
        if len(batch) == 2000:
            ProgressEvent.objects.bulk_update(batch, ["events", "lifecycle"])
            batch = []
    ProgressEvent.objects.bulk_update(batch, ["events", "lifecycle"])


def give_keys(apps, schema_editor):
    """Backwards: the key column is required again; an instance without one gets its uuid's hex."""
    Instance = apps.get_model("engine", "Instance")
    for instance in Instance.objects.filter(key__isnull=True).only("pk").iterator(2000):
        Instance.objects.filter(pk=instance.pk).update(key=instance.pk.hex)


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0008_rollbacks'),
    ]

    operations = [
        migrations.AddField(model_name='progressevent', name='count', field=models.PositiveSmallIntegerField(default=1)),
        migrations.AddField(model_name='progressevent', name='events', field=models.TextField(default='[]'), preserve_default=False),
        migrations.AddField(model_name='progressevent', name='lifecycle', field=models.BooleanField(default=False)),
        migrations.RunPython(pack_rows),  # irreversible: packed rows do not fit one-event columns
        migrations.RemoveIndex(model_name='progressevent', name='progress_workflow_stream'),
        migrations.RemoveField(model_name='progressevent', name='type'),
        migrations.RemoveField(model_name='progressevent', name='step'),
        migrations.RemoveField(model_name='progressevent', name='attempt'),
        migrations.RemoveField(model_name='progressevent', name='data'),
        migrations.AlterField(
            model_name='progressevent', name='tenant',
            field=models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name='+', to='tenants.tenant'),
        ),
        migrations.AddIndex(
            model_name='progressevent',
            index=models.Index(condition=models.Q(('lifecycle', True)), fields=['txid', 'id'], name='progress_lifecycle_stream'),
        ),
        migrations.RemoveIndex(model_name='instance', name='instance_key'),
        migrations.AlterField(model_name='instance', name='key', field=models.CharField(blank=True, max_length=64, null=True)),
        migrations.RunPython(migrations.RunPython.noop, give_keys),
        migrations.AddIndex(
            model_name='instance',
            index=models.Index(condition=models.Q(('key__isnull', False)), fields=['key'], name='instance_key_given'),
        ),
    ]

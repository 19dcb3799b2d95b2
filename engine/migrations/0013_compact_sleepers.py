"""Smaller sleeping instances (issue 21): the (workflow, key) unique index holds only instances
with a caller-chosen key; step records lose their tenant index (every read goes through the
instance); new instance ids are time-ordered (engine.models.new_id: Python-side, no column change).
"""
import django.db.models.deletion
from django.db import migrations, models

import engine.models


class Migration(migrations.Migration):

    dependencies = [
        ('builder', '0003_pins'),
        ('engine', '0012_instance_scope'),
        ('tenants', '0005_audit_entries_plural'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='instance',
            name='instance_key_per_workflow',
        ),
        migrations.AddConstraint(
            model_name='instance',
            constraint=models.UniqueConstraint(condition=models.Q(('key__isnull', False)), fields=('workflow', 'key'), name='instance_key_per_workflow'),
        ),
        # The default is applied by Django, not the database: nothing to change in the table (an
        # AlterField would rebuild it on SQLite).
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name='instance',
                name='id',
                field=models.UUIDField(default=engine.models.new_id, editable=False, primary_key=True, serialize=False),
            ),
        ]),
        # Only the index goes (the foreign key stays): on SQLite an AlterField would rebuild the table.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='steprecord',
                    name='tenant',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant'),
                ),
            ],
            database_operations=[
                migrations.RunSQL('DROP INDEX IF EXISTS "engine_steprecord_tenant_id_05128cd4"',
                                  'CREATE INDEX IF NOT EXISTS "engine_steprecord_tenant_id_05128cd4" '
                                  'ON "engine_steprecord" ("tenant_id")'),
            ],
        ),
    ]

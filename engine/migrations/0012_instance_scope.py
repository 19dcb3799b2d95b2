from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0011_test_instances'),
    ]

    operations = [
        migrations.AddField(
            model_name='instance',
            name='scope',
            field=models.JSONField(blank=True, default=None, null=True),
        ),
    ]

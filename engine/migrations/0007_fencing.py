from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('engine', '0006_dispatch_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='instance',
            name='fence',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='attempt',
            name='fence',
            field=models.BigIntegerField(default=0),
        ),
    ]

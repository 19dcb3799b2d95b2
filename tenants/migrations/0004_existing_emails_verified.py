"""Accounts moved to allauth with mandatory email verification: the addresses people already had
were accepted before, so they become their verified primary addresses (allauth's EmailAddress)
instead of locking everyone out at their next sign-in."""
from django.db import migrations


def forwards(apps, schema_editor):
    User = apps.get_model("auth", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    seen = set(e.lower() for e in EmailAddress.objects.values_list("email", flat=True))
    for user in User.objects.exclude(email="").order_by("pk").iterator():
        email = user.email.strip().lower()
        if email and email not in seen and not EmailAddress.objects.filter(user=user).exists():
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
            seen.add(email)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0003_invitation"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

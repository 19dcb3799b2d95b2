"""Re-encrypt every tenant secret under the first key of SECRETS_KEYS."""
from django.core.management.base import BaseCommand

from tenants.secrets import secrets_rotate


class Command(BaseCommand):
    help = "Re-encrypt all secrets with the primary key (put the new key first in SECRETS_KEYS)."

    def handle(self, *args, **options):
        self.stdout.write(f"rotated {secrets_rotate()} secrets")

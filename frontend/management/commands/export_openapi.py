"""Write the API's OpenAPI schema (the editor's typed client is generated from it)."""
import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Print the /api/v1 OpenAPI schema as JSON."

    def handle(self, *args, **options):
        from config.api import api

        self.stdout.write(json.dumps(api.get_openapi_schema(path_prefix="/api/v1"), indent=1, sort_keys=True))

"""`manage.py deploy_check <tenant> <workflow> <version>`: the safe-deploy check from a shell or CI.

Replays the workflow's in-flight and errored instances against the version's program (nothing runs,
nothing is written; builder.selectors.version_check) and prints one line per instance and the
summary, or the API's JSON with --json. Exits 1 with --strict when any instance diverges or fails.
"""
import json

from django.core.management.base import BaseCommand, CommandError

from builder import selectors
from tenants.errors import NotFound
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Check a workflow version against the instances in flight before publishing it."

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="the tenant's slug")
        parser.add_argument("workflow", help="the workflow's slug")
        parser.add_argument("version", type=int, help="the version number to check")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--strict", action="store_true", help="exit 1 when an instance diverges or fails")

    def handle(self, *args, tenant, workflow, version, **options):
        owner = Tenant.objects.filter(slug=tenant).first()
        if owner is None:
            raise CommandError(f"no tenant {tenant}")
        try:
            wf = selectors.workflow_get_by_slug(tenant=owner, slug=workflow)
            v = selectors.version_get(tenant=owner, workflow=wf, number=version)
        except NotFound as e:
            raise CommandError(str(e)) from None
        report = selectors.version_check(tenant=owner, workflow=wf, version=v)
        report["summary"] = selectors.check_summary(report)
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for r in report["instances"]:
                where = ""
                if r["verdict"] == "diverges":
                    where = f" at {r['step']}: expected {r['expected']}, got {r['got'] or '(nothing: the program ends or blocks)'}"
                elif r["verdict"] == "fails":
                    where = f": {r['error']['name']}: {r['error']['message']}"
                self.stdout.write(f"{r['key']}  {r['status']}  v{r['version']}  {r['verdict']}{where}")
            self.stdout.write(report["summary"] + (" (only the oldest were checked)" if report["truncated"] else ""))
        if options["strict"] and any(r["verdict"] != "continues" for r in report["instances"]):
            raise SystemExit(1)

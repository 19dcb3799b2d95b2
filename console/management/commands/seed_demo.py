"""Create the demo tenant, a demo user and sample workflows (idempotent).

Only for the embedded demo (settings.DEMO, which config/up.sh turns on): the demo user's password is
"demo", so any other configuration refuses to create it."""
from django.contrib.auth import get_user_model
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from builder.models import Workflow
from triggers.approvals import approval_links
from builder.services import version_create_from_code, version_create_from_graph, workflow_create
from engine import services as engine_services
from tenants.models import Membership, Tenant
from tenants.services import tenant_create

SAMPLES = {
    "hello": ("Hello", """
export default async function run(event, step) {
  const name = await step.do("greet", async () => `Hello, ${event.payload?.name ?? "world"}!`);
  console.log(name);
  return { greeting: name };
}"""),
    "order-fulfillment": ("Order fulfillment", """
import { NonRetryableError } from "cloudflare:workflows";

export default async function run(event, step) {
  const order = await step.do("validate_order", async () => {
    const { id, total } = event.payload ?? {};
    if (!id) throw new NonRetryableError("the order has no id");
    return { id, total: Number(total ?? 0) };
  });
  if (order.total > 100) {
    // A person approves big orders: send an "approve" event to this instance.
    const decision = await step.waitForEvent("approval", { type: "approve", timeout: "2 days" });
    if (!decision.payload?.ok) return { status: "rejected", order };
  }
  await step.do("charge", { retries: { limit: 3, delay: "5 seconds", backoff: "exponential" } },
                async () => ({ charged: order.total }));
  await step.sleep("cool_off", "30 seconds");
  const shipment = await step.do("ship", async () => ({ tracking: `TRK-${order.id}` }));
  return { status: "shipped", order, shipment };
}"""),
    "flaky-retries": ("Flaky step with retries", """
export default async function run(event, step) {
  return await step.do("flaky", { retries: { limit: 4, delay: "2 seconds", backoff: "linear" } }, async (ctx) => {
    if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} failed`);
    return `succeeded on attempt ${ctx.attempt}`;
  });
}"""),
}


def node(id, type, data=None, x=0, y=0):
    return {"id": id, "type": type, "position": {"x": x, "y": y}, "data": data or {}}


def edge(source, target, handle=None):
    e = {"id": f"{source}-{handle or 'out'}-{target}", "source": source, "target": target}
    if handle:
        e["sourceHandle"] = handle
    return e


# Drawn workflows (the editor's graph format). No node needs the internet, so the demo runs offline.
GRAPHS = {
    "order-approval": ("Order approval", {
        "nodes": [
            node("order_received", "webhook", {"auth": "none", "response": "immediate"}, 0, 0),
            node("fetch_order", "code", {"code": "return { id: input.body?.id ?? 'A-1', total: input.body?.total ?? 250 };"}, 240, 0),
            node("big_order", "branch", {"condition": "{{ steps.fetch_order.total > 100 }}"}, 480, 0),
            node("manager", "approval", {"timeout": "2 days", "default_decision": "reject"}, 720, -80),
            node("join", "merge", {}, 960, 0),
            node("cool_off", "sleep", {"duration": "30 seconds"}, 1200, 0),
            node("ship", "transform", {"fields": [{"key": "tracking", "value": "TRK-{{ steps.fetch_order.id }}"}]}, 1440, 0),
        ],
        "edges": [edge("order_received", "fetch_order"), edge("fetch_order", "big_order"),
                  edge("big_order", "manager", "true"), edge("big_order", "join", "false"),
                  edge("manager", "join", "approved"), edge("join", "cool_off"), edge("cool_off", "ship")],
    }),
    "daily-digest": ("Daily digest", {
        "nodes": [
            node("every_morning", "schedule", {"cron": "0 8 * * *", "timezone": "Europe/Paris", "overlap": "skip"}),
            node("collect", "code", {"code": "return [{ title: 'Orders', count: 12 }, { title: 'Refunds', count: 1 }];"}, 240),
            node("digest", "transform", {"fields": [
                {"key": "subject", "value": "Digest for {{ input.length }} topics"},
                {"key": "lines", "value": "{{ steps.collect.map((t) => t.title + ': ' + t.count) }}"}]}, 480),
        ],
        "edges": [edge("every_morning", "collect"), edge("collect", "digest")],
    }),
    "fan-out-enrichment": ("Fan-out enrichment", {
        "nodes": [
            node("start", "manual"),
            node("each_customer", "loop", {"items": "{{ input.customers ?? ['ada', 'grace', 'linus'] }}", "concurrency": 3}, 240),
            node("enrich", "code", {"code": "return { name: item, score: item.length * 10 };"}, 480, 120),
            node("summary", "transform", {"fields": [{"key": "total", "value": "{{ input.reduce((a, c) => a + c.score, 0) }}"},
                                                      {"key": "customers", "value": "{{ input }}"}]}, 720),
        ],
        "edges": [edge("start", "each_customer"), edge("each_customer", "enrich", "body"),
                  edge("each_customer", "summary", "done")],
    }),
}


class Command(BaseCommand):
    help = "Seed a demo tenant, user (demo / demo) and sample workflows."

    @transaction.atomic
    def handle(self, *args, **options):
        if not settings.DEMO:
            raise CommandError("the demo user (demo / demo) is only for the embedded demo: set DEMO=1 "
                               "(config/up.sh does) to seed it; a production configuration never has it")
        from allauth.account.models import EmailAddress

        tenant = Tenant.objects.filter(slug="demo").first() or tenant_create(slug="demo", name="Demo")
        User = get_user_model()
        user = User.objects.filter(username="demo").first()
        if user is None:
            # Created directly: "demo" would fail the password validators every other account passes.
            user = User.objects.create_superuser("demo", "demo@example.com", "demo", first_name="Demo account")
        EmailAddress.objects.get_or_create(user=user, email="demo@example.com", defaults={"verified": True, "primary": True})
        Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": Membership.Role.OWNER})
        for slug, (name, program) in SAMPLES.items():
            wf = Workflow.objects.filter(tenant=tenant, slug=slug).first()
            if wf is None:
                wf = workflow_create(tenant=tenant, slug=slug, name=name)
                version_create_from_code(workflow=wf, program=program.strip() + "\n")
                wf.refresh_from_db()
                engine_services.instance_create(tenant=tenant, workflow=wf, id="sample-1",
                                                params={"name": "demo", "id": "A-1", "total": 42})
        for slug, (name, graph) in GRAPHS.items():
            if Workflow.objects.filter(tenant=tenant, slug=slug).exists():
                continue
            wf = workflow_create(tenant=tenant, slug=slug, name=name, draft=graph)
            version_create_from_graph(workflow=wf, graph=graph, publish=True)
            wf.refresh_from_db()
            if slug != "daily-digest":
                inst = engine_services.instance_create(tenant=tenant, workflow=wf, id="sample-1",
                                                       params={"body": {"id": "A-7", "total": 420}})
                if slug == "order-approval":
                    links = approval_links(instance=inst, step="manager")
                    self.stdout.write(f"order-approval sample-1 waits for approval: approve at {links['approve']}")
        self.stdout.write("demo tenant ready: sign in at /editor/ as demo / demo (the console at /admin/ asks it to set "
                          "up an authenticator app first, like every operator)")

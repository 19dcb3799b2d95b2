"""Create the demo tenant, a demo user and sample workflows (idempotent)."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from builder.models import Workflow
from builder.services import version_create_from_code, workflow_create
from engine import services as engine_services
from tenants.models import Tenant
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


class Command(BaseCommand):
    help = "Seed a demo tenant, user (demo / demo) and sample workflows."

    @transaction.atomic
    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug="demo").first() or tenant_create(slug="demo", name="Demo")
        User = get_user_model()
        if not User.objects.filter(username="demo").exists():
            User.objects.create_superuser("demo", "demo@example.com", "demo")
        for slug, (name, program) in SAMPLES.items():
            wf = Workflow.objects.filter(tenant=tenant, slug=slug).first()
            if wf is None:
                wf = workflow_create(tenant=tenant, slug=slug, name=name)
                version_create_from_code(workflow=wf, program=program.strip() + "\n")
                wf.refresh_from_db()
                engine_services.instance_create(tenant=tenant, workflow=wf, id="sample-1",
                                                params={"name": "demo", "id": "A-1", "total": 42})
        self.stdout.write("demo tenant ready: sign in at /admin/ as demo / demo")

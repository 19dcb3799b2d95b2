"""Everything that starts an instance, in one place: webhooks (webhooks.py, and the raw ASGI app
hooks_asgi.py), schedule triggers (schedules.py), approval links and the approval API
(approvals.py), sub-workflows (the `startWorkflow` capability, capabilities.py), and the API's
create, batch, Run-the-draft and restart-failed operations (api.py, services.py).

Above builder (it reads graphs and versions to know what to start) and the engine (it starts
instances only through engine.services); below the console (.importlinter)."""

"""The Celery app (distributed mode): the engine's, as the engine both sends its task messages
(engine.dispatch) and runs them (engine.tasks). Workers start it as `celery -A config.celery`,
which sets the settings module first.

Invariant: importing this module connects to nothing; the broker is reached only when a message
is sent or a worker starts."""
from celery import Celery

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

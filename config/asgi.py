"""ASGI entry point served by daphne."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from config.bodylimit import install as install_body_limit  # noqa: E402

install_body_limit()  # daphne refuses bodies over REQUEST_MAX_BODY_BYTES while they arrive

# autobahn (daphne's WebSocket layer) builds the arguments of a debug log line for every frame it
# sends, coloured with click when click is installed (Celery brings it), even though the line is
# never logged: about a third of daphne's CPU when 100 viewers follow one instance (measured with
# cProfile under `manage.py bench live`). Uncoloured, building them costs next to nothing.
import autobahn.util  # noqa: E402

autobahn.util._HAS_CLICK = False

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402


from triggers.hooks_asgi import HooksApp  # noqa: E402
from engine.routing import websocket_urlpatterns  # noqa: E402

# Webhooks are answered by HooksApp (body limit before buffering, no Django request overhead);
# everything else by Django.
application = ProtocolTypeRouter({
    "http": HooksApp(django_asgi_app),
    # Live progress: the session (or an API key header) authenticates; the consumer checks the
    # Origin of session clients, and refuses after accepting so that clients see the close code.
    "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
})

"""Template context for the accounts pages."""
from django.conf import settings


def accounts(request) -> dict:
    # The demo banner: only in the embedded demo (settings.DEMO), on the pages before sign-in.
    return {"demo_mode": settings.DEMO and not request.user.is_authenticated}

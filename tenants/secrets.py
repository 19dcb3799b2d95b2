"""Tenant secrets, encrypted at rest with MultiFernet under keys kept apart from SECRET_KEY.

Keys: SECRETS_KEYS (comma-separated Fernet keys, the first encrypts, all decrypt), else a key file
in VAR_DIR created on first use (embedded mode). Rotation: add a new key in front, run
`manage.py rotate_secrets`, then drop the old key.
Invariant: plaintext leaves this module only through secret_value(), which the engine's secret
capability calls for the tenant's own program; secret_names() never returns values.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction

from .errors import InvalidInput, NotFound
from .models import Secret, Tenant

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_VALUE_BYTES = 64 * 1024


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys = [k.strip() for k in os.environ.get("SECRETS_KEYS", "").split(",") if k.strip()]
    if not keys:
        path = Path(settings.VAR_DIR) / "secrets.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
        keys = [path.read_text().strip()]
    return MultiFernet([Fernet(k) for k in keys])


def reset_keys() -> None:
    """Forget the loaded keys (after SECRETS_KEYS changed)."""
    _fernet.cache_clear()


def secret_put(*, tenant: Tenant, name: str, value: str) -> Secret:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInput("name", "a secret name is letters, digits and '_', not starting with a digit, at most 128")
    if not isinstance(value, str) or len(value.encode()) > MAX_VALUE_BYTES:
        raise InvalidInput("value", f"a secret value is a string of at most {MAX_VALUE_BYTES} bytes")
    token = _fernet().encrypt(value.encode())
    secret, _ = Secret.objects.update_or_create(tenant=tenant, name=name, defaults={"ciphertext": token})
    return secret


def secret_delete(*, tenant: Tenant, name: str) -> None:
    if not Secret.objects.filter(tenant=tenant, name=name).delete()[0]:
        raise NotFound("secret", f"no secret named {name}")


def secret_names(*, tenant: Tenant) -> list[str]:
    return list(Secret.objects.filter(tenant=tenant).order_by("name").values_list("name", flat=True))


def secret_value(*, tenant_id: int, name: str) -> str:
    token = Secret.objects.filter(tenant_id=tenant_id, name=name).values_list("ciphertext", flat=True).first()
    if token is None:
        raise NotFound("secret", f"no secret named {name}")
    try:
        return _fernet().decrypt(bytes(token)).decode()
    except InvalidToken:
        raise NotFound("secret", f"secret {name} cannot be decrypted with the configured keys") from None


@transaction.atomic
def secrets_rotate() -> int:
    """Re-encrypt every secret under the first key; returns how many were rotated."""
    f = _fernet()
    count = 0
    for secret in Secret.objects.select_for_update().only("pk", "ciphertext"):
        Secret.objects.filter(pk=secret.pk).update(ciphertext=f.rotate(bytes(secret.ciphertext)))
        count += 1
    return count

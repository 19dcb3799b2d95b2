"""Idempotency-Key on create operations, with Stripe's semantics: the same key and the same
request replay the first answer; the same key with another request is refused (422)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.db import IntegrityError, transaction

from .errors import InvalidInput
from .models import IdempotencyRecord


def idempotent(request, tenant, run: Callable[[], tuple[int, dict]]) -> tuple[int, dict]:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return run()
    if len(key) > 255:
        raise InvalidInput("Idempotency-Key", "an Idempotency-Key is at most 255 characters")
    digest = hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + request.body).hexdigest()

    def replay(record: IdempotencyRecord) -> tuple[int, dict]:
        if record.request_hash != digest:
            raise InvalidInput("Idempotency-Key", "this Idempotency-Key was used with a different request")
        return record.status, record.body

    record = IdempotencyRecord.objects.filter(tenant=tenant, key=key).first()
    if record:
        return replay(record)
    status, body = run()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(tenant=tenant, key=key, request_hash=digest, status=status, body=body)
    except IntegrityError:  # the same key, concurrently: the first one to commit wins
        return replay(IdempotencyRecord.objects.get(tenant=tenant, key=key))
    return status, body

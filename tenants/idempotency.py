"""Idempotency-Key on create operations, with Stripe's semantics, under concurrency too.

Invariants:
- One operation per (tenant, key): the key is claimed (an in-flight record, committed) before the
  operation runs, so of two concurrent requests only the one that inserted the record runs it.
- While it runs, the same key answers 409 `in_flight`; once it committed, the first answer is
  replayed (same key, another request: 422).
- The operation and its recorded answer commit in one transaction: a refused or failed operation
  leaves no record (the key may be used again), a recorded answer always has its writes.
- A claim whose process died (older than IN_FLIGHT_SECONDS, nothing committed) is taken over by
  a conditional UPDATE, so only one retry runs it.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .errors import Conflict, InvalidInput
from .models import IdempotencyRecord

IN_FLIGHT = 0  # the status of a claimed key whose operation has not committed
IN_FLIGHT_SECONDS = 120


def idempotent(request, tenant, run: Callable[[], tuple[int, dict]]) -> tuple[int, dict]:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return run()
    if len(key) > 255 or not (key.isascii() and key.isprintable()):
        raise InvalidInput("Idempotency-Key", "an Idempotency-Key is at most 255 printable ASCII characters")
    digest = hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + request.body).hexdigest()

    record = _claim(tenant, key, digest)
    if record.status != IN_FLIGHT:
        return record.status, record.body
    try:
        with transaction.atomic():
            status, body = run()
            IdempotencyRecord.objects.filter(pk=record.pk).update(status=status, body=body)
    except BaseException:
        # Nothing of the operation committed: free the key for a retry.
        IdempotencyRecord.objects.filter(pk=record.pk, status=IN_FLIGHT).delete()
        raise
    return status, body


def _claim(tenant, key: str, digest: str) -> IdempotencyRecord:
    """Our in-flight record, or the finished record to replay; raises 409 while another runs."""
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(tenant=tenant, key=key, request_hash=digest, status=IN_FLIGHT, body={})
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.filter(tenant=tenant, key=key).first()
    if record is None:  # claimed, then freed by a failed operation between our two statements
        raise Conflict("Idempotency-Key", "a request with this Idempotency-Key was just in flight; retry")
    if record.request_hash != digest:
        raise InvalidInput("Idempotency-Key", "this Idempotency-Key was used with a different request")
    if record.status != IN_FLIGHT:
        return record
    stale = timezone.now() - timedelta(seconds=IN_FLIGHT_SECONDS)
    if record.created_at < stale and IdempotencyRecord.objects.filter(
            pk=record.pk, status=IN_FLIGHT, created_at=record.created_at).update(created_at=timezone.now()):
        return record  # its process died before committing anything: ours to run now
    raise Conflict("Idempotency-Key", "a request with this Idempotency-Key is in flight; retry when it has answered")

"""Metering: per tenant and UTC day counters, incremented inside the transaction that did the work."""
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F

from .models import Usage

COUNTERS = ("steps", "cpu_ms", "http_calls", "bytes_stored")


def usage_add(*, tenant_id: int, day: date, **amounts: int) -> None:
    amounts = {k: int(v) for k, v in amounts.items() if v}
    if not amounts:
        return
    assert set(amounts) <= set(COUNTERS), amounts
    updates = {k: F(k) + v for k, v in amounts.items()}
    if Usage.objects.filter(tenant_id=tenant_id, day=day).update(**updates):
        return
    try:
        with transaction.atomic():
            Usage.objects.create(tenant_id=tenant_id, day=day, **amounts)
    except IntegrityError:  # created concurrently: add to it
        Usage.objects.filter(tenant_id=tenant_id, day=day).update(**updates)

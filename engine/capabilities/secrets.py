"""step.secret(name): a tenant secret's value, for the tenant's own program; and the redaction of
every value read from everything the advance stores or streams.

Not a step: call it where the value is used. Capability arguments get the real value (the host
reads them before any redaction); outputs, errors and stacks, logs, progress events and attempt
rows get `[REDACTED]` in place of the value in every encoding it can take there: raw, inside JSON
strings (escaped with and without \\u escapes for non-ASCII, nested up to four times, as
JSON.stringify of JSON.stringify does), and base64 (standard and URL-safe, whole or at any offset
inside a longer encoded text)."""
from __future__ import annotations

import base64
import json

from tenants.errors import NotFound
from tenants.secrets import secret_value

from . import Call, CapabilityError

REDACTED = "[REDACTED]"
NESTING = 4
MIN_BASE64_FORM = 8  # shorter base64 fragments would match unrelated text


def secret(call: Call) -> str:
    name = call.args
    if not isinstance(name, str):
        raise CapabilityError("step.secret(name) takes the secret's name", "TypeError")
    try:
        value = secret_value(tenant_id=call.tenant.pk, name=name)
    except NotFound as e:
        raise CapabilityError(e.message, "SecretNotFoundError") from None
    call.secrets.add(value)
    return value


def json_forms(value: str) -> set[str]:
    """The value inside JSON strings, escaped once to NESTING times, as Python and JS write them."""
    forms, layer = set(), {value}
    for _ in range(NESTING):
        layer = {json.dumps(v, ensure_ascii=a)[1:-1] for v in layer for a in (True, False)}
        forms |= layer
    return forms


def base64_forms(raw: bytes) -> set[str]:
    """The value base64-encoded on its own, and the part of it that is the same wherever it sits
    in a longer encoded text (at offset 0, 1 or 2 of a 3-byte group)."""
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode()
        forms |= {whole, whole.rstrip("=")}
        for offset in range(3):
            encoded = encode(b"\0" * offset + raw).decode()
            start = 1 if offset else 0
            end = (offset + len(raw)) // 3
            if end > start:
                forms.add(encoded[4 * start:4 * end])
    return {f for f in forms if len(f) >= MIN_BASE64_FORM}


class Redactor:
    """Replaces every secret read this advance (`values`, shared with the capability calls)."""

    def __init__(self, values: set[str]):
        self.values = values
        self.known: frozenset[str] = frozenset()
        self.forms: list[str] = []

    def _refresh(self) -> None:
        forms: set[str] = set()
        for value in self.values:
            if not value:
                continue
            forms.add(value)
            forms |= json_forms(value)
            forms |= base64_forms(value.encode("utf-8", "surrogatepass"))
        self.forms = sorted(forms, key=len, reverse=True)  # longest first: an escaped form before its parts
        self.known = frozenset(self.values)

    def __call__(self, text: str) -> str:
        if not self.values:
            return text
        if self.known != self.values:
            self._refresh()
        for form in self.forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def contains(self, text: str) -> bool:
        return self(text) != text

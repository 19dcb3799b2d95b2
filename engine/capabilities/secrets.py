"""step.secret(name): a tenant secret's value, for the tenant's own program.

Not a step: call it where the value is used (a secret returned from step.do would be stored in
the checkpoint, redacted). Every value read is redacted from what this advance writes."""
from tenants.errors import NotFound
from tenants.secrets import secret_value

from . import Call, CapabilityError


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

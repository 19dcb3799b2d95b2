"""API keys: revocation is immediate, once, and only within the key's own tenant."""
import pytest

from tenants.access import api_key_create, api_key_revoke, principal_for_token
from tenants.errors import NotFound

pytestmark = pytest.mark.django_db


def test_a_revoked_key_stops_authenticating_and_cannot_be_revoked_twice(tenant):
    key, token = api_key_create(tenant=tenant, name="ci")
    kept, kept_token = api_key_create(tenant=tenant, name="kept")
    assert principal_for_token(token) is not None
    revoked = api_key_revoke(tenant=tenant, key_id=key.pk)
    assert revoked.pk == key.pk and revoked.revoked_at is not None
    assert principal_for_token(token) is None
    assert principal_for_token(kept_token) is not None
    with pytest.raises(NotFound):
        api_key_revoke(tenant=tenant, key_id=key.pk)


def test_another_tenants_key_is_not_found_and_stays_valid(tenant, other_tenant):
    key, token = api_key_create(tenant=other_tenant, name="theirs")
    with pytest.raises(NotFound) as refused:
        api_key_revoke(tenant=tenant, key_id=key.pk)
    assert refused.value.field == "key"  # the error body names the field
    assert principal_for_token(token) is not None

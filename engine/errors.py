"""The engine's domain errors: the shared ones (tenants.errors), under the engine's names."""
from tenants.errors import Conflict, DomainError, InvalidInput, NotFound

EngineError = DomainError

__all__ = ["EngineError", "Conflict", "InvalidInput", "NotFound"]

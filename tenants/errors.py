"""Domain errors shared by the apps; the API maps each to one HTTP status in one handler."""


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, field: str, message: str, node_id: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.node_id = node_id  # the graph node (or step) the error is about, when there is one


class InvalidInput(DomainError):
    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Suspended(DomainError):
    status = 423
    code = "tenant_suspended"

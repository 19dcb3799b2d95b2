"""Domain errors of the engine; the API maps each to one HTTP status in one handler."""


class EngineError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class InvalidInput(EngineError):
    status = 422
    code = "invalid"


class NotFound(EngineError):
    status = 404
    code = "not_found"


class Conflict(EngineError):
    status = 409
    code = "conflict"

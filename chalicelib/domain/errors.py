"""The domain's exceptions; ``app.py`` maps each to one HTTP status in one place."""

from __future__ import annotations


class SlipwayError(Exception):
    """Base of every error the service reports to a client."""

    status_code = 500

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        return {"error": self.message, **self.details}


class ValidationError(SlipwayError):
    status_code = 400


class NotFound(SlipwayError):
    status_code = 404


class Conflict(SlipwayError):
    status_code = 409


class ServiceUnavailable(SlipwayError):
    status_code = 503

"""Named domain errors. The HTTP edge maps each family to one status code."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every refusal the domain or application layer makes."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """The request is well-formed but its values break a rule (400/422)."""


class NotFound(DomainError):
    """An id that does not exist (404)."""


class Forbidden(DomainError):
    """The actor's role or scope does not allow this (403)."""


class Unauthenticated(DomainError):
    """No valid credentials were presented (401)."""


class Conflict(DomainError):
    """The request conflicts with the current state (409)."""


class TransitionNotAllowed(Conflict):
    """A command that the item's current status does not allow."""

    def __init__(self, command: str, status: str) -> None:
        super().__init__(f"An item that is '{status}' cannot be sent '{command}'.")
        self.command = command
        self.status = status


class VersionConflict(Conflict):
    """The item has moved on since the version the caller saw."""


class AlreadyExists(Conflict):
    """An id that is already taken."""


class DamagedHistory(Conflict):
    """An aggregate whose stored events have a gap (a row deleted behind the service's
    back): it cannot be rebuilt, so nothing may be answered or written from it."""


class RateLimited(DomainError):
    """Too many requests from one client in a window (429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

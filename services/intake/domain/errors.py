"""What intake refuses, in its own words: each error carries the reason the citizen or the staff
member is told. The HTTP edge maps them to problems (entrypoints/edge.py), so the rules never
know about status codes."""

from __future__ import annotations


class IntakeError(Exception):
    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(IntakeError):
    """No such complaint (or record) for this caller."""


class Forbidden(IntakeError):
    """The caller is known but may not do this."""


class NotAllowed(IntakeError):
    """The view's state does not allow the command: `reason` is shown to the reporter."""


class NotYet(NotAllowed):
    """Not yet: the complaint is not recorded by routing (a retry in a moment can succeed)."""


class KeyReused(IntakeError):
    """An Idempotency-Key sent again with another body."""


class KeyInFlight(IntakeError):
    """An Idempotency-Key whose first request has not finished."""


class AnswerSealed(IntakeError):
    """A stored answer whose access token no longer opens (the server's secret changed since):
    a retry must not get an answer without its token."""

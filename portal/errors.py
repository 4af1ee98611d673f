"""Domain errors: what a rule of the domain says when it refuses an action. Flask-free, so
operations, workers and CLI commands raise them too; the request wrapper (portal.web for
pages, portal.live for socket events) rolls back and shows the message to the user."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule refused the action; `message` is shown to the user as it is (translated)."""

    status = 400

    def __init__(self, message: Any, status: int | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        if status is not None:
            self.status = status


class NotAllowed(DomainError):
    """The acting user may not do this (403)."""

    status = 403


class NotFound(DomainError):
    """The object is missing, or the user may not know that it exists (404)."""

    status = 404


class StaleEdit(DomainError):
    """Someone saved the record since this form was loaded (409): the view shows the form
    again with the user's text kept."""

    status = 409

"""Invitations (e-mail with an .ics, in-app), RSVP, reminders, updates and cancellations.

The functions below are the interface other parts call; the invitations part fills
them in."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hearings.models import Hearing, Participant


def invite(session: Session, actor: Any, hearing: Hearing, participant: Participant) -> None:
    """Send `participant` the invitation (personal link, .ics); called when a panel seat
    is filled and when the hearing's participants are set at scheduling."""


def send_update(session: Session, actor: Any, hearing: Hearing) -> None:
    """The time or place changed (the caller raised hearing.ical_sequence): send every
    invitee the updated .ics, same UID."""


def send_cancellation(session: Session, actor: Any, hearing: Hearing) -> None:
    """The hearing is cancelled: METHOD:CANCEL to every invitee."""

"""Personal links: a participant's (invitation, live view, deliberation, signing) and an
observer's (cancel). The token goes out once, in the invitation or the confirmation; only
its keyed hash is stored, so a database read reveals no working link."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearings.models import Observer, Participant
from portal.crypto import lookup_hash
from video.operations import new_token  # the join links' own: 160 random bits


def participant_token_hash(token: str) -> str:
    return lookup_hash("hearing-participant:" + token.strip().lower())


def observer_token_hash(token: str) -> str:
    return lookup_hash("hearing-observer:" + token.strip().lower())


def issue_participant_token(participant: Participant) -> str:
    """A new personal link for the participant (an earlier one stops working)."""
    token = new_token()
    participant.token_hash = participant_token_hash(token)
    return token


def participant_by_token(session: Session, token: str | None) -> Participant | None:
    if not token or len(token) > 64:
        return None
    return session.scalar(select(Participant).where(
        Participant.token_hash == participant_token_hash(token)))


def issue_observer_token(observer: Observer) -> str:
    token = new_token()
    observer.token_hash = observer_token_hash(token)
    return token


def observer_by_token(session: Session, token: str | None) -> Observer | None:
    if not token or len(token) > 64:
        return None
    return session.scalar(select(Observer).where(
        Observer.token_hash == observer_token_hash(token)))

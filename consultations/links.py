"""Personal links: the person asking (wait, chat, read the answer, rate) and a lawyer's
private rota feed. Only keyed hashes are stored."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from consultations.models import Consultation, RotaFeed
from portal.crypto import lookup_hash
from video.operations import new_token  # the join links' own: 160 random bits


def consultation_token_hash(token: str) -> str:
    return lookup_hash("consultation:" + token.strip().lower())


def feed_token_hash(token: str) -> str:
    return lookup_hash("rota-feed:" + token.strip().lower())


def issue_consultation_token(consultation: Consultation) -> str:
    token = new_token()
    consultation.token_hash = consultation_token_hash(token)
    return token


def consultation_by_token(session: Session, token: str | None) -> Consultation | None:
    if not token or len(token) > 64:
        return None
    return session.scalar(select(Consultation).where(
        Consultation.token_hash == consultation_token_hash(token)))


def feed_by_token(session: Session, token: str | None) -> RotaFeed | None:
    if not token or len(token) > 64:
        return None
    return session.scalar(select(RotaFeed).where(RotaFeed.token_hash == feed_token_hash(token)))

"""Private deliberation (合议): the panel's secret votes, the presiding officer's opinion
for the panel, and the deliberation record frozen for the panel to sign.

Who is in the room: the active panel members who did not decline, and the presiding
officer (hearings.permissions.can_deliberate / is_deliberating_member). Panel members
vote; the presiding officer does not vote but writes the panel's opinion.

Secrecy: until every panel member has voted, nobody learns anything of another's vote or
opinion — the pages, the socket events and their acks carry only who has voted (names and
a tick). Once all are in, the votes are locked and shown to everyone in the room: on the
page and in the ack of `deliberation_join`, each read after checking the member again
(the room's broadcast never carries them).

The record part calls `freeze_deliberation_record(session, actor, hearing)` when it
freezes the hearing record and no deliberation record exists yet; it is idempotent (a
second call with nothing changed returns the version already frozen).

Operations flush, never commit; the `deliberation` broadcast goes out after the commit."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hearings import permissions as perm
from hearings.links import participant_by_token
from hearings.locking import lock_hearing
from hearings.models import (
    Attendance,
    DeliberationVote,
    Hearing,
    HearingStatus,
    Participant,
    ParticipantRole,
    RecordVersion,
    Stage,
    Vote,
)
from portal import transaction
from portal.errors import DomainError, NotAllowed
from portal.extensions import DbSession, socketio
from portal.i18n import in_locale
from portal.i18n import lazy_gettext as _l
from portal.timeutil import beijing, utcnow

NAMESPACE = "/hearings"
#: the kind of RecordVersion this part freezes
RECORD_KIND = "deliberation"
#: a member's opinion, and the panel's opinion (characters)
OPINION_MAX = 5000
PANEL_OPINION_MAX = 20000
#: the stages during and after which the panel deliberates (until the record is frozen)
OPEN_STAGES = frozenset({Stage.DELIBERATION, Stage.OPINION, Stage.ENDED})
#: the language of the frozen record (an official document of the office)
RECORD_LOCALE = "zh_CN"

NOT_BEGUN = _l("Deliberation has not begun yet. It opens when the presiding officer moves "
               "the hearing to private deliberation.")
CLOSED = _l("Deliberation is closed: the deliberation record has been frozen.")
CANCELLED = _l("This hearing was cancelled.")
LOCKED = _l("All votes are in, so the votes are locked and can no longer be changed.")
NOT_A_VOTER = _l("Only the panel members vote.")
BAD_VOTE = _l("Choose one of the votes offered.")
NO_OPINION = _l("Write your opinion: it is required with your vote.")
TOO_LONG = _l("Your opinion is too long: at most %(max)d characters.", max=OPINION_MAX)
PRESIDING_ONLY = _l("Only the presiding officer writes the panel's opinion.")
VOTES_MISSING = _l("Not every panel member has voted yet.")
NO_PANEL_OPINION = _l("Write the panel's opinion first.")
PANEL_TOO_LONG = _l("The panel's opinion is too long: at most %(max)d characters.",
                    max=PANEL_OPINION_MAX)
NO_PANEL = _l("This hearing has no active panel members.")


class DeliberationRefused(DomainError):
    """A rule of the deliberation refused the action (the message says which)."""


@dataclass(frozen=True)
class Member:
    """Someone in the deliberation room: a panel member (a participant) or the presiding
    officer (with or without a participant row)."""

    hearing_id: int
    name: str
    participant_id: int | None
    is_presiding: bool

    @property
    def is_voter(self) -> bool:
        return not self.is_presiding and self.participant_id is not None


def member_by_token(session: DbSession, token: str | None,
                    hearing_id: int | None = None) -> tuple[Hearing, Member] | None:
    """The hearing and the member a personal link names, when it names someone of the
    room (of `hearing_id`, when given); None for anyone else."""
    participant = participant_by_token(session, token)  # type: ignore[arg-type]
    if not perm.is_deliberating_member(participant):
        return None
    assert participant is not None
    if hearing_id is not None and participant.hearing_id != hearing_id:
        return None
    hearing = participant.hearing
    if (participant.role == ParticipantRole.PRESIDING and participant.user_id is not None
            and participant.user_id != hearing.presiding_id):
        return None  # the presiding officer was replaced: their old link opens nothing
    presiding = (participant.role == ParticipantRole.PRESIDING
                 or (participant.user_id is not None
                     and participant.user_id == hearing.presiding_id))
    return hearing, Member(hearing.id, participant.name, participant.id, presiding)


def member_for_user(hearing: Hearing, user: Any) -> Member | None:
    """The logged-in user as a member of the hearing's room, or None (the admin and the
    organisers included)."""
    if not perm.can_deliberate(user, hearing):
        return None
    if perm.is_presiding(user, hearing):
        own = perm.participant_of(user, hearing)
        return Member(hearing.id, own.name if own else user.display_name,
                      own.id if own else None, True)
    own = perm.participant_of(user, hearing)
    if own is None or own.role != ParticipantRole.PANEL:
        return None  # a presiding officer since replaced
    return Member(hearing.id, own.name, own.id, False)


def _seated(hearing: Hearing) -> list[Participant]:
    seated = [p for p in hearing.participants if perm.sits_on_panel(p)]
    return sorted(seated, key=lambda p: (p.seat_no or 0, p.id))


def absent(hearing: Hearing) -> list[Participant]:
    """Panel members who were not at the hearing: once deliberation has begun and the
    panel's attendance was taken (someone of the panel checked in), those never checked
    in do not vote (one absent member must not block the deliberation)."""
    seated = _seated(hearing)
    if hearing.stage not in OPEN_STAGES \
            or all(p.attendance == Attendance.ABSENT for p in seated):
        return []
    return [p for p in seated if p.attendance == Attendance.ABSENT]


def voters(hearing: Hearing) -> list[Participant]:
    """The panel members whose votes are awaited, in seat order (not the absent)."""
    away = {p.id for p in absent(hearing)}
    return [p for p in _seated(hearing) if p.id not in away]


def latest_record(session: DbSession, hearing: Hearing) -> RecordVersion | None:
    return session.scalar(select(RecordVersion).where(
        RecordVersion.hearing_id == hearing.id, RecordVersion.kind == RECORD_KIND)
        .order_by(RecordVersion.number.desc()).limit(1))


@dataclass
class State:
    """Where the deliberation stands. Its `votes` must never reach anyone before
    `complete` except a member's own (see payload_for)."""

    hearing: Hearing
    voters: list[Participant]
    votes: dict[int, DeliberationVote]
    record: RecordVersion | None
    counts: dict[str, int] = field(default_factory=dict)
    majority: str | None = None

    @property
    def voted(self) -> int:
        return sum(1 for p in self.voters if p.id in self.votes)

    @property
    def complete(self) -> bool:
        return bool(self.voters) and self.voted == len(self.voters)

    @property
    def begun(self) -> bool:
        return self.hearing.stage in OPEN_STAGES

    @property
    def frozen(self) -> bool:
        return self.record is not None

    @property
    def dissent(self) -> list[Participant]:
        """Members whose vote differs from the majority's (none without a majority)."""
        if not self.complete or self.majority is None:
            return []
        return [p for p in self.voters if self.votes[p.id].vote != self.majority]


def state(session: DbSession, hearing: Hearing) -> State:
    panel = voters(hearing)
    ids = {p.id for p in panel}
    rows = session.scalars(select(DeliberationVote).where(
        DeliberationVote.hearing_id == hearing.id)).all()
    votes = {v.participant_id: v for v in rows if v.participant_id in ids}
    st = State(hearing, panel, votes, latest_record(session, hearing))
    if st.complete:
        counted = Counter(v.vote for v in votes.values())
        st.counts = {v.value: counted.get(v.value, 0) for v in Vote}
        top = max(st.counts.values())
        leaders = [k for k, n in st.counts.items() if n == top]
        # a majority view only when one vote leads (an odd panel can still split 2-2-1)
        st.majority = leaders[0] if len(leaders) == 1 else None
    return st


# --- what people may read ----------------------------------------------------------------

def progress_payload(st: State) -> dict[str, Any]:
    """Who has voted, never what: safe for everyone in the room at any time."""
    return {"hearing_id": st.hearing.id, "voted": st.voted, "of": len(st.voters),
            "complete": st.complete, "begun": st.begun, "frozen": st.frozen,
            "members": [{"name": p.name, "has_voted": p.id in st.votes} for p in st.voters]}


def results_payload(st: State) -> dict[str, Any]:
    """Everything, once every vote is in (empty before)."""
    if not st.complete:
        return {}
    return {"results": {
        "votes": [{"name": p.name, "vote": st.votes[p.id].vote,
                   "vote_label": str(Vote(st.votes[p.id].vote).label),
                   "opinion": st.votes[p.id].opinion} for p in st.voters],
        "counts": [{"vote": k, "label": str(Vote(k).label), "count": n}
                   for k, n in st.counts.items()],
        "majority": st.majority,
        "majority_label": str(Vote(st.majority).label) if st.majority else None,
        "dissent": [p.name for p in st.dissent],
        "panel_opinion": st.hearing.panel_opinion,
    }}


def broadcast_payload(st: State) -> dict[str, Any]:
    """The `deliberation` event sent to the whole room: who has voted, never what — not
    even once all are in, since a socket may have joined when its member still sat on the
    panel. The votes are read with a fresh check of the member (payload_for: the page, or
    the ack of `deliberation_join`)."""
    return {**progress_payload(st), "has_panel_opinion": bool(st.hearing.panel_opinion)}


def payload_for(st: State, member: Member) -> dict[str, Any]:
    """What one member may read: who has voted, their own vote, and every vote once all
    are in."""
    mine = st.votes.get(member.participant_id or 0) if member.is_voter else None
    own = {"vote": mine.vote, "opinion": mine.opinion} if mine is not None else None
    return {**broadcast_payload(st), **results_payload(st), "is_voter": member.is_voter,
            "is_presiding": member.is_presiding, "own": own}


def _broadcast(session: DbSession, hearing: Hearing) -> None:
    payload = broadcast_payload(state(session, hearing))
    room = hearing.deliberation_key
    transaction.after_commit(session, lambda: socketio.emit(
        "deliberation", payload, to=room, namespace=NAMESPACE))


# --- checks --------------------------------------------------------------------------------

def _lock(session: DbSession, hearing: Hearing) -> None:
    """Serialise the votes of one hearing: the last vote and a change of mind
    cannot cross, so nothing changes once all are in; then the hearing as committed now
    (a save of the panel's opinion must not trip over a stage change meanwhile)."""
    lock_hearing(cast(Session, session), hearing)


def check_open(st: State) -> None:
    if st.hearing.status == HearingStatus.CANCELLED:
        raise DeliberationRefused(CANCELLED)
    if not st.begun:
        raise DeliberationRefused(NOT_BEGUN)
    if st.frozen or st.hearing.status == HearingStatus.FILED:
        raise DeliberationRefused(CLOSED)


def _member_of(member: Member, hearing: Hearing) -> None:
    if member.hearing_id != hearing.id:
        raise NotAllowed(_l("You are not in this deliberation."))


# --- operations ----------------------------------------------------------------------------

def cast_vote(session: DbSession, hearing: Hearing, member: Member, vote: Any,
              opinion: Any) -> DeliberationVote:
    """A panel member's vote and opinion; changed freely until the last vote is in."""
    _member_of(member, hearing)
    if not member.is_voter:
        raise DeliberationRefused(NOT_A_VOTER)
    _lock(session, hearing)
    st = state(session, hearing)
    check_open(st)
    if st.complete:
        raise DeliberationRefused(LOCKED)
    if member.participant_id not in {p.id for p in st.voters}:
        raise NotAllowed(_l("You are not in this deliberation."))
    if not isinstance(vote, str) or vote not in {v.value for v in Vote}:
        raise DeliberationRefused(BAD_VOTE)
    text = opinion.strip() if isinstance(opinion, str) else ""
    if not text:
        raise DeliberationRefused(NO_OPINION)
    if len(text) > OPINION_MAX:
        raise DeliberationRefused(TOO_LONG)
    row = st.votes.get(member.participant_id or 0)
    if row is None:
        row = DeliberationVote(hearing_id=hearing.id, participant_id=member.participant_id,
                               vote=vote, opinion=text)
        session.add(row)
    else:
        row.vote, row.opinion, row.cast_at = vote, text, utcnow()
    session.flush()
    _broadcast(session, hearing)
    return row


def write_panel_opinion(session: DbSession, hearing: Hearing, member: Member,
                        text: Any) -> None:
    """The presiding officer writes (or rewrites) the panel's opinion, once all votes are
    in and until the deliberation record is frozen."""
    _member_of(member, hearing)
    if not member.is_presiding:
        raise NotAllowed(PRESIDING_ONLY)
    _lock(session, hearing)
    st = state(session, hearing)
    check_open(st)
    if not st.complete:
        raise DeliberationRefused(VOTES_MISSING)
    body = text.strip() if isinstance(text, str) else ""
    if not body:
        raise DeliberationRefused(NO_PANEL_OPINION)
    if len(body) > PANEL_OPINION_MAX:
        raise DeliberationRefused(PANEL_TOO_LONG)
    hearing.panel_opinion = body
    session.flush()
    _broadcast(session, hearing)


def may_freeze(actor: Any, hearing: Hearing) -> bool:
    """The presiding officer, or whoever runs or organises the hearing (the record part
    freezes it together with the hearing record)."""
    return perm.can_run(actor, hearing) or perm.can_organise(actor, hearing)


def freeze_deliberation_record(session: DbSession, actor: Any, hearing: Hearing
                               ) -> RecordVersion:
    """Freeze the deliberation record for the panel to sign: the text (in Chinese) and its
    SHA-256. Refused until every vote is in and the panel's opinion is written. Calling it
    again with nothing changed returns the version already frozen."""
    if not may_freeze(actor, hearing):
        raise NotAllowed(_l("You may not freeze this deliberation record."))
    _lock(session, hearing)
    if hearing.status == HearingStatus.CANCELLED:
        raise DeliberationRefused(CANCELLED)
    if hearing.status == HearingStatus.FILED:
        raise DeliberationRefused(_l("The record of this hearing is filed; the "
                                     "deliberation record can no longer change."))
    st = state(session, hearing)
    if not st.voters:
        raise DeliberationRefused(NO_PANEL)
    if not st.complete:
        raise DeliberationRefused(VOTES_MISSING)
    if not hearing.panel_opinion.strip():
        raise DeliberationRefused(NO_PANEL_OPINION)
    text = record_text(st)
    if st.record is not None and st.record.text == text:
        return st.record
    number = (session.scalar(select(func.max(RecordVersion.number)).where(
        RecordVersion.hearing_id == hearing.id, RecordVersion.kind == RECORD_KIND)) or 0) + 1
    record = RecordVersion(hearing_id=hearing.id, kind=RECORD_KIND, number=number, text=text,
                           sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                           frozen_by_id=actor.id, frozen_at=utcnow())
    session.add(record)
    session.flush()
    _broadcast(session, hearing)
    return record


def record_text(st: State) -> str:
    """The deliberation record as frozen (and as the panel reads it before signing)."""
    hearing = st.hearing

    def row(label: Any, value: str) -> str:
        return f"{label}：{value}"

    with in_locale(RECORD_LOCALE):
        when = beijing(hearing.started_at or hearing.starts_at).strftime("%Y-%m-%d %H:%M")
        presiding = next((p.name for p in hearing.participants
                          if p.role == ParticipantRole.PRESIDING and p.is_active),
                         hearing.presiding.display_name if hearing.presiding else "")
        away = absent(hearing)
        lines = [str(_l("Deliberation record")), "",
                 row(_l("Hearing"), hearing.title),
                 row(_l("Date"), when),
                 row(_l("Presiding officer"), presiding),
                 row(_l("Panel members present"), "、".join(p.name for p in st.voters)),
                 *([row(_l("Panel members absent"), "、".join(p.name for p in away))]
                   if away else []),
                 "", str(_l("Votes and opinions"))]
        for i, p in enumerate(st.voters, start=1):
            v = st.votes[p.id]
            lines.append(f"{i}. " + row(p.name, str(Vote(v.vote).label)))
            lines.extend("   " + line for line in v.opinion.splitlines())
        lines.append("")
        lines.append(row(_l("Count"), "；".join(
            f"{Vote(k).label} {n}" for k, n in st.counts.items())))
        lines.append(row(_l("Majority view"), str(Vote(st.majority).label) if st.majority
                         else str(_l("No majority (the votes are split evenly)"))))
        dissent = "；".join(f"{p.name}（{Vote(st.votes[p.id].vote).label}）"
                           for p in st.dissent)
        lines.append(row(_l("Dissent"), dissent or str(_l("None"))))
        lines += ["", str(_l("Opinion of the panel")), hearing.panel_opinion.strip()]
    return "\n".join(lines) + "\n"

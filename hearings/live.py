"""The live hearing: start and end, check-in, the parties' recusal answers, the stages in
order, the speaker queue with its countdown, the clerk's minutes.

Operations flush and never commit. Each one names what changed (`announce`): once the
transaction has committed, hearings.events sends the new state to the hearing's socket
rooms, so every screen follows. The state is in the database (stage, speakers with
started_at / used_seconds, attendance), so a reconnect or a reload shows the same; a
countdown is computed from the server's time, never a client's."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hearings import case_clock
from hearings import permissions as perm
from hearings.locking import lock_hearing
from hearings.models import (
    MINUTES_STAGES,
    STAGE_ORDER,
    Attendance,
    Hearing,
    HearingStatus,
    MinutesSection,
    Observer,
    ObserverStatus,
    Participant,
    ParticipantRole,
    Speaker,
    Stage,
)
from hearings.rules import rules
from portal import transaction
from portal.casefiles import operations as case_ops
from portal.casefiles.clocks import CHINA
from portal.errors import DomainError, NotAllowed, StaleEdit
from portal.extensions import DbSession
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

#: the longest minutes of one stage (a long hearing's stage is far below this)
MAX_MINUTES_CHARS = 200_000
#: the longest recusal answer
MAX_ANSWER_CHARS = 2_000
#: a turn's allotted time: at least 10 seconds, at most two hours
MIN_TURN_S, MAX_TURN_S = 10, 7_200
#: roles asked the recusal question (the parties)
PARTY_ROLES = (ParticipantRole.PETITIONER, ParticipantRole.PARTY, ParticipantRole.AGENCY)
#: roles shown by name to everyone (officials and the panel); parties by role only
OFFICIAL_ROLES = (ParticipantRole.PRESIDING, ParticipantRole.CLERK, ParticipantRole.PANEL)
#: stages the clerk moves between with next / previous (start and end are their own acts)
MOVABLE = STAGE_ORDER[1:-1]


class LiveRefused(DomainError):
    """The live hearing refuses the action (the message says why)."""


class StaleMinutes(StaleEdit):
    """Someone saved this stage's minutes since the user's version: nothing is overwritten;
    `reply` carries the server's text and version for the client to show."""

    def __init__(self, section: MinutesSection | None) -> None:
        super().__init__(_l("Someone else saved these minutes meanwhile. Your text is kept "
                            "in the box: compare it with the saved text below, then save "
                            "again."))
        self.reply = {"version": section.version if section else 0,
                      "text": section.text if section else ""}


# --- announcing what changed (sent after the commit by hearings.events) -----------------

_ANNOUNCE = "hearings.live.announce"


def announce(session: DbSession, hearing: Hearing, *kinds: str) -> None:
    """Say that `kinds` ("stage", "speaker", "attendance", "recusal", "minutes"; "started"
    begins a new live log) of the hearing changed; after the commit every joined screen
    gets the new state."""
    pending: dict[int, set[str]] | None = session.info.get(_ANNOUNCE)
    if pending is None:
        pending = session.info[_ANNOUNCE] = {}

        def send() -> None:
            from hearings import events

            for hearing_id, what in session.info.pop(_ANNOUNCE, {}).items():
                events.broadcast(hearing_id, what)

        transaction.after_commit(session, send)
    pending.setdefault(hearing.id, set()).update(kinds)


@sa_event.listens_for(Session, "after_rollback")
def _forget(session: DbSession) -> None:
    session.info.pop(_ANNOUNCE, None)


# --- checks ---------------------------------------------------------------------------------

def _require_run(actor: Any, hearing: Hearing) -> None:
    if not perm.can_run(actor, hearing):
        raise NotAllowed(_l("Only the presiding officer and the hearing clerk run the "
                            "hearing."))


def _require_running(hearing: Hearing) -> None:
    if hearing.status != HearingStatus.RUNNING:
        raise LiveRefused(_l("The hearing has not started."))
    if hearing.stage == Stage.ENDED:
        raise LiveRefused(_l("The hearing has ended."))


def _participant(hearing: Hearing, participant_id: int) -> Participant:
    for p in hearing.participants:
        if p.id == participant_id and p.is_active:
            return p
    raise LiveRefused(_l("That person does not take part in this hearing."))


def _case_event(session: DbSession, actor: Any, hearing: Hearing, kind: str, text: str) -> None:
    case_ops.record_event(cast(Session, session), actor, hearing.case, kind,
                          {"hearing_id": hearing.id, "text": text})


# --- start, stages, end ---------------------------------------------------------------------

#: how long before its scheduled time a hearing may be opened
START_EARLY = timedelta(minutes=60)


def start_window_problem(hearing: Hearing, now: datetime) -> str | None:
    """Why the hearing may not be opened yet (more than START_EARLY before its time), or
    None: one click on the wrong day must not open a hearing announced for another."""
    if hearing.starts_at - START_EARLY <= now:
        return None
    when = hearing.starts_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    return str(_l("This hearing is scheduled for %(when)s: it can be started from "
                  "%(minutes)d minutes before that time.", when=when,
                  minutes=int(START_EARLY.total_seconds() // 60)))


def start(session: DbSession, actor: Any, hearing: Hearing) -> None:
    """Open the hearing: RUNNING, the opening stage; on a re-review the 复核 clock stops
    (Art. 36); a case event; whoever is already connected by their link is checked in
    online (hearings.events passes their participant ids)."""
    _require_run(actor, hearing)
    lock_hearing(cast(Session, session), hearing)
    problem = start_window_problem(hearing, utcnow())
    if problem:
        raise LiveRefused(problem)
    if hearing.status == HearingStatus.SCHEDULED:
        raise LiveRefused(_l("Publish the hearing's notice before starting it."))
    if hearing.status != HearingStatus.PUBLISHED:
        raise LiveRefused(_l("This hearing cannot be started (it is %(status)s).",
                             status=HearingStatus(hearing.status).label))
    seated = sum(1 for p in hearing.participants if p.role == ParticipantRole.PANEL
                 and perm.is_deliberating_member(p))
    if seated < hearing.panel_size:
        raise LiveRefused(_l("The panel is not full: %(n)d of %(size)d seats are taken. "
                             "Fill the free seats before starting.",
                             n=seated, size=hearing.panel_size))
    now = utcnow()
    hearing.status = HearingStatus.RUNNING
    hearing.started_at = now
    _set_stage(hearing, Stage.OPENING, now)
    case_clock.pause_for_hearing(cast(Session, session), actor, hearing)
    _case_event(session, actor, hearing, "hearing_started",
                str(_l("Hearing %(title)s started", title=hearing.title)))
    session.flush()
    announce(session, hearing, "started", "stage", "speaker", "attendance")


def check_in_connected(session: DbSession, hearing: Hearing, participant_ids: set[int]) -> None:
    """Participants connected through their link before the start are present online."""
    for p in hearing.participants:
        if p.id in participant_ids:
            _mark_online(p)
    session.flush()


def _set_stage(hearing: Hearing, stage: Stage, now: datetime) -> None:
    hearing.stage = stage
    hearing.stage_started_at = now


def move_stage(session: DbSession, actor: Any, hearing: Hearing, direction: str,
               expected: str | None = None) -> Stage:
    """The next or the previous stage. `expected` is the stage the sender saw: a second
    click on a screen that had not caught up moves nothing."""
    _require_run(actor, hearing)
    lock_hearing(cast(Session, session), hearing)
    _require_running(hearing)
    if expected and expected != hearing.stage:
        raise LiveRefused(_l("The stage has already changed; the screen shows the current "
                             "one now."))
    at = MOVABLE.index(Stage(hearing.stage))
    to = at + (1 if direction == "next" else -1 if direction == "previous" else 0)
    if to == at or not 0 <= to < len(MOVABLE):
        raise LiveRefused(_l("There is no stage to move to. To close the hearing, use "
                             "“End the hearing”."))
    now = utcnow()
    _pause_current(session, hearing, now)
    _set_stage(hearing, MOVABLE[to], now)
    session.flush()
    log.info("hearing %s: stage %s by user %s", hearing.id, hearing.stage, actor.id)
    announce(session, hearing, "stage", "speaker")
    return MOVABLE[to]


def end(session: DbSession, actor: Any, hearing: Hearing) -> None:
    """Close the hearing: ENDED with its time; the status stays RUNNING until the record
    part freezes the minutes for signing."""
    _require_run(actor, hearing)
    lock_hearing(cast(Session, session), hearing)
    _require_running(hearing)
    if hearing.stage != Stage.OPINION:
        raise LiveRefused(_l("The hearing ends after the panel's opinion: move to the "
                             "opinion stage first."))
    now = utcnow()
    _stop_current(session, hearing, now)
    _set_stage(hearing, Stage.ENDED, now)
    hearing.ended_at = now
    _case_event(session, actor, hearing, "hearing_ended",
                str(_l("Hearing %(title)s ended", title=hearing.title)))
    session.flush()
    announce(session, hearing, "stage", "speaker")


# --- attendance and recusal -------------------------------------------------------------

def _mark_online(p: Participant) -> bool:
    if p.attendance != Attendance.ABSENT or not p.is_active:
        return False
    p.attendance = Attendance.ONLINE
    p.checked_in_at = utcnow()
    return True


def join_online(session: DbSession, participant: Participant) -> None:
    """A participant joining through their link once the hearing runs is present online
    (someone ticked in the room stays so)."""
    hearing = participant.hearing
    if hearing.status != HearingStatus.RUNNING or hearing.stage == Stage.ENDED:
        return
    if _mark_online(participant):
        session.flush()
        announce(session, hearing, "attendance")


def observer_joined(session: DbSession, observer: Observer) -> None:
    """An online observer's check-in: the first time they open the watch page."""
    if observer.attended_at is None and observer.status == ObserverStatus.SEATED:
        observer.attended_at = utcnow()
        session.flush()


def check_in(session: DbSession, actor: Any, hearing: Hearing, participant_id: int,
             state: str) -> None:
    """The clerk ticks someone present in the room, online, or not (yet) present."""
    _require_run(actor, hearing)
    if hearing.status != HearingStatus.RUNNING and hearing.status not in (
            HearingStatus.SCHEDULED, HearingStatus.PUBLISHED):
        raise LiveRefused(_l("Attendance can no longer be changed."))
    if state not in {a.value for a in Attendance}:
        raise LiveRefused(_l("Choose present in the room, online, or not present."))
    p = _participant(hearing, participant_id)
    p.attendance = state
    p.checked_in_at = None if state == Attendance.ABSENT else utcnow()
    session.flush()
    announce(session, hearing, "attendance")


def record_recusal(session: DbSession, actor: Any, hearing: Hearing, participant_id: int,
                   answer: str) -> None:
    """A party's answer to the recusal question at the opening, as the clerk records it
    ("不申请回避", or whom they ask to be recused and why)."""
    _require_run(actor, hearing)
    _require_running(hearing)
    p = _participant(hearing, participant_id)
    if p.role not in PARTY_ROLES:
        raise LiveRefused(_l("Only the parties are asked about recusal."))
    answer = " ".join(str(answer or "").split())
    if not answer:
        raise LiveRefused(_l("Write the party's answer."))
    if len(answer) > MAX_ANSWER_CHARS:
        raise LiveRefused(_l("The answer is too long (at most %(n)d characters).",
                             n=MAX_ANSWER_CHARS))
    p.recusal_answer = answer
    session.flush()
    announce(session, hearing, "recusal")


# --- the speaker queue ----------------------------------------------------------------------

def queue(session: DbSession, hearing: Hearing) -> list[Speaker]:
    """The current stage's turns not yet finished, in order."""
    return list(session.scalars(
        select(Speaker).where(Speaker.hearing_id == hearing.id,
                              Speaker.stage == hearing.stage, Speaker.ended_at.is_(None))
        .order_by(Speaker.position, Speaker.id)))


def current_turn(turns: list[Speaker]) -> Speaker | None:
    """The turn under way (running or paused): one that has begun and not ended."""
    for s in turns:
        if s.started_at is not None or s.used_seconds > 0:
            return s
    return None


def used_now(speaker: Speaker, now: datetime) -> int:
    """Seconds used so far (the paused part, plus the running part)."""
    running = int((now - speaker.started_at).total_seconds()) if speaker.started_at else 0
    return speaker.used_seconds + max(running, 0)


def _speaker(session: DbSession, hearing: Hearing, speaker_id: int) -> Speaker:
    s = session.get(Speaker, speaker_id)
    # a turn of another stage is in no queue on screen (the stage moved on)
    if s is None or s.hearing_id != hearing.id or s.ended_at is not None \
            or s.stage != hearing.stage:
        raise LiveRefused(_l("That turn is no longer in the queue."))
    return s


def add_speaker(session: DbSession, actor: Any, hearing: Hearing, participant_id: int,
                seconds: int | None = None) -> Speaker:
    _require_run(actor, hearing)
    _require_running(hearing)
    p = _participant(hearing, participant_id)
    seconds = seconds or rules().default_turn_seconds
    if not MIN_TURN_S <= seconds <= MAX_TURN_S:
        raise LiveRefused(_l("A turn lasts from %(low)d seconds to %(high)d minutes.",
                             low=MIN_TURN_S, high=MAX_TURN_S // 60))
    turns = queue(session, hearing)
    s = Speaker(hearing_id=hearing.id, participant_id=p.id, stage=hearing.stage,
                position=(turns[-1].position + 1) if turns else 1, seconds=seconds)
    session.add(s)
    session.flush()
    announce(session, hearing, "speaker")
    return s


def move_speaker(session: DbSession, actor: Any, hearing: Hearing, speaker_id: int,
                 offset: int) -> None:
    """Move a waiting turn up (-1) or down (+1) the queue."""
    _require_run(actor, hearing)
    _require_running(hearing)
    s = _speaker(session, hearing, speaker_id)
    turns = queue(session, hearing)
    at = turns.index(s)
    to = at + (1 if offset > 0 else -1)
    if not 0 <= to < len(turns):
        return
    turns[at], turns[to] = turns[to], turns[at]
    for n, turn in enumerate(turns, start=1):
        turn.position = n
    session.flush()
    announce(session, hearing, "speaker")


def remove_speaker(session: DbSession, actor: Any, hearing: Hearing, speaker_id: int) -> None:
    _require_run(actor, hearing)
    s = _speaker(session, hearing, speaker_id)
    if s.started_at is not None or s.used_seconds:
        raise LiveRefused(_l("This turn has begun: stop it instead."))
    session.delete(s)
    session.flush()
    announce(session, hearing, "speaker")


def start_speaker(session: DbSession, actor: Any, hearing: Hearing,
                  speaker_id: int | None = None) -> Speaker:
    """Start (or resume) a turn: the given one, else the paused one, else the first. One
    turn runs at a time: another one under way is paused first."""
    _require_run(actor, hearing)
    _require_running(hearing)
    turns = queue(session, hearing)
    if speaker_id:
        s = _speaker(session, hearing, speaker_id)
    else:
        s = current_turn(turns) or (turns[0] if turns else None)  # type: ignore[assignment]
        if s is None:
            raise LiveRefused(_l("Nobody is waiting to speak."))
    now = utcnow()
    if s.started_at is not None:
        return s  # already running
    for other in turns:
        if other is not s and other.started_at is not None:
            _pause(other, now)
    s.started_at = now
    session.flush()
    announce(session, hearing, "speaker")
    return s


def _pause(s: Speaker, now: datetime) -> None:
    s.used_seconds = used_now(s, now)
    s.started_at = None


def _pause_current(session: DbSession, hearing: Hearing, now: datetime) -> None:
    for s in queue(session, hearing):
        if s.started_at is not None:
            _pause(s, now)


def _stop_current(session: DbSession, hearing: Hearing, now: datetime) -> Speaker | None:
    s = current_turn(queue(session, hearing))
    if s is not None:
        _pause(s, now)
        s.ended_at = now
    return s


def pause_speaker(session: DbSession, actor: Any, hearing: Hearing) -> None:
    _require_run(actor, hearing)
    _require_running(hearing)
    s = current_turn(queue(session, hearing))
    if s is None or s.started_at is None:
        raise LiveRefused(_l("Nobody is speaking."))
    _pause(s, utcnow())
    session.flush()
    announce(session, hearing, "speaker")


def stop_speaker(session: DbSession, actor: Any, hearing: Hearing) -> None:
    """End the turn under way (its time used is kept)."""
    _require_run(actor, hearing)
    _require_running(hearing)
    if _stop_current(session, hearing, utcnow()) is None:
        raise LiveRefused(_l("Nobody is speaking."))
    session.flush()
    announce(session, hearing, "speaker")


def next_speaker(session: DbSession, actor: Any, hearing: Hearing) -> Speaker:
    """End the turn under way, if any, and start the next one."""
    _require_run(actor, hearing)
    _require_running(hearing)
    now = utcnow()
    _stop_current(session, hearing, now)
    session.flush()
    turns = queue(session, hearing)
    if not turns:
        announce(session, hearing, "speaker")
        raise LiveRefused(_l("Nobody else is waiting to speak."))
    turns[0].started_at = now
    session.flush()
    announce(session, hearing, "speaker")
    return turns[0]


# --- minutes -------------------------------------------------------------------------------

def minutes_stage(value: Any) -> Stage:
    if not isinstance(value, str) or value not in {s.value for s in MINUTES_STAGES}:
        raise LiveRefused(_l("Choose a stage of the hearing for these minutes."))
    return Stage(value)


def save_minutes(session: DbSession, actor: Any, hearing: Hearing, stage: Stage, text: str,
                 version: int) -> MinutesSection:
    """Save one stage's minutes if nobody saved since `version` (0: none yet); a stale
    save raises StaleMinutes and overwrites nothing. Compare-and-set in one UPDATE, so two
    clerks saving at once cannot both win."""
    if not perm.can_write_minutes(actor, hearing):
        raise NotAllowed(_l("Only the hearing clerk and the presiding officer write the "
                            "minutes."))
    if len(text) > MAX_MINUTES_CHARS:
        raise LiveRefused(_l("The minutes of one stage are limited to %(n)d characters; "
                             "this text has %(m)d. Shorten it, or continue in the next "
                             "stage.", n=MAX_MINUTES_CHARS, m=len(text)))
    now = utcnow()
    if version <= 0:
        section = MinutesSection(hearing_id=hearing.id, stage=stage, text=text, version=1,
                                 updated_by_id=actor.id, updated_at=now)
        try:
            with session.begin_nested():
                session.add(section)
        except IntegrityError:  # someone made the section first
            raise StaleMinutes(_section(session, hearing, stage)) from None
    else:
        done = session.execute(
            update(MinutesSection)
            .where(MinutesSection.hearing_id == hearing.id, MinutesSection.stage == stage,
                   MinutesSection.version == version)
            .values(text=text, version=version + 1, updated_by_id=actor.id, updated_at=now)
            .execution_options(synchronize_session=False))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleMinutes(_section(session, hearing, stage))
        section = _section(session, hearing, stage)  # type: ignore[assignment]
        session.refresh(section)
    announce(session, hearing, "minutes")
    return section


def _section(session: DbSession, hearing: Hearing, stage: str) -> MinutesSection | None:
    return session.scalar(select(MinutesSection).where(
        MinutesSection.hearing_id == hearing.id, MinutesSection.stage == stage))


def minutes_of(session: DbSession, hearing: Hearing) -> dict[str, MinutesSection]:
    rows = session.scalars(select(MinutesSection).where(
        MinutesSection.hearing_id == hearing.id))
    return {r.stage: r for r in rows}

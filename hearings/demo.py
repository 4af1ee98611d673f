"""Demo hearings for seed-demo, one in every state: a request awaiting its decision, a
refused one, a hearing scheduled on a granted request, one with its notice published, one
under way (stage mid-way, some minutes), one awaiting signatures (a frozen record, some
signatures), one filed, one cancelled. Built with this part's operations where they exist,
and as plain rows for what the other parts build (panel seats from the people registry,
minutes, the frozen record). Idempotent: the first demo request's reason is the marker.
Flushes, never commits (seed-demo commits)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import time, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearings import links
from hearings import operations as ops
from hearings import requests as reqs
from hearings.forms import local_to_utc
from hearings.models import (
    HearingKind,
    HearingRequest,
    HearingStatus,
    MinutesSection,
    Participant,
    ParticipantRole,
    PickedBy,
    PlaceKind,
    RecordVersion,
    Rsvp,
    Signature,
    SignatureStatus,
    SignMethod,
    Stage,
)
from portal.auth import operations as auth_ops
from portal.casefiles import operations as case_ops
from portal.casefiles.clocks import today_in_china
from portal.casefiles.models import Case, Status
from portal.errors import DomainError
from portal.extensions import DbSession
from portal.orgs.models import Organisation
from portal.people.models import Person
from portal.timeutil import utcnow

OFFICE = "县信访局"
MARKER = "请求就征地补偿标准召开听证，听取双方意见。（演示）"
PLACE = "县信访局三楼听证室"


def _cases(session: DbSession, office_id: int) -> list[Case]:
    return list(session.scalars(select(Case).where(
        Case.office_id == office_id,
        Case.status.notin_([str(Status.CLOSED), str(Status.ARCHIVED)])).order_by(Case.id)))


def _panel(session: DbSession, hearing: Any, people: list[Person]) -> list[Participant]:
    """The panel seated by hand, invited when the notice went out and accepted since (with
    their personal links), as the invitations part would have left them."""
    invited = hearing.notice_published_at or utcnow()
    seats = []
    for seat_no, person in enumerate(people[:hearing.panel_size], start=1):
        p = Participant(hearing=hearing, role=ParticipantRole.PANEL, name=person.name,
                        person_id=person.id, user_id=person.user_id, email=person.email,
                        panel_kind=person.kind, seat_no=seat_no, picked_by=PickedBy.HAND,
                        pick_reason="演示数据", rsvp=Rsvp.ACCEPTED, invited_at=invited,
                        responded_at=invited + timedelta(hours=seat_no))
        session.add(p)
        session.flush()
        links.issue_participant_token(p)
        seats.append(p)
    return seats


def _panel_people(session: DbSession) -> list[Person]:
    found: list[Person] = []
    for kind, n in (("deputy", 1), ("cppcc", 1), ("expert", 2), ("lawyer", 1)):
        found += session.scalars(select(Person).where(Person.kind == kind,
                                                      Person.is_active.is_(True))
                                 .order_by(Person.id).limit(n))
    return found


def seed_hearings(db_session: DbSession, echo: Callable[[str], None]) -> None:
    session = cast(Session, db_session)
    if session.scalar(select(HearingRequest.id).where(HearingRequest.reason == MARKER)
                      .limit(1)) is not None:
        echo("hearings: demo hearings present, 0 new")
        return
    clerk = auth_ops.find_user(session, "clerk")
    leader = auth_ops.find_user(session, "leader")
    office = session.scalar(select(Organisation).where(Organisation.name == OFFICE))
    if clerk is None or leader is None or office is None:
        echo("hearings: demo logins or the county office missing; no hearings seeded")
        return
    cases = [c for c in _cases(session, office.id)
             if ops.presiding_conflict(session, leader, c) is None]
    if len(cases) < 9:
        echo("hearings: fewer than 9 demo cases; no hearings seeded")
        return
    people = _panel_people(session)
    made = 0
    # a request awaiting the decision, and one refused
    reqs.request_hearing(session, clerk, cases[0], reason=MARKER)
    refused = reqs.request_hearing(session, clerk, cases[1],
                                   reason="要求听证核实工伤认定事实。（演示）")
    reqs.decide_request(session, clerk, refused, grant=False,
                        text="经审查，该事项事实清楚，已有书面答复，不予举行听证。")
    start_day = today_in_china() + timedelta(days=12)
    states = [HearingStatus.SCHEDULED, HearingStatus.PUBLISHED, HearingStatus.RUNNING,
              HearingStatus.SIGNING, HearingStatus.FILED, HearingStatus.CANCELLED]
    for i, state in enumerate(states):
        case = cases[2 + i]
        request_id = None
        if state == HearingStatus.SCHEDULED:  # on a granted request
            granted = reqs.request_hearing(session, clerk, case,
                                           reason="请求听证，公开核实补偿标准。（演示）")
            reqs.decide_request(session, clerk, granted, grant=True,
                                text="同意举行听证，具体时间地点另行通知。")
            request_id = granted.id
        plan = ops.Plan(
            kind=HearingKind.RE_REVIEW if i % 2 else HearingKind.PETITION,
            starts_at=local_to_utc(start_day + timedelta(days=i), time(9, 0)),
            ends_at=local_to_utc(start_day + timedelta(days=i), time(11, 30)),
            place_kind=PlaceKind.BOTH if i % 3 == 0 else PlaceKind.ROOM, place=PLACE,
            presiding_id=leader.id, clerk_id=clerk.id, agenda="一、核实事实；二、听取意见。",
            is_public=i != 3, closed_reason=None if i != 3 else "privacy",
            panel_size=5, request_id=request_id,
            title=f"{case.number} 听证会（演示）")
        try:
            with session.begin_nested():
                if case.leader_id != leader.id:  # the presiding leader works on the file
                    case_ops.set_leader(session, clerk, case, leader, "主持听证。（演示）")
                hearing = ops.schedule_hearing(session, clerk, case, plan)
        except DomainError as error:
            echo(f"hearings: {case.number} not scheduled: {error.message}")
            continue
        made += 1
        if state == HearingStatus.SCHEDULED:
            continue
        if state == HearingStatus.CANCELLED:
            ops.cancel_hearing(session, clerk, hearing, "承办单位已与信访人达成和解。（演示）")
            continue
        hearing.notice_published_at = utcnow()
        hearing.status = HearingStatus.PUBLISHED
        if state == HearingStatus.PUBLISHED:
            _panel(session, hearing, people)
            continue
        # under way or done: the hearing was held (moved into the past as plain rows), its
        # notice published the required days before
        held = utcnow() - timedelta(days=0 if state == HearingStatus.RUNNING else 3 + i)
        hearing.starts_at = held - timedelta(minutes=40)
        hearing.ends_at = held + timedelta(hours=2)
        hearing.started_at = hearing.starts_at
        hearing.notice_published_at = hearing.starts_at - timedelta(days=10)
        _panel(session, hearing, people)
        session.add(MinutesSection(hearing_id=hearing.id, stage=Stage.OPENING,
                                   text="主持人宣布听证开始，告知回避权利，各方均不申请回避。",
                                   version=1, updated_by_id=clerk.id, updated_at=utcnow()))
        session.add(MinutesSection(hearing_id=hearing.id, stage=Stage.AGENCY_FACTS,
                                   text="承办单位陈述调查核实情况及答复依据。", version=1,
                                   updated_by_id=clerk.id, updated_at=utcnow()))
        if state == HearingStatus.RUNNING:
            hearing.status, hearing.stage = HearingStatus.RUNNING, Stage.PETITIONER
            hearing.stage_started_at = utcnow() - timedelta(minutes=5)
            continue
        hearing.stage, hearing.ended_at = Stage.ENDED, hearing.ends_at
        hearing.panel_opinion = "多数听证员认为原处理意见事实清楚，建议维持。"
        text = "听证笔录（演示）\n开场：各方均不申请回避。\n承办单位陈述调查核实情况。"
        record = RecordVersion(hearing_id=hearing.id, kind="record", number=1, text=text,
                               sha256=hashlib.sha256(text.encode()).hexdigest(),
                               frozen_by_id=clerk.id)
        session.add(record)
        session.flush()
        signers = [p for p in hearing.participants if p.role != ParticipantRole.AGENCY]
        if state == HearingStatus.SIGNING:
            signers = signers[:3]
        for p in signers:
            session.add(Signature(record_version_id=record.id, participant_id=p.id,
                                  status=SignatureStatus.SIGNED, method=SignMethod.TABLET,
                                  signer_name=p.name, witnessed_by_id=clerk.id))
        hearing.status = state
        if state == HearingStatus.FILED:
            hearing.filed_at = utcnow()
    session.flush()
    echo(f"hearings: {made} demo hearings and 3 requests (presiding: leader, clerk: clerk)")

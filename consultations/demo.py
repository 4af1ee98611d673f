"""Demo lawyer duty for seed-demo: a year's published rota for the demo lawyers (each in
turn; the demo lawyer account has this week), and consultations in every state — held,
queued, active with chat messages, closed answered, referred to a court, legal aid
pending and granted, turned into a petition case, rated.

Built as plain rows (the rota part writes the real generator). Idempotent: existing
weeks are kept, and the consultations are made once (the first one's question is the
marker). Flushes, never commits (seed-demo commits)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from consultations import links
from consultations.models import (
    AidDecision,
    Consultation,
    ConsultationStatus,
    DutyWeek,
    LegalAidApplication,
    Message,
    RotaStatus,
)
from consultations.rules import rules
from portal.auth import operations as auth_ops
from portal.casefiles import operations as case_ops
from portal.extensions import DbSession
from portal.people.models import Person
from portal.timeutil import BEIJING, utcnow

#: weeks of the rota before this week, and the year from there
WEEKS_BEFORE = 13
WEEKS = 52
MARKER = "【演示】公司拖欠我三个月工资，老板说再等等，我该怎么办？"
DECLARED = "本人承诺不以收费方式代理该事项。"

#: (status, outcome, rating, name, topic, question, answer, aid decision, days ago)
SPECS: list[tuple[str, str | None, str | None, str, str, str, str, str | None, int]] = [
    ("queued", None, None, "王秀英", "labour", MARKER, "", None, 0),
    ("held", None, None, "刘建国", "family", "父亲去世没有遗嘱，兄弟姐妹怎么分房子？", "",
     None, 0),
    ("active", None, None, "陈桂兰", "housing",
     "村里拆迁给的补偿比邻居少，可以去哪里反映？", "", None, 0),
    ("closed", "answered", "satisfied", "赵海峰", "contract",
     "朋友借了我五万元不还，只有微信聊天记录，能起诉吗？",
     "微信聊天记录、转账记录可以作为证据。建议先书面催告，保留证据；"
     "借款诉讼时效为三年，自约定还款期满之日起算。", None, 3),
    ("closed", "court", "fairly", "孙丽娟", "tort",
     "在超市摔倒骨折，超市不肯赔偿医药费。",
     "经营场所未尽安全保障义务的，应承担侵权责任。请保留病历、票据和监控截图。\n\n"
     "建议途径：向县人民法院立案庭起诉（可先申请诉前调解），携带身份证、病历、医疗费票据。",
     None, 10),
    ("closed", "legal_aid", None, "周德明", "labour",
     "工地包工头跑了，十几个工友的工资都没拿到。",
     "属于追索劳动报酬，可申请法律援助，无需审查经济困难状况。", "pending", 1),
    ("closed", "legal_aid", "satisfied", "吴春花", "social_security",
     "工伤认定下来了，单位不给交社保，怎么要赔偿？",
     "工伤认定后可申请劳动能力鉴定，再向劳动人事争议仲裁委员会申请仲裁。", "granted", 6),
    ("closed", "petition", "unsatisfied", "郑国强", "land",
     "承包地被村里收回另发包，村委会不给说法。",
     "承包期内发包方不得收回承包地。建议向乡镇人民政府反映，并可申请农村土地承包仲裁。",
     None, 12),
]


def _mondays(today: date) -> list[date]:
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=WEEKS_BEFORE)
    return [first + timedelta(weeks=i) for i in range(WEEKS)]


def _lawyers(session: DbSession) -> tuple[list[Person], Person | None]:
    found = list(session.scalars(select(Person).where(Person.kind == "lawyer",
                                                      Person.is_active.is_(True))
                                 .order_by(Person.id)))
    account = auth_ops.find_user(session, "lawyer")
    mine = next((p for p in found if account is not None and p.user_id == account.id), None)
    return found, mine


def seed_rota(session: DbSession, lawyers: list[Person], mine: Person | None,
              today: date) -> dict[date, DutyWeek]:
    """Each lawyer in turn, so that the demo lawyer has this week."""
    mondays = _mondays(today)
    start = lawyers.index(mine) if mine is not None else 0
    # this week is WEEKS_BEFORE weeks in: shift the turn so that it falls on `start`
    offset = (start - WEEKS_BEFORE) % len(lawyers)
    have = {w.week_start: w for w in session.scalars(
        select(DutyWeek).where(DutyWeek.week_start.in_(mondays)))}
    hours = ",".join(rules().hours)
    for i, monday in enumerate(mondays):
        if monday in have:
            continue
        lawyer = lawyers[(offset + i) % len(lawyers)]
        week = DutyWeek(week_start=monday, lawyer_id=lawyer.id, status=RotaStatus.PUBLISHED,
                        hours=hours, published_at=utcnow())
        session.add(week)
        have[monday] = week
    session.flush()
    return have


def seed_consultations(session: DbSession, echo: Callable[[str], None]) -> None:
    lawyers, mine = _lawyers(session)
    if not lawyers:
        echo("consultations: no lawyers in the registry; nothing seeded")
        return
    today = datetime.now(BEIJING).date()
    weeks = seed_rota(session, lawyers, mine, today)
    if session.scalar(select(Consultation.id).where(Consultation.question == MARKER)):
        echo(f"consultations: rota of {len(weeks)} weeks, demo consultations present")
        return
    clerk = auth_ops.find_user(session, "clerk")
    for spec in SPECS:
        _consultation(session, spec, weeks, today, clerk)
    session.flush()
    echo(f"consultations: rota of {len(weeks)} weeks, {len(SPECS)} consultations")


def _consultation(session: DbSession, spec: tuple[Any, ...], weeks: dict[date, DutyWeek],
                  today: date, clerk: Any) -> Consultation:
    status, outcome, rating, name, topic, question, answer, aid, days_ago = spec
    day = today - timedelta(days=days_ago)
    week = weeks.get(day - timedelta(days=day.weekday()))
    asked = datetime.combine(day, time(9, 40), tzinfo=BEIJING)
    lawyer = week.lawyer if week is not None and status in ("active", "closed") else None
    consultation = Consultation(
        channel="online" if status != "closed" or days_ago % 2 else "in_person",
        status=status, name=name, phone="1380013" + f"{sum(map(ord, name)) % 10000:04d}",
        topic=topic, question=question, duty_week_id=week.id if week else None,
        lawyer_id=lawyer.id if lawyer else None,
        lawyer_user_id=lawyer.user_id if lawyer else None,
        created_at=asked, taken_at=asked + timedelta(minutes=5) if lawyer else None)
    links.issue_consultation_token(consultation)
    if status == ConsultationStatus.CLOSED:
        consultation.outcome = outcome
        consultation.answer = answer
        consultation.closed_at = asked + timedelta(minutes=35)
        consultation.conflict_declared_at = consultation.closed_at
        if rating:
            consultation.rating = rating
            consultation.rated_at = consultation.closed_at + timedelta(hours=2)
    session.add(consultation)
    session.flush()
    if status == ConsultationStatus.ACTIVE:
        for i, (sender, body) in enumerate([
                ("asker", question), ("lawyer", "您好，我是今天的值班律师。补偿协议签了吗？"),
                ("asker", "还没签，他们说不签就强拆。"),
                ("lawyer", "先不要签字。请把征收决定书和补偿方案拍照发给我看看。")]):
            session.add(Message(consultation_id=consultation.id, sender=sender, body=body,
                                client_id=hashlib.sha1(f"demo-{i}".encode()).hexdigest(),
                                sent_at=asked + timedelta(minutes=6 + i),
                                delivered_at=asked + timedelta(minutes=6 + i)))
    if aid is not None:
        submitted = consultation.closed_at or asked
        application = LegalAidApplication(
            consultation_id=consultation.id, applicant_name=name, phone=consultation.phone,
            matter=question, grounds="追索劳动报酬（法律援助法第三十一条、第三十二条）",
            submitted_at=submitted, decide_by=(submitted.astimezone(BEIJING).date()
                                               + timedelta(days=rules().aid_decide_days)),
            limitation_ends_on=today + timedelta(days=5) if aid == "pending" else None)
        if aid == AidDecision.GRANTED:
            application.decision = AidDecision.GRANTED
            application.decided_at = submitted + timedelta(days=2)
            application.decision_note = "符合法律援助条件。"
            application.assign_by = (application.decided_at.astimezone(BEIJING).date()
                                     + timedelta(days=rules().aid_assign_days))
        session.add(application)
    if outcome == "petition" and clerk is not None:
        plain = cast(Session, session)  # the scoped session stands for a Session
        case, _code = case_ops.register_case(
            plain, clerk, channel="walk_in", kind="land", summary=question,
            petitioners=[{"name": name, "phone": consultation.phone}])
        consultation.case_id = case.id
        session.flush()
        case_ops.record_event(plain, clerk, case, "consultation_linked", {
            "consultation_id": consultation.id,
            "text": f"律师接访第{consultation.id}号转为信访事项"})
    return consultation

"""Demo case files for seed-demo: about 40 cases of the demo county in every state of the
procedure, some overdue, some with the clock paused for a hearing or an appraisal, with
documents (a scanned letter as PDF, a photo as PNG, notices for the petitioner) stored
as blobs like any upload. Everything goes through `operations` and `workflow`, so every
step is on the hash-chained timeline and `casefile verify --all` passes.

Idempotent: the first demo summary is the marker; when a case with it exists nothing is
added. The demo organisations and the logins clerk, leader, agency and supervisor come
from portal/demo.py; when any is missing (logins are made in development only) nothing
is created and the reason is echoed.

Overdue cases are registered with a `received_at` weeks in the past (the events of the
timeline are always stamped now, so only the acceptance clock can be shown overdue).
Paused clocks are `clock.paused` events (reason 听证 or 鉴定), some followed by
`clock.resumed`, which `clocks.py` turns into pauses. A pause counts from the day after
its clock started, so the ones that show as paused on the day of seeding are on cases
received a few days earlier and not yet accepted; the others count from the next day."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import demo as core_demo
from portal import identity
from portal.auth import operations as auth_ops
from portal.casefiles import operations as ops
from portal.casefiles import search  # noqa: F401  (keeps the search documents in step)
from portal.casefiles.models import Case, Status
from portal.casefiles.timeline import append_event
from portal.casefiles.workflow import sign_off_required, transition
from portal.extensions import DbSession
from portal.orgs.models import Organisation, OrgKind
from portal.timeutil import utcnow

Echo = Callable[[str], None]

OFFICE = "县信访局"
LOGINS = ("clerk", "leader", "agency", "supervisor")
#: the lead agency of every case that goes past assignment: the demo agency login works there
LEAD_AGENCY = "县人力资源和社会保障局"


@dataclass(frozen=True)
class Matter:
    #: one of CaseKind's values (a free text would be shown raw on the timeline)
    kind: str
    summary: str
    other: str
    #: the agency this kind of matter goes to (co-agency when the case goes further)
    agency: str


MATTERS = [
    Matter("labour", "某建筑公司拖欠农民工工资八个月，共计三万二千元，多次讨要未果，"
           "要求责令支付。", "青溪宏达建筑有限公司", "县人力资源和社会保障局"),
    Matter("land", "村委会调整土地承包经营权时，本户二亩承包地被划给他人，要求恢复承包权。",
           "桃源村村民委员会", "县自然资源局"),
    Matter("housing", "旧城改造拆迁补偿标准过低，与同片区邻居补偿款相差较大，"
           "要求重新评估。", "县城市更新建设指挥部", "县住房和城乡建设局"),
    Matter("other", "邻居建房占用公共通道，影响通行和采光，村调解两次未果。",
           "邻居王某", "县司法局"),
    Matter("social_security", "原乡镇企业改制后养老保险断缴六年，退休后养老金无法领取，"
           "要求补缴。", "青溪农机厂改制清算组", "县人力资源和社会保障局"),
    Matter("health", "在县医院做阑尾手术后出现严重感染，认为存在医疗过错，"
           "要求鉴定并赔偿。", "青溪县人民医院", "县卫生健康局"),
    Matter("land", "征地补偿款被村组截留，至今未足额发放到户，要求公开账目。",
           "大石村第三村民小组", "县自然资源局"),
    Matter("housing", "小区物业公司挪用维修资金，电梯停运半年，业主多次投诉无果。",
           "青溪安居物业服务公司", "县住房和城乡建设局"),
    Matter("land", "宅基地确权时与兄弟对面积有争议，村里出具的证明前后不一。",
           "兄长李某", "县自然资源局"),
    Matter("labour", "在工地受伤后老板拒付医疗费和误工工资，工伤认定申请未受理。",
           "包工头陈某", "县人力资源和社会保障局"),
    Matter("environment", "养殖场粪污直排河道，气味严重，周边村民饮水受影响。",
           "白沙生态养殖场", "县生态环境局"),
    Matter("civil_affairs", "家中老人符合低保条件却被取消低保资格，要求说明理由并恢复。",
           "柳湾乡民政办", "县民政局"),
    Matter("education", "孩子入学被以户籍不符拒收，要求按随迁子女政策就近入学。",
           "青溪镇中心小学", "县教育局"),
    Matter("labour", "劳务派遣公司未签劳动合同、未缴社保，辞退时不给经济补偿。",
           "青溪众力劳务派遣公司", "县人力资源和社会保障局"),
    Matter("housing", "农村危房改造补助被他人冒领，本户至今未拿到补助款。",
           "东坡村村民委员会", "县住房和城乡建设局"),
    Matter("other", "相邻土地排水纠纷，邻居填高地基导致本户房屋雨季进水。",
           "邻居赵某", "县司法局"),
    Matter("land", "林地承包合同到期后村集体未经村民会议另行发包，要求确认续包权。",
           "龙潭村村民委员会", "县自然资源局"),
    Matter("labour", "饭店关门后老板失联，十一名员工两个月工资共四万六千元无人支付。",
           "青溪味道餐饮店", "县人力资源和社会保障局"),
    Matter("health", "母亲在乡卫生院输液后出现过敏性休克，院方拒绝提供病历复印件。",
           "石门乡卫生院", "县卫生健康局"),
    Matter("social_security", "被征地农民养老保险待遇核定有误，每月少发三百余元。",
           "县社会保险事业管理中心", "县人力资源和社会保障局"),
]


@dataclass(frozen=True)
class Plan:
    state: Status
    #: how a closed case got there: "replied", "reviewed" or "not_accepted"
    via: str = "replied"
    simple: bool = False
    urgent: bool = False
    overdue: bool = False
    paused: str | None = None  # 听证 or 鉴定
    resumed: bool = False
    extended: bool = False
    rated: str | None = None
    channel: str = "walk_in"
    extra: dict[str, Any] = field(default_factory=dict)


S = Status
PLANS = [
    Plan(S.REGISTERED, overdue=True, channel="letter"),
    Plan(S.REGISTERED, paused="鉴定"),
    Plan(S.REGISTERED, paused="听证", channel="letter"),
    Plan(S.REGISTERED, urgent=True, paused="鉴定", channel="phone"),
    Plan(S.REGISTERED, overdue=True, channel="online"),
    Plan(S.NOT_ACCEPTED, channel="letter"),
    Plan(S.NOT_ACCEPTED, channel="online"),
    Plan(S.ACCEPTED),
    Plan(S.ACCEPTED, paused="鉴定", channel="letter"),
    Plan(S.ACCEPTED, simple=True, channel="phone"),
    Plan(S.ASSIGNED, channel="letter"),
    Plan(S.ASSIGNED, extended=True),
    Plan(S.ASSIGNED, paused="听证", resumed=True),
    Plan(S.ASSIGNED, urgent=True, channel="video"),
    Plan(S.REPLY_SUBMITTED, channel="letter"),
    Plan(S.INVESTIGATING, extended=True),
    Plan(S.INVESTIGATING, paused="鉴定"),
    Plan(S.INVESTIGATING, paused="听证", resumed=True, channel="video"),
    Plan(S.REPLIED, channel="letter"),
    Plan(S.REPLIED, rated="satisfied"),
    Plan(S.REPLIED, simple=True, rated="basically_satisfied", channel="phone"),
    Plan(S.REPLIED, rated="unsatisfied", channel="online"),
    Plan(S.REVIEW_REQUESTED, channel="letter"),
    Plan(S.REVIEW_REQUESTED, paused="鉴定"),
    Plan(S.REVIEWED),
    Plan(S.REVIEWED, channel="letter"),
    Plan(S.RE_REVIEW_REQUESTED, paused="听证"),
    Plan(S.RE_REVIEW_REQUESTED, channel="online"),
    Plan(S.RE_REVIEWED, channel="letter"),
    Plan(S.RE_REVIEWED, paused="听证", resumed=True),
    Plan(S.CLOSED, rated="satisfied"),
    Plan(S.CLOSED, via="reviewed"),
    Plan(S.CLOSED, via="not_accepted", channel="letter"),
    Plan(S.CLOSED, simple=True, rated="basically_satisfied"),
    Plan(S.ARCHIVED, rated="satisfied", channel="letter"),
    Plan(S.ARCHIVED, via="reviewed"),
    Plan(S.REGISTERED, overdue=True, channel="video"),
    Plan(S.ACCEPTED, overdue=True, channel="letter"),
    Plan(S.INVESTIGATING, overdue=True),
    Plan(S.REPLIED, overdue=True, channel="letter"),
]

#: the order of the steps after acceptance, by the state they lead to
_AFTER_REPLY = [S.REVIEW_REQUESTED, S.REVIEWED, S.RE_REVIEW_REQUESTED, S.RE_REVIEWED]


# ---------------------------------------------------------------- files made on the fly

def demo_pdf(title: str, lines: list[str]) -> bytes:
    """A small valid one-page PDF (Helvetica, ASCII text, a few ruled lines like a
    scanned form); offsets in the xref table are computed, so readers accept it."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    text = [f"BT /F1 18 Tf 72 770 Td ({esc(title)}) Tj ET"]
    for i, line in enumerate(lines):
        text.append(f"BT /F1 11 Tf 72 {730 - 20 * i} Td ({esc(line)}) Tj ET")
    rules = [f"72 {700 - 20 * i - 8} m 523 {700 - 20 * i - 8} l S" for i in range(len(lines),
                                                                          len(lines) + 20)]
    stream = "\n".join(["0.6 g 0.6 G 0.5 w", *rules, "0 g", *text]).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def demo_png(seed: int, width: int = 96, height: int = 64) -> bytes:
    """A small valid RGB PNG (a soft gradient with a darker band, like a site photo)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            band = 40 if height // 3 < y < height // 2 else 0
            rows += bytes(((x * 2 + seed * 37) % 256, (y * 3 + 90) % 256 - band // 2,
                           max(0, 200 - y * 2 - band)))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b""))


# ---------------------------------------------------------------- the seed

def _person(i: int) -> dict[str, Any]:
    surname = core_demo.SURNAMES[(i * 11 + 3) % len(core_demo.SURNAMES)]
    given = core_demo.GIVEN[(i * 17 + 5) % len(core_demo.GIVEN)]
    born = date(1950, 1, 1) + timedelta(days=(i * 997) % 15000)
    first17 = f"330199{born:%Y%m%d}{(i * 37) % 1000:03d}"
    return {"name": surname + given,
            "id_number": first17 + identity.check_digit(first17),  # a well-formed number
            "phone": f"139{(i * 7919) % 100000000:08d}"}


def _missing(session: Session) -> tuple[dict[str, Any], str | None]:
    found: dict[str, Any] = {}
    for username in LOGINS:
        user = auth_ops.find_user(session, username)
        if user is None or not user.is_active:
            return found, (f"the demo login {username!r} does not exist (logins are made "
                           "in development only)")
        found[username] = user
    county = session.scalar(select(Organisation).where(
        Organisation.name == core_demo.COUNTY, Organisation.kind == OrgKind.COUNTY))
    if county is None:
        return found, f"the demo county {core_demo.COUNTY} does not exist"
    found["county"] = county
    for name in {OFFICE, LEAD_AGENCY, *(m.agency for m in MATTERS)}:
        org = session.scalar(select(Organisation).where(Organisation.name == name,
                                                        Organisation.parent_id == county.id))
        if org is None:
            return found, f"the demo agency {name} does not exist"
        found[name] = org
    for township, villages in core_demo.TOWNSHIPS.items():
        town = session.scalar(select(Organisation).where(
            Organisation.name == township, Organisation.parent_id == county.id))
        if town is None:
            return found, f"the demo township {township} does not exist"
        found[township] = town
        for village in villages:
            place = session.scalar(select(Organisation).where(
                Organisation.name == village, Organisation.parent_id == town.id))
            if place is not None:
                found[village] = place
    return found, None


def seed_cases(session: DbSession, echo: Echo) -> None:
    """About 40 demo case files; nothing when they exist already. Flushes, never commits
    (seed-demo commits)."""
    session = cast(Session, session)
    marker = MATTERS[0].summary
    if session.scalar(select(Case.id).where(Case.summary == marker).limit(1)) is not None:
        echo("case files: the demo cases exist already (nothing added)")
        return
    found, problem = _missing(session)
    if problem:
        echo(f"case files: no demo cases: {problem}")
        return
    clerk, leader, officer, supervisor = (found[u] for u in LOGINS)
    if found[OFFICE] not in clerk.organisations:
        echo(f"case files: no demo cases: the clerk does not belong to {OFFICE}")
        return
    townships = list(core_demo.TOWNSHIPS.items())
    now = utcnow()
    counts: dict[str, int] = {}
    documents = 0
    for i, plan in enumerate(PLANS):
        matter = MATTERS[i % len(MATTERS)]
        township, villages = townships[i % len(townships)]
        village = found.get(villages[i % len(villages)])
        received = now - timedelta(days=20 + (i * 3) % 25 if plan.overdue else 1 + i % 6,
                                   hours=i % 9)
        summary = matter.summary if i < len(MATTERS) else f"再次反映：{matter.summary}"
        case, _code = ops.register_case(
            session, clerk, channel=plan.channel, kind=matter.kind, summary=summary,
            township_id=found[township].id, village_id=village.id if village else None,
            petitioners=[{**_person(i), "address": f"{township}{villages[i % len(villages)]}"
                          f"{i % 9 + 1}组"}],
            others=[{"name": matter.other}], is_urgent=plan.urgent, is_simple=plan.simple,
            leader_id=leader.id if (plan.extended or plan.state == S.REPLY_SUBMITTED
                                      or i % 4 == 0) else None,
            received_at=received)
        documents += _attach_intake(session, clerk, case, plan, i)
        if plan.paused and plan.state in (S.REGISTERED, S.ACCEPTED):
            _pause(session, clerk, case, plan)
        documents += _walk(session, found, clerk, leader, officer, case, plan, matter, i)
        if plan.overdue and case.status == S.REGISTERED:
            transition(session, case, "supervise", supervisor,
                       reason="受理时限已过，请接访科即日作出受理决定并告知信访人。")
        counts[plan.state] = counts.get(plan.state, 0) + 1
    session.flush()
    states = ", ".join(f"{state} {n}" for state, n in counts.items())
    echo(f"case files: {len(PLANS)} demo cases ({states}); {documents} documents")


def _pause(session: Session, actor: Any, case: Case, plan: Plan) -> None:
    why = "召开听证会" if plan.paused == "听证" else "委托司法鉴定"
    append_event(session, case, "clock.paused", actor,
                 {"reason": f"{plan.paused}：{why}，期间不计入办理时限"})
    if plan.resumed:
        append_event(session, case, "clock.resumed", actor,
                     {"reason": f"{plan.paused}结束，恢复计算办理时限"})


def _doc(session: Session, actor: Any, case: Case, title: str, kind: str,
         lines: list[str], for_petitioner: bool = False) -> int:
    name = f"{kind}-{case.number}.pdf"
    ops.add_document(session, actor, case, title=title, kind=kind, original_name=name,
                     media_type="application/pdf", is_for_petitioner=for_petitioner,
                     data=demo_pdf(f"{kind.title()} - case {case.number}", lines))
    return 1


def _attach_intake(session: Session, clerk: Any, case: Case, plan: Plan, i: int) -> int:
    made = 0
    if plan.channel == "letter":
        made += _doc(session, clerk, case, "来信原件（扫描件）", "letter",
                     [f"Petition letter received {case.received_at:%Y-%m-%d}",
                      "Scanned copy of the handwritten original (demo)."])
    if i % 3 == 0:
        ops.add_document(session, clerk, case, title="现场照片", kind="evidence",
                         data=demo_png(i), original_name=f"photo-{case.number}.png",
                         media_type="image/png")
        made += 1
    return made


def _reply(session: Session, case: Case, writer: Any, leader: Any, text: str) -> None:
    """The reply, through the responsible leader's sign-off when the case has one."""
    if sign_off_required(case):
        transition(session, case, "submit_reply", writer, payload={"text": text})
        transition(session, case, "sign_off_reply", leader)
    else:
        transition(session, case, "reply", writer, payload={"text": text})


def _walk(session: Session, found: dict[str, Any], clerk: Any, leader: Any, officer: Any,
          case: Case, plan: Plan, matter: Matter, i: int) -> int:
    """Take the case along the procedure to plan.state; returns documents added."""
    made = 0
    target = plan.state
    if target == S.REGISTERED:
        return made
    if target == S.NOT_ACCEPTED or plan.via == "not_accepted":
        transition(session, case, "not_accept", clerk,
                   reason="反映事项已进入诉讼程序，依法不予受理，已告知通过司法途径解决。")
        made += _doc(session, clerk, case, "不予受理告知书", "notice",
                     ["Notice: the matter is not accepted.", "Reason given in writing."], True)
        if target == S.CLOSED:
            transition(session, case, "close", clerk, reason="不予受理，告知后结案。")
        return made
    transition(session, case, "accept", clerk)
    made += _doc(session, clerk, case, "受理告知书", "notice",
                 ["Notice of acceptance.", "The matter will be handled within 60 days."],
                 True)
    if target == S.ACCEPTED:
        return made
    if plan.simple:
        _reply(session, case, clerk, leader,
               "简易办理：经核实，已协调相关单位当场解决，答复信访人。")
    else:
        lead = found[LEAD_AGENCY] if target != S.ASSIGNED else found[matter.agency]
        co = [found[matter.agency]] if found[matter.agency].id != lead.id else []
        ops.assign(session, clerk, case, lead, co,
                   letter=f"请于期限内调查核实并书面答复信访人（{case.number}）。")
        if plan.paused and target == S.ASSIGNED:
            _pause(session, clerk, case, plan)
        if plan.extended:
            transition(session, case, "request_extension", clerk, payload={"days": 30},
                       reason="案情复杂，需调取多年账目，申请延期三十日。")
            transition(session, case, "extend", leader,
                       reason="同意延期三十日，请按期办结并告知信访人延期理由。")
            made += _doc(session, clerk, case, "延期办理告知书", "notice",
                         ["Notice: the time limit is extended by 30 days.",
                          "Reason: the matter needs records from several years."], True)
        if target == S.ASSIGNED:
            return made
        transition(session, case, "start_investigation", officer)
        if plan.paused and target == S.INVESTIGATING:
            _pause(session, clerk, case, plan)
        if target == S.INVESTIGATING:
            append_event(session, case, "note", officer,
                         {"text": "已约谈被反映单位负责人，调取工资发放记录，待核实。"})
            return made
        if target == S.REPLY_SUBMITTED:
            transition(session, case, "submit_reply", officer, payload={
                "text": "经调查，反映情况属实，拟责令相关单位限期整改，报包案领导审签。"})
            return made
        _reply(session, case, officer, leader,
               "经调查，反映情况基本属实，已责令相关单位限期整改并答复信访人。")
    made += _doc(session, clerk, case, "信访事项处理意见书", "reply",
                 ["Written reply to the petitioner.", "Findings and decision (demo)."], True)
    if plan.rated:
        append_event(session, case, "satisfaction", None,
                     {"rating": plan.rated, "channel": "query_code"})
    if target == S.REPLIED:
        return made
    if target == S.CLOSED and plan.via == "replied":
        transition(session, case, "close", clerk, reason="信访人接受处理意见，办结。")
        return made
    if target == S.ARCHIVED and plan.via == "replied":
        transition(session, case, "close", clerk, reason="信访人接受处理意见，办结。")
        transition(session, case, "archive", clerk)
        return made
    for step in _AFTER_REPLY:
        if step == S.REVIEW_REQUESTED:
            transition(session, case, "request_review", clerk,
                       reason="信访人对处理意见不服，书面申请复查。")
        elif step == S.REVIEWED:
            transition(session, case, "decide_review", clerk,
                       reason="复查认为原处理意见事实清楚，予以维持。")
            made += _doc(session, clerk, case, "复查意见书", "review",
                         ["Review opinion: the reply is upheld."], True)
        elif step == S.RE_REVIEW_REQUESTED:
            transition(session, case, "request_re_review", clerk,
                       reason="信访人对复查意见不服，申请复核。")
            if plan.paused:
                _pause(session, clerk, case, plan)
        elif step == S.RE_REVIEWED:
            transition(session, case, "decide_re_review", clerk,
                       reason="经听证评议，复核维持复查意见。")
            made += _doc(session, clerk, case, "复核意见书", "review",
                         ["Re-review opinion: final; the same facts are not accepted "
                          "again."], True)
        if step == target:
            return made
        if step == S.REVIEWED and plan.via == "reviewed" and target in (S.CLOSED,
                                                                        S.ARCHIVED):
            transition(session, case, "close", clerk,
                       reason="复查意见送达后，信访人未申请复核，结案。")
            if target == S.ARCHIVED:
                transition(session, case, "archive", clerk)
            return made
    return made

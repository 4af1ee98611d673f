"""The demo county: organisations, the people registries and, in development, one
login per role. Everything is looked up by its unique name first, so running the
seed again creates nothing new. Names are built from fixed lists, never at random."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select

from portal.auth import operations as auth_ops
from portal.auth.models import User
from portal.auth.roles import Role
from portal.extensions import DbSession
from portal.orgs.models import Organisation, OrgKind, Sector
from portal.people import operations as people_ops
from portal.people.models import Affiliation, ExpertField, MediatorKind, Person, PersonKind

Echo = Callable[[str], None]

COUNTY = "青溪县"
#: township → its villages (a fictional county)
TOWNSHIPS: dict[str, list[str]] = {
    "青溪镇": ["城关社区", "桃源村", "杨柳村", "河口村"],
    "东坡镇": ["东坡村", "大石村", "下湾村", "柏树村", "新桥村"],
    "石门乡": ["石门村", "龙潭村", "松林村"],
    "白沙镇": ["白沙村", "沙坪村", "金竹村", "枫香村"],
    "柳湾乡": ["柳湾村", "茶园村", "清水村"],
}
AGENCIES: list[tuple[str, Sector]] = [
    ("县信访局", Sector.PETITION),
    ("县公安局", Sector.POLICE),
    ("县人民检察院", Sector.PROCURATORATE),
    ("县人民法院", Sector.COURT),
    ("县司法局", Sector.JUSTICE),
    ("县自然资源局", Sector.LAND),
    ("县人力资源和社会保障局", Sector.LABOUR),
    ("县住房和城乡建设局", Sector.HOUSING),
    ("县民政局", Sector.CIVIL_AFFAIRS),
    ("县生态环境局", Sector.ENVIRONMENT),
    ("县卫生健康局", Sector.HEALTH),
    ("县教育局", Sector.EDUCATION),
]
#: villages that have a committee of their own, besides each township's
VILLAGE_COMMITTEES = ["桃源村", "大石村", "龙潭村", "白沙村"]
COMMITTEE_SUFFIX = "人民调解委员会"

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
            "于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹")
GIVEN = ["建国", "秀英", "志强", "桂兰", "海燕", "德明", "丽华", "文斌", "春梅", "国庆",
         "玉珍", "振华", "晓红", "永刚", "淑芬", "明辉", "凤英", "俊杰", "红梅", "立新",
         "美玲", "学文", "翠兰", "光明", "静怡", "宏伟", "雪梅", "家豪", "慧敏", "长青",
         "兰芳", "晓东", "秋菊", "天佑", "爱民", "婷婷", "世杰", "金凤", "子涵", "卫东",
         "素琴", "浩然", "月华", "成林", "小燕", "正平", "佳琪", "庆丰", "玉兰", "思远"]
#: given names that read as female, for the gender column
FEMALE = {"秀英", "桂兰", "海燕", "丽华", "春梅", "玉珍", "晓红", "淑芬", "凤英", "红梅",
          "美玲", "翠兰", "静怡", "雪梅", "慧敏", "兰芳", "秋菊", "婷婷", "金凤", "子涵",
          "素琴", "月华", "小燕", "佳琪", "玉兰"}

EXPERT_EMPLOYERS: dict[ExpertField, list[tuple[str, str]]] = {
    ExpertField.EDUCATION: [("青溪县第一中学", "高级教师"), ("青溪县职业技术学校", "副校长")],
    ExpertField.JUDICIAL: [("青溪县法学会", "研究员"), ("市委党校法学教研室", "副教授")],
    ExpertField.ENVIRONMENT: [("市环境科学研究所", "高级工程师"), ("青溪县环境监测站", "工程师")],
    ExpertField.MEDICAL: [("青溪县人民医院", "主任医师"), ("青溪县中医院", "副主任医师")],
    ExpertField.LAND: [("青溪县土地勘测规划院", "高级工程师"), ("市测绘院", "工程师")],
    ExpertField.LABOUR: [("县劳动人事争议仲裁院", "仲裁员"), ("市职业技术学院", "讲师")],
    ExpertField.CONSTRUCTION: [("青溪县建筑设计院", "高级工程师"),
                               ("市工程质量检测中心", "工程师")],
    ExpertField.FINANCE: [("青溪农村商业银行", "风控经理"),
                          ("青溪正信会计师事务所", "注册会计师")],
    ExpertField.PSYCHOLOGY: [("青溪县心理咨询中心", "心理咨询师"),
                             ("市第三人民医院", "主治医师")],
    ExpertField.AGRICULTURE: [("青溪县农业技术推广站", "农艺师"), ("市农业科学院", "研究员")],
}
#: which agency an expert of a field may once have worked for (a declared tie)
FIELD_AGENCY = {ExpertField.EDUCATION: "县教育局", ExpertField.LAND: "县自然资源局",
                ExpertField.LABOUR: "县人力资源和社会保障局",
                ExpertField.ENVIRONMENT: "县生态环境局", ExpertField.MEDICAL: "县卫生健康局",
                ExpertField.CONSTRUCTION: "县住房和城乡建设局", ExpertField.JUDICIAL: "县司法局"}
LAW_FIRMS = ["青溪明正律师事务所", "青溪公信律师事务所", "浙东天平律师事务所", "青溪和衡律师事务所"]
AVAILABILITY = ["工作日上午", "每周二、周四下午", "周末可参加，提前三天通知",
                "随时，需提前一天电话联系", "工作日下午；农忙时节（5月、10月）不便", "每月上旬",
                "工作日全天"]

COUNTS = {"expert": 50, "deputy": 15, "cppcc": 10, "village_rep": 20, "lawyer": 12,
          "mediator_per_kind": 25}
INACTIVE_EXPERTS = {7, 23, 41}

#: username, role, Chinese role label, display name (None: the linked person's name),
#: organisation name (None: none), kind of the Person record to link
DEMO_LOGINS: list[tuple[str, Role, str, str | None, str | None, str | None]] = [
    ("admin", Role.ADMIN, "系统管理员", "系统管理员", None, None),
    ("clerk", Role.CLERK, "接访员", "李晓红", "县信访局", None),
    ("leader", Role.LEADER, "包案领导", "张建国", COUNTY, None),
    ("agency", Role.AGENCY, "承办单位工作人员", "陈静", "县人力资源和社会保障局", None),
    ("supervisor", Role.SUPERVISOR, "督查", "赵明", "县信访局", None),
    ("mediator", Role.MEDIATOR, "人民调解员", None, "青溪镇" + COMMITTEE_SUFFIX, "mediator"),
    ("lawyer", Role.LAWYER, "值班律师", None, "县司法局", "lawyer"),
    ("deputy", Role.DEPUTY, "人大代表", None, None, "deputy"),
    ("expert", Role.EXPERT, "专家库成员", None, None, "expert"),
]
DEMO_PASSWORD = "demo"


def demo_logins() -> list[tuple[str, str]]:
    """(username, Chinese role label) of the demo accounts; the password is `demo`."""
    return [(username, label) for username, _role, label, *_rest in DEMO_LOGINS]


def _names() -> Iterator[tuple[str, str]]:
    """Distinct names and genders in a fixed order."""
    seen: set[str] = set()
    step = 0
    while True:
        surname = SURNAMES[(step * 7) % len(SURNAMES)]
        given = GIVEN[(step * 13 + step // len(GIVEN)) % len(GIVEN)]
        step += 1
        name = surname + given
        if name in seen:
            continue
        seen.add(name)
        yield name, "female" if given in FEMALE else "male"


class _Orgs:
    def __init__(self, session: DbSession) -> None:
        self.session = session
        self.created = 0
        self.by_key: dict[tuple[int | None, str], Organisation] = {
            (o.parent_id, o.name): o for o in session.scalars(select(Organisation)).unique()}

    def get(self, name: str, kind: OrgKind, parent: Organisation | None,
            **fields: Any) -> Organisation:
        key = (parent.id if parent else None, name)
        org = self.by_key.get(key)
        if org is None:
            org = Organisation(name=name, kind=kind, parent=parent, is_active=True, **fields)
            self.session.add(org)
            self.session.flush()
            self.by_key[key] = org
            self.created += 1
        return org


def _seed_orgs(session: DbSession, echo: Echo) -> dict[str, Organisation]:
    orgs = _Orgs(session)
    found: dict[str, Organisation] = {}
    county = orgs.get(COUNTY, OrgKind.COUNTY, None, code="330199",
                      address="青溪县人民路1号")
    found[COUNTY] = county
    for i, (name, sector) in enumerate(AGENCIES, start=1):
        found[name] = orgs.get(name, OrgKind.AGENCY, county, sector=str(sector),
                               address=f"青溪县人民路{i * 2 + 10}号",
                               phone=f"0571-6600{i:04d}")
    villages = 0
    for t, (township, village_names) in enumerate(TOWNSHIPS.items(), start=1):
        town = orgs.get(township, OrgKind.TOWNSHIP, county, code=f"330199{t:03d}")
        found[township] = town
        committee = township + COMMITTEE_SUFFIX
        found[committee] = orgs.get(committee, OrgKind.COMMITTEE, town,
                                    address=f"{township}人民政府综治中心")
        for v, village in enumerate(village_names, start=1):
            place = orgs.get(village, OrgKind.VILLAGE, town, code=f"330199{t:03d}{v:03d}")
            found[village] = place
            villages += 1
            if village in VILLAGE_COMMITTEES:
                name = village + COMMITTEE_SUFFIX
                found[name] = orgs.get(name, OrgKind.COMMITTEE, place,
                                       address=f"{village}村民委员会")
    committees = len(TOWNSHIPS) + len(VILLAGE_COMMITTEES)
    echo(f"organisations: 1 county, {len(TOWNSHIPS)} townships, {villages} villages, "
         f"{len(AGENCIES)} agencies, {committees} mediation committees "
         f"({orgs.created} new)")
    return found


def _people_specs(orgs: dict[str, Organisation]) -> Iterator[dict[str, Any]]:
    """Every demo person, in a fixed order, as data for people_ops.create_person."""
    names = _names()
    number = 0

    def base(kind: PersonKind) -> dict[str, Any]:
        nonlocal number
        number += 1
        name, gender = next(names)
        return {"kind": str(kind), "name": name, "gender": gender,
                "phone": f"1380000{number:04d}",
                "availability": AVAILABILITY[number % len(AVAILABILITY)]}

    townships = list(TOWNSHIPS)
    villages = [v for vs in TOWNSHIPS.values() for v in vs]
    fields = list(ExpertField)
    for i in range(COUNTS["expert"]):
        spec = base(PersonKind.EXPERT)
        field = fields[i % len(fields)]
        employer, title = EXPERT_EMPLOYERS[field][(i // len(fields)) % 2]
        spec.update(expert_field=str(field), employer=employer, title=title,
                    is_active=i not in INACTIVE_EXPERTS,
                    email=f"expert{i + 1:02d}@example.cn")
        if i in INACTIVE_EXPERTS:
            spec["notes"] = "本人申请暂停参加听证（外出进修）"
        if i % 6 == 0 and field in FIELD_AGENCY:
            spec["ties"] = [(FIELD_AGENCY[field], "曾在该单位任职")]
        yield spec
    for i in range(COUNTS["deputy"]):
        spec = base(PersonKind.DEPUTY)
        town = townships[i % len(townships)]
        spec.update(organisation=town, title="县人大代表",
                    employer=[f"{town}人民政府", f"{town}中心学校", "青溪县供销合作社",
                              f"{town}卫生院", "青溪绿源农业合作社"][i % 5])
        if i % 5 == 2:
            spec["ties"] = [("青溪县供销合作社", "理事")]
        yield spec
    for i in range(COUNTS["cppcc"]):
        spec = base(PersonKind.CPPCC)
        spec.update(organisation=COUNTY, title="县政协委员",
                    employer=["青溪县工商业联合会", "青溪县人民医院", "青溪县第一中学",
                              "青溪茶业有限公司", "青溪公信律师事务所"][i % 5])
        yield spec
    for i in range(COUNTS["village_rep"]):
        spec = base(PersonKind.VILLAGE_REP)
        village = villages[i % len(villages)]
        spec.update(organisation=village, title="村民代表", address=f"{village}{i + 3}组")
        if i % 7 == 0:
            spec["ties"] = [(f"{village}股份经济合作社", "股东")]
        yield spec
    for i in range(COUNTS["lawyer"]):
        spec = base(PersonKind.LAWYER)
        firm = LAW_FIRMS[i % len(LAW_FIRMS)]
        sex = 1 if spec["gender"] == "male" else 2
        spec.update(lawyer_firm=firm, employer=firm,
                    title="专职律师" if i % 3 else "合伙人律师",
                    lawyer_licence_no=f"133012{2008 + i:04d}{sex}{i + 1:06d}",
                    email=f"lawyer{i + 1:02d}@example.cn")
        if i % 4 == 1:
            spec["ties"] = [("县住房和城乡建设局", "常年法律顾问")]
        yield spec
    committees = [t + COMMITTEE_SUFFIX for t in TOWNSHIPS] + [
        v + COMMITTEE_SUFFIX for v in VILLAGE_COMMITTEES]
    titles = {MediatorKind.COMMITTEE_MEMBER: "调委会委员", MediatorKind.GRID_WORKER: "网格员",
              MediatorKind.ELDER: "退休教师", MediatorKind.VOLUNTEER: "调解志愿者"}
    for kind in MediatorKind:
        for i in range(COUNTS["mediator_per_kind"]):
            spec = base(PersonKind.MEDIATOR)
            spec.update(mediator_kind=str(kind),
                        organisation=committees[(i + len(spec["name"])) % len(committees)],
                        title=titles[kind])
            if kind == MediatorKind.ELDER and i % 5 == 0:
                spec["title"] = ["老干部", "老党员", "老教师", "老军人", "老模范"][i // 5 % 5]
            yield spec


def _seed_people(session: DbSession, echo: Echo, orgs: dict[str, Organisation]) -> None:
    existing = {(p.kind, p.name) for p in session.execute(
        select(Person.kind, Person.name)).all()}
    licences = set(session.scalars(select(Person.lawyer_licence_no).where(
        Person.lawyer_licence_no.is_not(None))))
    created: dict[str, int] = {}
    totals: dict[str, int] = {}
    for spec in _people_specs(orgs):
        kind = spec["kind"]
        totals[kind] = totals.get(kind, 0) + 1
        if (kind, spec["name"]) in existing or spec.get("lawyer_licence_no") in licences:
            continue
        ties = spec.pop("ties", [])
        org = orgs.get(spec.pop("organisation", ""))
        person = people_ops.create_person(session, spec, organisation=org,
                                          check_licence_in_db=False)
        for name, relation in ties:
            tie_org = orgs.get(name)
            person.affiliations.append(Affiliation(
                organisation_id=tie_org.id if tie_org else None, name=name,
                relation=relation))
        created[kind] = created.get(kind, 0) + 1
    session.flush()
    parts = ", ".join(f"{totals[k]} {k}" for k in totals)
    echo(f"people: {parts} ({sum(created.values())} new)")


def _seed_logins(session: DbSession, echo: Echo, orgs: dict[str, Organisation]) -> None:
    made = 0
    for username, role, _label, display, org_name, person_kind in DEMO_LOGINS:
        user = auth_ops.find_user(session, username)
        person = None
        if person_kind:
            stmt = select(Person).where(Person.kind == person_kind,
                                        Person.is_active.is_(True))
            if person_kind == PersonKind.MEDIATOR and org_name in orgs:
                stmt = stmt.where(Person.organisation_id == orgs[org_name].id)
            person = session.scalars(stmt.order_by(Person.id).limit(1)).first()
        if user is None:
            organisations = [orgs[org_name]] if org_name and org_name in orgs else []
            if person is not None and person.organisation is not None and not organisations:
                organisations = [person.organisation]
            user = auth_ops.create_user(
                session, username=username,
                display_name=display or (person.name if person else username),
                password=DEMO_PASSWORD, roles={role}, organisations=organisations,
                check_password=False)
            made += 1
        if person is not None and person.user_id is None and not _linked(session, user):
            person.user_id = user.id
    session.flush()
    echo(f"logins: {', '.join(u for u, *_ in DEMO_LOGINS)} with password "
         f"'{DEMO_PASSWORD}' ({made} new)")


def _linked(session: DbSession, user: User) -> bool:
    return session.scalar(select(Person.id).where(Person.user_id == user.id)) is not None


def seed_core(session: DbSession, echo: Echo, with_logins: bool) -> None:
    """The county, its agencies and committees, the registries and (with_logins) the demo
    accounts. Idempotent; flushes, never commits."""
    orgs = _seed_orgs(session, echo)
    _seed_people(session, echo, orgs)
    if with_logins:
        _seed_logins(session, echo, orgs)

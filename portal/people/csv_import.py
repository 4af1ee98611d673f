"""Import people from a CSV file: every row is checked first; one bad row and
nothing is imported, the user gets every bad row with its line number."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from portal.errors import DomainError
from portal.extensions import DbSession
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation, OrgKind
from portal.people import operations as ops
from portal.people.models import (
    FIELD_LABELS,
    KIND_LABELS,
    MEDIATOR_KIND_LABELS,
    Affiliation,
    ExpertField,
    MediatorKind,
    Person,
    PersonKind,
)

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 10_000

#: our column keys, each with the Chinese header the template uses first
COLUMNS: dict[str, tuple[str, ...]] = {
    "kind": ("类别", "类型", "人员类别", "kind"),
    "name": ("姓名", "name"),
    "gender": ("性别", "gender"),
    "title": ("职务", "职称", "职务职称", "title"),
    "employer": ("工作单位", "单位", "employer"),
    "organisation": ("所属组织", "所属单位", "organisation", "organization"),
    "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "phone", "mobile"),
    "email": ("邮箱", "电子邮箱", "email", "e-mail"),
    "address": ("地址", "住址", "通讯地址", "address"),
    "availability": ("可参加时间", "可参加时段", "availability"),
    "field": ("专业领域", "领域", "field", "expert_field"),
    "firm": ("律师事务所", "律所", "firm", "lawyer_firm"),
    "licence_no": ("执业证号", "律师执业证号", "执业证号码", "licence_no", "license_no",
                   "lawyer_licence_no"),
    "mediator_kind": ("调解员类型", "调解员类别", "mediator_kind"),
    "affiliations": ("关联单位", "affiliations"),
    "active": ("状态", "active", "is_active"),
    "notes": ("备注", "notes"),
}
HEADER_KEYS = {alias.lower(): key for key, aliases in COLUMNS.items() for alias in aliases}

KIND_ALIASES = {
    "人大代表": PersonKind.DEPUTY, "政协委员": PersonKind.CPPCC, "村民代表": PersonKind.VILLAGE_REP,
    "专家": PersonKind.EXPERT, "专家库成员": PersonKind.EXPERT, "律师": PersonKind.LAWYER,
    "值班律师": PersonKind.LAWYER, "调解员": PersonKind.MEDIATOR,
    "人民调解员": PersonKind.MEDIATOR,
}
FIELD_ALIASES = {
    "教育": ExpertField.EDUCATION, "司法": ExpertField.JUDICIAL, "法律": ExpertField.JUDICIAL,
    "环境": ExpertField.ENVIRONMENT, "生态环境": ExpertField.ENVIRONMENT,
    "环保": ExpertField.ENVIRONMENT, "医疗": ExpertField.MEDICAL,
    "医疗卫生": ExpertField.MEDICAL, "卫生": ExpertField.MEDICAL, "土地": ExpertField.LAND,
    "国土": ExpertField.LAND, "自然资源": ExpertField.LAND, "劳动": ExpertField.LABOUR,
    "劳动保障": ExpertField.LABOUR, "劳动人事": ExpertField.LABOUR,
    "建设": ExpertField.CONSTRUCTION, "建筑": ExpertField.CONSTRUCTION,
    "住建": ExpertField.CONSTRUCTION, "城乡建设": ExpertField.CONSTRUCTION,
    "金融": ExpertField.FINANCE, "财务": ExpertField.FINANCE, "财会": ExpertField.FINANCE,
    "心理": ExpertField.PSYCHOLOGY, "心理学": ExpertField.PSYCHOLOGY,
    "心理咨询": ExpertField.PSYCHOLOGY, "农业": ExpertField.AGRICULTURE,
    "农业农村": ExpertField.AGRICULTURE,
}
MEDIATOR_ALIASES = {
    "调委会委员": MediatorKind.COMMITTEE_MEMBER, "委员": MediatorKind.COMMITTEE_MEMBER,
    "调解委员会委员": MediatorKind.COMMITTEE_MEMBER, "网格员": MediatorKind.GRID_WORKER,
    "五老": MediatorKind.ELDER, "志愿者": MediatorKind.VOLUNTEER,
    "调解志愿者": MediatorKind.VOLUNTEER,
}
GENDER_ALIASES = {"男": "male", "女": "female", "male": "male", "female": "female",
                  "m": "male", "f": "female"}
ACTIVE_WORDS = {"", "是", "在册", "有效", "启用", "正常", "active", "yes", "y", "true", "1"}
INACTIVE_WORDS = {"否", "停用", "无效", "注销", "不在册", "inactive", "no", "n", "false", "0"}
#: where check_person's field names show up in the file
FIELD_TO_COLUMN = {"expert_field": "field", "lawyer_firm": "firm",
                   "lawyer_licence_no": "licence_no", "organisation_id": "organisation"}

TEMPLATE_ROWS = [
    ["专家", "王建华", "男", "副教授", "青溪县职业技术学校", "", "13800001111",
     "", "", "每周二、周四下午", "教育", "", "", "", "县教育局（曾任职）", "在册", ""],
    ["律师", "李秀梅", "女", "专职律师", "", "", "0571-88001234", "", "",
     "工作日", "", "青溪明正律师事务所", "13301201510012345", "", "", "在册", ""],
    ["调解员", "张德明", "男", "", "", "青溪镇人民调解委员会", "13800002222", "", "",
     "随时", "", "", "", "五老", "", "在册", "退休教师"],
]


class ImportRefused(DomainError):
    """The file as a whole cannot be read (size, encoding, columns)."""


@dataclass
class RowError:
    line: int
    name: str
    problems: list[str]


class ImportRejected(DomainError):
    """Some rows are wrong; nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(_l("%(n)d rows have problems. Nothing was imported; correct them and "
                            "upload the file again.", n=len(errors)))
        self.errors = errors


@dataclass
class _Row:
    line: int
    checked: ops.Checked
    ties: list[tuple[Organisation | None, str, str | None]] = field(default_factory=list)


def template_csv() -> bytes:
    """The import template: Chinese headers, UTF-8 with a BOM so that Excel opens it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([aliases[0] for aliases in COLUMNS.values()])
    writer.writerows(TEMPLATE_ROWS)
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def decode(raw: bytes) -> str:
    """UTF-8 (with or without BOM) or GB18030, the two encodings Chinese Excel writes."""
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportRefused(_l("This is an Excel workbook, not a CSV file. In Excel choose "
                               "Save As → CSV, then upload that file."))
    if b"\x00" in raw:
        raise ImportRefused(_l("This file is not a CSV text file."))
    if raw.startswith(codecs.BOM_UTF8):
        try:
            return raw[len(codecs.BOM_UTF8):].decode("utf-8")
        except UnicodeDecodeError:
            pass
    else:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportRefused(_l("The file's text could not be read. Save it as CSV in UTF-8 "
                               "or GB18030 (the Chinese Excel default).")) from None


def _header_key(cell: str) -> str | None:
    text = re.sub(r"[\s*＊/／]", "", cell.replace("\ufeff", "")).lower()
    return HEADER_KEYS.get(text)


def _choice(value: str, aliases: dict[str, Any], codes: set[str],
            labels: dict[Any, Any]) -> str | None:
    text = value.strip()
    if text in aliases:
        return str(aliases[text])
    low = text.lower()
    if low in codes:
        return low
    for code, label in labels.items():
        if low == str(label).lower():
            return str(code)
    return None


class _Organisations:
    """All organisations, found by name or by "township/village"."""

    def __init__(self, session: DbSession) -> None:
        self.by_name: dict[str, list[Organisation]] = defaultdict(list)
        self.by_path: dict[str, Organisation] = {}
        for org in session.scalars(select(Organisation)).unique():
            self.by_name[org.name].append(org)
            self.by_path[self._norm(org.full_name)] = org

    @staticmethod
    def _norm(text: str) -> str:
        return re.sub(r"\s", "", text).replace("／", "/")

    def find(self, name: str, kinds: tuple[OrgKind, ...] | None) -> tuple[Organisation | None,
                                                                          str | None]:
        path = self._norm(name)
        if path in self.by_path:
            return self.by_path[path], None
        found = self.by_name.get(name.strip(), [])
        if len(found) > 1 and kinds:
            narrowed = [o for o in found if OrgKind(o.kind) in kinds]
            found = narrowed or found
        if len(found) == 1:
            return found[0], None
        if not found:
            return None, str(_l("No organisation called “%(name)s” in the portal.", name=name))
        return None, str(_l("Several organisations are called “%(name)s”; write it with the "
                            "place it belongs to, e.g. %(example)s.", name=name,
                            example=found[0].full_name))


def _split_ties(text: str) -> list[tuple[str, str | None]]:
    ties: list[tuple[str, str | None]] = []
    for item in re.split(r"[;；]", text):
        item = item.strip()
        if not item:
            continue
        match = re.fullmatch(r"(.+?)\s*[（(](.+)[)）]", item)
        if match:
            ties.append((match.group(1).strip(), match.group(2).strip()))
        elif re.search(r"[:：]", item):
            name, relation = re.split(r"[:：]", item, maxsplit=1)
            ties.append((name.strip(), relation.strip() or None))
        else:
            ties.append((item, None))
    return ties


def _check_rows(session: DbSession, text: str) -> tuple[list[_Row], list[RowError]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused(_l("The file is empty.")) from None
    except csv.Error:
        raise ImportRefused(_l("The file is not a readable CSV file.")) from None
    keys: list[str | None] = []
    written: dict[str, str] = {}
    for cell in header:
        if not cell.strip():
            keys.append(None)
            continue
        key = _header_key(cell)
        if key is None:
            raise ImportRefused(_l("Unknown column “%(name)s” in line 1. Use the column names "
                                   "of the template.", name=cell.strip()))
        if key in written:
            raise ImportRefused(_l("The columns “%(a)s” and “%(b)s” mean the same thing.",
                                   a=written[key], b=cell.strip()))
        written[key] = cell.strip()
        keys.append(key)
    for needed in ("kind", "name"):
        if needed not in written:
            raise ImportRefused(_l("The file needs a column “%(name)s”.",
                                   name=COLUMNS[needed][0]))

    def label(key: str) -> str:
        return written.get(key, COLUMNS[key][0])

    orgs = _Organisations(session)
    rows: list[_Row] = []
    errors: list[RowError] = []
    licences: dict[str, int] = {}
    count = 0
    line = 1
    try:
        for line, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            count += 1
            if count > MAX_ROWS:
                raise ImportRefused(_l("The file has more than %(n)d rows. Split it into "
                                       "smaller files.", n=MAX_ROWS))
            values = {key: (cells[i].strip() if i < len(cells) else "")
                      for i, key in enumerate(keys) if key}
            problems: list[str] = []
            if len(cells) > len(keys) and any(c.strip() for c in cells[len(keys):]):
                problems.append(str(_l("The row has more cells than the header.")))
            row = _check_row(session, values, orgs, label, problems)
            if row is not None:
                licence = row.checked.values.get("lawyer_licence_no")
                if licence and licence in licences:
                    problems.append(str(_l("%(col)s: the same licence number is on line "
                                           "%(line)d.", col=label("licence_no"),
                                           line=licences[licence])))
                elif licence:
                    licences[licence] = line
            if problems:
                errors.append(RowError(line, values.get("name", ""), problems))
            elif row is not None:
                row.line = line
                rows.append(row)
    except csv.Error as error:
        raise ImportRefused(_l("Line %(line)d cannot be read as CSV: %(why)s",
                               line=line + 1, why=str(error))) from None
    if not count:
        raise ImportRefused(_l("The file has a header but no rows."))

    # licence numbers already in the registry, in a few queries
    taken: set[str] = set()
    numbers = list(licences)
    for start in range(0, len(numbers), 500):
        taken.update(n for n in session.scalars(select(Person.lawyer_licence_no).where(
            Person.lawyer_licence_no.in_(numbers[start:start + 500]))) if n)
    if taken:
        bad = {licences[n]: n for n in taken}
        for row in list(rows):
            if row.line in bad:
                rows.remove(row)
                errors.append(RowError(row.line, row.checked.values.get("name") or "", [str(_l(
                    "%(col)s: another lawyer in the registry already has this licence number.",
                    col=label("licence_no")))]))
        errors.sort(key=lambda e: e.line)
    return rows, errors


def _check_row(session: DbSession, values: dict[str, str], orgs: _Organisations,
               label: Any, problems: list[str]) -> _Row | None:
    data: dict[str, Any] = {k: values.get(k) for k in (
        "name", "title", "employer", "phone", "email", "address", "availability", "notes")}
    data["lawyer_firm"] = values.get("firm")
    data["lawyer_licence_no"] = values.get("licence_no")
    kind = _choice(values.get("kind", ""), KIND_ALIASES, {str(k) for k in PersonKind},
                   KIND_LABELS)
    if kind is None:
        problems.append(str(_l("%(col)s: “%(value)s” is not a known kind (人大代表, 政协委员, "
                               "村民代表, 专家, 律师, 调解员).", col=label("kind"),
                               value=values.get("kind", ""))))
        return None
    data["kind"] = kind
    if values.get("gender"):
        gender = GENDER_ALIASES.get(values["gender"].lower())
        if gender is None:
            problems.append(str(_l("%(col)s: write 男 or 女.", col=label("gender"))))
        data["gender"] = gender
    if values.get("field"):
        data["expert_field"] = _choice(values["field"], FIELD_ALIASES,
                                       {str(f) for f in ExpertField}, FIELD_LABELS)
        if data["expert_field"] is None and kind == PersonKind.EXPERT:
            problems.append(str(_l("%(col)s: “%(value)s” is not a known field.",
                                   col=label("field"), value=values["field"])))
            data["expert_field"] = ExpertField.EDUCATION  # reported above; not stored
    if values.get("mediator_kind"):
        data["mediator_kind"] = _choice(values["mediator_kind"], MEDIATOR_ALIASES,
                                        {str(m) for m in MediatorKind}, MEDIATOR_KIND_LABELS)
        if data["mediator_kind"] is None and kind == PersonKind.MEDIATOR:
            problems.append(str(_l("%(col)s: “%(value)s” is not a known kind of mediator "
                                   "(调委会委员, 网格员, 五老, 志愿者).",
                                   col=label("mediator_kind"), value=values["mediator_kind"])))
            data["mediator_kind"] = MediatorKind.VOLUNTEER  # reported above; not stored
    active = (values.get("active") or "").strip().lower()
    if active in ACTIVE_WORDS:
        data["is_active"] = True
    elif active in INACTIVE_WORDS:
        data["is_active"] = False
    else:
        problems.append(str(_l("%(col)s: write 在册 or 停用.", col=label("active"))))
    org: Organisation | None = None
    org_missing = False
    if values.get("organisation"):
        org, why = orgs.find(values["organisation"],
                             ops.ORG_KINDS_FOR.get(kind, ops.OTHER_ORG_KINDS))
        if why:
            problems.append(f"{label('organisation')}: {why}")
            org_missing = True
    ties: list[tuple[Organisation | None, str, str | None]] = []
    for name, relation in _split_ties(values.get("affiliations") or ""):
        tie_org, _why = orgs.find(name, None)
        if len(name) > 120 or (relation and len(relation) > 60):
            problems.append(str(_l("%(col)s: “%(value)s” is too long.",
                                   col=label("affiliations"), value=name)))
        ties.append((tie_org, tie_org.full_name if tie_org else name, relation))
    try:
        checked = ops.check_person(session, data, organisation=org, check_licence_in_db=False)
    except ops.PersonInvalid as invalid:
        for key, message in invalid.errors.items():
            if key == "organisation_id" and org_missing:
                continue
            column = FIELD_TO_COLUMN.get(key, key)
            problems.append(f"{label(column) if column in COLUMNS else column}: {message}")
        return None
    return _Row(0, checked, ties)


def import_people(session: DbSession, raw: bytes) -> int:
    """Check every row, then add them all; ImportRejected (nothing added) on any bad row."""
    if len(raw) > MAX_BYTES:
        raise ImportRefused(_l("The file is larger than %(mb)d MB. Split it into smaller "
                               "files.", mb=MAX_BYTES // (1024 * 1024)), 413)
    rows, errors = _check_rows(session, decode(raw))
    if errors:
        raise ImportRejected(errors)
    people = []
    for row in rows:
        person = ops.build_person(row.checked)
        person.affiliations = [
            Affiliation(organisation_id=org.id if org else None, name=name, relation=relation)
            for org, name, relation in row.ties]
        people.append(person)
    session.add_all(people)
    session.flush()
    return len(people)

"""Organisation work: plain functions that check, change and flush."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from portal.errors import DomainError, StaleEdit
from portal.extensions import DbSession
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import ALLOWED_PARENTS, Organisation, OrgKind, Sector

STALE_MESSAGE = _l("Someone else changed this organisation while you were editing it. Your "
                   "changes are shown below; check them and save again.")

def _check(
    session: DbSession, org: Organisation | None, data: dict[str, Any]
) -> Organisation | None:
    kind = OrgKind(data["kind"])
    parent = session.get(Organisation, data["parent_id"]) if data.get("parent_id") else None
    allowed = ALLOWED_PARENTS[kind]
    if parent is None and allowed and kind != OrgKind.AGENCY:
        raise DomainError(_l("A %(kind)s must belong to a higher level.", kind=kind))
    if parent is not None and OrgKind(parent.kind) not in allowed:
        raise DomainError(_l("This kind of organisation cannot belong to the one chosen."))
    node = parent
    while node is not None:  # no cycles
        if org is not None and node.id == org.id:
            raise DomainError(_l("An organisation cannot belong to itself."))
        node = node.parent
    if data.get("sector") and data["sector"] not in {str(s) for s in Sector}:
        raise DomainError(_l("Unknown sector."))
    clash = session.scalar(select(Organisation).where(
        Organisation.name == data["name"].strip(),
        Organisation.parent_id.is_(None) if parent is None
        else Organisation.parent_id == parent.id))
    if clash is not None and (org is None or clash.id != org.id):
        raise DomainError(_l("There is already an organisation with this name here."))
    return parent


def create_organisation(session: DbSession, data: dict[str, Any]) -> Organisation:
    parent = _check(session, None, data)
    org = Organisation(
        name=data["name"].strip(), kind=data["kind"], sector=data.get("sector") or None,
        parent=parent, code=data.get("code") or None, address=data.get("address") or None,
        phone=data.get("phone") or None, is_active=data.get("is_active", True),
    )
    session.add(org)
    session.flush()
    return org


def update_organisation(session: DbSession, org: Organisation, data: dict[str, Any],
                        seen_version: int | None) -> None:
    if seen_version is not None and seen_version != org.version:
        raise StaleEdit(STALE_MESSAGE)
    parent = _check(session, org, data)
    org.name = data["name"].strip()
    org.kind = data["kind"]
    org.sector = data.get("sector") or None
    org.parent = parent
    org.code = data.get("code") or None
    org.address = data.get("address") or None
    org.phone = data.get("phone") or None
    org.is_active = bool(data.get("is_active"))
    try:
        session.flush()
    except StaleDataError:  # saved by someone else between the check and the flush
        raise StaleEdit(STALE_MESSAGE) from None

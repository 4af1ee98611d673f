"""Helpers for the case-file tests: a small county with an office, agencies and staff,
and a case registered through the real operation."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from portal.auth.roles import Role
from portal.casefiles import operations as ops
from portal.casefiles.models import Case

_n = itertools.count(1)


@dataclass
class World:
    county: Any
    township: Any
    village: Any
    office: Any
    other_office: Any
    police: Any
    land: Any
    outsider_agency: Any
    clerk: Any
    leader: Any
    supervisor: Any
    admin: Any
    other_clerk: Any
    other_leader: Any
    police_officer: Any
    land_officer: Any
    outsider_officer: Any
    deputy: Any


def make_world(make_user: Any, make_org: Any) -> World:
    i = next(_n)
    county = make_org(f"县{i}", "county")
    township = make_org(f"镇{i}", "township", county)
    village = make_org(f"村{i}", "village", township)
    office = make_org(f"信访局{i}", "agency", county, sector="petition")
    other_office = make_org(f"邻县信访局{i}", "agency", county, sector="petition")
    police = make_org(f"公安局{i}", "agency", county, sector="police")
    land = make_org(f"自然资源局{i}", "agency", county, sector="land")
    outsider = make_org(f"人社局{i}", "agency", county, sector="labour")
    return World(
        county=county, township=township, village=village, office=office,
        other_office=other_office, police=police, land=land, outsider_agency=outsider,
        clerk=make_user(Role.CLERK, organisations=[office]),
        leader=make_user(Role.LEADER, organisations=[office]),
        supervisor=make_user(Role.SUPERVISOR, organisations=[office]),
        admin=make_user(Role.ADMIN),
        other_clerk=make_user(Role.CLERK, organisations=[other_office]),
        other_leader=make_user(Role.LEADER, organisations=[other_office]),
        police_officer=make_user(Role.AGENCY, organisations=[police]),
        land_officer=make_user(Role.AGENCY, organisations=[land]),
        outsider_officer=make_user(Role.AGENCY, organisations=[outsider]),
        deputy=make_user(Role.DEPUTY),
    )


def new_case(session: Any, world: World, **fields: Any) -> tuple[Case, str]:
    values: dict[str, Any] = {
        "channel": "walk_in", "kind": "land",
        "summary": "村委会占用承包地修路，未给补偿，要求按标准补偿。",
        "township_id": world.township.id, "village_id": world.village.id,
        "petitioners": [{"name": "张三", "id_number": "110101195001011234",
                         "phone": "13800138000", "address": "某村3组"}],
        "others": [{"name": "某村村委会"}],
    }
    values.update(fields)
    case, code = ops.register_case(session, world.clerk, **values)
    session.commit()
    return case, code


def cheap_passwords(monkeypatch: Any) -> None:
    """These tests never log in: hash the factory users' passwords with the cheapest
    argon2 settings, so a world of fourteen accounts takes milliseconds."""
    from argon2 import PasswordHasher

    from portal.auth import operations as auth_ops

    monkeypatch.setattr(auth_ops, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def engine_overdue_ids(session: Any, today: Any) -> set[int]:
    """The overdue cases as the list found them before due dates were stored on the case:
    the deadline engine (clocks.current_clocks) run on the cases in an open state (the
    old SQL pre-filter only narrowed this set down to the ones that could be late)."""
    from sqlalchemy import select

    from portal.casefiles.clocks import current_clocks
    from portal.casefiles.deadlines import ClockStatus
    from portal.casefiles.due import OVERDUE_STATES

    cases = list(session.scalars(select(Case).where(
        Case.status.in_([str(s) for s in OVERDUE_STATES]))))
    return {cid for cid, clock in current_clocks(session, cases, today).items()
            if clock is not None and clock.state.status == ClockStatus.OVERDUE}

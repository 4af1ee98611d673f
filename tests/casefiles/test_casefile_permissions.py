"""can_view / can_contribute / can_manage as a matrix: role × relation to the case,
and agency officers per grant level; a leaked case id opens nothing to another agency."""

from __future__ import annotations

import pytest

from portal.auth.roles import Role
from portal.casefiles import operations as ops
from portal.casefiles.permissions import (
    can_contribute,
    can_manage,
    can_see_full_personal_data,
    can_view,
)
from tests.fixtures.casefiles import make_world, new_case

#: who → (view, contribute, manage, unmask) on a case registered by `office`
MATRIX = {
    "admin": (True, True, True, True),
    "office_clerk": (True, True, True, True),
    "office_leader": (True, True, True, True),
    "office_supervisor": (True, False, False, True),
    "office_agency_role": (False, False, False, False),  # belongs to the office, wrong role
    "office_deputy": (False, False, False, False),
    "other_office_clerk": (False, False, False, False),
    "other_office_leader": (False, False, False, False),
    "other_office_supervisor": (False, False, False, False),
    "responsible_leader": (True, True, True, False),
    "agency_view": (True, False, False, False),
    "agency_contribute": (True, True, False, False),
    "agency_manage": (True, True, True, False),
    "other_agency_officer": (False, False, False, False),
    "clerk_in_granted_agency": (False, False, False, False),  # grants are for officers
    "inactive_clerk": (False, False, False, False),
    "nobody": (False, False, False, False),
}


@pytest.fixture()
def cast(session, make_user, make_org):
    w = make_world(make_user, make_org)
    case, _ = new_case(session, w)
    view_org, contrib_org, manage_org = (make_org(None, "agency", w.county) for _ in range(3))
    for org, level in [(view_org, "view"), (contrib_org, "contribute"),
                       (manage_org, "manage")]:
        ops.grant_access(session, w.clerk, case, org, level)
    elsewhere = make_org(None, "agency", w.county)
    responsible = make_user(Role.LEADER, organisations=[elsewhere])
    ops.set_leader(session, w.clerk, case, responsible, "plan")
    session.commit()
    people = {
        "admin": w.admin,
        "office_clerk": w.clerk,
        "office_leader": w.leader,
        "office_supervisor": w.supervisor,
        "office_agency_role": make_user(Role.AGENCY, organisations=[w.office]),
        "office_deputy": make_user(Role.DEPUTY, organisations=[w.office]),
        "other_office_clerk": w.other_clerk,
        "other_office_leader": w.other_leader,
        "other_office_supervisor": make_user(Role.SUPERVISOR, organisations=[w.other_office]),
        "responsible_leader": responsible,
        "agency_view": make_user(Role.AGENCY, organisations=[view_org]),
        "agency_contribute": make_user(Role.AGENCY, organisations=[contrib_org]),
        "agency_manage": make_user(Role.AGENCY, organisations=[manage_org]),
        "other_agency_officer": w.outsider_officer,
        "clerk_in_granted_agency": make_user(Role.CLERK, organisations=[manage_org]),
        "inactive_clerk": make_user(Role.CLERK, organisations=[w.office], is_active=False),
        "nobody": None,
    }
    return case, people


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_permission_matrix(cast, who):
    case, people = cast
    user = people[who]
    got = (can_view(user, case), can_contribute(user, case), can_manage(user, case),
           can_see_full_personal_data(user, case))
    assert got == MATRIX[who]


def test_an_officer_with_two_agencies_gets_the_best_grant(session, cast, make_user, make_org):
    case, people = cast
    view_org = people["agency_view"].organisations[0]
    manage_org = people["agency_manage"].organisations[0]
    both = make_user(Role.AGENCY, organisations=[view_org, manage_org])
    assert can_manage(both, case)


def test_a_grant_on_one_case_opens_no_other(session, cast):
    case, people = cast
    other = ops.register_case(session, people["office_clerk"], channel="letter", kind="labour",
                              summary="拖欠工资", petitioners=[{"name": "赵六"}])[0]
    for who in ("agency_view", "agency_contribute", "agency_manage", "responsible_leader"):
        assert can_view(people[who], case)
        assert not can_view(people[who], other), who

"""The filed deliberation record (votes by name, dissent) is read by the registering office
only: the handling agency, a party, does not see it listed nor open it through its view
grant (review 2)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.casefiles.models import AccessGrant, Document, GrantLevel
from tests.fixtures.core import client_for, login
from tests.hearings.test_record import ended_hearing, freeze


def test_the_agency_neither_sees_nor_opens_the_deliberation_record(client: Any, session: Any,
                                                                  world: Any) -> None:
    hearing, _t = ended_hearing(session, world)
    login(client, world.clerk)
    assert freeze(client, hearing).status_code == 303
    answer = client.post(f"/hearings/{hearing.id}/record/file",
                         data={"confirm_unsigned": "y"})
    assert answer.status_code == 303
    case = hearing.case
    session.add(AccessGrant(case=case, organisation_id=world.police.id,
                            level=GrantLevel.VIEW))
    session.commit()
    docs = {d.kind: d for d in session.scalars(select(Document).where(
        Document.case_id == case.id))}
    secret, record = docs["confidential"], docs["record"]

    agency = client_for(client.application, world.police_officer)
    page = agency.get(f"/cases/{case.number}").get_data(as_text=True)
    # listed: the record, not the deliberation record (the timeline may name it: its title
    # tells nothing of the votes)
    assert f'id="document-{record.id}"' in page and f'id="document-{secret.id}"' not in page
    assert agency.get(f"/cases/{case.number}/documents/{record.id}/1").status_code == 200
    assert agency.get(f"/cases/{case.number}/documents/{secret.id}/1").status_code in (403,
                                                                                          404)
    # the office reads both
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert f'id="document-{secret.id}"' in page
    assert client.get(f"/cases/{case.number}/documents/{secret.id}/1").status_code == 200

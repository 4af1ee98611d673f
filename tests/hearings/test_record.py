"""The signed record, through the pages: freezing the minutes once the hearing ended,
signing on one's own device (personal link) and on the clerk's tablet, refusing, the
refusals of bad signatures, and filing into the case file."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from hearings.models import (
    MINUTES_STAGES,
    Attendance,
    DeliberationVote,
    Hearing,
    HearingStatus,
    MinutesSection,
    Participant,
    ParticipantRole,
    RecordVersion,
    Signature,
    Speaker,
    Stage,
)
from portal.casefiles.models import CaseEvent, Document, IssuedDocument
from portal.timeutil import utcnow
from tests.fixtures.casefiles import World
from tests.fixtures.core import client_for, login
from tests.fixtures.hearings import add_panel, new_hearing, registry

# ---------------------------------------------------------------- helpers

def drawn_png(width: int = 300, height: int = 100, ink: bool = True) -> bytes:
    """A signature as the pad draws it: dark strokes on a transparent canvas."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if ink:
        draw = ImageDraw.Draw(img)
        draw.line([(20, 70), (80, 20), (140, 80), (220, 25), (280, 60)], fill=(17, 17, 17, 255),
                  width=4)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def noise_png(side: int = 260) -> bytes:
    """A PNG that does not compress: larger than the 200 KB limit."""
    from PIL import Image

    img = Image.frombytes("RGBA", (side, side), os.urandom(side * side * 4))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def ended_hearing(session: Any, world: World, *, ended: bool = True, case: Any = None,
                  **fields: Any) -> tuple[Hearing, dict[int, str]]:
    """A hearing held this morning: a panel of five, minutes for every stage, a speaker,
    the petitioner checked in, the panel's opinion; ended unless `ended` is False.
    Returns the hearing and every participant's personal token."""
    hearing, tokens = new_hearing(session, world, case=case, status="published",
                                  starts_in=timedelta(hours=-4), **fields)
    people = registry(session, world, deputies=1, cppcc=1, experts=2, lawyers=1)
    tokens.update(add_panel(session, hearing, people))
    start = hearing.starts_at
    hearing.status = HearingStatus.RUNNING
    hearing.stage = Stage.ENDED if ended else Stage.CLOSING
    hearing.started_at = start
    hearing.ended_at = start + timedelta(hours=3) if ended else None
    hearing.panel_opinion = "听证员多数意见：支持信访人部分诉求。"
    # the panel's votes: freezing the record freezes the deliberation record with them
    panel = sorted((p for p in hearing.participants if p.role == ParticipantRole.PANEL),
                   key=lambda p: p.seat_no or 0)
    for i, member in enumerate(panel):
        vote, said = (("partly", "听证员乙：部分支持（保留意见）。") if i == 1
                      else ("uphold", f"听证员{'甲丙丁戊己'[min(i, 4)]}：支持。"))
        session.add(DeliberationVote(hearing_id=hearing.id, participant_id=member.id,
                                     vote=vote, opinion=said))
    for stage in MINUTES_STAGES:
        session.add(MinutesSection(hearing_id=hearing.id, stage=stage,
                                   text=f"{stage}阶段笔录：各方陈述要点记录在案。", version=1))
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    petitioner.attendance = Attendance.IN_ROOM
    petitioner.checked_in_at = start - timedelta(minutes=10)
    petitioner.recusal_answer = "不申请回避"
    session.add(Speaker(hearing_id=hearing.id, participant_id=petitioner.id,
                        stage=Stage.PETITIONER, position=1, seconds=600, used_seconds=0,
                        started_at=start + timedelta(minutes=30),
                        ended_at=start + timedelta(minutes=38, seconds=20)))
    session.commit()
    return hearing, tokens


def role(hearing: Hearing, which: str) -> Participant:
    return next(p for p in hearing.participants if p.role == which)


def freeze(client: Any, hearing: Hearing) -> Any:
    return client.post(f"/hearings/{hearing.id}/record/freeze")


def versions(session: Any, hearing: Hearing, kind: str = "record") -> list[RecordVersion]:
    session.expire_all()
    return list(session.scalars(select(RecordVersion).where(
        RecordVersion.hearing_id == hearing.id, RecordVersion.kind == kind)
        .order_by(RecordVersion.number)))


def sign_form(version: RecordVersion, **fields: Any) -> dict[str, Any]:
    return {"action": "sign", "version_id": str(version.id), "has_read": "y", **fields}


def signatures(session: Any, version: RecordVersion) -> list[Signature]:
    session.expire_all()
    return list(session.scalars(select(Signature).where(
        Signature.record_version_id == version.id)))


def deliberation_version(session: Any, hearing: Hearing, world: World) -> RecordVersion:
    """What the deliberation part froze with the record (hearings.deliberation), or one
    made by hand here when the record is not frozen yet."""
    frozen = versions(session, hearing, "deliberation")
    if frozen:
        return frozen[-1]
    text = "评议记录\n听证员甲：支持。\n听证员乙：部分支持（保留意见）。\n"
    v = RecordVersion(hearing_id=hearing.id, kind="deliberation", number=1, text=text,
                      sha256=hashlib.sha256(text.encode()).hexdigest(),
                      frozen_by_id=world.leader.id)
    session.add(v)
    session.commit()
    return v


# ---------------------------------------------------------------- freezing

def test_the_clerk_freezes_the_minutes_once_the_hearing_has_ended(client, session, world):
    hearing, _tokens = ended_hearing(session, world)
    login(client, world.clerk)
    page = client.get(f"/hearings/{hearing.id}/record")
    assert page.status_code == 200
    assert "Freeze the minutes for signing" in page.get_data(as_text=True)

    answer = freeze(client, hearing)
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Version 1 of the record is frozen" in page

    [version] = versions(session, hearing)
    assert version.number == 1 and version.frozen_by_id == world.clerk.id
    assert version.sha256 == hashlib.sha256(version.text.encode("utf-8")).hexdigest()
    text = version.text
    for stage in MINUTES_STAGES:  # every stage's minutes, in the order they are held
        assert f"{stage}阶段笔录" in text
    positions = [text.index(f"{stage}阶段笔录") for stage in MINUTES_STAGES]
    assert positions == sorted(positions)
    case = hearing.case
    for expected in (hearing.title, case.number, "县信访局听证室", world.leader.display_name,
                     world.clerk.display_name, "不申请回避", "听证员多数意见",
                     "10 min 00 s", "8 min 20 s"):
        assert expected in text, expected
    panel = [p.name for p in hearing.participants if p.role == ParticipantRole.PANEL]
    assert len(panel) == 5 and all(name in text for name in panel)
    session.refresh(hearing)
    assert hearing.status == HearingStatus.SIGNING
    # the page shows the text with its fingerprint and the list of signers
    assert version.sha256 in page and "不申请回避" in page and "Sign here" in page


def test_freezing_before_the_end_is_refused_and_changes_nothing(client, session, world):
    hearing, _tokens = ended_hearing(session, world, ended=False)
    login(client, world.leader)  # the presiding officer
    answer = freeze(client, hearing)
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "only once the hearing has ended" in page
    assert versions(session, hearing) == []
    session.refresh(hearing)
    assert hearing.status == HearingStatus.RUNNING


def test_only_who_ran_it_freezes_and_others_do_not_know_it(client, session, world):
    hearing, _tokens = ended_hearing(session, world)
    login(client, world.supervisor)  # sees the case, did not run the hearing
    assert client.post(f"/hearings/{hearing.id}/record/freeze").status_code == 403
    other = client_for(client.application, world.other_clerk)  # another office
    assert other.get(f"/hearings/{hearing.id}/record").status_code == 404
    assert other.post(f"/hearings/{hearing.id}/record/freeze").status_code == 404
    assert versions(session, hearing) == []


def test_a_get_changes_nothing(client, session, world):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    client.get(f"/hearings/{hearing.id}/record")
    client.get(f"/hearings/{hearing.id}/record/tablet/{petitioner.id}")
    client.get(f"/hearings/sign/{tokens[petitioner.id]}")
    [version] = versions(session, hearing)
    assert signatures(session, version) == []


def test_a_new_version_voids_the_signatures_of_the_old_one(client, session, world):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [v1] = versions(session, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    anon = client.application.test_client()
    anon.post(f"/hearings/sign/{tokens[petitioner.id]}",
              data=sign_form(v1, signature=data_url(drawn_png())))
    assert len(signatures(session, v1)) == 1

    # nothing changed: a new version would only void the signature
    answer = freeze(client, hearing)
    assert "Nothing changed since version 1" in client.get(
        answer.headers["Location"]).get_data(as_text=True)

    # reopen, correct the minutes (the live part's page does it), freeze again
    answer = client.post(f"/hearings/{hearing.id}/record/reopen")
    assert answer.status_code == 303
    session.refresh(hearing)
    assert hearing.status == HearingStatus.RUNNING
    section = session.scalar(select(MinutesSection).where(
        MinutesSection.hearing_id == hearing.id, MinutesSection.stage == Stage.QUESTIONS))
    section.text = "questions阶段笔录：更正后的发问记录。"
    session.commit()
    freeze(client, hearing)
    v1_again, v2 = versions(session, hearing)
    assert v2.number == 2 and "更正后的发问记录" in v2.text and v2.sha256 != v1.sha256
    assert len(signatures(session, v1_again)) == 1  # kept, against version 1
    assert signatures(session, v2) == []
    page = anon.get(f"/hearings/sign/{tokens[petitioner.id]}").get_data(as_text=True)
    assert "更正后的发问记录" in page and v2.sha256 in page  # to sign again

    # the old version can no longer be signed
    panel = role(hearing, ParticipantRole.PANEL)
    answer = anon.post(f"/hearings/sign/{tokens[panel.id]}",
                       data=sign_form(v1, typed_name=panel.name))
    assert answer.status_code == 400
    assert "A newer version of this record was made" in answer.get_data(as_text=True)
    assert len(signatures(session, v1)) == 1


# ---------------------------------------------------------------- signing

def test_a_participant_signs_on_their_own_device_with_a_drawn_signature(client, session,
                                                                        world):
    from portal.casefiles import blobs

    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    anon = client.application.test_client()  # no account: the personal link only
    url = f"/hearings/sign/{tokens[petitioner.id]}"
    page = anon.get(url)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert version.text.splitlines()[1] in html and version.sha256 in html
    assert "type your full name below" in html  # the keyboard's way, said

    png = drawn_png()
    answer = anon.post(url, data=sign_form(version, signature=data_url(png)))
    assert answer.status_code == 303
    page = anon.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Signed: Hearing record, version 1" in page and "Nothing more to sign" in page
    [sig] = signatures(session, version)
    assert (sig.status, sig.method, sig.signer_name) == ("signed", "own_device",
                                                          petitioner.name)
    assert sig.witnessed_by_id is None and sig.signed_at is not None
    assert sig.image_sha256 == hashlib.sha256(png).hexdigest()
    assert blobs.read_blob(sig.image_sha256) == png  # in the blob store by its hash

    # the clerk's page shows it
    page = client.get(f"/hearings/{hearing.id}/record").get_data(as_text=True)
    assert f"Signature of {petitioner.name}" in page


def test_signing_twice_is_refused(client, session, world):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    anon = client.application.test_client()
    url = f"/hearings/sign/{tokens[petitioner.id]}"
    assert anon.post(url, data=sign_form(version, typed_name=petitioner.name)
                     ).status_code == 303
    again = anon.post(url, data=sign_form(version, signature=data_url(drawn_png())))
    assert again.status_code == 400
    assert "already signed this version" in again.get_data(as_text=True)
    [sig] = signatures(session, version)
    assert sig.image_sha256 is None  # the first, typed signature stands


def test_bad_signatures_are_refused_with_a_message(client, session, world):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    anon = client.application.test_client()
    url = f"/hearings/sign/{tokens[petitioner.id]}"
    gif = "data:image/gif;base64," + base64.b64encode(b"GIF89a....").decode()
    fake = data_url(b"not a png at all")
    cases = [
        (sign_form(version, signature=data_url(drawn_png(ink=False))), "signature box is empty"),
        (sign_form(version, signature=data_url(noise_png())), "too large (at most 200 KB)"),
        (sign_form(version, signature=gif), "could not be read"),
        (sign_form(version, signature=fake), "could not be read"),
        (sign_form(version, signature="data:image/png;base64,%%%"), "could not be read"),
        (sign_form(version), "draw your signature in the box, or type your full name"),
        (sign_form(version, typed_name="李四"), "does not match the name on the record"),
        ({**sign_form(version, typed_name=petitioner.name), "has_read": ""},
         "confirm that you have read"),
        ({"action": "sign", "version_id": "abc", "has_read": "y"}, "does not exist"),
        ({"action": "refuse", "version_id": str(version.id), "reason": "  "},
         "give the reason"),
    ]
    for data, message in cases:
        answer = anon.post(url, data=data)
        assert answer.status_code == 400, (message, answer.status_code)
        html = answer.get_data(as_text=True)
        assert message in html, message
        assert version.sha256 in html  # the form again, to try once more
    assert signatures(session, version) == []


def test_the_clerk_collects_signatures_on_the_tablet(client, session, world):
    hearing, _tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    url = f"/hearings/{hearing.id}/record/tablet/{petitioner.id}"
    page = client.get(url).get_data(as_text=True)
    assert "On the clerk&#39;s tablet" in page or "On the clerk's tablet" in page
    answer = client.post(url, data=sign_form(version, signature=data_url(drawn_png())))
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/hearings/{hearing.id}/record")
    [sig] = signatures(session, version)
    assert (sig.method, sig.witnessed_by_id) == ("tablet", world.clerk.id)

    # another participant refuses on the tablet, with the reason
    agency_like = role(hearing, ParticipantRole.PRESIDING)
    answer = client.post(f"/hearings/{hearing.id}/record/tablet/{agency_like.id}",
                         data={"action": "refuse", "version_id": str(version.id),
                               "reason": "笔录未记录本人补充意见"})
    assert answer.status_code == 303
    page = client.get(f"/hearings/{hearing.id}/record").get_data(as_text=True)
    assert "笔录未记录本人补充意见" in page
    refusal = next(s for s in signatures(session, version) if s.status == "refused")
    assert refusal.refusal_reason == "笔录未记录本人补充意见"
    assert refusal.witnessed_by_id == world.clerk.id

    # a participant of another hearing is not found here
    other, _ = ended_hearing(session, world)
    stranger = role(other, ParticipantRole.PETITIONER)
    assert client.get(f"/hearings/{hearing.id}/record/tablet/{stranger.id}"
                      ).status_code == 404


def test_a_refusal_with_its_reason_on_the_own_device(client, session, world):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    anon = client.application.test_client()
    url = f"/hearings/sign/{tokens[petitioner.id]}"
    answer = anon.post(url, data={"action": "refuse", "version_id": str(version.id),
                                  "reason": "对第三项事实有异议"})
    assert answer.status_code == 303
    page = anon.get(url).get_data(as_text=True)
    assert "The refusal to sign and its reason are recorded" in page
    assert "refused to sign on" in page
    [sig] = signatures(session, version)
    assert (sig.status, sig.refusal_reason, sig.image_sha256) == (
        "refused", "对第三项事实有异议", None)
    again = anon.post(url, data={"action": "refuse", "version_id": str(version.id),
                                 "reason": "再次拒签"})
    assert again.status_code == 400
    assert "refusal to sign this version is already recorded" in again.get_data(as_text=True)


def test_panel_members_also_sign_the_deliberation_record(client, session, world):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [record] = versions(session, hearing)
    deliberation = deliberation_version(session, hearing, world)
    member = role(hearing, ParticipantRole.PANEL)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    anon = client.application.test_client()
    url = f"/hearings/sign/{tokens[member.id]}"
    page = anon.get(url).get_data(as_text=True)
    assert "2 records to sign" in page
    anon.post(url, data=sign_form(record, typed_name=member.name))
    page = anon.get(url).get_data(as_text=True)
    assert "听证员乙：部分支持" in page and deliberation.sha256 in page
    anon.post(url, data=sign_form(deliberation, signature=data_url(drawn_png())))
    assert len(signatures(session, deliberation)) == 1
    assert "Nothing more to sign" in anon.get(url).get_data(as_text=True)

    # the petitioner signs the record only, and cannot sign the deliberation record
    page = anon.get(f"/hearings/sign/{tokens[petitioner.id]}").get_data(as_text=True)
    assert "听证员乙" not in page
    answer = anon.post(f"/hearings/sign/{tokens[petitioner.id]}",
                       data=sign_form(deliberation, typed_name=petitioner.name))
    assert answer.status_code == 403
    assert len(signatures(session, deliberation)) == 1
    # the clerk's page shows both records, but not what the panel said in private
    page = client.get(f"/hearings/{hearing.id}/record").get_data(as_text=True)
    assert "Deliberation record" in page and "Hearing record" in page
    assert "听证员乙" not in page and "read only by the panel" in page
    presiding = client_for(client.application, world.leader)
    assert "听证员乙" in presiding.get(f"/hearings/{hearing.id}/record").get_data(as_text=True)

    # nor does the clerk's tablet show it to another member
    other = [p for p in hearing.participants if p.role == ParticipantRole.PANEL][1]
    tablet = f"/hearings/{hearing.id}/record/tablet/{other.id}"
    client.post(tablet, data=sign_form(record, typed_name=other.name))
    page = client.get(tablet).get_data(as_text=True)
    assert "听证员乙" not in page and "Nothing more to sign" in page
    answer = client.post(tablet, data=sign_form(deliberation, typed_name=other.name))
    assert answer.status_code == 403
    assert "signed by the panel on their own devices" in answer.get_data(as_text=True)
    assert len(signatures(session, deliberation)) == 1


def test_an_unknown_link_is_not_found(client, session, world):
    assert client.get("/hearings/sign/" + "a" * 32).status_code == 404
    assert client.post("/hearings/sign/" + "a" * 32, data={}).status_code == 404


def test_nothing_to_sign_before_freezing(client, session, world):
    hearing, tokens = ended_hearing(session, world)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    page = client.get(f"/hearings/sign/{tokens[petitioner.id]}")
    assert page.status_code == 200
    assert "There is nothing to sign yet" in page.get_data(as_text=True)


# ---------------------------------------------------------------- filing

def re_review_case(session: Any, world: World) -> Any:
    """A case in re-review (复核), its clock running."""
    from portal.casefiles import operations as ops
    from portal.casefiles.workflow import transition
    from tests.fixtures.casefiles import new_case

    case, _code = new_case(session, world, received_at=utcnow() - timedelta(days=5))
    transition(session, case, "accept", world.clerk)
    ops.assign(session, world.clerk, case, world.police, [])
    transition(session, case, "start_investigation", world.police_officer)
    transition(session, case, "reply", world.police_officer, reason="已书面答复")
    transition(session, case, "request_review", world.clerk)
    transition(session, case, "decide_review", world.clerk, reason="维持")
    transition(session, case, "request_re_review", world.clerk)
    session.commit()
    return case


def test_filing_with_one_signed_and_one_refused(client, session, world, monkeypatch):
    from hearings import case_clock
    from portal.casefiles import clock_ops
    from video import operations as video_ops
    from video.models import Recording

    case = re_review_case(session, world)
    hearing, tokens = ended_hearing(session, world, case=case, kind="re_review")
    assert case_clock.pause_for_hearing(session, world.clerk, hearing) is not None  # live part
    # the hearing's video room and its recording (the video part files it to the case)
    room = video_ops.create_room(session, world.admin, kind="leader_day", title="听证室",
                                 office_id=world.office.id, starts_at=hearing.starts_at,
                                 ends_at=utcnow() + timedelta(hours=1))
    hearing.video_room_id = room.id
    session.add(Recording(room_id=room.id, status="accepted", started_by_id=world.clerk.id,
                          sha256="ab" * 32, duration_s=3600.0))
    session.commit()
    assert clock_ops.is_paused(session, case)

    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    deliberation = deliberation_version(session, hearing, world)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    member = role(hearing, ParticipantRole.PANEL)
    anon = client.application.test_client()
    anon.post(f"/hearings/sign/{tokens[petitioner.id]}",
              data=sign_form(version, signature=data_url(drawn_png())))
    anon.post(f"/hearings/sign/{tokens[member.id]}",
              data={"action": "refuse", "version_id": str(version.id),
                    "reason": "不同意笔录第二段"})

    # not everyone has answered: filing asks for the clerk's confirmation, nothing changes
    answer = client.post(f"/hearings/{hearing.id}/record/file")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "have neither signed nor refused" in page
    session.refresh(hearing)
    assert hearing.status == HearingStatus.SIGNING
    assert session.scalars(select(Document).where(Document.case_id == case.id,
                                                  Document.kind == "record")).all() == []

    answer = client.post(f"/hearings/{hearing.id}/record/file",
                         data={"confirm_unsigned": "y"})
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"The record is filed in case {case.number}" in page
    assert f"/cases/{case.number}" in page  # the way to the case file
    assert "Recorded as not having signed" in page
    # record by record: who signed or refused the hearing record is not named under it,
    # only under the deliberation record they have not signed yet
    unsigned = page.split("Recorded as not having signed: ", 1)[1].split("</", 1)[0]
    on_record, on_deliberation = unsigned.split("；")
    assert on_record.startswith("Hearing record: ")
    assert on_deliberation.startswith("Deliberation record: ")
    assert petitioner.name not in on_record and member.name not in on_record
    assert member.name in on_deliberation

    session.expire_all()
    hearing = session.get(Hearing, hearing.id)
    assert hearing.status == HearingStatus.FILED and hearing.filed_at is not None
    docs = session.scalars(select(Document).where(Document.case_id == case.id,
                                                  Document.kind.in_(("record",
                                                                     "confidential")))
                           .order_by(Document.id)).all()
    # the deliberation: confidential (the office only) and restricted (every reading logged)
    assert [(d.kind, d.is_restricted) for d in docs] == [("record", False),
                                                         ("confidential", True)]
    record_pdf = docs[0].current
    assert record_pdf is not None and record_pdf.media_type == "application/pdf"
    # issued: the PDFs' bytes and the texts' fingerprints
    issued = set(session.scalars(select(IssuedDocument.sha256)
                                 .where(IssuedDocument.case_id == case.id)))
    assert {record_pdf.sha256, version.sha256, deliberation.sha256,
            docs[1].current.sha256} <= issued
    # the event, readable
    event = session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                   CaseEvent.kind == "hearing_record_filed"))
    payload = json.loads(event.payload)
    assert payload["signed"] == [petitioner.name]
    assert payload["refused"] == [{"name": member.name, "reason": "不同意笔录第二段"}]
    assert len(payload["not_signed"]) == len(hearing.participants) - 2
    assert len(payload["deliberation_not_signed"]) == 6  # the panel and the presiding officer
    assert payload["panel_opinion"] == "听证员多数意见：支持信访人部分诉求。"
    assert any(a["attendance"] and a["name"] == petitioner.name
               for a in payload["attendance"])
    assert payload["recordings"][0]["sha256"] == "ab" * 32
    # the clock runs again
    assert not clock_ops.is_paused(session, case)
    # on the case's timeline
    case_page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert f"The record of hearing {hearing.title} was filed" in case_page
    assert "不同意笔录第二段" in case_page
    # filed: no second filing, no new version, no more signing
    again = client.post(f"/hearings/{hearing.id}/record/file", data={"confirm_unsigned": "y"})
    assert "already filed" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert "filed" in client.get(freeze(client, hearing).headers["Location"]
                                 ).get_data(as_text=True)
    other = role(hearing, ParticipantRole.PRESIDING)
    late = anon.post(f"/hearings/sign/{tokens[other.id]}",
                     data=sign_form(version, typed_name=other.name))
    assert late.status_code == 400
    assert len(versions(session, hearing)) == 1


def test_filing_is_refused_to_who_may_not(client, session, world):
    hearing, _tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    supervisor = client_for(client.application, world.supervisor)
    assert supervisor.post(f"/hearings/{hearing.id}/record/file",
                           data={"confirm_unsigned": "y"}).status_code == 403
    session.refresh(hearing)
    assert hearing.status == HearingStatus.SIGNING


def test_the_hearing_page_shows_the_record_section(client, session, world):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert "the minutes can be frozen for signing" in page
    freeze(client, hearing)
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    total = len(hearing.participants)
    assert f"0 of {total} participants have signed or refused" in page
    assert tokens  # every participant has a personal link to sign with


def test_the_record_page_words_follow_the_state(client, session, world):
    """Ended but not frozen: the tag says ended, and the first freeze is not worded as a
    correction even when the deliberation record is already frozen; once filed, the page
    no longer invites signing, says who is recorded as not signed, links the PDF."""
    hearing, _tokens = ended_hearing(session, world)
    deliberation_version(session, hearing, world)
    login(client, world.clerk)
    page = client.get(f"/hearings/{hearing.id}/record").get_data(as_text=True)
    assert '<span class="tag">Ended</span>' in page and "In progress" not in page
    assert "Freeze the minutes for signing" in page
    assert "Freeze a new version" not in page and "signs the new version again" not in page
    freeze(client, hearing)
    answer = client.post(f"/hearings/{hearing.id}/record/file",
                         data={"confirm_unsigned": "y"})
    assert answer.status_code == 303
    page = client.get(f"/hearings/{hearing.id}/record").get_data(as_text=True)
    doc = session.scalars(select(Document).where(Document.case_id == hearing.case_id,
                                                 Document.kind == "record")
                          .order_by(Document.id)).first()
    assert f'/cases/{hearing.case.number}/documents/{doc.id}/1"' in page
    assert "Recorded as not signed at filing" in page and "Not signed yet" not in page
    assert "signs on their own device" not in page

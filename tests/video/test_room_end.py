"""Ending the reception day is not finishing one person: `end` names the people still
booked or waiting and needs the official's confirmation; a room past its end time is
ended by the worker's tick, its recording stopped; a recording with no case is shown as
waiting on the room page and can be attached to a case by its number."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from portal.casefiles import operations as case_ops
from portal.casefiles.models import Document
from portal.timeutil import utcnow
from tests.fixtures.core import login
from tests.fixtures.video import (
    book,
    events,
    guest_socket,
    hello,
    in_call,
    make_media,
    recorded_call,
    staff_socket,
)
from video import filing
from video.events import NAMESPACE
from video.models import Recording, RecordingStatus, Room, RoomStatus, SeatState


def test_end_with_people_still_booked_or_waiting_needs_confirmation(
        app, client, session, clerk, room):
    seat, token, staff, g = in_call(app, client, session, clerk, room)
    booked, _t = book(session, clerk, room, name="刘建国")
    waiting, waiting_token = book(session, clerk, room, name="陈桂兰")
    w = guest_socket(app, waiting_token)
    hello(w, "w")
    # finishing one person leaves the day running
    assert staff.emit("finish", {"seat_id": seat.id}, namespace=NAMESPACE,
                      callback=True)["ok"]
    assert session.get(Room, room.id).status != RoomStatus.ENDED
    refused = staff.emit("end", {}, namespace=NAMESPACE, callback=True)
    assert refused["ok"] is False
    assert "刘建国" in refused["error"] and "陈桂兰" in refused["error"]
    assert {p["name"] for p in refused["still_expected"]} == {"刘建国", "陈桂兰"}
    for bad in ({"confirm": "yes"}, {"confirm": 1}):  # only a real true confirms
        assert staff.emit("end", bad, namespace=NAMESPACE, callback=True)["ok"] is False
    session.expire_all()
    assert session.get(Room, room.id).status != RoomStatus.ENDED
    assert session.get(type(booked), booked.id).state == SeatState.BOOKED
    assert w.is_connected(NAMESPACE) and not events(w, "ended")
    assert staff.emit("end", {"confirm": True}, namespace=NAMESPACE, callback=True)["ok"]
    assert events(w, "ended")
    session.expire_all()
    assert session.get(Room, room.id).status == RoomStatus.ENDED


def test_end_with_nobody_left_needs_no_confirmation(app, client, session, clerk, room):
    seat, token, staff, g = in_call(app, client, session, clerk, room)
    assert staff.emit("end", {}, namespace=NAMESPACE, callback=True)["ok"]
    assert events(g, "ended")


def test_ending_stops_the_recording(app, client, session, clerk, room, monkeypatch):
    seat, staff, guest, recording_id = recorded_call(app, client, session, clerk, room,
                                                     monkeypatch)
    assert staff.emit("end", {}, namespace=NAMESPACE, callback=True)["ok"]
    recording = session.get(Recording, recording_id)
    session.refresh(recording)
    assert recording.status == RecordingStatus.PROCESSING and recording.stopped_at


def test_a_room_past_its_end_is_ended_by_the_tick_and_its_recording_stopped(
        app, client, session, clerk, room, monkeypatch):
    seat, staff, guest, recording_id = recorded_call(app, client, session, clerk, room,
                                                     monkeypatch)
    # not yet: the room's time has not run out
    assert filing.end_tick(app, utcnow()) == 0
    app.extensions.pop("video.end_tick_at", None)
    later = room.ends_at + filing.ROOM_OVERRUN + timedelta(minutes=1)
    assert filing.end_tick(app, later) == 1
    session.expire_all()
    assert session.get(Room, room.id).status == RoomStatus.ENDED
    recording = session.get(Recording, recording_id)
    assert recording.status == RecordingStatus.PROCESSING and recording.stopped_at
    assert events(guest, "ended")


def test_recording_started_before_the_petitioner_came_in_is_theirs(
        app, client, session, clerk, room, monkeypatch):
    monkeypatch.setattr(filing, "spawn", lambda app, recording_id: None)
    seat, token = book(session, clerk, room)
    login(client, clerk)
    staff = staff_socket(app, client, room)
    hello(staff, "s")
    started = staff.emit("record", {"on": True}, namespace=NAMESPACE, callback=True)
    assert started["ok"], started
    guest = guest_socket(app, token)
    hello(guest, "p")
    guest.emit("consent", {}, namespace=NAMESPACE, callback=True)
    assert staff.emit("admit", {"seat_id": seat.id}, namespace=NAMESPACE,
                      callback=True)["ok"]
    recording = session.get(Recording, started["recording_id"])
    session.refresh(recording)
    assert recording.seat_id == seat.id


def test_a_waiting_recording_is_shown_and_attached_by_case_number(
        app, client, session, clerk, room, monkeypatch):
    seat, token = book(session, clerk, room)
    started = utcnow() - timedelta(minutes=3)
    recording = Recording(room=room, seat_id=seat.id, status=RecordingStatus.ACCEPTED,
                          started_by_id=clerk.id, started_at=started, duration_s=2.0,
                          stopped_at=started + timedelta(seconds=2))
    session.add(recording)
    session.commit()
    make_media(filing.kept_path(app, room.id, recording.id), 2)
    case, _code = case_ops.register_case(session, clerk, channel="video", kind="labour",
                                         summary="拖欠工资", petitioners=[{"name": "王秀英"}])
    session.commit()
    login(client, clerk)
    page = client.get(f"/video/rooms/{room.id}").get_data(as_text=True)
    assert f'id="waiting-{recording.id}"' in page
    assert "Recording waiting for a case" in page

    wrong = client.post(f"/video/recordings/{recording.id}/attach",
                        data={"case_number": "2026-XF-999999"}, follow_redirects=True)
    assert "No case 2026-XF-999999" in wrong.get_data(as_text=True)
    session.refresh(recording)
    assert recording.document_id is None

    done = client.post(f"/video/recordings/{recording.id}/attach",
                       data={"case_number": case.number}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert case.number in text and f'id="waiting-{recording.id}"' not in text
    session.refresh(recording)
    session.refresh(seat)
    assert recording.case_id == case.id and seat.case_id == case.id
    document = session.get(Document, recording.document_id)
    assert document.case_id == case.id
    assert session.scalars(select(Document).where(Document.case_id == case.id)).all()
    # filed: attaching again changes nothing
    again = client.post(f"/video/recordings/{recording.id}/attach",
                        data={"case_number": case.number}, follow_redirects=True)
    assert "not waiting for a case" in again.get_data(as_text=True)


def test_a_case_opened_by_the_note_gets_its_kind_and_place_and_the_official_its_code(
        app, client, session, clerk, room, make_org):
    from portal.casefiles import operations as case_ops
    from portal.casefiles.models import Case
    from tests.fixtures.video import in_call
    from video.models import ReceptionNote

    county = make_org("某县", kind="county")
    town = make_org("城关镇", kind="township", parent=county)
    village = make_org("东关村", kind="village", parent=town)
    elsewhere = make_org("河西镇", kind="township", parent=county)
    seat, token, staff, g = in_call(app, client, session, clerk, room)
    prefix = f"n{seat.id}-"
    form = client.get(f"/video/rooms/{room.id}/notes").get_data(as_text=True)
    assert f'name="{prefix}township_id"' in form and "东关村" in form
    note = {prefix + "facts": "工资被拖欠", prefix + "demands": "要求支付工资",
            prefix + "answer": "转人社局", prefix + "next_steps": "十五日内答复",
            prefix + "version": "", prefix + "kind": "labour",
            prefix + "township_id": str(elsewhere.id), prefix + "village_id": str(village.id),
            "action": "show"}
    # a village of another township is refused on save: nothing stored, nothing shown
    refused = client.post(f"/video/seats/{seat.id}/note", data=note)
    assert refused.status_code == 400
    assert "not in the chosen township" in refused.get_data(as_text=True)
    assert session.scalar(select(ReceptionNote).where(ReceptionNote.seat_id == seat.id)) is None
    assert not events(g, "note")

    note[prefix + "township_id"] = str(town.id)
    assert client.post(f"/video/seats/{seat.id}/note", data=note).status_code == 200
    shown = events(g, "note")[-1]["data"]
    assert g.emit("note_reply", {"note_id": shown["note_id"], "confirm": True},
                  namespace=NAMESPACE, callback=True)["ok"]
    session.refresh(seat)
    case = session.get(Case, seat.case_id)
    assert case.kind == "labour" and case.township_id == town.id
    assert case.village_id == village.id
    opened = [e for e in events(staff, "case_opened")]
    assert len(opened) == 1 and opened[0]["id"] is None  # not logged: the code is not kept
    data = opened[0]["data"]
    assert data["case_number"] == case.number and data["seat_id"] == seat.id
    assert case_ops.find_case_by_query_code(session, data["query_code"]).id == case.id
    assert not events(g, "case_opened")  # the petitioner's window gets none of it
    # and the panel no longer offers a kind and place: the petitioner has a case now
    form = client.get(f"/video/rooms/{room.id}/notes").get_data(as_text=True)
    assert f'name="{prefix}township_id"' not in form


def test_filing_the_note_from_the_room_page_shows_the_new_cases_query_code_once(
        app, client, session, clerk, room):
    from portal.casefiles import operations as case_ops
    from tests.fixtures.video import in_call

    seat, token, staff, g = in_call(app, client, session, clerk, room)
    prefix = f"n{seat.id}-"
    client.post(f"/video/seats/{seat.id}/note", data={
        prefix + "facts": "宅基地纠纷", prefix + "version": "", prefix + "kind": "land",
        "action": "show"})
    page = client.post(f"/video/seats/{seat.id}/note/file", follow_redirects=True)
    text = page.get_data(as_text=True)
    session.refresh(seat)
    assert seat.case.number in text and seat.case.kind == "land"
    code = re.search(r"query code: (\d{4} \d{4} \d{4})", text).group(1)  # read out in groups
    assert case_ops.find_case_by_query_code(session, code).id == seat.case_id
    assert code not in client.get(f"/video/rooms/{room.id}").get_data(as_text=True)

"""Two socket nodes sharing Redis (TESTING.md "Several processes"): two gunicorn processes
on free ports, one SQLite file, the same PORTAL_REDIS_URL (Socket.IO message queue and
the live connection registry). The petitioner is on node A, the official on node B:
the lobby shows the petitioner online, the admission moves them into the inner room on
their node, signals and chat flow both ways, and a reconnect to node B replays what was
missed (by event id) and carries on live; a second device on node A takes the seat over
from node B."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.core import PASSWORD, REDIS_URL
from tests.fixtures.video import (
    SocketPeer,
    login_cookie,
    run_isolated,
    seed_walk_in_room,
    served_nodes,
)

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="PORTAL_TEST_REDIS_URL is not set")

NS = "/video"


def _seed(data: Path, url: str) -> dict[str, Any]:
    room, [(seat, token)] = seed_walk_in_room(data, url, "nodeclerk", PASSWORD, ["王秀英"])
    return {"room": room, "seat": seat, "token": token}


async def _scenario(a: str, b: str, seeded: dict[str, Any], cookie: str
                    ) -> dict[str, Any]:
    seat_id, room_id = seeded["seat"], seeded["room"]
    petitioner, official = SocketPeer("petitioner@A"), SocketPeer("official@B")
    await petitioner.connect(a, {"token": seeded["token"]})
    hello = await petitioner.call("hello", {"device": "p", "last_event_id": 0})
    assert hello["seat"]["state"] == "waiting" and hello["position"] == 1

    await official.connect(b, {"room": room_id}, cookie)
    staff = await official.call("hello", {"device": "s", "last_event_id": 0})
    staff_id = staff["seat"]["id"]
    # node B sees the petitioner on node A online in the lobby
    lobby = await official.wait("lobby", lambda: [
        e for e in official.room_events("lobby")
        if [(w["seat_id"], w["online"]) for w in e["data"]["waiting"]] == [(seat_id, True)]])
    assert lobby

    # admitted from node B: node A's connection is moved into the inner room
    assert (await official.call("admit", {"seat_id": seat_id}))["admitted"] == [seat_id]
    admitted = await petitioner.wait("admitted", lambda: petitioner.room_events("admitted"))
    assert admitted[-1]["data"]["peers"] == [staff_id]  # the official on B is online
    await petitioner.wait("participants with both", lambda: [
        e for e in petitioner.room_events("participants")
        if {s["seat_id"] for s in e["data"]["seats"]} == {seat_id, staff_id}])

    # signalling both ways, only to the addressed seat
    await petitioner.call("signal", {"to": staff_id, "kind": "offer", "data": {"sdp": "o"}})
    await official.wait("signal", lambda: official.messages("signal"))
    assert official.messages("signal") == [{"from": seat_id, "kind": "offer",
                                            "data": {"sdp": "o"}}]
    await official.call("signal", {"to": seat_id, "kind": "answer", "data": {"sdp": "a"}})
    await petitioner.wait("signal", lambda: petitioner.messages("signal"))
    assert petitioner.messages("signal") == [{"from": staff_id, "kind": "answer",
                                              "data": {"sdp": "a"}}]

    # chat both ways (the inner room spans both nodes)
    def chats(peer: SocketPeer) -> list[str]:
        return [e["data"]["text"] for e in peer.room_events("chat")]

    await petitioner.call("chat", {"text": "您好"})
    await official.call("chat", {"text": "请讲"})
    await official.wait("both chats", lambda: chats(official) == ["您好", "请讲"])
    await petitioner.wait("both chats", lambda: chats(petitioner) == ["您好", "请讲"])

    # the petitioner's connection drops; the official goes on talking
    last = max(p["id"] for e, p in petitioner.got if e == "room_event" and p["id"])
    await petitioner.client.disconnect()
    await official.wait("the petitioner offline", lambda: [
        e for e in official.room_events("participants")
        if {s["seat_id"] for s in e["data"]["seats"]} == {staff_id}])
    await official.call("chat", {"text": "您还在吗"})
    await official.call("chat", {"text": "材料请带上"})

    # it comes back through node B: admitted still, the missed events replayed by id
    back = SocketPeer("petitioner@B")
    await back.connect(b, {"token": seeded["token"]})
    again = await back.call("hello", {"device": "p", "last_event_id": last})
    assert again["seat"]["state"] == "admitted" and again["position"] is None
    assert again["peers"] == [staff_id]
    replayed = [e for e in again["events"]]
    assert all(e["id"] > last for e in replayed)
    assert [e["data"]["text"] for e in replayed if e["kind"] == "chat"] == [
        "您还在吗", "材料请带上"]
    # and live again, both ways, on its new node
    await official.call("chat", {"text": "好的"})
    await back.wait("live chat", lambda: chats(back) == ["好的"])
    await back.call("chat", {"text": "谢谢"})
    await official.wait("chat from B", lambda: chats(official)[-1:] == ["谢谢"])
    await back.call("signal", {"to": staff_id, "kind": "candidate", "data": {"c": 1}})
    await official.wait("signal from B", lambda: len(official.messages("signal")) == 2)

    # a second device opens the link through node A: the window on node B is told and
    # closed, whichever node it is on
    phone = SocketPeer("phone@A")
    await phone.connect(a, {"token": seeded["token"]})
    taken = await phone.call("hello", {"device": "phone", "last_event_id": 0})
    assert taken["seat"]["state"] == "admitted"
    closed = await back.wait("seat_closed", lambda: back.messages("seat_closed"))
    assert closed[0]["reason"] == "opened_elsewhere"
    await back.wait("disconnect", lambda: not back.client.connected)
    for peer in (phone, official):
        await peer.client.disconnect()
    return {"replayed": [e["data"]["text"] for e in replayed if e["kind"] == "chat"],
            "taken_over": closed[0]["reason"], "official_chats": chats(official)}


def test_petitioner_and_official_on_two_nodes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    seeded = _seed(tmp_path, url)
    with served_nodes(tmp_path, url) as (a, b):
        cookie = login_cookie(b, "nodeclerk")
        try:
            outcome = run_isolated(_scenario(a, b, seeded, cookie), timeout=120)
        except BaseException:
            for log in sorted(tmp_path.glob("node-*.log")):
                print(log.name, log.read_text(errors="replace")[-4000:])
            raise
    # what the petitioner missed came back through the other node; the takeover reached it
    assert outcome["replayed"] == ["您还在吗", "材料请带上"]
    assert outcome["taken_over"] == "opened_elsewhere"
    assert outcome["official_chats"][-1] == "谢谢"

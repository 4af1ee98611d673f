"""Socket.IO: anonymous connections are refused; a logged-in user joins their own room."""

from __future__ import annotations

from portal.auth.roles import Role
from portal.extensions import socketio
from portal.live import user_room


def test_anonymous_socket_is_refused(app, client):
    live = socketio.test_client(app, flask_test_client=client)
    assert not live.is_connected()


def test_logged_in_user_connects_and_gets_messages_for_their_room(app, client, login_as):
    user = login_as(Role.CLERK)
    live = socketio.test_client(app, flask_test_client=client)
    assert live.is_connected()
    socketio.emit("notice", {"text": "新的交办"}, to=user_room(user.id))
    received = live.get_received()
    assert [m["args"][0]["text"] for m in received if m["name"] == "notice"] == ["新的交办"]
    live.disconnect()


def test_a_user_does_not_get_another_users_messages(app, client, login_as, make_user):
    login_as(Role.CLERK)
    other = make_user(Role.CLERK)
    live = socketio.test_client(app, flask_test_client=client)
    socketio.emit("notice", {"text": "不是你的"}, to=user_room(other.id))
    assert not [m for m in live.get_received() if m["name"] == "notice"]
    live.disconnect()

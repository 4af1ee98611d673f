"""Login sessions kept on the server: a session cookie copied before logout, before the
idle timeout or before a password change opens nothing afterwards, on a page or a socket."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from portal.auth.models import LOGIN_SESSION_KEY, LoginSession
from portal.auth.roles import Role
from portal.extensions import socketio
from portal.timeutil import utcnow
from tests.fixtures.core import PASSWORD, login


def _replay(app, cookie: str):
    """A fresh browser that sends only the copied cookie."""
    thief = app.test_client()
    thief.set_cookie("portal_session", cookie)
    return thief


def _cookie(client) -> str:
    cookie = client.get_cookie("portal_session")
    assert cookie is not None
    return cookie.value


def _login_session(client) -> str:
    with client.session_transaction() as sess:
        return sess[LOGIN_SESSION_KEY]


def test_a_cookie_copied_before_logout_gets_the_login_page(app, client, make_user, session):
    user = make_user(Role.CLERK, display_name="王小明")
    login(client, user)
    copied = _cookie(client)
    thief = _replay(app, copied)
    assert "王小明" in thief.get("/cases/").get_data(as_text=True)  # the copy works until...
    client.post("/logout")
    response = _replay(app, copied).get("/cases/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    row = session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    assert row is not None and row.ended_at is not None


def test_the_cookie_carries_only_the_login_sessions_random_id(client, make_user, session):
    user = make_user(Role.CLERK)
    login(client, user)
    ident = _login_session(client)
    assert len(ident) >= 40
    row = session.get(LoginSession, ident)
    assert row.user_id == user.id and row.ended_at is None


def test_an_idle_session_is_ended_on_the_server(app, client, make_user, session):
    user = make_user(Role.CLERK)
    login(client, user)
    copied = _cookie(client)
    ident = _login_session(client)
    idle = app.extensions["portal.settings"].session_idle_minutes
    session.execute(update(LoginSession).where(LoginSession.id == ident)
                    .values(last_seen_at=utcnow() - timedelta(minutes=idle, seconds=5)))
    session.commit()
    response = _replay(app, copied).get("/cases/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/cases/").status_code == 302  # the browser itself is logged out too
    session.expire_all()
    assert session.get(LoginSession, ident).ended_at is not None
    # a new login is a new session
    login(client, user)
    assert client.get("/cases/").status_code == 200


def test_last_seen_is_written_at_most_once_a_minute(app, client, make_user, session):
    user = make_user(Role.CLERK)
    login(client, user)
    ident = _login_session(client)
    recent = utcnow() - timedelta(seconds=20)
    session.execute(update(LoginSession).where(LoginSession.id == ident)
                    .values(last_seen_at=recent))
    session.commit()
    client.get("/cases/")
    session.expire_all()
    assert abs((session.get(LoginSession, ident).last_seen_at - recent).total_seconds()) < 1
    older = utcnow() - timedelta(minutes=5)
    session.execute(update(LoginSession).where(LoginSession.id == ident)
                    .values(last_seen_at=older))
    session.commit()
    assert client.get("/cases/").status_code == 200  # within the idle time: still in
    session.expire_all()
    assert (utcnow() - session.get(LoginSession, ident).last_seen_at).total_seconds() < 5


def test_password_change_ends_the_other_sessions_and_keeps_this_one(app, client, make_user,
                                                                     session):
    user = make_user(Role.CLERK)
    login(client, user)
    other = app.test_client()
    login(other, user)
    other_cookie = _cookie(other)
    assert client.post("/account", data={"current": PASSWORD, "new": "new password 1",
                                         "confirm": "new password 1"}).status_code == 302
    assert client.get("/cases/").status_code == 200
    assert _replay(app, other_cookie).get("/cases/").status_code == 302
    assert session.get(LoginSession, _login_session(other)).ended_at is not None


def test_admin_reset_ends_every_session_of_the_user(app, client, make_user, session):
    admin = make_user(Role.ADMIN)
    user = make_user(Role.CLERK)
    device = app.test_client()
    login(device, user)
    login(client, admin)
    assert client.post(f"/admin/users/{user.id}/reset-password").status_code == 302
    assert device.get("/cases/").status_code == 302


def test_a_socket_of_a_logged_out_session_is_refused(app, client, make_user, session):
    user = make_user(Role.CLERK)
    login(client, user)
    copied = _cookie(client)
    with app.app_context():  # each connection in its own context, as in a server
        before = socketio.test_client(app, flask_test_client=_replay(app, copied))
        assert before.is_connected()
        before.disconnect()
    client.post("/logout")
    with app.app_context():
        after = socketio.test_client(app, flask_test_client=_replay(app, copied))
        assert not after.is_connected()


def test_an_official_in_a_video_room_stays_logged_in_through_socket_events(
        app, client, session, clerk, room):
    from tests.fixtures.video import hello, staff_socket
    from video.events import NAMESPACE

    login(client, clerk)
    ident = _login_session(client)
    staff = staff_socket(app, client, room)
    hello(staff, "s")
    idle = app.extensions["portal.settings"].session_idle_minutes
    almost = utcnow() - timedelta(minutes=idle - 1)
    session.execute(update(LoginSession).where(LoginSession.id == ident)
                    .values(last_seen_at=almost))
    session.commit()
    with app.app_context():  # each event in its own context, as in a server
        ack = staff.emit("lobby_message", {"text": "请稍候"}, namespace=NAMESPACE,
                         callback=True)
    assert ack["ok"] is True
    session.expire_all()
    assert (utcnow() - session.get(LoginSession, ident).last_seen_at).total_seconds() < 5

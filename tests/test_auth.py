"""Login, lock-out, sessions, passwords and two-step verification, as a user meets them."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from portal.auth import operations as ops
from portal.auth.models import RolePolicy, User
from portal.auth.roles import Role
from portal.config import ConfigError, Settings
from tests.fixtures.core import PASSWORD, login, totp_now


def test_login_with_wrong_password_says_so_and_stays_out(client, make_user):
    user = make_user(Role.CLERK)
    page = client.post("/login", data={"username": user.username, "password": "nope"})
    assert page.status_code == 200
    assert "The username or password is not correct." in page.get_data(as_text=True)
    assert client.get("/account").status_code == 302


#: argon2-cffi's defaults (RFC 9106's low-memory profile): argon2id, 64 MiB, 3 passes, 4 lanes
REAL_ARGON2 = "$argon2id$v=19$m=65536,t=3,p=4$"
#: what the test app uses (Settings.password_hasher = "argon2-cheap", tests.fixtures.core)
CHEAP_ARGON2 = "$argon2id$v=19$m=8,t=1,p=1$"


@pytest.fixture()
def real_argon2(app):
    """The production hasher for one test; every other test hashes with argon2-cheap."""
    settings = app.extensions["portal.settings"]
    app.extensions["portal.settings"] = settings.with_overrides(password_hasher="argon2")
    yield
    app.extensions["portal.settings"] = settings


def test_password_is_stored_as_argon2_hash(session, make_user, real_argon2):
    user = make_user(Role.CLERK, password="a long secret")
    assert user.password_hash.startswith("$argon2id$")
    assert "a long secret" not in user.password_hash


def test_the_real_hasher_is_argon2id_with_the_rfc9106_parameters(client, make_user,
                                                                  real_argon2):
    user = make_user(Role.CLERK)
    assert user.password_hash.startswith(REAL_ARGON2)
    login(client, user)
    assert client.get("/").status_code == 200


def test_tests_hash_cheaply_and_a_cheap_hash_is_upgraded_at_login(app, session, make_user):
    user = make_user(Role.CLERK)
    assert user.password_hash.startswith(CHEAP_ARGON2)
    assert ops.authenticate(session, user.username, PASSWORD) is user
    assert user.password_hash.startswith(CHEAP_ARGON2)  # the app's own cost: kept
    settings = app.extensions["portal.settings"]
    app.extensions["portal.settings"] = settings.with_overrides(password_hasher="argon2")
    try:
        assert ops.authenticate(session, user.username, PASSWORD) is user
        assert ops.authenticate(session, "nobody-here", PASSWORD) is None
    finally:
        app.extensions["portal.settings"] = settings
    assert user.password_hash.startswith(REAL_ARGON2)  # rehashed at the real cost


def test_the_cheap_hasher_is_refused_outside_dev_and_test():
    assert Settings.from_env({"PORTAL_ENV": "test"}).password_hasher == "argon2"
    assert Settings.from_env({"PORTAL_ENV": "test", "PORTAL_PASSWORD_HASHER": "argon2-cheap"}
                             ).password_hasher == "argon2-cheap"
    production = {"PORTAL_ENV": "production", "PORTAL_SECRET_KEY": "s", "PORTAL_DATA_KEY": "k"}
    assert Settings.from_env(production).password_hasher == "argon2"
    with pytest.raises(ConfigError, match="PORTAL_PASSWORD_HASHER"):
        Settings.from_env({**production, "PORTAL_PASSWORD_HASHER": "argon2-cheap"})
    with pytest.raises(ConfigError, match="PORTAL_PASSWORD_HASHER"):
        Settings.from_env({"PORTAL_ENV": "test", "PORTAL_PASSWORD_HASHER": "md5"})


def test_unknown_user_and_inactive_user_cannot_log_in(client, make_user):
    user = make_user(Role.CLERK, is_active=False)
    for name in (user.username, "nobody-here"):
        page = client.post("/login", data={"username": name, "password": PASSWORD})
        assert page.status_code == 200
        assert "not correct" in page.get_data(as_text=True)


def test_login_then_logout(client, make_user):
    user = make_user(Role.CLERK, display_name="王小明")
    login(client, user)
    assert "王小明" in client.get("/").get_data(as_text=True)
    response = client.post("/logout")
    assert response.status_code == 302
    assert client.get("/account").status_code == 302


def test_next_parameter_is_followed_only_inside_the_site(client, make_user):
    user = make_user(Role.CLERK)
    inside = client.post("/login?next=/people/", data={"username": user.username,
                                                        "password": PASSWORD})
    assert inside.headers["Location"].endswith("/people/")
    client.post("/logout")
    outside = client.post("/login?next=https://evil.example/", data={
        "username": user.username, "password": PASSWORD})
    assert "evil" not in outside.headers["Location"]


def test_lockout_after_repeated_failures_even_with_right_password(client, make_user, app):
    user = make_user(Role.CLERK)
    other = make_user(Role.CLERK)
    limit = app.extensions["portal.settings"].login_max_failures
    for _ in range(limit):
        assert client.post("/login", data={"username": user.username,
                                           "password": "wrong"}).status_code == 200
    locked = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert locked.status_code == 429
    text = locked.get_data(as_text=True)
    assert "locked" in text and "minutes" in text
    # another account is not affected
    login(client, other)


def test_successful_logins_do_not_count_towards_lockout(client, make_user, app):
    user = make_user(Role.CLERK)
    limit = app.extensions["portal.settings"].login_max_failures
    for _ in range(limit + 2):
        login(client, user)
        client.post("/logout")


def test_session_identity_changes_at_login_and_planted_values_are_dropped(client, make_user):
    user = make_user(Role.CLERK)
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        sess["sid"] = "fixed-session-id"
    login(client, user)
    with client.session_transaction() as sess:
        first_sid = sess["sid"]
        assert "planted" not in sess
        assert first_sid != "fixed-session-id"
        assert sess.permanent
    client.post("/logout")
    login(client, user)
    with client.session_transaction() as sess:
        assert sess["sid"] != first_sid


def test_session_ends_after_inactivity(client, make_user, app):
    user = make_user(Role.CLERK)
    old = app.permanent_session_lifetime
    app.permanent_session_lifetime = timedelta(seconds=1)
    try:
        login(client, user)
        cookie = client.get_cookie("portal_session")
        assert cookie is not None
        assert client.get("/").status_code == 200
        time.sleep(2.2)
        # even a client that keeps sending the old cookie is refused by the server
        client.set_cookie("portal_session", cookie.value)
        response = client.get("/account")
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    finally:
        app.permanent_session_lifetime = old


def test_idle_timeout_is_two_hours_by_default(app):
    assert app.permanent_session_lifetime == timedelta(hours=2)


def test_change_password_logs_out_other_sessions(app, client, make_user, session):
    user = make_user(Role.CLERK)
    other_device = app.test_client()
    login(client, user)
    login(other_device, user)
    bad = client.post("/account", data={"current": "wrong", "new": "new password 1",
                                        "confirm": "new password 1"})
    assert "not correct" in bad.get_data(as_text=True)
    short = client.post("/account", data={"current": PASSWORD, "new": "short",
                                          "confirm": "short"})
    assert short.status_code == 200 and "8" in short.get_data(as_text=True)
    ok = client.post("/account", data={"current": PASSWORD, "new": "new password 1",
                                       "confirm": "new password 1"})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200  # this session goes on
    assert other_device.get("/account").status_code == 302  # the other one is logged out
    client.post("/logout")
    login(client, user, password="new password 1")


def test_admin_reset_gives_one_time_password_that_must_be_changed(client, make_user, session):
    admin = make_user(Role.ADMIN)
    target = make_user(Role.CLERK)
    login(client, admin)
    response = client.post(f"/admin/users/{target.id}/reset-password", follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "One-time password" in text
    temporary = text.split("One-time password: ")[1].split("<")[0].strip()
    client.post("/logout")
    login(client, target, password=temporary)
    # until the password is changed, every page leads to the account page
    response = client.get("/people/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    client.post("/account", data={"current": temporary, "new": "my own password",
                                  "confirm": "my own password"})
    assert client.get("/").status_code == 200


def test_admin_creates_user_once_on_double_submit(client, make_user, session):
    admin = make_user(Role.ADMIN)
    login(client, admin)
    form = {"username": "newclerk", "display_name": "新接访员", "roles": ["clerk", "leader"],
            "is_active": "y", "password": "initial password", "idempotency_key": "k-123"}
    first = client.post("/admin/users/new", data=form)
    second = client.post("/admin/users/new", data=form)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    users = session.scalars(select(User).where(User.username == "newclerk")).all()
    assert len(users) == 1
    assert users[0].roles == {Role.CLERK, Role.LEADER}


def test_admin_cannot_remove_own_admin_role(client, make_user, session):
    admin = make_user(Role.ADMIN)
    login(client, admin)
    page = client.post(f"/admin/users/{admin.id}", data={
        "display_name": "x", "roles": ["clerk"], "is_active": "y"}, follow_redirects=True)
    assert "cannot remove your own administrator role" in page.get_data(as_text=True)
    session.refresh(admin)
    assert Role.ADMIN in admin.roles


def test_users_hold_several_roles_and_organisations(session, make_user, make_org):
    court = make_org("县人民法院")
    justice = make_org("县司法局")
    user = make_user(Role.AGENCY, Role.MEDIATOR, organisations=[court, justice])
    assert user.has_role(Role.MEDIATOR) and user.has_role(Role.AGENCY)
    assert not user.has_role(Role.ADMIN)
    assert {o.name for o in user.organisations} == {"县人民法院", "县司法局"}


# --- two-step verification ------------------------------------------------------

def test_admin_outside_dev_must_enrol_totp_at_first_login(client, make_user, session):
    admin = make_user(Role.ADMIN)
    response = client.post("/login", data={"username": admin.username, "password": PASSWORD})
    assert response.headers["Location"].endswith("/login/verify")
    page = client.get("/login/verify").get_data(as_text=True)
    assert "<svg" in page  # the QR code to scan
    assert client.get("/account").status_code == 302  # not logged in yet
    with client.session_transaction() as sess:
        secret = sess["enrol_secret"]
    wrong = client.post("/login/verify", data={"code": "000000"})
    assert "not right" in wrong.get_data(as_text=True)
    ok = client.post("/login/verify", data={"code": pyotp.TOTP(secret).now()})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200
    session.refresh(admin)
    assert admin.totp_secret == secret


def test_dev_demo_admin_logs_in_with_password_alone(session):
    from portal.config import Settings

    dev = Settings(env="dev")
    admin_roles = {Role.ADMIN}
    assert Role.ADMIN not in ops.roles_requiring_2fa(session, dev) & admin_roles
    assert Role.ADMIN in ops.roles_requiring_2fa(session, Settings(env="production"))


def test_admin_requires_2fa_for_a_role_and_a_code_cannot_be_replayed(client, make_user, session):
    admin = make_user(Role.ADMIN)
    login(client, admin)
    response = client.post("/admin/security", data={"roles": ["clerk"]})
    assert response.status_code == 302
    assert session.get(RolePolicy, "clerk").is_2fa_required
    client.post("/logout")

    clerk = make_user(Role.CLERK)
    login(client, clerk)  # enrols through the form
    session.refresh(clerk)
    assert clerk.totp_secret
    client.post("/logout")
    # the very code used at enrolment is refused when typed again (even across a 30 s step)
    client.post("/login", data={"username": clerk.username, "password": PASSWORD})
    used = pyotp.TOTP(clerk.totp_secret).generate_otp(clerk.totp_last_step)
    replay = client.post("/login/verify", data={"code": used})
    assert replay.status_code == 200
    assert "already used" in replay.get_data(as_text=True)


def test_staff_can_turn_on_2fa_voluntarily_and_off_again(client, make_user, session):
    leader = make_user(Role.LEADER)
    login(client, leader)
    client.get("/account/2fa")
    with client.session_transaction() as sess:
        secret = sess["enrol_secret"]
    assert client.post("/account/2fa", data={"code": totp_now(secret)}).status_code == 302
    session.refresh(leader)
    assert leader.is_totp_enabled
    assert client.post("/account/2fa/disable").status_code == 302
    session.refresh(leader)
    assert not leader.is_totp_enabled


def test_non_staff_cannot_open_2fa_enrolment(client, login_as):
    login_as(Role.DEPUTY)
    assert client.get("/account/2fa").status_code == 403

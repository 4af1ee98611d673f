"""flask commands: create-user for real use; seed-demo refused in production."""

from __future__ import annotations

from flask_migrate import upgrade
from sqlalchemy import select

from portal.auth.models import User
from portal.auth.roles import Role
from tests.fixtures.core import PASSWORD, build_app, login


def test_create_user_makes_an_account_that_can_log_in(app, client, session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "--username", "duty-clerk", "--name", "值班接访员",
                                 "--role", "clerk", "--role", "leader",
                                 "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "duty-clerk"))
    assert user.roles == {Role.CLERK, Role.LEADER}
    login(client, user)
    assert "值班接访员" in client.get("/").get_data(as_text=True)


def test_create_user_refuses_a_weak_password_and_unknown_role(app, session):
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["create-user", "--username", "x1", "--name", "X",
                               "--role", "clerk", "--password", "short"])
    assert weak.exit_code != 0 and "at least 8" in weak.output
    unknown = runner.invoke(args=["create-user", "--username", "x2", "--name", "X",
                                  "--role", "emperor", "--password", PASSWORD])
    assert unknown.exit_code != 0
    assert session.scalar(select(User).where(User.username.in_(["x1", "x2"]))) is None


def test_seed_demo_is_refused_in_production(tmp_path):
    app = build_app(tmp_path, f"sqlite:///{tmp_path / 'prod.db'}", env="production")
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 2
    assert "refused" in result.output and "production" in result.output
    with app.app_context():
        from portal.extensions import db

        assert db.session.scalar(select(User)) is None

"""With PORTAL_REDIS_URL set, lock-out counts are shared by every server process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from flask_migrate import upgrade

from portal.auth import operations as ops
from portal.auth.roles import Role
from portal.extensions import db, limiter
from tests.fixtures.core import PASSWORD, REDIS_URL, ROOT, build_app

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="PORTAL_TEST_REDIS_URL is not set")

FAIL_LOGINS = """
import sys
from tests.fixtures.core import build_app
from pathlib import Path
app = build_app(Path(sys.argv[1]), sys.argv[2], redis_url=sys.argv[3], WTF_CSRF_ENABLED=False)
client = app.test_client()
for _ in range(int(sys.argv[4])):
    assert client.post("/login", data={"username": "redis-locked",
                                       "password": "wrong"}).status_code == 200
"""


def test_lockout_is_shared_between_two_processes_through_redis(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    app = build_app(tmp_path, url, redis_url=REDIS_URL, WTF_CSRF_ENABLED=False)
    with app.app_context():
        upgrade()
        ops.create_user(db.session, username="redis-locked", display_name="R",
                        password=PASSWORD, roles={Role.CLERK}, check_password=False)
        db.session.commit()
        limiter.reset()
    limit = app.extensions["portal.settings"].login_max_failures
    # another process fails the logins...
    subprocess.run([sys.executable, "-c", FAIL_LOGINS, str(tmp_path), url, REDIS_URL,
                    str(limit)], cwd=ROOT, check=True, timeout=60,
                   env={**os.environ, "PORTAL_ENV": "test"})
    # ...and this one refuses even the right password
    response = app.test_client().post("/login", data={"username": "redis-locked",
                                                      "password": PASSWORD})
    assert response.status_code == 429
    with app.app_context():
        limiter.reset()

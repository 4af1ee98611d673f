"""The health check contract and the start-up refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.config import ConfigError, Settings
from tests.fixtures.core import ROOT, build_app


def test_healthz_is_public_and_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["db"] == "ok"


def test_healthz_is_503_when_the_database_cannot_be_reached(tmp_path):
    app = build_app(tmp_path, "sqlite:////nonexistent-folder/for/sure/portal.db")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["db"] == "down"


def test_healthz_is_503_when_postgresql_is_down(tmp_path):
    app = build_app(tmp_path, "postgresql+psycopg://postgres@127.0.0.1:1/none")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {**response.get_json(), "db": "down"}


def test_production_without_secret_key_is_refused_with_a_clear_message():
    with pytest.raises(ConfigError, match="PORTAL_SECRET_KEY is not set"):
        Settings.from_env({"PORTAL_ENV": "production", "PORTAL_DATA_KEY": "k"})
    with pytest.raises(ConfigError, match="PORTAL_DATA_KEY is not set"):
        Settings.from_env({"PORTAL_ENV": "production", "PORTAL_SECRET_KEY": "s"})


def test_dev_and_test_start_without_secrets(tmp_path):
    dev = Settings.from_env({"PORTAL_ENV": "dev", "PORTAL_DATA_DIR": str(tmp_path)})
    assert len(dev.secret_key) >= 32
    # the dev key is kept, so sessions survive a restart
    again = Settings.from_env({"PORTAL_ENV": "dev", "PORTAL_DATA_DIR": str(tmp_path)})
    assert again.secret_key == dev.secret_key
    assert Settings.from_env({"PORTAL_ENV": "test"}).secret_key


def test_the_real_start_stops_with_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_ENV="production", PORTAL_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "routes"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "PORTAL_SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_environment_name_is_refused():
    with pytest.raises(ConfigError, match="PORTAL_ENV"):
        Settings.from_env({"PORTAL_ENV": "staging"})


def test_vary_header_and_fragment_rendering(client, login_as):
    login_as(__import__("portal.auth.roles", fromlist=["Role"]).Role.ADMIN)
    full = client.get("/orgs/")
    fragment = client.get("/orgs/", headers={"HX-Request": "true"})
    assert "HX-Request" in full.headers["Vary"]
    assert "<html" in full.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)
    assert "organisations" in fragment.get_data(as_text=True).lower() or "组织" in \
        fragment.get_data(as_text=True)


def test_csrf_is_enforced_on_posts(tmp_path):
    app = build_app(tmp_path, f"sqlite:///{Path(tmp_path) / 'c.db'}")
    response = app.test_client().post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400


def test_plain_postgresql_urls_use_the_installed_psycopg_driver():
    settings = Settings.from_env({"PORTAL_ENV": "test",
                                  "PORTAL_DATABASE_URL": "postgresql://u@db.internal/portal"})
    assert settings.database_url == "postgresql+psycopg://u@db.internal/portal"


def test_htmx_request_without_login_is_told_to_load_the_login_page(client):
    response = client.get("/people/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")

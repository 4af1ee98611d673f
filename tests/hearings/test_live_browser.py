"""The live hearing in Chromium: the clerk runs it at a desk, an observer watches on a
360 px phone. The clerk starts the hearing and the observer's screen follows (stage,
speaker, a countdown that runs); the clerk's minutes save themselves; a reload shows the
same state. Nothing the Content-Security-Policy blocks (tests.fixtures.browser)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import CHROMIUM, MISSING_BROWSER, ROOT
from tests.fixtures.core import free_port

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=MISSING_BROWSER)]

PASSWORD = "browser-password-1"
WAIT = 15_000  # ms: every wait in a page is bounded


def seed_hearing(data: Path, url: str) -> dict[str, Any]:
    """For servers started apart (this test, two nodes): a petition office, its clerk
    `hclerk` (presiding and clerk), a case, a published public hearing with the
    petitioner (and their link) and a seated online observer (and theirs)."""
    from flask_migrate import upgrade

    from hearings import links
    from hearings.models import Hearing, Observer, Participant, ParticipantRole
    from portal.auth import operations as auth_ops
    from portal.auth.roles import Role
    from portal.casefiles import operations as case_ops
    from portal.extensions import db
    from portal.orgs.models import Organisation
    from portal.timeutil import utcnow
    from tests.fixtures.core import build_app

    app = build_app(data, url)
    with app.app_context():
        upgrade()
        office = Organisation(name="县信访局", kind="agency", sector="petition")
        db.session.add(office)
        db.session.flush()
        clerk = auth_ops.create_user(db.session, username="hclerk", password=PASSWORD,
                                     display_name="王书记员", roles=[Role.CLERK],
                                     organisations=[office], check_password=False)
        db.session.flush()
        case, _code = case_ops.register_case(
            db.session(), clerk, channel="walk_in", kind="land", summary="土地纠纷",
            petitioners=[{"name": "李信访", "id_number": "110101195001011239",
                          "phone": "13800001111"}])
        now = utcnow()
        hearing = Hearing(case_id=case.id, kind="petition", status="published",
                          title="土地纠纷听证会", starts_at=now, ends_at=now + timedelta(hours=3),
                          office_id=office.id, presiding_id=clerk.id, clerk_id=clerk.id,
                          is_public=True, observer_seats=5, notice_published_at=now,
                          agenda="一、核对身份\n二、陈述", ical_uid="browser@portal",
                          created_by_id=clerk.id, panel_size=0)  # no panel: the screens only
        db.session.add(hearing)
        db.session.flush()
        petitioner = Participant(hearing=hearing, role=ParticipantRole.PETITIONER,
                                 name="李信访", party_id=case.petitioners[0].id)
        db.session.add(petitioner)
        db.session.flush()
        petitioner_token = links.issue_participant_token(petitioner)
        observer = Observer(hearing_id=hearing.id, name="旁听人", phone="13800002222",
                            id_number="110101199001011234", id_number_hash="browser",
                            token_hash="", seated_at=now)
        watch = links.issue_observer_token(observer)
        db.session.add(observer)
        db.session.commit()
        found = {"hearing_id": hearing.id, "watch": watch, "petitioner_id": petitioner.id,
                 "petitioner_token": petitioner_token}
        db.engine.dispose()
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    data = tmp_path_factory.mktemp("hearing-live")
    url = f"sqlite:///{data / 'portal.db'}"
    seeded = seed_hearing(data, url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORT=str(port), PORTAL_ENV="test", PORTAL_DATA_DIR=str(data),
               PORTAL_DATABASE_URL=url, PORTAL_SECRET_KEY="test-secret",
               PORTAL_DATA_KEY="test-data-key", PORTAL_THREADS="20", PORTAL_RUN_WORKER="0",
               PORTAL_LOG_LEVEL="warning")
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        from tests.fixtures.core import wait_until

        def up() -> bool:
            try:
                return urllib.request.urlopen(base + "/healthz", timeout=1).status == 200
            except OSError:
                return False

        wait_until(up, 30, "the server to start", interval=0.2)
        yield base, seeded
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)


def test_the_clerk_runs_it_and_the_observer_follows_on_a_phone(served, browser, shots):
    base, seeded = served
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    clerk = desk.new_page()
    clerk.goto(base + "/login")
    clerk.locator("input[name=username]").fill("hclerk")
    clerk.locator("input[name=password]").fill(PASSWORD)
    clerk.locator("form button[type=submit]").last.click()
    clerk.wait_for_load_state()
    clerk.goto(f"{base}/hearings/{seeded['hearing_id']}/live/control")
    clerk.wait_for_selector("[data-live=start]:not([hidden])", timeout=WAIT)

    phone_ctx = browser.new_context(viewport={"width": 360, "height": 740},
                                    device_scale_factor=2, is_mobile=True, has_touch=True,
                                    locale="zh-CN")
    watcher = phone_ctx.new_page()
    watcher.goto(f"{base}/hearings/watch/{seeded['watch']}")
    watcher.wait_for_function(
        "() => document.getElementById('live-connection').textContent.includes('已连接')"
        " || document.getElementById('live-connection').textContent.includes('Connected')",
        timeout=WAIT)
    assert watcher.locator("[data-live]").count() == 0  # watch only
    assert watcher.locator("textarea").count() == 0

    # attendance: nobody checked in yet, so no button shows a state as chosen
    assert clerk.locator(".checkin-buttons button[aria-pressed=true]").count() == 0
    # the control page's selects and number box are touch-sized like the portal's fields
    for box in ("#speaker-person", "#speaker-minutes", "#recusal-person"):
        assert (clerk.locator(box).bounding_box() or {}).get("height", 0) >= 44, box
    # starting asks first, naming the scheduled time
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    clerk.once("dialog", accept)
    clerk.locator("[data-live=start]").click()
    clerk.wait_for_selector("[data-live=next]:not([hidden])", timeout=WAIT)
    assert asked and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", asked[0]), asked
    opening = clerk.locator("#live-stage").inner_text()
    watcher.wait_for_function(
        "(want) => document.getElementById('live-stage').textContent === want", arg=opening,
        timeout=WAIT)
    assert watcher.locator("#live-stages li[aria-current=step]").inner_text() == opening

    # a turn of one minute: the countdown runs on both screens
    clerk.locator("#speaker-minutes").fill("1")
    clerk.locator("#speaker-add button[type=submit]").click()
    clerk.wait_for_selector("#live-queue li", timeout=WAIT)
    clerk.locator("[data-speaker=start]").click()
    for page in (clerk, watcher):
        page.wait_for_function(
            "() => /^0[01]:[0-5][0-9]$/.test(document.getElementById('live-countdown')"
            ".textContent)", timeout=WAIT)
    # the countdown moves (computed locally from the server's started_at)
    shown = watcher.locator("#live-countdown").inner_text()
    watcher.wait_for_function(
        "(was) => document.getElementById('live-countdown').textContent !== was", arg=shown,
        timeout=WAIT)
    assert clerk.locator("[data-live=start]").is_hidden()
    assert clerk.locator("[data-live=previous]").is_hidden()  # nothing before the opening
    name = watcher.locator("#live-speaker-name").inner_text()
    assert "李信访" not in name  # an observer sees the party by role
    # the page fits the phone: no sideways scrolling
    assert watcher.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    watcher.screenshot(path=str(shots / "hearing-live-observer-360.png"), full_page=True)

    # the minutes save themselves; a reload shows them and the same stage
    box = clerk.locator("#minutes-opening")
    box.fill("主持人宣布听证开始，核对参加人身份。")
    box.blur()
    clerk.wait_for_function(
        "() => /已保存|Saved/.test(document.getElementById('minutes-opening-status')"
        ".textContent)", timeout=WAIT)
    clerk.screenshot(path=str(shots / "hearing-live-clerk-desk.png"), full_page=True)
    clerk.reload()
    clerk.wait_for_function(
        "() => document.getElementById('minutes-opening').value.includes('核对参加人身份')",
        timeout=WAIT)
    assert clerk.locator("#live-stage").inner_text() == opening
    clerk.wait_for_selector("#live-log li", timeout=WAIT)

    # the next stage reaches the observer
    clerk.locator("[data-live=next]").click()
    watcher.wait_for_function(
        "(was) => document.getElementById('live-stage').textContent !== was", arg=opening,
        timeout=WAIT)

    # offline: the text waits on the device and goes out when the connection is back
    status = "document.getElementById('minutes-agency_facts-status').textContent"
    desk.set_offline(True)
    facts = clerk.locator("#minutes-agency_facts")
    facts.fill("承办单位陈述：已于三月书面答复。")
    facts.blur()
    clerk.wait_for_function(f"() => /尚未保存|Not saved yet/.test({status})", timeout=WAIT)
    kept = clerk.evaluate("() => Object.keys(localStorage).filter(k => k.includes("
                          "'agency_facts')).map(k => localStorage.getItem(k))")
    assert kept and "书面答复" in kept[0]
    desk.set_offline(False)
    clerk.evaluate("() => window.dispatchEvent(new Event('online'))")
    clerk.wait_for_function(f"() => /已保存|Saved/.test({status})", timeout=WAIT)

    # a second window of the clerk saves while the first is still reconnecting: the
    # first one's save is stale, its text stays in the box, the saved text beside it
    other = desk.new_page()
    other.goto(f"{base}/hearings/{seeded['hearing_id']}/live/control")
    other.wait_for_function(
        "() => document.getElementById('minutes-agency_facts').value.includes('书面答复')",
        timeout=WAIT)
    other.locator("#minutes-agency_facts").fill("另一窗口的记录")
    other.locator("#minutes-agency_facts").blur()
    other.wait_for_function(
        "() => /已保存|Saved/.test(document.getElementById('minutes-agency_facts-status')"
        ".textContent)", timeout=WAIT)
    facts.fill("我的补充记录")
    facts.blur()
    clerk.wait_for_selector("[data-minutes-stage=agency_facts] .minutes-conflict:not([hidden])",
                            timeout=WAIT)
    assert facts.input_value() == "我的补充记录"
    assert "另一窗口的记录" in clerk.locator(
        "[data-minutes-stage=agency_facts] .minutes-theirs").inner_text()
    clerk.locator("[data-minutes-stage=agency_facts] [data-minutes-take]").click()
    clerk.wait_for_function(f"() => /已保存|Saved/.test({status})", timeout=WAIT)
    # ... and the second window sees that save live
    other.wait_for_function(
        "() => document.getElementById('minutes-agency_facts').value === '我的补充记录'",
        timeout=WAIT)
    desk.close()
    phone_ctx.close()

"""Video reception in the browser: the official books a walk-in and sends the link; the
petitioner opens it on a phone, passes the device check and the recording notice, and
waits in the lobby (position 1); the official sees them waiting and admits them; both
see the other's video (the remote <video>'s frames advance), chat, record for a moment;
the official ends the call and the petitioner is told. A second test opens one guest
link in two browsers: the seat moves to the second, the first is told why it closed.

WebRTC must not leave the machine, so the server and Chromium run in a network
namespace of their own where only loopback exists (`unshare -n`, as root): the outer
tests re-run this file there, collecting only its `inner_*` functions (SQLite: no
PostgreSQL or Redis in reach), and assert on what that run reports. Chromium uses fake
camera and microphone devices. Every wait is bounded; screenshots go to the screenshot
folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, serve_demo, watch_csp

pytestmark = pytest.mark.media  # Chromium sends its fake camera and microphone over WebRTC

INNER_FLAG = "PORTAL_VIDEO_E2E_INNER"  # set in the namespace run (for the record)
MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--allow-loopback-in-peer-connection"]
WAIT = 20_000  # ms: every wait in a page is bounded
MEDIA_WAIT = 45_000  # ms: ICE, DTLS and the first frames
INNER_TIMEOUT = 900  # s: the whole inner run
DESK = {"width": 1280, "height": 900}
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}
ROOM_TITLE = "县领导接待日（视频接访）"  # the demo leader's reception day, today
OFFICIAL = "clerk"  # a clerk of the county petition office hosts and books

REMOTE_FRAMES = """() => {
  const v = document.querySelector('#videos .tile-remote video');
  return v && v.videoWidth > 0 ? v.getVideoPlaybackQuality().totalVideoFrames : -1;
}"""


# --- the outer tests: run the inner ones in a loopback-only network namespace -------------

def _namespace_problem() -> str | None:
    if os.geteuid() != 0:
        return "needs root to make a network namespace (unshare -n) for WebRTC on loopback"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"needs `{tool}` (util-linux / iproute2) for a loopback-only namespace"
    return None


@pytest.fixture(scope="module")
def namespace_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run this file's inner tests once, in their own network namespace; return each
    inner test's outcome and the run's output."""
    problem = _namespace_problem()
    if problem:
        pytest.skip(problem)
    report = tmp_path_factory.mktemp("video-e2e") / "inner.xml"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PORTAL_TEST_DATABASE_URL", "PORTAL_TEST_REDIS_URL")}
    env[INNER_FLAG] = "1"
    command = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
               sys.executable, "-m", "pytest", str(Path(__file__).relative_to(ROOT)),
               "-o", "python_functions=inner_*", "-p", "no:cacheprovider", "-q",
               f"--junitxml={report}"]
    try:
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=INNER_TIMEOUT)
    except subprocess.TimeoutExpired as timeout:
        out = (timeout.stdout or b"")
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        pytest.fail(f"the namespace run took over {INNER_TIMEOUT} s:\n{text[-6000:]}")
    output = proc.stdout + proc.stderr
    outcomes: dict[str, str] = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            failed = case.find("failure")
            if failed is None:
                failed = case.find("error")
            skipped = case.find("skipped")
            if failed is not None:
                outcomes[case.get("name", "")] = "failed: " + (failed.get("message") or "")
            elif skipped is not None:
                outcomes[case.get("name", "")] = "skipped: " + (skipped.get("message") or "")
            else:
                outcomes[case.get("name", "")] = "passed"
    return {"returncode": proc.returncode, "outcomes": outcomes, "output": output}


def _inner_outcome(run: dict[str, Any], name: str) -> str:
    """What the namespace run reports for `name` (fails if it did not run, skips if it
    was skipped there)."""
    outcome: str | None = run["outcomes"].get(name)
    if outcome is None:
        pytest.fail(f"{name} did not run in the namespace (exit {run['returncode']}):\n"
                    + run["output"][-6000:])
    if outcome.startswith("skipped"):
        pytest.skip(outcome)
    return outcome


def test_reception_journey(namespace_run: dict[str, Any]) -> None:
    outcome = _inner_outcome(namespace_run, "inner_reception_journey")
    assert outcome == "passed", outcome + "\n" + namespace_run["output"][-6000:]


def test_second_device_takes_the_seat(namespace_run: dict[str, Any]) -> None:
    outcome = _inner_outcome(namespace_run, "inner_second_device_takes_the_seat")
    assert outcome == "passed", outcome + "\n" + namespace_run["output"][-6000:]


# --- the inner tests: collected only by the namespace run (python_functions=inner_*) -------


def loopback_app() -> Any:
    """The portal as `make run` serves it, but with the server's ICE (aioice) gathering
    127.0.0.1: aioice leaves loopback out, and in the namespace nothing else exists. The
    media tests in tests/video do the same. gunicorn imports this as its app."""
    import aioice.ice

    import wsgi

    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"]
    return wsgi.create_app()


@pytest.fixture(scope="module")
def video_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo, migrated and seeded in a folder of its own (SQLite), served by gunicorn
    with `loopback_app` (conftest's live_server, with ICE on loopback)."""
    with serve_demo(tmp_path_factory.mktemp("video-live"),
                    app="tests.e2e.test_video_reception:loopback_app()", start_s=30,
                    show_log=True, PORTAL_MEDIA_ENGINE="aiortc") as base:
        yield base


@pytest.fixture(scope="module")
def media_browser(playwright_driver: Any) -> Iterator[Any]:
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM,
                                                args=CHROMIUM_ARGS + MEDIA_ARGS)
    yield watch_csp(browser)
    browser.close()


def _context(browser: Any, base: str, **options: Any) -> Any:
    context = browser.new_context(locale="zh-CN", **options)
    context.grant_permissions(["camera", "microphone"], origin=base)
    context.set_default_timeout(WAIT)
    return context


def _shot(page: Any, shots: Path, name: str, full: bool = False) -> None:
    page.screenshot(path=str(shots / f"video-{name}.png"), full_page=full)


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"


def _strings(page: Any) -> dict[str, str]:
    """The page's translated strings (what room.js shows), whatever the locale."""
    return json.loads(page.locator("#video-strings").text_content())


@pytest.fixture(scope="module")
def official(media_browser: Any, video_server: str) -> Iterator[dict[str, Any]]:
    """The official, logged in, with the room's page (bookings) and host page (the call)."""
    base = video_server
    context = _context(media_browser, base, viewport=DESK)
    desk = context.new_page()
    desk.goto(base + "/video/")
    desk.wait_for_url("**/login**")
    desk.get_by_label("用户名").fill(OFFICIAL)
    desk.get_by_label("密码").fill("demo")
    desk.get_by_role("button", name="登录").click()
    desk.wait_for_url(re.compile(r".*/video/?$"))
    desk.get_by_role("link", name=ROOM_TITLE).first.click()
    desk.wait_for_url(re.compile(r".*/video/rooms/\d+$"))
    room_url = desk.url
    host = context.new_page()
    host.goto(room_url)
    # opening the room is a POST (a GET of the host page changes nothing)
    host.locator('form[action$="/host"] button').click()
    host.wait_for_url(re.compile(r".*/host$"))
    host.wait_for_function("() => window.videoRoom && videoRoom.state().seatState === 'admitted'")
    yield {"context": context, "desk": desk, "host": host, "room_url": room_url, "base": base}
    context.close()


def _book_walk_in(official: dict[str, Any], name: str) -> str:
    """Book a walk-in on the room page; returns the join link shown once."""
    desk = official["desk"]
    desk.goto(official["room_url"])
    desk.locator("#name").fill(name)
    desk.locator('form[action$="/book"] button[type=submit]').click()
    link = desk.locator("#join-url")
    link.wait_for()
    url = link.get_attribute("href")
    assert url and "/join/" in url
    return url


def _through_device_check(page: Any, join_url: str, shots: Path | None = None) -> None:
    """Open the join link, run the checks, agree to the recording notice."""
    page.goto(join_url)
    page.locator("#device-check").wait_for()
    page.locator("#dc-start").click()
    page.locator('#check-camera[data-status="ok"]').wait_for()
    page.locator('#check-mic[data-status="ok"]').wait_for()
    page.locator("#speaker-play").click()
    page.locator("#speaker-yes").click()
    page.locator('#check-speaker[data-status="ok"]').wait_for()
    page.locator('#check-network:is([data-status="ok"], [data-status="warn"])').wait_for()
    if shots is not None:
        _no_sideways_scroll(page)
        _shot(page, shots, "01-device-check-phone", full=True)
    page.locator("#consent-form button[type=submit]").click()
    page.wait_for_url("**/room")


def _waiting_item(host: Any, name: str) -> Any:
    item = host.locator("#waiting-list li", has_text=name)
    item.wait_for()
    return item


def _frames_advance(page: Any) -> None:
    """The remote <video> shows new frames (not a frozen or black element)."""
    page.wait_for_function(f"() => ({REMOTE_FRAMES})() > 0", timeout=MEDIA_WAIT)
    first = page.evaluate(REMOTE_FRAMES)
    page.wait_for_function(f"() => ({REMOTE_FRAMES})() >= {first + 15}", timeout=MEDIA_WAIT)


def inner_second_device_takes_the_seat(official: dict[str, Any], media_browser: Any,
                                            shots: Path) -> None:
    from playwright.sync_api import expect

    base, host = official["base"], official["host"]
    name = "赵换机"
    join_url = _book_walk_in(official, name)

    first_ctx = _context(media_browser, base, viewport=DESK)
    second_ctx = _context(media_browser, base, **PHONE)
    try:
        first = first_ctx.new_page()
        _through_device_check(first, join_url)
        first.wait_for_function("() => videoRoom.state().seatState === 'waiting'")
        assert first.evaluate("videoRoom.state().position") == 1
        _waiting_item(host, name)

        # the same link on a phone: the seat moves there, the laptop is told why
        second = second_ctx.new_page()
        _through_device_check(second, join_url)
        second.wait_for_function("() => videoRoom.state().seatState === 'waiting'")
        strings = _strings(first)
        expect(first.locator("#closed")).to_be_visible()
        expect(first.locator("#closed-title")).to_have_text(strings["closed_opened_elsewhere"])
        assert first.evaluate("videoRoom.state().seatState") == "closed"
        assert first.evaluate("videoRoom.socket.connected") is False
        _shot(first, shots, "10-first-device-closed-desk")
        # the phone keeps the place in the queue (not the back of it)
        assert second.evaluate("videoRoom.state().position") == 1
        expect(second.locator("#lobby")).to_be_visible()
        expect(host.locator("#waiting-list li", has_text=name)).to_have_count(1)
        _shot(second, shots, "11-second-device-waiting-phone")

        # the official sends this one away, so the queue is empty for the next test
        _waiting_item(host, name).locator("button.deny").click()
        host.locator("#confirm-yes").click()
        expect(second.locator("#closed-title")).to_have_text(strings["denied"])
        expect(host.locator("#waiting-list li", has_text=name)).to_have_count(0)
    finally:
        first_ctx.close()
        second_ctx.close()


def inner_reception_journey(official: dict[str, Any], media_browser: Any,
                                 shots: Path) -> None:
    from playwright.sync_api import expect

    base, host = official["base"], official["host"]
    name = "王春花"
    join_url = _book_walk_in(official, name)

    phone_ctx = _context(media_browser, base, **PHONE)
    try:
        guest = phone_ctx.new_page()
        errors: list[str] = []
        console: list[str] = []  # printed, so a failure shows what the pages said
        for who, page in (("petitioner", guest), ("official", host)):
            page.on("pageerror", lambda error, who=who: errors.append(f"{who}: {error}"))
            page.on("console", lambda msg, who=who: console.append(f"{who} {msg.type}: {msg.text}"))

        # -- the petitioner: device check, consent, then the lobby by itself ------------
        _through_device_check(guest, join_url, shots)
        expect(guest.locator("#lobby")).to_be_visible()
        guest.wait_for_function("() => videoRoom.state().seatState === 'waiting'")
        assert guest.evaluate("videoRoom.state().position") == 1
        expect(guest.locator("#lobby-position-text")).to_contain_text("1")
        expect(guest.locator("#lobby button")).to_have_count(0)  # nothing to press
        _no_sideways_scroll(guest)
        _shot(guest, shots, "02-lobby-phone")

        # -- the official: the waiting list, a lobby message, admit ---------------------
        item = _waiting_item(host, name)
        expect(item).to_contain_text("1")
        expect(host.locator("#waiting-count")).to_have_text("1")
        host.locator("#lobby-text").fill("大约5分钟")
        host.locator("#lobby-form button[type=submit]").click()
        expect(guest.locator("#lobby-message-text")).to_have_text("大约5分钟")
        _shot(host, shots, "03-waiting-list-desk")
        item.locator("button.admit").click()

        # -- both in the call: each sees the other's video move --------------------------
        guest.wait_for_function("() => videoRoom.state().seatState === 'admitted'")
        guest.wait_for_function("() => videoRoom.state().peers.length === 1", timeout=MEDIA_WAIT)
        host.wait_for_function("() => videoRoom.state().peers.length >= 1", timeout=MEDIA_WAIT)
        _frames_advance(guest)
        _frames_advance(host)
        expect(host.locator("#waiting-list li")).to_have_count(0)
        expect(host.locator("#participants")).to_contain_text(name)

        host.locator("#chat-text").fill("您好，请讲。")
        host.locator("#chat-form button[type=submit]").click()
        expect(guest.locator("#chat-list")).to_contain_text("您好，请讲。")
        _no_sideways_scroll(guest)
        _shot(guest, shots, "04-call-phone")
        _shot(host, shots, "05-call-desk")
        strings = _strings(guest)

        # -- a dropped connection, then a reload: back in the room, not in the queue -------
        hellos = guest.evaluate("videoRoom.state().hellos")
        guest.evaluate("videoRoom.socket.io.engine.close()")
        guest.wait_for_function(f"() => videoRoom.state().hellos > {hellos}", timeout=MEDIA_WAIT)
        assert guest.evaluate("videoRoom.state().seatState") == "admitted"
        guest.wait_for_function("() => videoRoom.state().peers.length === 1", timeout=MEDIA_WAIT)
        guest.reload()
        guest.wait_for_function(
            "() => window.videoRoom && videoRoom.state().seatState === 'admitted'")
        expect(guest.locator("#lobby")).to_be_hidden()
        guest.wait_for_function("() => videoRoom.state().peers.length === 1", timeout=MEDIA_WAIT)
        _frames_advance(guest)
        _frames_advance(host)
        expect(host.locator("#waiting-list li")).to_have_count(0)

        # -- the official mutes the petitioner; sound-only mode on the phone and back ------
        host.locator("#participants li", has_text=name).locator("button").first.click()
        guest.wait_for_function("() => videoRoom.state().muted === true")
        expect(guest.locator("#btn-mute")).to_have_attribute("aria-pressed", "true")
        guest.locator("#btn-mute").click()
        expect(guest.locator("#btn-mute")).to_have_attribute("aria-pressed", "false")
        guest.locator("#btn-audio-only").click()
        expect(guest.locator("#btn-audio-only")).to_have_attribute("aria-pressed", "true")
        expect(host.locator("#participants li", has_text=name)).to_contain_text(
            strings["sound_only_tag"])
        guest.locator("#btn-audio-only").click()
        expect(host.locator("#participants li", has_text=name)).not_to_contain_text(
            strings["sound_only_tag"])
        _frames_advance(host)

        # -- recording: everyone is told, a large indicator, each browser sends to the
        #    server's recorder; then off again -------------------------------------------
        host.locator("#btn-record").click()
        host.locator("#confirm-yes").click()
        expect(guest.locator("#rec-notice")).to_be_visible()
        expect(guest.locator("#rec-status .rec-indicator")).to_be_visible()
        _shot(guest, shots, "06-recording-notice-phone")
        guest.locator("#rec-notice button").click()
        # the official started it: the indicator, never the guests' blocking notice
        expect(host.locator("#rec-status .rec-indicator")).to_be_visible()
        expect(host.locator("#rec-notice")).not_to_be_visible()
        guest.wait_for_function("() => videoRoom.state().recorder === 'connected'",
                                timeout=MEDIA_WAIT)
        host.wait_for_function("() => videoRoom.state().recorder === 'connected'",
                               timeout=MEDIA_WAIT)
        _shot(host, shots, "07-recording-desk")
        host.wait_for_timeout(3000)  # a few seconds of recording
        host.locator("#btn-record").click()
        host.locator("#confirm-yes").click()
        guest.wait_for_function("() => !videoRoom.state().isRecording")
        expect(guest.locator("#rec-status .rec-indicator")).to_have_count(0)

        # -- the reception note: shown on the petitioner's screen, refused with a reason ---
        note = host.locator("#note-panel form.note")
        note.wait_for()
        note.locator('textarea[name$="facts"]').fill("公司拖欠工资八万余元。")
        note.locator('textarea[name$="demands"]').fill("要求公司支付工资。")
        note.locator('textarea[name$="answer"]').fill("已责令人社局十日内调查答复。")
        note.locator('textarea[name$="next_steps"]').fill("十日内书面答复。")
        note.locator('button[value="show"]').click()
        expect(guest.locator("#note-dialog")).to_be_visible()
        expect(guest.locator("#note-facts")).to_have_text("公司拖欠工资八万余元。")
        _shot(guest, shots, "08-note-phone")
        guest.locator("#note-refuse").click()
        guest.locator("#note-reason").fill("金额不对，是九万元。")
        guest.locator("#note-refusal button[type=submit]").click()
        expect(guest.locator("#note-result")).to_have_text(strings["note_refused"])
        guest.locator("#note-close button").click()
        # the official is told, and the note's form comes back locked with the reason
        expect(host.locator("#call-alert")).to_contain_text("金额不对，是九万元。")
        expect(host.locator('#note-panel button[value="show"]')).to_have_count(0)
        expect(host.locator("#note-panel form.note")).to_contain_text("金额不对，是九万元。")

        # -- finishing one person is not ending the day: the per-person action names
        #    them, and ending the day with someone still booked names who ------------
        expect(host.locator("#participants li", has_text=name).locator("button",
               has_text=name)).to_be_visible()
        expect(host.locator("#btn-end")).to_have_text(strings["end_for_all"])
        later = "赵桂芝"
        _book_walk_in(official, later)
        host.locator("#btn-end").click()
        host.locator("#confirm-yes").click()
        expect(host.locator("#confirm-text")).to_contain_text(later)
        host.locator("#confirm-yes").click()
        expect(guest.locator("#closed")).to_be_visible()
        expect(guest.locator("#closed-title")).to_have_text(strings["ended"])
        expect(host.locator("#closed-title")).to_have_text(strings["ended"])
        assert guest.evaluate("videoRoom.state().peers") == []
        _no_sideways_scroll(guest)
        _shot(guest, shots, "09-ended-phone")
        assert errors == [], errors
    finally:
        print("\n".join(console[-80:]))
        phone_ctx.close()

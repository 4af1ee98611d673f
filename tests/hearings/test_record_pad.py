"""The signature pad in Chromium (static/js/hearings/signature-pad.js): a finger on a
360 px phone (touch events, as a real touchscreen sends them) and a mouse on a desk
screen draw a signature that the server accepts and stores. The pages are the test app's,
answered in-process through Playwright's routing, under the real Content-Security-Policy."""

from __future__ import annotations

import io
from typing import Any

import pytest

from hearings.models import ParticipantRole
from tests.fixtures.browser import CHROMIUM, MISSING_BROWSER
from tests.fixtures.core import login
from tests.hearings.test_record import ended_hearing, freeze, role, signatures, versions

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not __import__("os").path.exists(CHROMIUM),
                                 reason=MISSING_BROWSER)]

BASE = "http://portal.test"


def _serve(page: Any, client: Any) -> None:
    """Every request of the page answered by the Flask test client."""

    def handle(route: Any, request: Any) -> None:
        path = request.url[len(BASE):]
        if request.method == "POST":
            answer = client.post(path, data=request.post_data_buffer,
                                 content_type=request.headers.get("content-type"))
        else:
            answer = client.get(path)
        route.fulfill(status=answer.status_code, headers=dict(answer.headers),
                      body=answer.data)

    page.route(BASE + "/**", handle)


def _ink(png: bytes) -> int:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        grey = Image.alpha_composite(white, img.convert("RGBA")).convert("L")
        return sum(grey.histogram()[:160])


def _signed_png(session: Any, version: Any) -> bytes:
    from portal.casefiles import blobs

    [sig] = signatures(session, version)
    assert sig.status == "signed" and sig.image_sha256
    return blobs.read_blob(sig.image_sha256)


def test_a_finger_signs_on_a_phone(phone, client, session, world, shots):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    anon = client.application.test_client()
    _serve(phone, anon)
    phone.goto(f"{BASE}/hearings/sign/{tokens[petitioner.id]}")
    pad = phone.locator("canvas.pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None and box["width"] <= 360
    cdp = phone.context.new_cdp_session(phone)
    x0, y0 = box["x"] + 20, box["y"] + box["height"] / 2
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart",
                                          "touchPoints": [{"x": x0, "y": y0}]})
    for i in range(1, 25):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
            {"x": x0 + i * 10, "y": y0 + (18 if i % 2 else -18)}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    assert phone.input_value("#signature").startswith("data:image/png;base64,")
    phone.check("#has_read")
    phone.screenshot(path=str(shots / "hearing-sign-phone.png"), full_page=False)
    phone.click("button[type=submit].primary")
    phone.wait_for_selector("text=Nothing more to sign")
    assert _ink(_signed_png(session, version)) > 100


def test_the_mouse_signs_and_clear_empties_the_box(browser, client, session, world):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        _serve(page, client.application.test_client())
        page.goto(f"{BASE}/hearings/sign/{tokens[petitioner.id]}")
        pad = page.locator("canvas.pad")
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        assert box is not None

        def scribble() -> None:
            page.mouse.move(box["x"] + 30, box["y"] + 40)
            page.mouse.down()
            for i in range(1, 30):
                page.mouse.move(box["x"] + 30 + i * 12, box["y"] + 40 + (i % 5) * 20)
            page.mouse.up()

        scribble()
        assert page.input_value("#signature").startswith("data:image/png;base64,")
        page.click("[data-pad-clear]")
        assert page.input_value("#signature") == ""
        # sent empty (and no typed name): refused with the message, nothing stored
        page.check("#has_read")
        page.click("button[type=submit].primary")
        page.wait_for_selector("text=draw your signature in the box")
        assert signatures(session, version) == []
        pad = page.locator("canvas.pad")
        pad.scroll_into_view_if_needed()
        box = pad.bounding_box()
        assert box is not None
        scribble()
        page.check("#has_read")
        page.click("button[type=submit].primary")
        page.wait_for_selector("text=Nothing more to sign")
        assert _ink(_signed_png(session, version)) > 100
    finally:
        context.close()


def test_the_record_page_fits_a_phone_and_a_desk(browser, client, session, world, shots):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    client.post(f"/hearings/{hearing.id}/record/tablet/{petitioner.id}",
                data={"action": "refuse", "version_id": str(version.id),
                      "reason": "笔录第三段与事实不符"})
    for name, viewport in (("phone", {"width": 360, "height": 740}),
                           ("desk", {"width": 1280, "height": 900})):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        try:
            _serve(page, client)
            page.goto(f"{BASE}/hearings/{hearing.id}/record")
            page.wait_for_selector("text=笔录第三段与事实不符")
            page.screenshot(path=str(shots / f"hearing-record-{name}.png"), full_page=True)
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= viewport["width"], (name, overflow)
        finally:
            context.close()


def test_the_clerks_page_follows_signatures_as_they_come(browser, client, session, world):
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    total = len(hearing.participants)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        _serve(page, client)
        page.goto(f"{BASE}/hearings/{hearing.id}/record")
        count = page.locator("#sign-count")
        assert count.inner_text() == f"0 of {total} participants have signed or refused."
        # the petitioner signs on their phone meanwhile
        phone = client.application.test_client()
        phone.post(f"/hearings/sign/{tokens[petitioner.id]}",
                   data={"action": "refuse", "version_id": str(version.id),
                         "reason": "另有书面意见"})
        page.wait_for_selector("#signers >> text=另有书面意见", timeout=30_000)
        assert count.inner_text() == f"1 of {total} participants have signed or refused."
        assert page.locator("#sign-count").count() == 1  # the live region stayed in place
    finally:
        context.close()

"""Lawyer duty in the browser (issue 14): a member of the public opens the landing page's
offer on a phone and asks the duty lawyer a question, then waits on their own page with
their place in the queue; the demo duty lawyer (`lawyer`) takes it from the desk; they
chat both ways without a reload; the lawyer moves it to video and the person's join
button appears (the video page opens; no media is sent); the lawyer closes it referring
to legal aid, the application filled from the consultation; the person sees the answer,
downloads the PDF (rendered with pdftoppm: not blank) and rates it. Screenshots of each
step go to the screenshot folder.

"Now" must be inside duty hours for the question to join the queue and be taken, and a
test may run at any hour: the server is the seeded demo (the demo lawyer has this week)
started with the deployment setting PORTAL_CONSULTATION_RULES giving the week's duty
hours the whole day — the hours are a setting, not something the rota pages edit. On a
weekend or a public holiday the admin first marks today a make-up working day (调休) in
the holiday calendar (/admin/holidays), as an office would for an extra duty day."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.fixtures.browser import ROOT, serve_demo

DESK = {"width": 1280, "height": 900}
WAIT = 15_000  # ms: every wait in a page is bounded
STATUS_WAIT = 30_000  # ms: the person's page learns a change live, or by its 10-s poll
ALL_DAY = json.dumps({"hours": ["00:00-23:59:59.999999"]})
NAME = "李秋菊"
QUESTION = "公司解除劳动合同未支付经济补偿金，我工作了六年，应当如何主张？"
ASKER_SAYS = "我没有签书面劳动合同，这会影响吗？"
LAWYER_SAYS = "您好，我是值班律师。未签书面合同可以主张双倍工资，请保留工资流水。"
ANSWER = ("根据《劳动合同法》第四十六条、第四十七条，用人单位解除劳动合同应支付经济补偿，"
          "按工作年限每满一年支付一个月工资。建议先申请劳动仲裁，仲裁时效为一年。")
GROUNDS = "申请人失业，家庭经济困难，符合法律援助条件。"


def _shot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"consultation-journey-{name}.png"))
    _in_chinese(page)


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"


#: Latin words a Chinese page may show (file types, units, the case number's letters)
LATIN_OK = {"PDF", "JPEG", "PNG", "GIF", "WebP", "MB", "KB", "SHA", "LC", "English"}
#: texts added with this test, whose Chinese waits for `make translations`: shown in
#: English only while the catalogue lacks them (then the check covers them too)
PENDING = ("Back to the consultation (chat and closing)",
           "Your application for legal aid was sent to the legal-aid centre.",
           "Waiting time")
CATALOGUE = ROOT / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def _in_chinese(page: Any) -> None:
    """The page is in Chinese: no line shows English words (but file types and units)."""
    catalogue = CATALOGUE.read_text(encoding="utf-8")
    pending = [p for p in PENDING if f'msgid "{p}' not in catalogue]
    left = [line for line in page.locator("main").inner_text().splitlines()
            if {w for w in re.findall(r"[A-Za-z]{2,}", line)} - LATIN_OK
            and not any(p in line for p in pending)]
    assert not left, f"untranslated on {page.url}: {left}"


@pytest.fixture(scope="module")
def duty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The seeded demo with duty hours all day (see the module's docstring)."""
    with serve_demo(tmp_path_factory.mktemp("consult"), show_log=True,
                    PORTAL_CONSULTATION_RULES=ALL_DAY) as base:
        yield base


@pytest.fixture()
def desk(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESK, locale="zh-CN")
    context.set_default_timeout(WAIT)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # data-confirm asks first
    yield page
    context.close()


def _log_in(page: Any, base: str, username: str, then: str) -> None:
    page.goto(base + then)
    page.wait_for_url("**/login**", timeout=WAIT)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url and then.split("?")[0] in url,
                      timeout=WAIT)


def _make_today_a_working_day(browser: Any, base: str) -> None:
    """The admin adds today (Beijing) to the calendar as a make-up working day."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESK, locale="zh-CN")
    context.set_default_timeout(WAIT)
    try:
        admin = context.new_page()
        _log_in(admin, base, "admin", "/admin/holidays/")
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        admin.locator("#first").fill(today)
        admin.locator("#kind").select_option("workday")
        admin.locator("#name").fill("律师值班")
        admin.locator('form:has(#first) [type="submit"]').click()
        expect(admin.locator(".flash-success")).to_be_visible()
    finally:
        context.close()


def _not_blank(pdf: Path, out: Path) -> None:
    from PIL import Image, ImageStat

    assert pdf.read_bytes().startswith(b"%PDF"), "the answer is not a PDF"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf),
                    str(out)], check=True, timeout=60)
    page_png = next(out.parent.glob(out.name + "*.png"))
    with Image.open(page_png) as image:
        grey = image.convert("L")
        dark = sum(grey.histogram()[:128])
        assert dark > 500, f"the answer PDF renders blank ({dark} dark pixels)"
        assert ImageStat.Stat(grey).stddev[0] > 5


def test_consultation_journey(duty_server: str, browser: Any, phone: Any, desk: Any,
                              shots: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    if shutil.which("pdftoppm") is None:
        pytest.skip("needs pdftoppm (poppler-utils) to render the answer PDF")
    base = duty_server
    person = phone
    person.set_default_timeout(WAIT)
    person.on("dialog", lambda dialog: dialog.accept())

    # -- the person finds the offer on the landing page and asks, on a phone ------------
    person.goto(base + "/")
    offer = person.locator('main a[href$="/consultations/ask"]').first
    expect(offer).to_be_visible()
    _shot(person, shots, "01-landing-phone")
    offer.click()
    person.wait_for_url("**/consultations/ask", timeout=WAIT)
    if person.locator("main .flash-success").count() == 0:  # not a working day
        _make_today_a_working_day(browser, base)
        person.reload()
    expect(person.locator("main .flash-success")).to_be_visible()  # on duty now
    _no_sideways_scroll(person)
    person.locator("#name").fill(NAME)
    person.locator("#phone").fill("13900001111")
    person.locator("#topic").select_option("labour")
    person.locator("#question").fill(QUESTION)
    _shot(person, shots, "02-ask-phone")
    person.locator('main form button[type="submit"]').click()
    person.wait_for_url(re.compile(r".*/consultations/c/[a-z0-9]+$"), timeout=WAIT)
    own_page = person.url
    position = person.locator("#wait-status [data-position]")
    expect(position).to_be_visible()
    place = int(position.get_attribute("data-position") or "0")
    assert place >= 1
    _no_sideways_scroll(person)
    _shot(person, shots, "03-waiting-position-phone")

    # -- the duty lawyer takes it from the desk (the demo queue may be ahead of it) -----
    lawyer = desk
    _log_in(lawyer, base, "lawyer", "/consultations/")
    expect(lawyer.locator("#desk-queue table.list")).to_contain_text(NAME)
    _shot(lawyer, shots, "04-desk-queue")
    for _ in range(place):
        lawyer.goto(base + "/consultations/")
        lawyer.locator('#desk-queue form[action$="/take-next"] button').click()
        lawyer.wait_for_url(re.compile(r".*/consultations/\d+$"), timeout=WAIT)
        if NAME in lawyer.locator("h1").inner_text():
            break
    expect(lawyer.locator("h1")).to_contain_text(NAME)
    consultation_url = lawyer.url

    # the person's page turns into the chat, without them reloading it
    chat = person.locator("[data-consult-chat]")
    expect(chat).to_be_visible(timeout=STATUS_WAIT)
    expect(person.locator("#wait-status [data-status]")).to_have_attribute(
        "data-status", "active")

    # -- they chat, both ways, live ---------------------------------------------------------
    lawyer.locator("[data-chat-body]").fill(LAWYER_SAYS)
    lawyer.locator("[data-chat-form] button[type=submit]").click()
    expect(person.locator("[data-chat-messages]")).to_contain_text(LAWYER_SAYS)
    person.locator("[data-chat-body]").fill(ASKER_SAYS)
    person.locator("[data-chat-form] button[type=submit]").click()
    expect(lawyer.locator("[data-chat-messages]")).to_contain_text(ASKER_SAYS)
    _no_sideways_scroll(person)
    _shot(person, shots, "05-chat-phone")
    _shot(lawyer, shots, "06-chat-lawyer")

    # -- the lawyer moves it to video; the person's join button appears -------------------
    lawyer.locator("form.chat-move button[type=submit]").click()
    lawyer.wait_for_url(re.compile(r".*/consultations/\d+/video$"), timeout=WAIT)
    _shot(lawyer, shots, "07-video-lawyer")
    join = person.locator("[data-chat-video] button[type=submit]")
    expect(join).to_be_visible()
    _shot(person, shots, "08-video-offered-phone")
    join.click()
    person.wait_for_url(re.compile(r".*/join/.*"), timeout=WAIT)
    expect(person.locator("h1")).to_be_visible()
    _shot(person, shots, "09-video-join-phone")

    # -- the lawyer closes it, referring to legal aid --------------------------------------
    # the video page leads back to the consultation (its chat and the closing form)
    lawyer.locator(f'main a[href$="{consultation_url.removeprefix(base)}"]').click()
    lawyer.wait_for_url(consultation_url, timeout=WAIT)
    form = lawyer.locator("#outcome form")
    form.locator('input[name="outcome"][value="legal_aid"]').check()
    form.locator("#answer").fill(ANSWER)
    # the application is filled from the consultation
    expect(form.locator("#applicant_name")).to_have_value(NAME)
    expect(form.locator("#matter")).to_have_value(QUESTION)
    form.locator("#grounds").fill(GROUNDS)
    form.locator("#declared").check()
    _shot(lawyer, shots, "10-close-legal-aid")
    form.locator("button[type=submit]").click()
    expect(lawyer.locator(".flash-success")).to_be_visible()
    expect(lawyer.locator("main")).to_contain_text("法律援助")
    _shot(lawyer, shots, "11-closed-lawyer")

    # -- the person sees the answer, downloads the PDF and rates it -----------------------
    # back from the video's check page to their own page, which learns of the close by
    # itself (live, or its poll reloads it)
    person.go_back()
    person.wait_for_url(own_page, timeout=WAIT)
    answer = person.locator("#answer")
    expect(answer).to_be_visible(timeout=STATUS_WAIT)
    expect(answer).to_contain_text(ANSWER[:20])
    expect(person.locator("[data-chat-video]")).to_be_hidden()  # no video after the close
    _no_sideways_scroll(person)
    answer.scroll_into_view_if_needed()
    _shot(person, shots, "12-answer-phone")
    with person.expect_download(timeout=WAIT) as download:
        answer.locator('a[href$="/answer.pdf"]').click()
    pdf = tmp_path / "answer.pdf"
    download.value.save_as(pdf)
    _not_blank(pdf, tmp_path / "answer")
    shutil.copy(next(tmp_path.glob("answer*.png")), shots / "consultation-journey-13-pdf.png")
    answer.locator('input[name="rating"][value="satisfied"]').check()
    answer.locator("button[type=submit]").click()
    expect(person.locator("#answer [role=status]")).to_be_visible()
    _shot(person, shots, "14-rated-phone")

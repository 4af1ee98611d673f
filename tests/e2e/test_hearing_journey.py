"""A public hearing (听证) end to end in the browser, on the seeded demo: the organiser (the
office's clerk) schedules a hearing for a case, draws the panel and publishes the notice;
an expert accepts through the RSVP link of their invitation (read in the outbox, as the
clerk sees it); a member of the public registers to observe on a phone from the public
hearings page; the presiding officer (the demo leader) and the clerk run the stages with a
timed speaker whose countdown the observer and a participant see; the panel members vote
through their personal links, the presiding officer writes the panel's opinion and freezes
the deliberation record; the minutes are frozen, one member signs on the canvas and one
refuses with a reason; the record is filed, the case file's timeline shows every step and
its PDF renders. Screenshots of each step go to the screenshot folder (phone and desk)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.fixtures.core import wait_until

DESK = {"width": 1280, "height": 900}
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN"}
WAIT = 15_000  # ms: every wait in a page is bounded
CASE = "2026-XF-000027"  # a demo re-review request of the county office, no hearing yet
TITLE = "征地补偿款截留问题复核听证会"
LEADER = "张建国"  # the demo `leader`, presiding
CLERK = "李晓红"  # the demo `clerk`: organiser and hearing clerk
OBSERVER = "周旁听"
OBSERVER_PHONE = "13912345678"
OBSERVER_ID = "110101195001011239"  # a well-formed resident ID number
MINUTES = "主持人宣布听证开始，告知回避权利；信访人及承办单位均不申请回避。"
OPINION = "听证员多数意见：村组应公开补偿款账目并于三十日内足额发放。"
REFUSAL = "笔录未记录本人关于账目公开的补充意见，不予签名。"
#: the answer's tag ("已接受" once the lead compiles this branch's zh_CN strings)
ACCEPTED = re.compile("已接受|Accepted to take part")
RSVP = re.compile(r"/hearings/rsvp/([A-Za-z0-9_-]+)")


def _shot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"hearing-journey-{name}.png"))


def _soon() -> tuple[datetime, datetime]:
    """A start 20 minutes from now and an end 30 minutes later, Beijing time, on one day
    (past 23:10 the hearing is held just after midnight: still within the hour)."""
    beijing = ZoneInfo("Asia/Shanghai")
    starts = (datetime.now(beijing) + timedelta(minutes=20)).replace(second=0, microsecond=0)
    ends = starts + timedelta(minutes=30)
    if ends.date() != starts.date():
        starts = datetime.combine(ends.date(), time(0, 5), tzinfo=beijing)
        ends = starts + timedelta(minutes=30)
    return starts, ends


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"


def _log_in(page: Any, base: str, username: str) -> None:
    """Log in from the login page and land on the home page."""
    page.goto(base + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url, timeout=WAIT)


def _hearings_menu(page: Any) -> None:
    """Open the hearings list from the menu."""
    page.locator("nav").get_by_role("link", name="听证", exact=True).first.click()
    page.wait_for_url("**/hearings/**")


def _success(page: Any, text: str | None = None) -> None:
    from playwright.sync_api import expect

    flash = page.locator(".flash-success").first
    if text is None:
        expect(flash).to_be_visible(timeout=WAIT)
    else:
        expect(flash).to_contain_text(text, timeout=WAIT)


def _confirming(page: Any) -> None:
    """Accept the page's confirmation questions (data-confirm, the live buttons' ask)."""
    page.on("dialog", lambda dialog: dialog.accept())


@pytest.fixture()
def pages(browser: Any) -> Iterator[Any]:
    """A factory of pages, each in a context (a login, a device) of its own."""
    contexts: list[Any] = []

    def open_page(phone: bool = False) -> Any:
        context = browser.new_context(**PHONE) if phone else browser.new_context(
            viewport=DESK, locale="zh-CN")
        context.set_default_timeout(WAIT)
        contexts.append(context)
        page = context.new_page()
        _confirming(page)
        return page

    yield open_page
    for context in contexts:
        context.close()


SECONDS_LEFT = """() => {
  const m = /^(\\d+):(\\d\\d)$/.exec(document.querySelector('#live-countdown').textContent.trim());
  return m ? Number(m[1]) * 60 + Number(m[2]) : -1;
}"""


def _countdown_runs(page: Any) -> int:
    """The speaker's countdown shows minutes and seconds and ticks down; the seconds left."""
    page.wait_for_function(f"() => ({SECONDS_LEFT})() > 0", timeout=WAIT)
    first = page.evaluate(SECONDS_LEFT)
    page.wait_for_function(f"(first) => {{ const s = ({SECONDS_LEFT})(); "
                           "return s >= 0 && s < first; }", arg=first, timeout=WAIT)
    left: int = page.evaluate(SECONDS_LEFT)
    return left


def _next_stage(page: Any, label: str) -> None:
    from playwright.sync_api import expect

    page.locator('[data-live="next"]').click()
    expect(page.locator("#live-stage")).to_have_text(label, timeout=WAIT)


def test_hearing_journey(live_server: str, pages: Any, shots: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    base = live_server

    # -- the organiser schedules the hearing for the case -----------------------------------
    clerk = pages()
    _log_in(clerk, base, "clerk")
    # the presiding leader works on the case file (the hearing's start, end and record go
    # into it): the clerk names him the case's responsible leader first
    clerk.locator("nav").get_by_role("link", name="案件", exact=True).first.click()
    clerk.wait_for_url("**/cases**")
    clerk.locator("#q").fill(CASE)
    clerk.locator("#q").press("Enter")
    clerk.locator("#results").get_by_role("link", name=CASE).click()
    clerk.wait_for_url(f"**/cases/{CASE}")
    clerk.locator("#leader_id").select_option(label=LEADER)
    clerk.locator("#plan").fill("主持复核听证。")
    clerk.locator('form[action$="/leader"] button[type=submit]').click()
    _success(clerk, f"已确定 {LEADER} 为包案领导")
    _hearings_menu(clerk)
    clerk.locator("#case_number").fill(CASE)
    clerk.locator("#case_number").press("Enter")
    clerk.wait_for_url("**/hearings/new?**")
    expect(clerk.get_by_role("heading", level=1)).to_contain_text(CASE)
    clerk.locator("#kind").select_option("re_review")
    clerk.locator("#title").fill(TITLE)
    # the form offers the first day outside the notice period; the journey holds the
    # hearing within the hour instead (a hearing starts at the earliest an hour before its
    # time), so it is urgent, with its reason on the file
    assert clerk.locator("#day").input_value()
    starts, ends = _soon()
    clerk.locator("#day").fill(starts.strftime("%Y-%m-%d"))
    clerk.locator("#starts").fill(starts.strftime("%H:%M"))
    clerk.locator("#ends").fill(ends.strftime("%H:%M"))
    clerk.locator("#is_urgent").check()
    clerk.locator("#urgent_reason").fill("信访人年迈体弱，经协商尽快举行。")
    clerk.locator("#place_kind").select_option("both")
    clerk.locator("#place").fill("县信访局三楼听证室")
    clerk.locator("#presiding_id").select_option(label=LEADER)
    clerk.locator("#clerk_id").select_option(label=CLERK)
    clerk.locator("#agenda").fill("一、承办单位陈述；二、信访人陈述；三、质证；四、最后陈述。")
    clerk.locator("#is_public").select_option("1")
    clerk.locator("#panel_size").fill("5")
    clerk.locator("#observer_seats").fill("20")
    _shot(clerk, shots, "01-schedule-desk")
    clerk.locator("form.card button[type=submit]").click()
    clerk.wait_for_url(re.compile(r".*/hearings/\d+$"))
    _success(clerk)
    hearing_url = clerk.url
    hearing_id = int(hearing_url.rsplit("/", 1)[1])
    expect(clerk.get_by_role("heading", level=1)).to_have_text(TITLE)

    # -- the panel is drawn, the notice published -------------------------------------------
    clerk.locator(f'form[action$="/hearings/{hearing_id}/panel/draw"] button').click()
    clerk.wait_for_url(f"**/hearings/{hearing_id}**")
    seats = clerk.locator("#panel tbody tr")
    expect(seats).to_have_count(5)
    members = [seats.nth(i).locator("td").nth(1).inner_text().strip() for i in range(5)]
    expect(clerk.locator("#panel .draw-explanation")).to_be_visible()
    clerk.locator("#panel").scroll_into_view_if_needed()
    _shot(clerk, shots, "02-panel-drawn-desk")
    clerk.locator(f'form[action$="/hearings/{hearing_id}/notice"] button').click()
    _success(clerk)
    expect(clerk.locator("#observers")).to_contain_text("公告")

    # -- the invitations, as the outbox holds them (no SMTP in the demo; the administrator
    # reads it): each member's personal link ------------------------------------------------
    admin = pages()
    _log_in(admin, base, "admin")
    admin.locator("nav").get_by_role("link", name="发件箱").first.click()
    admin.wait_for_url("**/dev/outbox**")
    bodies = admin.locator("table.outbox tbody tr").all_text_contents()
    tokens: dict[str, str] = {}
    for name in members:
        for body in bodies:
            found = RSVP.search(body)
            if found and name in body and TITLE in body and name not in tokens:
                tokens[name] = found.group(1)
                break
    assert set(tokens) == set(members), (members, tokens, bodies[:8])
    _shot(admin, shots, "03-outbox-invitations-desk")

    # -- an expert accepts through the RSVP link, on a phone --------------------------------
    clerk.goto(hearing_url)
    kinds = [seats.nth(i).locator("td").nth(2).inner_text() for i in range(5)]
    expert_name = next(n for n, k in zip(members, kinds, strict=True) if "专家" in k)
    expert = pages(phone=True)
    expert.goto(f"{base}/hearings/rsvp/{tokens[expert_name]}")
    expect(expert.get_by_role("heading", level=1)).to_be_visible()
    expect(expert.locator("main")).to_contain_text(expert_name)
    expert.locator('input[name="answer"][value="accept"]').check()
    _no_sideways_scroll(expert)
    _shot(expert, shots, "04-rsvp-phone")
    expert.locator('form[action*="/rsvp/"] button[type=submit]').click()
    expect(expert.locator("dl.facts .tag")).to_have_text(ACCEPTED, timeout=WAIT)
    _shot(expert, shots, "05-rsvp-accepted-phone")
    clerk.reload()
    expect(clerk.locator("#invitations")).to_contain_text(ACCEPTED)

    # -- a member of the public registers to observe, on a phone ----------------------------
    public = pages(phone=True)
    public.goto(base + "/")
    public.locator('a[href$="/hearings/public"]').first.click()
    public.wait_for_url("**/hearings/public")
    _no_sideways_scroll(public)
    _shot(public, shots, "06-public-list-phone")
    public.get_by_role("link", name=TITLE).click()
    public.wait_for_url(f"**/hearings/public/{hearing_id}")
    public.locator("#name").fill(OBSERVER)
    public.locator("#phone").fill(OBSERVER_PHONE)
    public.locator("#id_kind").select_option("resident_id")
    public.locator("#id_number").fill(OBSERVER_ID)
    _no_sideways_scroll(public)
    _shot(public, shots, "07-observe-register-phone")
    public.locator(f'form[action$="/hearings/public/{hearing_id}"] button[type=submit]').click()
    own = public.locator('a[href*="/hearings/observe/"]').first
    expect(own).to_be_visible()
    _no_sideways_scroll(public)  # the long personal link wraps
    _shot(public, shots, "08-observe-registered-phone")
    own.click()
    public.wait_for_url("**/hearings/observe/**")
    _no_sideways_scroll(public)
    public.get_by_role("link", name=re.compile("旁听|观看|follow|watch", re.I)).first.click()
    public.wait_for_url("**/hearings/watch/**")
    expect(public.locator("#live-connection")).to_have_text(re.compile("已连接|Connected"))

    # -- the presiding officer and the clerk run the hearing --------------------------------
    leader = pages()
    _log_in(leader, base, "leader")
    _hearings_menu(leader)
    leader.get_by_role("link", name=TITLE).click()
    leader.locator(f'a[href$="/hearings/{hearing_id}/live/control"]').click()
    leader.wait_for_url("**/live/control")
    expect(leader.locator("#live-connection")).to_have_text(re.compile("已连接|Connected"))
    clerk.goto(hearing_url)
    clerk.locator(f'a[href$="/hearings/{hearing_id}/live/control"]').click()
    clerk.wait_for_url("**/live/control")
    participant = pages(phone=True)
    participant.goto(f"{base}/hearings/p/{tokens[expert_name]}")
    leader.locator('[data-live="start"]').click()
    expect(leader.locator("#live-stage")).to_have_text("宣布开始及回避", timeout=WAIT)
    expect(public.locator("#live-stage")).to_have_text("宣布开始及回避", timeout=WAIT)
    clerk.locator("#minutes-opening").fill(MINUTES)
    expect(clerk.locator("#minutes-opening-status")).to_have_text(
        re.compile("已保存|Saved"), timeout=WAIT)
    _next_stage(leader, "承办单位陈述事实")

    # a timed speaker: five minutes for the expert; every screen counts down
    option = leader.locator("#speaker-person option", has_text=expert_name)
    leader.locator("#speaker-person").select_option(option.get_attribute("value"))
    leader.locator("#speaker-minutes").fill("5")
    leader.locator("#speaker-add button[type=submit]").click()
    expect(leader.locator("#live-queue")).to_contain_text(expert_name)
    leader.locator('[data-speaker="start"]').click()
    for page in (leader, public, participant):
        expect(page.locator("#live-speaker-name")).to_contain_text(expert_name, timeout=WAIT)
        _countdown_runs(page)
    # on server time: the three screens read the same (give or take a tick between reads)
    left = [page.evaluate(SECONDS_LEFT) for page in (leader, public, participant)]
    assert max(left) - min(left) <= 2 and 0 < min(left) <= 300, left
    _shot(leader, shots, "09-live-control-desk")
    _no_sideways_scroll(public)
    _shot(public, shots, "10-observer-countdown-phone")
    _no_sideways_scroll(participant)
    _shot(participant, shots, "11-participant-countdown-phone")
    leader.locator('[data-speaker="stop"]').click()

    for label in ("信访人陈述", "询问", "最后陈述", "闭门评议"):
        _next_stage(leader, label)

    # -- private deliberation: every member votes on their own link -------------------------
    # The votes stay hidden and the panel's opinion waits until all are in, so after the
    # two members whose voting the journey shows, the other three vote the same way.
    for i, name in enumerate(members):
        member = participant if name == expert_name else pages()
        member.goto(f"{base}/hearings/p/{tokens[name]}")
        member.locator("#deliberation-link a").click()
        member.wait_for_url("**/hearings/deliberate/**")
        member.locator('input[name="vote"]').nth(0 if i != 1 else 1).check()
        member.locator("#opinion").fill("补偿款应公开账目并足额发放。" if i != 1
                                        else "证据尚不充分，建议补充调查后再定。")
        if i < 2:
            _shot(member, shots, f"12-vote-{i + 1}-{'phone' if member is participant else 'desk'}")
        member.locator('#my-vote button[type=submit]').click()
        _success(member)
    leader.locator("#deliberation-link a").click()
    leader.wait_for_url(f"**/hearings/{hearing_id}/deliberation")
    expect(leader.locator("#progress-complete")).to_be_visible()
    leader.locator("#text").fill(OPINION)
    leader.locator('#panel-opinion button[type=submit]').click()
    _success(leader)
    leader.locator('#record form button[type=submit]').click()
    _success(leader)
    _shot(leader, shots, "13-deliberation-frozen-desk")

    # -- the opinion is given and the hearing ends ------------------------------------------
    leader.goto(f"{base}/hearings/{hearing_id}/live/control")
    expect(leader.locator("#live-connection")).to_have_text(re.compile("已连接|Connected"))
    _next_stage(leader, "听证意见")
    leader.locator('[data-live="end"]').click()
    expect(leader.locator("#live-stage")).to_have_text("已结束", timeout=WAIT)

    # -- the minutes are frozen; one member signs, one refuses ------------------------------
    clerk.goto(hearing_url)
    clerk.locator(f'a[href$="/hearings/{hearing_id}/record"]').click()
    clerk.wait_for_url("**/record")
    clerk.locator(f'form[action$="/hearings/{hearing_id}/record/freeze"] button').click()
    _success(clerk)
    _shot(clerk, shots, "14-record-frozen-desk")

    signer = participant
    signer.goto(f"{base}/hearings/p/{tokens[expert_name]}")
    signer.locator('a[href*="/hearings/sign/"]').click()
    signer.wait_for_url("**/hearings/sign/**")
    signer.locator("#has_read").check()
    pad = signer.locator("canvas.pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None
    signer.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.6)
    signer.mouse.down()
    for step in range(1, 12):
        signer.mouse.move(box["x"] + 20 + step * (box["width"] - 40) / 11,
                          box["y"] + box["height"] * (0.3 if step % 2 else 0.7), steps=3)
    signer.mouse.up()
    wait_until(lambda: bool(signer.locator("#signature").input_value()), 5, "a drawn signature")
    _no_sideways_scroll(signer)
    _shot(signer, shots, "15-sign-drawn-phone")
    signer.locator('form.card button[type=submit]').click()
    expect(signer.locator(".record-done")).to_contain_text("签", timeout=WAIT)
    _shot(signer, shots, "16-signed-phone")

    refuser_name = next(n for n in members if n != expert_name)
    refuser = pages(phone=True)
    refuser.goto(f"{base}/hearings/p/{tokens[refuser_name]}")
    refuser.locator('a[href*="/hearings/sign/"]').click()
    refuser.wait_for_url("**/hearings/sign/**")
    refuser.locator("details.refuse summary").click()
    refuser.locator("details.refuse textarea").fill(REFUSAL)
    _shot(refuser, shots, "17-refuse-phone")
    refuser.locator("details.refuse button[type=submit]").click()
    expect(refuser.locator(".record-done")).to_contain_text("拒", timeout=WAIT)

    # -- the record is filed ----------------------------------------------------------------
    clerk.reload()
    expect(clerk.locator("#signers")).to_contain_text(REFUSAL)
    confirm = clerk.locator("#confirm_unsigned")
    if confirm.count():
        confirm.check()
    clerk.locator(f'form[action$="/hearings/{hearing_id}/record/file"] button').click()
    _success(clerk)
    _shot(clerk, shots, "18-record-filed-desk")

    # -- the case file shows it all ---------------------------------------------------------
    clerk.locator(f'a[href$="/cases/{CASE}"]').first.click()
    clerk.wait_for_url(f"**/cases/{CASE}")
    timeline = clerk.locator("#timeline")
    for title in ("安排听证", "已抽取听证员", "听证公告已发布", "听证开始", "听证结束",
                  "听证笔录已归档"):
        expect(timeline.locator("strong", has_text=title).first).to_be_visible()
    # the record and the deliberation record went in as documents, on the timeline too
    expect(timeline).to_contain_text(f"hearing-{hearing_id}-record-v1.pdf")
    expect(timeline).to_contain_text(f"hearing-{hearing_id}-deliberation-v1.pdf")
    documents = clerk.locator("#documents")
    expect(documents).to_contain_text(f"hearing-{hearing_id}-record-v1.pdf")
    timeline.locator("strong", has_text="听证笔录已归档").first.scroll_into_view_if_needed()
    _shot(clerk, shots, "19-case-timeline-desk")

    # -- the record's PDF downloads and renders ---------------------------------------------
    record_doc = documents.locator("ul.documents > li",
                                   has_text=f"hearing-{hearing_id}-record-v1.pdf").first
    expect(record_doc).to_be_visible()
    link = record_doc.locator('a[href$="?download=1"]').first
    with clerk.expect_download() as download_info:
        link.click()
    pdf = tmp_path / "record.pdf"
    download_info.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed: the PDF is not rendered")
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True, timeout=60)
    [png] = tmp_path.glob("page*.png")
    shutil.copy(png, shots / "hearing-journey-20-record-pdf.png")
    from PIL import Image

    with Image.open(png) as image:
        dark = sum(image.convert("L").histogram()[:128])  # pixels of ink (text, QR code)
    assert dark > 2000, f"the record's first page is blank ({dark} dark pixels)"

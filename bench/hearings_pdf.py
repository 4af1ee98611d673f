"""The signed hearing record as a PDF: a 3-hour hearing's minutes.

About three hours of speech taken down by the clerk — 40,000 to 60,000 Chinese characters
(`--chars`, default 50,000) spread over the six minuted stages — with 9 participants
(presiding officer, clerk, petitioner, handling agency, five panel members), each with a
drawn signature (a PNG like the signature pad sends, one refusal among them), rendered as
the filing renders it (hearings.record_pdf.record_pdf: WeasyPrint in a child process,
portal.casefiles.export.html_to_pdf). Prints one JSON line:

- render_s_median of `--runs` (5) renders, and each run's time, the HTML's and the PDF's
  size and page count;
- cold_render_s: one render with no spare child waiting (WeasyPrint imported first), and
  render_s_median: renders as filing does them, the spare child (WeasyPrint already
  imported, hearings.record_pdf) taking each;
- peak RSS of the rendering child (its own VmHWM, read in the child at the end of a
  render: getrusage(RUSAGE_CHILDREN) would count the parent's pages the child had between
  fork and exec) and of this parent process (getrusage(RUSAGE_SELF)).

Targets: render under 1 s, under 150 MB.

    .venv/bin/python bench/hearings_pdf.py [--chars 50000] [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

from _common import bench_app, emit

SENTENCES = [
    "信访人陈述：{p}年以来，村里调整承包地时把我家的{n}亩地划给了别人，一直没有给补偿。",
    "承办单位答复：经核查，该地块于{p}年列入道路建设用地，补偿款已按当时标准发放到村组。",
    "听证员发问：补偿款发放到村组以后，是否按户分配？有没有张榜公示？",
    "村委会代表回答：当时开过村民代表会议，会议记录在镇里存档，公示了{n}天。",
    "信访人补充：公示的名单上没有我家的名字，我找过村里{n}次，每次都说再研究。",
    "主持人提示：请各方围绕补偿标准和分配程序发表意见，每人发言不超过十分钟。",
    "承办单位补充：按照{p}年的补偿标准，每亩补偿{m}元，另有青苗费和安置补助费。",
    "听证员发问：信访人是否在规定期限内提出过复查申请？复查意见书是否送达本人？",
    "信访人回答：复查意见书是{p}年收到的，对其中认定的面积不认可，实际面积更大。",
    "书记员记录：信访人当场出示土地承包经营权证复印件一份，记载面积与村里台账不一致。",
]
STAGE_SHARE = {"opening": 0.05, "agency_facts": 0.2, "petitioner": 0.25, "questions": 0.3,
               "closing": 0.12, "opinion": 0.08}


def minutes(chars: int, seed: int = 7) -> dict[str, str]:
    rng = random.Random(seed)
    out = {}
    for stage, share in STAGE_SHARE.items():
        parts: list[str] = []
        size = 0
        while size < chars * share:
            s = rng.choice(SENTENCES).format(p=rng.randint(2008, 2024), n=rng.randint(2, 30),
                                             m=rng.randint(8000, 60000))
            parts.append(s)
            size += len(s)
            if rng.random() < 0.2:
                parts.append("\n")
        out[stage] = "".join(parts)
    return out


def signature_png(seed: int) -> bytes:
    """A drawn signature the size the pad sends from a phone (720×400, strokes only)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    img = Image.new("RGBA", (720, 400), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    for _stroke in range(rng.randint(3, 6)):
        points = [(rng.randint(40, 680), rng.randint(60, 340)) for _ in range(rng.randint(6,
                                                                                          14))]
        draw.line(points, fill=(17, 17, 17, 255), width=5, joint="curve")
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def build(app: Any, chars: int) -> tuple[Any, Any]:
    from hearings import record as rec
    from hearings.models import (
        Attendance,
        Hearing,
        HearingStatus,
        MinutesSection,
        Participant,
        RecordVersion,
        Signature,
        Speaker,
        Stage,
    )
    from hearings.record_text import assemble_text
    from portal.auth import operations as auth_ops
    from portal.auth.roles import Role
    from portal.casefiles import blobs
    from portal.casefiles import operations as case_ops
    from portal.extensions import db
    from portal.orgs.models import Organisation
    from portal.timeutil import utcnow

    s = db.session()
    office = Organisation(name="县信访局", kind="agency", sector="petition")
    s.add(office)
    s.flush()
    users = [auth_ops.create_user(s, username=u, display_name=n, password="bench password",
                                  roles={r}, organisations=[office], check_password=False)
             for u, n, r in (("presiding", "王主持", Role.LEADER),
                             ("clerk", "李书记", Role.CLERK))]
    case, _code = case_ops.register_case(
        s, users[1], channel="walk_in", kind="land", summary="承包地被占用未予补偿",
        petitioners=[{"name": "张秀英"}])
    start = (utcnow() - timedelta(hours=4)).replace(microsecond=0)
    hearing = Hearing(case_id=case.id, kind="re_review", status=HearingStatus.RUNNING,
                      title="张秀英承包地补偿复核听证会", starts_at=start,
                      ends_at=start + timedelta(hours=3), place="县信访局第一听证室",
                      office_id=office.id, presiding_id=users[0].id, clerk_id=users[1].id,
                      ical_uid="bench@portal", created_by_id=users[1].id, stage=Stage.ENDED,
                      started_at=start, ended_at=start + timedelta(hours=3),
                      panel_opinion="五名听证员中四名支持信访人部分诉求，一名不支持。")
    s.add(hearing)
    s.flush()
    people = [("presiding", "王主持", users[0].id), ("clerk", "李书记", users[1].id),
              ("petitioner", "张秀英", None), ("agency", "县自然资源局 赵科长", None)]
    people += [("panel", name, None) for name in ("周人大", "吴政协", "郑专家", "孙律师",
                                                  "钱教授")]
    parts = []
    for i, (role, name, user_id) in enumerate(people):
        p = Participant(hearing=hearing, role=role, name=name, user_id=user_id,
                        seat_no=i - 3 if role == "panel" else None,
                        panel_kind="expert" if role == "panel" else None, rsvp="accepted",
                        attendance=Attendance.IN_ROOM, checked_in_at=start)
        s.add(p)
        parts.append(p)
    s.flush()
    for stage, text in minutes(chars).items():
        s.add(MinutesSection(hearing_id=hearing.id, stage=stage, text=text, version=3))
    for i, p in enumerate(parts[2:4]):
        s.add(Speaker(hearing_id=hearing.id, participant_id=p.id, stage=Stage.PETITIONER,
                      position=i, seconds=600, started_at=start + timedelta(minutes=40 + i * 12),
                      ended_at=start + timedelta(minutes=49 + i * 12)))
    s.flush()
    text = assemble_text(s, hearing)
    version = RecordVersion(hearing_id=hearing.id, kind="record", number=1, text=text,
                            sha256=hashlib.sha256(text.encode()).hexdigest(),
                            frozen_by_id=users[1].id)
    s.add(version)
    hearing.status = HearingStatus.SIGNING
    s.flush()
    for i, p in enumerate(parts):
        if i == 3:  # one refusal, with its reason
            s.add(Signature(record_version_id=version.id, participant_id=p.id,
                            status="refused", method="own_device", signer_name=p.name,
                            refusal_reason="对第二部分事实认定有不同意见，已另行书面提交。"))
            continue
        sha, _size = blobs.store_bytes(signature_png(i))
        s.add(Signature(record_version_id=version.id, participant_id=p.id, status="signed",
                        method="tablet" if i % 2 else "own_device", image_sha256=sha,
                        signer_name=p.name, witnessed_by_id=users[1].id if i % 2 else None))
    s.commit()
    assert len(rec.signatures_of(s, version)) == 9
    return hearing, version


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith(field)).split()[1])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_peak_kb(html: str) -> int:
    """The renderer's own peak RSS for one render, as the child reads it at its end."""
    from hearings.record_pdf import _RENDERER

    code = ("import runpy, sys; ns = runpy.run_path(sys.argv[1]); "
            "ns['render'](sys.stdin.buffer.read().decode()); "
            "print([l.split()[1] for l in open('/proc/self/status') "
            "if l.startswith('VmHWM')][0])")
    done = subprocess.run([sys.executable, "-I", "-c", code, str(_RENDERER)],
                          input=html.encode(), capture_output=True, check=True, timeout=300)
    return int(done.stdout.split()[-1])


def pages(pdf: bytes) -> int | None:
    """The page count, by pdfinfo (poppler-utils) when it is there."""
    import shutil

    if not shutil.which("pdfinfo"):
        return None
    info = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, timeout=60)
    for line in info.stdout.decode(errors="replace").splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chars", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dump-html", help="also write the record's HTML to this file")
    args = parser.parse_args()
    from hearings import record_pdf as rp
    from portal.extensions import db

    with bench_app("sqlite", default_locale="zh_CN") as app, app.app_context():
        hearing, version = build(app, args.chars)
        with app.test_request_context(base_url="https://portal.example.gov.cn"):
            html = rp.record_html(db.session(), hearing, version)
            if args.dump_html:
                with open(args.dump_html, "w", encoding="utf-8") as out:
                    out.write(html)
            rp._end_spare()  # a cold start first: nothing waiting
            rss_before = _status_kb("VmRSS")
            started = time.perf_counter()
            pdf = rp.record_pdf(db.session(), hearing, version)
            cold = time.perf_counter() - started
            times, cpu = [], []
            for _ in range(args.runs):
                time.sleep(1.0)  # as between two filings: the spare has imported WeasyPrint
                before = _children_cpu()
                started = time.perf_counter()
                pdf = rp.record_pdf(db.session(), hearing, version)
                times.append(time.perf_counter() - started)
                cpu.append(_children_cpu() - before)
            rp._end_spare()
            rss_after = _status_kb("VmRSS")
    child_kb = child_peak_kb(html)
    parent_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cjk = sum(1 for ch in version.text if "\u4e00" <= ch <= "\u9fff")
    emit({"bench": "hearing_record_pdf", "chinese_chars": cjk, "signatures": 9,
          "html_bytes": len(html.encode()), "pdf_bytes": len(pdf), "pages": pages(pdf),
          "cold_render_s": round(cold, 3),
          "render_s_median": round(statistics.median(times), 3),
          "render_s": [round(t, 3) for t in times],
          # CPU seconds of the child (its WeasyPrint import included): what wall time
          # would be on an idle machine, whatever else shares the CPU
          "child_cpu_s_median": round(statistics.median(cpu), 3),
          "load_average_1min": round(os.getloadavg()[0], 2),
          "child_peak_rss_mb": round(child_kb / 1024, 1),
          "parent_peak_rss_mb": round(parent_kb / 1024, 1),
          # what rendering added to the parent (the app, migrations and Pillow are the rest)
          "parent_rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
          "target_s": 1.0, "target_mb": 150})


if __name__ == "__main__":
    main()

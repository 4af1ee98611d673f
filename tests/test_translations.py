"""Every user-facing string has a Chinese translation (zh_CN is the portal's first language)."""

from __future__ import annotations

import subprocess
import sys

from babel.messages.pofile import read_po

from tests.fixtures.core import ROOT

CATALOG = ROOT / "translations" / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"


def _extract(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract",
                    "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-o", str(pot),
                    "."], cwd=ROOT, check=True, capture_output=True, timeout=120)
    with pot.open("rb") as f:
        return read_po(f)


def test_every_string_in_the_code_is_translated_to_chinese(tmp_path):
    source = _extract(tmp_path)
    with CATALOG.open("rb") as f:
        zh = read_po(f, locale="zh_CN")
    assert len(source) > 100  # the extraction found the templates and the code
    missing = []
    for message in source:
        if not message.id:
            continue
        translated = zh.get(message.id, message.context)
        if translated is None or not translated.string or translated.fuzzy:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    assert not missing, f"{len(missing)} strings lack a zh_CN translation, e.g. {missing[:15]}"


def test_chinese_translations_keep_their_placeholders():
    with CATALOG.open("rb") as f:
        zh = read_po(f, locale="zh_CN")
    problems = [(m.id, [str(e) for e in errors]) for m, errors in zh.check() if errors]
    assert not problems, problems[:10]

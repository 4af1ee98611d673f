"""HTML on stdin → PDF on stdout, with WeasyPrint, in a process of its own.

export.py runs this file as a script (not as `-m portal...`, so that nothing of the
portal is imported here) for every PDF export: WeasyPrint parses the CJK fonts with
fontTools to subset them, which takes some hundred megabytes that the allocator of a
long-lived server process does not give back — in a child they go back to the system
when it exits. Nothing is fetched from the network: there is no base URL and the URL
fetcher allows inline data: URLs only."""

from __future__ import annotations

import sys


def render(html: str) -> bytes:
    from weasyprint import HTML, URLFetcher

    fetcher = URLFetcher(allowed_protocols=("data",), timeout=1)
    pdf: bytes = HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()
    return pdf


def main() -> int:
    html = sys.stdin.buffer.read().decode("utf-8")
    sys.stdout.buffer.write(render(html))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

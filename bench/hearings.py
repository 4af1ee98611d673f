"""The hearings' figures (issue 06), one part after another, each printing its own JSON:

- hearings_draw.py       panel draw from 2,000 registry people with 500 booked slots (< 50 ms)
- hearings_observers.py  300 people registering within a minute for 100 seats: none lost,
                         none seated twice, p95 < 100 ms (SQLite and PostgreSQL)
- hearings_live.py       300 connected hearing clients: a stage change reaches all, p99 < 100 ms
- hearings_pdf.py        the record PDF of a 3-hour hearing: < 1 s and < 150 MB peak

    .venv/bin/python bench/hearings.py [--only draw,observers,live,pdf]

Extra arguments after `--` go to every part (e.g. `-- --backend sqlite`)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

PARTS = ("draw", "observers", "live", "pdf")
HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS),
                        help="comma-separated parts: " + ", ".join(PARTS))
    args, rest = parser.parse_known_args()
    rest = [a for a in rest if a != "--"]
    failed = 0
    for part in [p.strip() for p in args.only.split(",") if p.strip()]:
        if part not in PARTS:
            parser.error(f"unknown part {part!r}")
        print(f"# hearings: {part}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / f"hearings_{part}.py"), *rest],
                              check=False)
        failed += done.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

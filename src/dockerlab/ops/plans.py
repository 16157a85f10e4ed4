"""Timing plans from the lessons' own figures: each lesson's first cell says "**Time: about N minutes**" (lesson and
exercise, estimated from its cells, builds and the exercise's size); the plans in docs/instructor.md and the course's
total in README.md add those up, written here so they never drift (``make exercises`` rewrites them, a sync test
compares).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from dockerlab.paths import repo_root

TIME = re.compile(r"\*\*Time: about (\d+) minutes\*\*")
BEGIN, END = "<!-- timing plans: generated from the lessons' first cells (make exercises) -->", "<!-- end of timing plans -->"
TOTAL_BEGIN, TOTAL_END = "<!-- course time -->", "<!-- end of course time -->"
PLANS = [  # session, lesson numbers (two-day plans: one list a day)
    ("short", [["00", "01", "02", "03"]]),
    ("half day", [["00", "01", "02", "03", "04", "05", "09"]]),
    ("two days", [["00", "01", "02", "03", "04", "05", "06", "07"], ["08", "09", "10", "11", "12", "13", "14"]]),
]


def minutes(root: Path | None = None) -> dict[str, tuple[str, int]]:
    """{"01": ("01_images_and_containers", 55), …} from each lesson notebook's first cell."""
    out = {}
    for nb in sorted((root or repo_root()).glob("notebooks/[0-9][0-9]_*.ipynb")):
        first = "".join(json.loads(nb.read_text())["cells"][0]["source"])
        m = TIME.search(first)
        if m:
            out[nb.stem[:2]] = (nb.stem, int(m.group(1)))
    return out


def _hm(total: int) -> str:
    return f"{total // 60} h {total % 60:02d}"


def table(root: Path | None = None) -> str:
    mins = minutes(root)
    rows = ["| session | lessons (minutes, from each lesson's first cell) | total |", "|---|---|---|"]
    for name, days in PLANS:
        parts, totals = [], []
        for i, day in enumerate(days, 1):
            known = [n for n in day if n in mins]
            listed = ", ".join(f"{mins[n][0].replace('_', ' ')} ({mins[n][1]})" for n in known)
            parts.append(f"day {i}: {listed}" if len(days) > 1 else listed)
            totals.append(sum(mins[n][1] for n in known))
        rows.append(f"| {name} | {'; '.join(parts)} | {' + '.join(_hm(t) for t in totals)} |")
    return "\n".join(rows)


def course_total(root: Path | None = None) -> str:
    total = sum(m for _, m in minutes(root).values())
    return f"about {_hm(total).replace(' h ', ' h ')} ({total} minutes, the sum of the times the lessons state)"


def _between(text: str, begin: str, end: str, body: str) -> str:
    a, b = text.find(begin), text.find(end)
    if a < 0 or b < a:
        return text
    return text[: a + len(begin)] + "\n" + body + "\n" + text[b:]


def rendered(root: Path | None = None) -> dict[Path, str]:
    """The files as they should read: {path: text}."""
    root = root or repo_root()
    out = {}
    doc = root / "docs" / "instructor.md"
    out[doc] = _between(doc.read_text(), BEGIN, END, table(root))
    readme = root / "README.md"
    out[readme] = _between(readme.read_text(), TOTAL_BEGIN, TOTAL_END, course_total(root))
    return out


def write(root: Path | None = None) -> list[Path]:
    changed = []
    for path, text in rendered(root).items():
        if path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def drift(root: Path | None = None) -> list[str]:
    return [f"{p.name}: timing figures differ from the lessons' (run make exercises)"
            for p, text in rendered(root).items() if p.read_text() != text]

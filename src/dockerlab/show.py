"""Showing things to the learner: the CLI twin of each action, and small tables."""
from __future__ import annotations

import html
import os
import shlex
import sys
from typing import Any, Iterable, Sequence


def cli(*args: str | Sequence[str]) -> str:
    """Print the ``docker …`` command equivalent to what a helper is about to do, and return it.

    ``cli("docker", "run", "--rm", image)`` or ``cli("docker run --rm python")``: strings are joined as
    they are; items of a list are shell-quoted (``cli(["docker", "run", image, "python", "-c", code])``).
    Silence with DOCKERLAB_SHOW_CLI=0.
    """
    parts: list[str] = []
    for a in args:
        if isinstance(a, str):
            parts.append(a)
        else:
            parts.extend(shlex.quote(str(x)) for x in a)
    line = " ".join(parts)
    if os.environ.get("DOCKERLAB_SHOW_CLI", "1") != "0":
        print(f"$ {line}", file=sys.stdout, flush=True)
    return line


def short(text, n: int = 60) -> str:
    """Fold white space and cut ``text`` to ``n`` characters with an ellipsis (for tables and messages)."""
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def human_size(n: float | int | None) -> str:
    """1234567 -> '1.2 MB' (decimal units, as `docker images` prints)."""
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Table:
    """A list of rows (dicts) that renders as HTML in Jupyter and as aligned text in a terminal."""

    def __init__(self, rows: Iterable[dict[str, Any]], columns: Sequence[str] | None = None, title: str = ""):
        self.rows = list(rows)
        self.columns = list(columns) if columns else (list(self.rows[0].keys()) if self.rows else [])
        self.title = title

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def column(self, name: str) -> list[Any]:
        return [r.get(name) for r in self.rows]

    def __str__(self) -> str:
        cols = self.columns
        cells = [[str(r.get(c, "")) for c in cols] for r in self.rows]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
        lines = []
        if self.title:
            lines.append(self.title)
        lines.append("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
        lines.append("  ".join("-" * w for w in widths))
        for row in cells:
            lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(r.get(c, '')))}</td>" for c in self.columns) + "</tr>"
            for r in self.rows
        )
        cap = f"<caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>" if self.title else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

"""Showing things to the learner: the CLI twin of each action, small tables, and the one way to put them on screen.

Everything the course renders as a table (checks, the capstone scorecard, the doctor, health timelines,
:class:`Table`) goes through :func:`html_table` in a notebook and plain text elsewhere; :func:`display`
shows an object (the notebook's rich display, else ``print``), and :class:`Live` is a block that updates in
place while work goes on (a notebook widget, else one printed line per update).
"""
from __future__ import annotations

import html
import shlex
import sys
from typing import Any, Iterable, Sequence

from dockerlab import settings
from dockerlab.settings import quiet_cli  # noqa: F401 (the block that silences the CLI twins)


def in_notebook() -> bool:
    """True when a Jupyter kernel runs this code (JupyterLab, Notebook, papermill, nbval): rich display and widgets
    render. A terminal IPython is not one (a widget there prints as text); the one test of the package."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and any(c.__name__ == "ZMQInteractiveShell" for c in type(shell).__mro__)


def display(obj) -> None:
    """Show ``obj``: the notebook's rich display (its ``_repr_html_``) in a kernel, else ``print``."""
    if in_notebook():
        from IPython.display import display as ipy_display

        ipy_display(obj)
    else:
        print(obj)


class Raw(str):
    """A table cell that is already HTML (a coloured badge): :func:`html_table` does not escape it."""


def html_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], caption: str = "",
               row_backgrounds: Sequence[str | None] | None = None) -> str:
    """The one HTML table of the course: ``columns`` as headers, each row a sequence of cells (escaped unless
    :class:`Raw`), an optional bold caption. Left-aligned, as text reads. ``row_backgrounds``: a CSS colour per
    row (None: the theme's), e.g. the green and red tints of :data:`TINTS` for passed and failed lines."""
    cell = "<{tag} style='text-align:left;vertical-align:top'>{}</{tag}>"

    def fmt(v, tag="td"):
        return cell.format(v if isinstance(v, Raw) else html.escape("" if v is None else str(v)), tag=tag)

    def tr(i, row):
        colour = row_backgrounds[i] if row_backgrounds and i < len(row_backgrounds) else None
        return (f"<tr style='background:{colour}'>" if colour else "<tr>") + "".join(fmt(v) for v in row) + "</tr>"

    head = "".join(fmt(c, "th") for c in columns)
    body = "".join(tr(i, row) for i, row in enumerate(rows))
    cap = f"<caption style='text-align:left'><b>{html.escape(caption)}</b></caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# Verdicts in a table: a word and a mark every font has (DejaVu draws ✔ ✘ ⚠; no colour-emoji font is needed),
# in a colour, on a tinted row. The tints are translucent, so they read on JupyterLab's light and dark themes.
COLOURS = {"ok": "#1a7f37", "fail": "#cf222e", "warn": "#9a6700", "none": "#59636e"}
TINTS = {"ok": "rgba(26,127,55,0.13)", "fail": "rgba(207,34,46,0.13)", "warn": "rgba(191,135,0,0.16)",
         "none": "rgba(110,119,129,0.12)"}


def verdict(text: str, kind: str) -> Raw:
    """A verdict cell: ``text`` (e.g. "✔ ok", "✘ FAIL") in bold, in the colour of ``kind`` (ok, fail, warn, none)."""
    return Raw(f"<span style='color:{COLOURS[kind]};font-weight:600;white-space:nowrap'>{html.escape(text)}</span>")


def inline_code(text: Any) -> Raw:
    """``text`` escaped, with each `backticked` span shown as code (check messages are written in Markdown style)."""
    parts = html.escape("" if text is None else str(text), quote=False).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show the text as it is
        return Raw(html.escape("" if text is None else str(text), quote=False))
    return Raw("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))


def badge(text: str, colour: str) -> Raw:
    """A small coloured label for a table cell (a health status, a verdict)."""
    return Raw(f"<span style='background:{colour};color:white;padding:1px 8px;border-radius:8px'>"
               f"{html.escape(text)}</span>")


class Live:
    """A block that updates in place: in a notebook an HTML widget whose content is replaced on each
    :meth:`update`; elsewhere each update's ``line`` is printed (a log reads one line per change)."""

    def __init__(self, html_text: str = "", enabled: bool = True):
        self.widget = None
        if enabled and in_notebook():
            try:
                import ipywidgets as w
            except ImportError:  # pragma: no cover
                return
            self.widget = w.HTML(html_text)
            display(self.widget)

    def update(self, html_text: str, line: str = "") -> None:
        if self.widget is not None:
            self.widget.value = html_text
        elif line:
            print(line, flush=True)


def cli(*args: str | Sequence[str]) -> str:
    """Print the ``docker …`` command equivalent to what a helper is about to do, and return it.

    ``cli("docker", "run", "--rm", image)`` or ``cli("docker run --rm python")``: strings are joined as
    they are; items of a list are shell-quoted (``cli(["docker", "run", image, "python", "-c", code])``).
    Silence with DOCKERLAB_SHOW_CLI=0, or for a block with ``with quiet_cli():`` (:func:`dockerlab.settings.quiet_cli`).
    """
    parts: list[str] = []
    for a in args:
        if isinstance(a, str):
            parts.append(a)
        else:
            parts.extend(shlex.quote(str(x)) for x in a)
    line = " ".join(parts)
    if settings.show_cli():
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
        return html_table(self.columns, ([r.get(c, "") for c in self.columns] for r in self.rows), self.title)

"""Widgets that make the engine's state visible: hints revealed one at a time, and size bars."""
from __future__ import annotations

import html

from dockerlab.show import human_size, in_notebook


last_hints = None  # the most recent hints widget (for tests and instructors)


def hint_texts(source, *more: str) -> tuple[str, ...]:
    """The hints of ``source``: an exercise check module (its ``HINTS``), or the texts themselves."""
    if hasattr(source, "HINTS"):
        if more:
            raise TypeError("give an exercise module alone, or the hint texts")
        return tuple(source.HINTS)
    return tuple(t for t in (source, *more) if t)


def _inline(text: str) -> str:
    """A hint as HTML: escaped, with `code` spans."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def hints(source, *more: str, title: str = "Hints", reveal: int = 0) -> None:
    """Progressive hints, hidden until asked: a button that reveals them one at a time.

    ``dockerlab.hints(ex)`` shows the hints of an exercise's check module (``ex.HINTS``), so that their text is
    not in the notebook cell above the button; ``hints("…", "…")`` takes the texts themselves. ``reveal``
    opens that many at once. Outside Jupyter it says how many hints there are (and prints the ``reveal``
    first ones). Returns None, so that a cell ending with ``hints(…)`` shows the widget once; the widget
    itself is ``dockerlab.widgets.last_hints``.
    """
    global last_hints
    texts = hint_texts(source, *more)
    n = len(texts)
    reveal = max(0, min(int(reveal), n))
    try:
        import ipywidgets as w
        from IPython.display import display
    except ImportError:  # pragma: no cover
        w = None
    if w is None or not in_notebook():
        print(f"{n} hint{'s' if n != 1 else ''}, hidden until asked: run this cell in JupyterLab and press the "
              f"button, or call hints(…, reveal=N) to print the first N here")
        for i, text in enumerate(texts[:reveal], 1):
            print(f"Hint {i}. {text}")
        return None
    shown = w.VBox([])
    button = w.Button(description=f"Show hint 1 of {n}", icon="lightbulb-o")
    state = {"n": 0}

    def reveal_next(_=None):
        if state["n"] >= n:
            return
        shown.children = list(shown.children) + [w.HTML(f"<b>Hint {state['n'] + 1}.</b> {_inline(texts[state['n']])}")]
        state["n"] += 1
        if state["n"] >= n:
            button.disabled = True
            button.description = "No more hints"
        else:
            button.description = f"Show hint {state['n'] + 1} of {n}"

    button.on_click(reveal_next)
    box = w.VBox([w.HTML(f"<b>{html.escape(title)}</b> ({n}, hidden until asked: the last one points at the idea)"),
                  button, shown])
    box.reveal = reveal_next  # for tests and for instructors
    box.texts = texts
    for _ in range(reveal):
        reveal_next()
    last_hints = box
    display(box)
    return None


def _scale(biggest: float, unit: str) -> tuple[float, float, str]:
    """A round top of the axis at or above ``biggest``, the divisor and the unit name its ticks are written in."""
    import math

    if unit == "bytes":
        div, name = next(((d, n) for d, n in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")) if biggest >= d), (1, "B"))
    else:
        div, name = 1, unit
    top = biggest / div if biggest > 0 else 1
    exp = 10 ** math.floor(math.log10(top))
    nice = next(m * exp for m in (1, 2, 2.5, 5, 10) if m * exp >= top)
    return nice * div, div, name


def size_bars(items: dict, title: str = "", unit: str = "bytes", parts: tuple[str, str] | None = None):
    """Horizontal bars with a scale in ``unit`` ("bytes", shown in B/kB/MB/GB, or e.g. "s"), as an ipywidgets HTML
    widget. A value is a number, or a pair (first part, second part) drawn as one bar in grey then blue, named
    by ``parts`` in a legend (e.g. ("base image", "added by the Dockerfile"))."""
    def pair(v):
        return (float(v[0]), float(v[1])) if isinstance(v, (tuple, list)) else (0.0, float(v))

    def fmt(v):
        return human_size(v) if unit == "bytes" else f"{v:g} {unit}"

    values = {name: pair(v) for name, v in items.items()}
    top, div, unit_name = _scale(max((a + b for a, b in values.values()), default=0), unit)
    grey, blue = "#9aa4ad", "#2496ed"
    rows = []
    for name, (a, b) in values.items():
        wa, wb = 100 * a / top, 100 * b / top
        rows.append(
            "<div style='display:flex;align-items:center;font-family:monospace;font-size:12px;margin:1px 0'>"
            f"<div style='width:40%;overflow:hidden;white-space:nowrap;text-overflow:ellipsis' title='{html.escape(name)}'>"
            f"{html.escape(name)}</div><div style='width:45%;display:flex'>"
            f"<div style='background:{grey};height:12px;width:{wa:.2f}%'></div>"
            f"<div style='background:{blue};height:12px;width:{wb:.2f}%'></div></div>"
            f"<div style='width:15%;text-align:right'>{fmt(a + b)}</div></div>")
    ticks = "".join(f"<span style='position:absolute;left:{100 * i / 4:.0f}%;transform:translateX(-{0 if i == 0 else 100 if i == 4 else 50}%)'>"
                    f"{top * i / 4 / div:g}</span>" for i in range(5))
    axis = ("<div style='display:flex;font-family:monospace;font-size:11px;color:#59636e'>"
            f"<div style='width:40%;text-align:right;padding-right:4px'>{html.escape(unit_name)}</div>"
            f"<div style='width:45%;position:relative;height:14px;border-top:1px solid #59636e'>{ticks}</div></div>")
    legend = ""
    if parts:
        legend = "<div style='font-size:11px;margin-top:2px'>" + " ".join(
            f"<span style='display:inline-block;width:10px;height:10px;background:{c}'></span> {html.escape(t)}"
            for c, t in ((grey, parts[0]), (blue, parts[1]))) + "</div>"
    body = (f"<b>{html.escape(title)}</b> <span style='color:#59636e'>({html.escape(unit_name)})</span>" if title else "") \
        + "".join(rows) + axis + legend
    try:
        import ipywidgets as w

        return w.HTML(body)
    except ImportError:  # pragma: no cover
        return body

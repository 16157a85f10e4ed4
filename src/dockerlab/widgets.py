"""Widgets that make the engine's state visible: hints revealed one at a time, and size bars."""
from __future__ import annotations

import html

from .show import human_size, in_notebook


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


def size_bars(items: dict[str, int], title: str = "", unit_label: str = ""):
    """Horizontal bars, one per item (e.g. layer or image sizes in bytes), as an ipywidgets HTML widget."""
    biggest = max(items.values()) if items else 1
    rows = []
    for name, value in items.items():
        pct = 0 if biggest == 0 else max(1, int(100 * value / biggest))
        rows.append(
            "<div style='display:flex;align-items:center;font-family:monospace;font-size:12px'>"
            f"<div style='width:40%;overflow:hidden;white-space:nowrap'>{html.escape(name)}</div>"
            f"<div style='width:45%'><div style='background:#2496ed;height:12px;width:{pct}%'></div></div>"
            f"<div style='width:15%;text-align:right'>{human_size(value)}</div></div>"
        )
    body = (f"<b>{html.escape(title)}</b>" if title else "") + "".join(rows)
    try:
        import ipywidgets as w

        return w.HTML(body)
    except ImportError:  # pragma: no cover
        return body

"""Widgets that make the engine's state visible: hints revealed one at a time, and size bars."""
from __future__ import annotations

import html

from .show import human_size


last_hints = None  # the most recent hints widget (for tests and instructors)


def hints(*texts: str, title: str = "Hints") -> None:
    """Show a button that reveals the hints one at a time (outside Jupyter: prints how many there are).

    Returns None, so that a cell ending with ``hints(…)`` shows the widget once; the widget itself is
    ``dockerlab.widgets.last_hints``.
    """
    global last_hints
    try:
        import ipywidgets as w
        from IPython.display import display
    except ImportError:  # pragma: no cover
        print(f"{len(texts)} hints available in Jupyter")
        return None
    shown = w.VBox([])
    button = w.Button(description=f"Show hint 1 of {len(texts)}", icon="lightbulb-o")
    state = {"n": 0}

    def reveal(_=None):
        if state["n"] >= len(texts):
            return
        shown.children = list(shown.children) + [w.HTML(f"<b>Hint {state['n'] + 1}.</b> {html.escape(texts[state['n']])}")]
        state["n"] += 1
        if state["n"] >= len(texts):
            button.disabled = True
            button.description = "No more hints"
        else:
            button.description = f"Show hint {state['n'] + 1} of {len(texts)}"

    button.on_click(reveal)
    box = w.VBox([w.HTML(f"<b>{html.escape(title)}</b>"), button, shown])
    box.reveal = reveal  # for tests and for instructors
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

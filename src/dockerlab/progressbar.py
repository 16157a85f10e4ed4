"""A progress display for builds and other multi-step work, drawn by tqdm: a widget in JupyterLab, a bar in a terminal.

It tells the truth: while a step runs it shows the step and its elapsed seconds (so a long ``pip install``
visibly moves); on success it ends full and green, on failure it is red and says at which step. In a log (CI, a
pipe) it draws nothing: the caller's one line per finished step is enough there.

Two things tqdm does not do by itself, done here: the total may grow while the work runs (BuildKit learns of more
steps as it goes), and tqdm's notebook bar turns red when it closes short of its total, so a success first sets
the total to the steps done. The notebook label keeps to one line (it wrapped at the hyphens of a long ``RUN``).
"""
from __future__ import annotations

import sys
import time

from dockerlab.show import in_notebook, short  # noqa: F401 (in_notebook: the one test, re-exported)

BAR_FORMAT = "{desc} {bar} {n_fmt}/{total_fmt} steps{postfix}"  # tqdm puts ", " before the postfix


def interactive() -> bool:
    """A live display helps in Jupyter and in a terminal; in logs (CI, pipes) it only adds noise."""
    return in_notebook() or sys.stdout.isatty()


def _tqdm(title: str, total: int, notebook: bool):
    if notebook:
        from tqdm.notebook import tqdm
    else:
        from tqdm.std import tqdm
    bar = tqdm(total=total or None, desc=title, bar_format=BAR_FORMAT, file=sys.stdout, leave=True,
               dynamic_ncols=not notebook, mininterval=0)
    if notebook:
        # [title][bar][n/total, running step] are three widgets in a row: the texts must not shrink (their width is
        # then their one line; the bar gives way), and what does not fit is cut at the output's edge, not wrapped.
        bar.container.layout.overflow = "hidden"
        bar.container.children[0].layout.flex = bar.container.children[2].layout.flex = "0 0 auto"
        bar.container.children[1].layout.width, bar.container.children[1].bar_style = None, ""  # total unknown yet:
        bar.container.children[1].value = 0  # an empty bar of the usual width, not tqdm's 20 px full one
    return bar


class StepProgress:
    """``done`` of ``total`` steps, the running step and its elapsed time; ends full on success.

    >>> p = StepProgress("build app", total=5)
    >>> p.update(done=2, running="RUN pip install …", elapsed=12.3)
    >>> p.finish(ok=True)            # full green bar, "done in 14.1 s"
    """

    def __init__(self, title: str, total: int = 0, enabled: bool | None = None):
        self.title, self.total, self.done = title, total, 0
        self.t0 = time.monotonic()
        self.enabled = interactive() if enabled is None else enabled
        self.finished = False
        self.text = ""  # what follows "n/total steps": the running step, or how it ended
        self.bar = _tqdm(title, total, in_notebook()) if self.enabled else None

    @property
    def widget(self):
        """The notebook bar's widgets (ipywidgets HBox: title, bar, text), or None in a terminal or a log."""
        return getattr(self.bar, "container", None)

    def update(self, done: int | None = None, total: int | None = None, running: str = "",
               elapsed: float | None = None) -> None:
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if self.bar is None or self.finished:
            return
        text = short(running, 45) + (f" ({elapsed:.0f} s)" if running and elapsed is not None else "")
        self._draw(text)

    def _draw(self, text: str) -> None:
        bar = self.bar
        total = max(self.total, self.done) or None  # shown as "?" until known
        if (bar.n, bar.total, self.text) == (self.done, total, text):
            return
        if bar.total != total:
            bar.total = total
            if self.widget is not None and total:
                self.widget.children[1].max = total  # tqdm.notebook sets its bar's maximum once, at the start
        bar.n, self.text = self.done, text
        bar.set_postfix_str(text, refresh=False)
        bar.refresh()

    def clear_line(self) -> None:
        """In a terminal, clear the status line before printing a normal line (the next update draws it again)."""
        if self.bar is not None and self.widget is None and not self.finished:
            self.bar.clear()
            self.text = None  # drawn again at the next update, even if nothing changed

    def finish(self, ok: bool, text: str = "") -> None:
        """Success: the bar ends full and green. Failure: it ends red and says where."""
        if self.finished:
            return
        self.finished = True
        if self.bar is None:
            return
        seconds = time.monotonic() - self.t0
        text = text.removeprefix(self.title).lstrip(": ") if text else ""
        if ok:
            self.done = self.total = max(self.total, self.done, 1)  # the end is full (tqdm: n == total is success)
            text = text or f"done in {seconds:.1f} s"
        else:
            text = text or f"failed after {seconds:.1f} s"
        if self.widget is None:
            self.bar.colour = "green" if ok else "red"
        elif not ok:
            self.widget.children[1].bar_style = "danger"  # tqdm then keeps it: a danger bar never turns to success
        self._draw(text)
        self.bar.close()

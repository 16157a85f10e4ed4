"""A progress display for builds and other multi-step work: the same in JupyterLab and in a terminal.

It tells the truth: while a step runs it shows the step and its elapsed seconds (so a long ``pip install``
visibly moves); on success it ends full and green, on failure it is marked failed at the step that failed.
In a log (CI, a pipe) it draws nothing: the caller's one line per finished step is enough there.
"""
from __future__ import annotations

import html
import sys
import time

from dockerlab.show import in_notebook, short  # noqa: F401 (in_notebook: the one test, re-exported)


def interactive() -> bool:
    """A live display helps in Jupyter and in a terminal; in logs (CI, pipes) it only adds noise."""
    return in_notebook() or sys.stdout.isatty()


class StepProgress:
    """``done`` of ``total`` steps, the running step and its elapsed time; ends full on success.

    >>> p = StepProgress("build app", total=5)
    >>> p.update(done=2, running="RUN pip install …", elapsed=12.3)
    >>> p.finish(ok=True)            # full bar, "done in 14.1 s"
    """

    def __init__(self, title: str, total: int = 0, enabled: bool | None = None):
        self.title, self.total, self.done = title, total, 0
        self.t0 = time.monotonic()
        self.enabled = interactive() if enabled is None else enabled
        self.widget = self.bar = self.label = None
        self._last_text = ""
        self.finished = False
        if not self.enabled:
            return
        if in_notebook():
            try:
                import ipywidgets as w
                from IPython.display import display
            except ImportError:  # pragma: no cover
                self.enabled = False
                return
            self.bar = w.IntProgress(value=0, min=0, max=max(total, 1), bar_style="info",
                                     layout=w.Layout(width="40%"))
            self.label = w.HTML(html.escape(title))
            self.widget = w.HBox([self.bar, self.label])
            display(self.widget)

    def update(self, done: int | None = None, total: int | None = None, running: str = "",
               elapsed: float | None = None) -> None:
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if not self.enabled or self.finished:
            return
        text = f"{self.title}: {self.done}/{self.total} steps"
        if running:
            text += f" · {short(running, 50)}"
            if elapsed is not None:
                text += f" ({elapsed:.0f} s)"
        self._draw(text)

    def _draw(self, text: str, style: str | None = None) -> None:
        if self.bar is not None:
            self.bar.max = max(self.total, 1)
            self.bar.value = min(self.done, self.bar.max)
            if style:
                self.bar.bar_style = style
            self.label.value = html.escape(text)
        elif text != self._last_text:
            width = 20
            filled = int(width * self.done / self.total) if self.total else 0
            line = f"[{'#' * filled}{'.' * (width - filled)}] {text}"
            sys.stdout.write("\r\x1b[2K" + line[:150])
            sys.stdout.flush()
        self._last_text = text

    def clear_line(self) -> None:
        """In a terminal, clear the status line before printing a normal line."""
        if self.enabled and self.bar is None and self._last_text:
            sys.stdout.write("\r\x1b[2K")
            sys.stdout.flush()
            self._last_text = ""

    def finish(self, ok: bool, text: str = "") -> None:
        """Success: the bar ends full. Failure: it is marked failed and says where."""
        if self.finished:
            return
        self.finished = True
        if not self.enabled:
            return
        seconds = time.monotonic() - self.t0
        if ok:
            self.done = self.total = max(self.total, self.done, 1)
            text = text or f"{self.title}: done in {seconds:.1f} s"
            self._draw(text, "success")
        else:
            text = text or f"{self.title}: failed after {seconds:.1f} s"
            self._draw(text, "danger")
        if self.bar is None:
            sys.stdout.write("\n")
            sys.stdout.flush()

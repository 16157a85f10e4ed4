"""A live health timeline: poll a container's ``State.Health.Status`` and show starting → healthy → unhealthy.

In Jupyter it is a widget that updates in place (one coloured row per change, with the time since the
watch began and the last health-check output); elsewhere it prints one line per change::

    tl = HealthTimeline(container)        # displays itself
    tl.wait_for("healthy", timeout=30)    # polls until then (raises WaitTimeout / ContainerExited)
    ... break the app on purpose ...
    tl.wait_for("unhealthy", timeout=30)
    tl.events                             # [(seconds, status, last check output), …]
"""
from __future__ import annotations

import html
import time

from .run import ContainerExited, WaitTimeout, logs_tail
from .show import Table, cli

COLOURS = {"starting": "#f0ad4e", "healthy": "#2e9e44", "unhealthy": "#d9534f", "none": "#888888"}


def health_status(container) -> tuple[str, str]:
    """(status, last check output) of a container; status "none" when it has no HEALTHCHECK."""
    container.reload()
    health = container.attrs["State"].get("Health")
    if not health:
        return "none", ""
    log = health.get("Log") or []
    last = log[-1] if log else {}
    out = str(last.get("Output", "")).strip().replace("\n", " ")
    return health.get("Status", "?"), (f"exit {last.get('ExitCode')}: {out[:80]}" if last else "")


class HealthTimeline:
    """Records every health-status change of one container, rendered live."""

    def __init__(self, container, interval: float = 0.3, display: bool = True):
        self.container = container
        self.interval = interval
        self.t0 = time.monotonic()
        self.events: list[tuple[float, str, str]] = []
        self._widget = None
        cli("docker", "inspect", "--format", "'{{json .State.Health}}'", container.name)
        if display:
            self._widget = _make_widget()
            if self._widget is not None:
                from IPython.display import display as ipy_display

                ipy_display(self._widget)
        self.poll()

    @property
    def status(self) -> str:
        return self.events[-1][1] if self.events else "?"

    def statuses(self) -> list[str]:
        return [e[1] for e in self.events]

    def poll(self) -> str:
        """Read the status once; record (and show) it if it changed."""
        status, out = health_status(self.container)
        if not self.events or self.events[-1][1] != status:
            ev = (round(time.monotonic() - self.t0, 1), status, out)
            self.events.append(ev)
            self._show(ev)
        return status

    def wait_for(self, status: str, timeout: float = 60) -> float:
        """Poll until the container reports ``status``; return the seconds it took. Bounded by ``timeout``."""
        start = time.monotonic()
        while True:
            now_status = self.poll()
            if now_status == status:
                return time.monotonic() - start
            if now_status == "none":
                raise RuntimeError(f"{self.container.name} has no HEALTHCHECK: add one to the Dockerfile")
            if self.container.attrs["State"].get("Status") in ("exited", "dead"):
                raise ContainerExited(f"{self.container.name} exited while waiting for {status}:\n{logs_tail(self.container)}")
            if time.monotonic() - start > timeout:
                _, out = health_status(self.container)
                raise WaitTimeout(f"{self.container.name} still {now_status} after {timeout:.0f} s "
                                  f"(waiting for {status}); last check {out}")
            time.sleep(self.interval)

    def watch(self, seconds: float) -> list[tuple[float, str, str]]:
        """Poll for ``seconds`` and return the events so far."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()
            time.sleep(self.interval)
        return self.events

    def table(self) -> Table:
        return Table([{"t (s)": f"{t:.1f}", "status": s, "last check": o} for t, s, o in self.events],
                     title=f"health of {self.container.name}")

    def _show(self, ev) -> None:
        t, status, out = ev
        if self._widget is None:
            print(f"  {t:6.1f} s  {status:<9}  {out}", flush=True)
            return
        self._widget.value = self._html()

    def _html(self) -> str:
        rows = []
        for t, s, o in self.events:
            colour = COLOURS.get(s, "#444")
            rows.append(
                "<div style='display:flex;gap:10px;align-items:center;font-family:monospace;font-size:12px'>"
                f"<span style='width:60px;text-align:right'>{t:.1f} s</span>"
                f"<span style='background:{colour};color:white;padding:1px 8px;border-radius:8px;width:80px;"
                f"text-align:center'>{html.escape(s)}</span>"
                f"<span style='color:#666'>{html.escape(o)}</span></div>")
        arrow = " → ".join(html.escape(s) for s in self.statuses())
        return f"<b>health of {html.escape(self.container.name)}</b>: {arrow}" + "".join(rows)

    def _repr_html_(self) -> str:
        return self._html()

    def __str__(self) -> str:
        return str(self.table())


def _make_widget():
    try:
        from IPython import get_ipython

        if get_ipython() is None:
            return None
        import ipywidgets as w

        return w.HTML("")
    except ImportError:  # pragma: no cover
        return None


def timeline(container, until: str = "healthy", timeout: float = 60, **kwargs) -> HealthTimeline:
    """Show a live timeline and wait until ``until``; return it."""
    tl = HealthTimeline(container, **kwargs)
    tl.wait_for(until, timeout=timeout)
    return tl

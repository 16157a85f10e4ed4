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

import time

from dockerlab.run import health_status, poll_health
from dockerlab.show import Live, Table, badge, cli, html_table

COLOURS = {"starting": "#f0ad4e", "healthy": "#2e9e44", "unhealthy": "#d9534f", "none": "#888888", "exited": "#444444"}


class HealthTimeline:
    """Records every health-status change of one container, rendered live."""

    def __init__(self, container, interval: float = 0.3, display: bool = True):
        self.container = container
        self.interval = interval
        self.t0 = time.monotonic()
        self.events: list[tuple[float, str, str]] = []
        cli("docker", "inspect", "--format", "'{{json .State.Health}}'", container.name)
        self._live = Live(self._html(), enabled=display)
        self.poll()

    @property
    def status(self) -> str:
        return self.events[-1][1] if self.events else "?"

    def statuses(self) -> list[str]:
        return [e[1] for e in self.events]

    def _record(self, status: str, out: str) -> None:
        if not self.events or self.events[-1][1] != status:
            ev = (round(time.monotonic() - self.t0, 1), status, out)
            self.events.append(ev)
            self._live.update(self._html(), f"  {ev[0]:6.1f} s  {status:<9}  {out}")

    def poll(self) -> str:
        """Read the status once; record (and show) it if it changed."""
        status, out = health_status(self.container)
        self._record(status, out)
        return status

    def wait_for(self, status: str, timeout: float = 60) -> float:
        """Poll until the container reports ``status``; return the seconds it took. Bounded by ``timeout``."""
        return poll_health(self.container, status, timeout, self.interval,
                           on_change=lambda _t, s, out: self._record(s, out)).raise_unless_reached(self.container.name).seconds

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

    def _html(self) -> str:
        rows = [[f"{t:.1f} s", badge(s, COLOURS.get(s, "#444")), o] for t, s, o in self.events]
        return html_table(["t", "status", "last check"], rows,
                          f"health of {self.container.name}: {' → '.join(self.statuses())}")

    def _repr_html_(self) -> str:
        return self._html()

    def __str__(self) -> str:
        return str(self.table())


def timeline(container, until: str = "healthy", timeout: float = 60, **kwargs) -> HealthTimeline:
    """Show a live timeline and wait until ``until``; return it."""
    tl = HealthTimeline(container, **kwargs)
    tl.wait_for(until, timeout=timeout)
    return tl

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

import contextlib
import dataclasses
import time

from dockerlab.errors import ContainerExited, WaitTimeout
from dockerlab.figures import record, short_name
from dockerlab.run import logs_tail
from dockerlab.show import Live, Table, badge, cli, html_table, short
from dockerlab.waiting import wait_until


def health_status(container) -> tuple[str, str]:
    """(status, last check) read once: status "none" when the container has no HEALTHCHECK, "exited" when it
    stopped; the last check as "exit N: output"."""
    container.reload()
    state = container.attrs["State"]
    health = state.get("Health")
    log = (health or {}).get("Log") or []
    last = log[-1] if log else {}
    # The last line of the output says why (a traceback's cause comes last): show that one, not the head.
    out = next((l.strip() for l in reversed(str(last.get("Output", "")).splitlines()) if l.strip()), "")
    check = (f"exit {last.get('ExitCode')}" + (f": {short(out, 200)}" if out else "")) if last else "no check ran yet"
    if state.get("Status") in ("exited", "dead"):
        return "exited", check
    return (health.get("Status", "?") if health else "none"), check


@dataclasses.dataclass
class HealthWait:
    """What :func:`poll_health` saw: the status it ended on, whether it was the awaited one, and the evidence."""

    until: str
    status: str  # healthy, unhealthy, starting, none (no HEALTHCHECK) or exited
    seconds: float
    last_check: str
    timeline: list[tuple[float, str]]
    exit_code: int | None = None
    logs: str = ""

    @property
    def reached(self) -> bool:
        return self.status == self.until

    def raise_unless_reached(self, name: str) -> "HealthWait":
        """For waits that must succeed: RuntimeError (no HEALTHCHECK), ContainerExited or WaitTimeout."""
        if self.reached:
            return self
        if self.status == "none":
            raise RuntimeError(f"{name} has no HEALTHCHECK: add one to the Dockerfile (or healthcheck= to run)")
        if self.status == "exited":
            raise ContainerExited(f"{name} exited with {self.exit_code} while waiting for {self.until}:\n{self.logs}")
        raise WaitTimeout(f"{name} still {self.status} after {self.seconds:.0f} s (waiting for {self.until}); "
                          f"last check {self.last_check}")

    def why(self) -> str:
        """What was seen instead of the awaited status, in one sentence."""
        if self.status == "none":
            return "the container has no HEALTHCHECK"
        if self.status == "exited":
            return f"the container exited with code {self.exit_code}; last log lines: {' | '.join(self.logs.split(chr(10))[-3:])}"
        return f"status {self.status} after {self.seconds:.0f} s, {self.until} expected; last check {self.last_check}"


def poll_health(container, until: str = "healthy", timeout: float = 60, interval: float = 0.5, *,
                give_up: tuple[str, ...] = (), on_change=None) -> HealthWait:
    """Poll ``State.Health.Status`` until it is ``until`` or ``timeout`` s pass, the one health poller of the course.

    Never raises for what the container does: it returns a :class:`HealthWait` (no HEALTHCHECK, the container
    exited, a status in ``give_up`` such as "unhealthy", or time out). ``on_change(seconds, status, last check)``
    is called for each new status (a live timeline).
    """
    t0, wait = time.monotonic(), HealthWait(until, "?", 0.0, "no check ran yet", [])
    def settled() -> bool:
        wait.status, wait.last_check = health_status(container)
        wait.seconds = time.monotonic() - t0
        if not wait.timeline or wait.timeline[-1][1] != wait.status:
            wait.timeline.append((round(wait.seconds, 1), wait.status))
            if on_change is not None:
                on_change(wait.seconds, wait.status, wait.last_check)
        return wait.status in (until, "none", "exited") or wait.status in give_up
    with contextlib.suppress(WaitTimeout):  # timed out: the HealthWait says on what status
        wait_until(settled, timeout=timeout, interval=interval)
    if wait.status == "exited":
        wait.exit_code = container.attrs["State"].get("ExitCode")
        wait.logs = logs_tail(container).strip()
    return wait


def wait_for_health(container, timeout: float = 60, interval: float = 0.5) -> list[tuple[float, str]]:
    """Poll ``State.Health.Status`` until healthy; return the timeline ``[(seconds, status), …]``.

    Raises WaitTimeout (with the last health-check output) or ContainerExited (with the logs).
    CLI: ``docker inspect --format '{{.State.Health.Status}}' NAME``.
    """
    cli("docker", "inspect", "--format", "'{{.State.Health.Status}}'", container.name)
    wait = poll_health(container, "healthy", timeout, interval).raise_unless_reached(container.name)
    record(f"healthy {short_name(container.name)}", wait.seconds, "s", "after the wait started")
    return wait.timeline

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

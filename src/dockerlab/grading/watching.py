"""Watching a stack while something happens to it: a timeline of what the course did and what the stack did.

* :class:`Timeline`: events in order (time, the course or the stack, what, the cause); a table, and JSON for a
  check line's observed values.
* :class:`Watch`: follows containers (status, health, restarts, exit code, OOM) and HTTP endpoints, recording each
  change, until a condition holds or a deadline passes; :class:`Events`: the engine's events, collected live.
* :func:`ask`: one bounded HTTP request to a published port on this machine.

The attacks that use them are in :mod:`dockerlab.grading.resilience`.
"""
from __future__ import annotations

import dataclasses
import http.client
import threading
import time
import urllib.error
import urllib.request
from typing import Callable

from docker.errors import DockerException

from dockerlab.run import host_address, logs_tail
from dockerlab.show import Table, display, short

MAX_REQUESTS = 400  # what one Watch may send in all (every poll asks each endpoint once)


# --- the timeline -----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Event:
    t: float  # seconds since the timeline started
    actor: str  # "course" (what the check did) or "stack" (what Docker or the app reported)
    what: str
    cause: str = ""


class Timeline:
    """What the course did and what the stack did, in order, with the time since the start."""

    def __init__(self, title: str = "timeline"):
        self.title, self.t0, self.events = title, time.monotonic(), []

    def course(self, what: str, cause: str = "") -> Event:
        return self._add("course", what, cause)

    def stack(self, what: str, cause: str = "") -> Event:
        return self._add("stack", what, cause)

    def _add(self, actor: str, what: str, cause: str) -> Event:
        event = Event(round(time.monotonic() - self.t0, 1), actor, what, cause)
        self.events.append(event)
        return event

    def table(self) -> Table:
        rows = [{"time": f"{e.t:5.1f} s", "the course": e.what if e.actor == "course" else "",
                 "the stack": e.what if e.actor == "stack" else "", "cause": e.cause} for e in self.events]
        return Table(rows, columns=["time", "the course", "the stack", "cause"], title=self.title)

    def observed(self) -> list[dict]:
        """JSON-able: what a check line keeps in its observed values."""
        return [dataclasses.asdict(e) for e in self.events]

    def show(self) -> None:
        display(self.table())


# --- HTTP, bounded --------------------------------------------------------------------------------------------

def ask(port: int, path: str, *, method: str = "GET", body: bytes | None = None, timeout: float = 3) -> tuple[int | None, str]:
    """One request to a published port on this machine: (status, body), or (None, what went wrong)."""
    req = urllib.request.Request(f"http://{host_address()}:{port}{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {short(exc, 120)}"


# --- watching ------------------------------------------------------------------------------------------------

class Events:
    """The engine's container events with a label, collected from now on in a thread until :meth:`close` (a later
    ``since`` query is no substitute: the daemon keeps only its last 256 events, which health checks soon push out)."""

    def __init__(self, label: str, *, client, limit: int = 5000):
        self.seen: list[dict] = []
        self._stream = client.events(decode=True, filters={"type": "container", "label": [label]})
        self._thread = threading.Thread(target=self._read, args=(limit,), daemon=True)
        self._thread.start()

    def _read(self, limit: int) -> None:
        try:
            for event in self._stream:
                if len(self.seen) < limit:
                    self.seen.append(event)
        except Exception:  # noqa: BLE001 - the stream was closed under the loop: that is its end
            pass

    def close(self) -> list[dict]:  # once or more: the events seen so far
        if self._thread.is_alive():
            self._stream.close()
            self._thread.join(5)
        return list(self.seen)


def service_of(container) -> str:
    labels = (container.attrs.get("Config") or {}).get("Labels") or {}
    return labels.get("com.docker.compose.service") or container.name


@dataclasses.dataclass(frozen=True)
class State:
    status: str  # running, restarting, exited, gone
    health: str  # healthy, unhealthy, starting, none
    restarts: int
    exit_code: int | None
    oom: bool
    policy: str

    def said(self) -> str:
        health = "" if self.health == "none" else f", {self.health}"
        code = f" (exit {self.exit_code}{', OOM-killed' if self.oom else ''})" if self.status != "running" else ""
        return f"{self.status}{code}{health}"


def read_state(container) -> State:
    try:
        container.reload()
    except DockerException:
        return State("gone", "none", 0, None, False, "")
    st = container.attrs.get("State") or {}
    policy = ((container.attrs.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"
    return State(st.get("Status", "?"), (st.get("Health") or {}).get("Status", "none"), container.attrs.get("RestartCount", 0),
                 st.get("ExitCode"), bool(st.get("OOMKilled")), policy)


class Watch:
    """Follow containers and HTTP endpoints, recording each change on the timeline.

    ``containers``: {name: container}; ``endpoints``: {name: (port, path)} asked with one GET each per poll."""

    def __init__(self, timeline: Timeline, containers: dict, endpoints: dict | None = None):
        self.tl, self.containers, self.endpoints = timeline, containers, endpoints or {}
        self.states: dict[str, State] = {}
        self.codes: dict[str, int | None] = {}
        self.history: dict[str, list] = {n: [] for n in containers}  # each container's states, in order
        self.answers: dict[str, list] = {n: [] for n in self.endpoints}  # each endpoint's HTTP codes, in order
        self.sent = 0

    def start(self) -> None:
        """The first reading, as one row: where everything stands before the attack."""
        self.poll()
        self.tl.stack("before: " + "; ".join([f"{n} {s.said()}" for n, s in self.states.items()]
                                             + [f"{n} GET {self.endpoints[n][1]} → {c}" for n, c in self.codes.items()]))

    def poll(self) -> None:
        for name, c in self.containers.items():
            now, before = read_state(c), self.states.get(name)
            if now != before:
                self.states[name] = now
                self.history[name].append(now.said())
                if before is not None:
                    self.tl.stack(f"{name}: {now.said()}" + (f", restarted ({now.restarts})" if now.restarts > before.restarts
                                                            else ""), self._cause(name, c, before, now))
        for name, (port, path) in self.endpoints.items():
            if self.sent >= MAX_REQUESTS:
                break
            code, _ = ask(port, path, timeout=2)
            self.sent += 1
            if name not in self.codes or code != self.codes[name]:
                if name in self.codes:  # the first answer is part of the "before" row
                    self.tl.stack(f"{name}: GET {path} → {code if code is not None else 'no answer'}")
                self.codes[name] = code
                self.answers[name].append(code)

    def _cause(self, name, container, before: State, now: State) -> str:
        if now.restarts > before.restarts:
            return f"its restart policy ({now.policy})"
        if now.status == "exited":
            if now.oom:
                return "OOM kill (over its memory limit)"
            if now.exit_code == 137:  # a kill, not the program's doing: its last log line would mislead
                return "SIGKILL (exit 137 = 128 + 9)"
            line = next((l for l in reversed(logs_tail(container, 5).splitlines()) if l.strip()), "")
            return short(line, 90)
        return ""

    def until(self, done: Callable[["Watch"], bool], timeout: float, interval: float = 0.5,
              give_up: Callable[["Watch"], str] | None = None) -> bool:
        """Poll until ``done(self)`` (True) or ``timeout`` s pass (False); ``give_up(self)`` returning a reason ends
        the wait early (recorded on the timeline)."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if done(self):
                return True
            reason = give_up(self) if give_up is not None else ""
            if reason:
                self.tl.stack(reason)
                return False
            if time.monotonic() > deadline:
                self.tl.course(f"stopped watching after {timeout:.0f} s")
                return False
            time.sleep(interval)

    def state(self, name: str) -> State:
        return self.states.get(name) or read_state(self.containers[name])

"""Attack a running stack and watch how it recovers: a timeline of what the course did and what the stack did.

A resilience line (lessons 08, 09; the capstone can add one) does to a service what a real day does, and grades
how the stack copes from what Docker and the app report:

* :func:`stop_in_flight`: ``docker stop`` while a slow request is in flight: it must arrive complete and the exit
  be graceful (not 137). A handler-less program under an init (tini) exits fast, and is caught by the request it drops.
* :func:`crash`: SIGKILL to a container's main process, as a crash or an OOM kill: the restart policy applies
  (``docker kill`` counts as a stop by hand, which no policy undoes).
* :func:`disconnect` / :func:`reconnect`: a network cut. :class:`Watch`, :class:`Events` and the :class:`Timeline`
  (from :mod:`dockerlab.grading.watching`, importable from here) follow what the stack does meanwhile.

Every load is bounded in count and time; HTTP goes only to published ports on :func:`host_address` (this machine).
The :class:`Timeline` shows as a table (time, the course, the stack, the cause) and is kept as JSON in ``observed``.
"""
from __future__ import annotations

import dataclasses
import signal
import threading
import time
from typing import Callable

from dockerlab.grading.probes import Pid1, helper, pid1_info
from dockerlab.grading.watching import Events, State, Timeline, Watch, ask, read_state, service_of  # noqa: F401
from dockerlab.show import quiet_cli, short

INITS = {"tini", "docker-init", "dumb-init", "catatonit", "s6-svscan"}


@dataclasses.dataclass
class InFlight:
    """A request sent in a thread, still running while the course does something to the service."""

    thread: threading.Thread
    result: dict

    def wait(self, timeout: float) -> dict:
        self.thread.join(timeout)
        return self.result if not self.thread.is_alive() else {"error": f"no answer within {timeout:.0f} s"}


def send_slow(port: int, path: str, timeout: float = 30) -> InFlight:
    """GET ``path`` in a thread: the result dict gets status, body and seconds, or the error (a dropped connection,
    a truncated body: ``IncompleteRead``)."""
    result: dict = {}
    t0 = time.monotonic()

    def go():
        status, body = ask(port, path, timeout=timeout)
        result["seconds"] = round(time.monotonic() - t0, 1)
        if status is None:
            result["error"] = body
        else:
            result["status"], result["body"] = status, body.strip()

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return InFlight(thread, result)


# --- attack 1: docker stop with a request in flight -------------------------------------------------------------

@dataclasses.dataclass
class InFlightStop:
    """What :func:`stop_in_flight` saw."""

    exit_code: int | None
    seconds: float  # how long docker stop took
    request: dict  # status/body/seconds, or error
    expect_body: str
    pid1: Pid1
    stop_signal: str
    timeout: int
    timeline: Timeline

    @property
    def completed(self) -> bool:
        return self.request.get("status") == 200 and (not self.expect_body or self.request.get("body") == self.expect_body)

    @property
    def killed(self) -> bool:
        return self.exit_code == 137

    @property
    def signal_number(self) -> int:
        name = (self.stop_signal or "SIGTERM").upper()
        return int(name) if name.isdigit() else int(getattr(signal, name if name.startswith("SIG") else f"SIG{name}", 15))

    @property
    def clean_exit(self) -> bool:
        """Exit 0, or 128 + the stop signal (it died of the signal it was sent)."""
        return self.exit_code in (0, 128 + self.signal_number)

    def dropped_because(self) -> str:
        """Why the request in flight did not complete, from the exit code and what PID 1 was."""
        p, code = self.pid1, self.exit_code
        head = (p.cmdline.split() or ["?"])[0].rsplit("/", 1)[-1]
        got = short(self.request.get("error") or f"HTTP {self.request.get('status')}: {self.request.get('body')}", 100)
        if code == 137:
            return f"killed by SIGKILL after the {self.timeout} s stop timeout, the request lost with it ({got})"
        if code == 128 + self.signal_number and head in INITS:
            return (f"PID 1 is an init (`{short(p.cmdline, 60)}`): it passed {self.stop_signal} on to a program that has "
                    f"no handler, which died at once (exit {code}), dropping the request ({got})")
        if code == 128 + self.signal_number:
            return (f"the program died of {self.stop_signal} at once (exit {code} = 128 + {self.signal_number}): no "
                    f"handler, so nothing waited for the request ({got})")
        return (f"the process exited {code} {self.seconds:.1f} s after {self.stop_signal}, before the request finished: "
                "the handler exits without waiting for the requests in flight (the request threads of http.server's "
                f"ThreadingHTTPServer are daemon threads, dropped at exit) ({got})")


def stop_in_flight(lab, container, *, host_port: int, path: str, expect_body: str = "",
                   started: Callable[[], bool] | None = None, stop_timeout: int = 10, request_timeout: float = 30,
                   timeline: Timeline | None = None) -> InFlightStop:
    """Read PID 1 (its command line and SIGTERM handler), send one slow GET ``path``, wait until ``started()`` says
    the app is working on it (else 0.5 s), then ``docker stop -t STOP_TIMEOUT``, and collect the answer. One request,
    one stop, every wait bounded."""
    tl = timeline or Timeline("docker stop with a request in flight")
    info = pid1_info(container, lab)
    for _ in range(4):  # the handler may be installed just after the first answer: read again (2 s at most)
        if info.catches_term is True:
            break
        time.sleep(0.5)
        again = pid1_info(container, lab)
        info = again if again.catches_term is not None or info.catches_term is None else info
    stop_signal = (container.attrs.get("Config") or {}).get("StopSignal") or "SIGTERM"
    tl.stack(f"PID 1: `{short(info.cmdline, 60)}`" + {True: " (handles SIGTERM)", False: " (no SIGTERM handler)",
                                                       None: ""}[info.catches_term])
    flight = send_slow(host_port, path, timeout=request_timeout)
    tl.course(f"GET {path} sent")
    deadline = time.monotonic() + 10
    if started is not None:
        while not started() and time.monotonic() < deadline:
            time.sleep(0.1)
        tl.stack("the app logged that it started the request" if time.monotonic() < deadline else
                 "no sign that the app started the request within 10 s")
    else:
        time.sleep(0.5)
    tl.course(f"docker stop -t {stop_timeout} ({stop_signal}, SIGKILL after {stop_timeout} s)")
    with quiet_cli():
        res = lab.stop(container, timeout=stop_timeout)
    tl.stack(f"exited {res.exit_code} after {res.seconds:.1f} s",
             "SIGKILL after the timeout" if res.exit_code == 137 else "")
    answer = flight.wait(request_timeout)
    out = InFlightStop(res.exit_code, res.seconds, answer, expect_body, info, stop_signal, stop_timeout, tl)
    if out.completed:
        tl.stack(f"the request in flight answered {answer['status']} after {answer.get('seconds', '?')} s: complete")
    else:
        tl.stack("the request in flight: " + short(answer.get("error") or f"HTTP {answer.get('status')}: "
                                                   f"{answer.get('body')}", 80), out.dropped_because().split(":")[0])
    return out


# --- attack 2: a crash --------------------------------------------------------------------------------------------

def crash(lab, container, timeline: Timeline, why: str = "a crash") -> bool:
    """SIGKILL the container's main process from a helper in the engine's PID namespace (``docker run --pid host``):
    the process dies as in a crash or an OOM kill, and the restart policy applies. ``docker kill`` would not do: the
    engine counts it as a stop by hand and no policy restarts that. Returns whether the kill was sent."""
    container.reload()
    pid = (container.attrs.get("State") or {}).get("Pid") or 0
    if not pid:
        timeline.course(f"SIGKILL to {service_of(container)}: not running, nothing to kill")
        return False
    res = helper(lab, lab.base("python"), ["python3", "-c", f"import os, signal; os.kill({int(pid)}, signal.SIGKILL)"],
                 thing="check-crash", pid_mode="host", timeout=30)
    timeline.course(f"SIGKILL to {service_of(container)}'s main process ({why})" if res.ok else
                    f"could not kill {service_of(container)}: {short(res.output, 80)}")
    return res.ok


# --- attack 3: a network cut ------------------------------------------------------------------------------------

def disconnect(network, container, timeline: Timeline) -> list[str]:
    """``docker network disconnect``: returns the container's aliases on that network (give them to reconnect)."""
    container.reload()
    nets = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    network.disconnect(container)
    timeline.course(f"docker network disconnect {network.name} {service_of(container)}")
    return list((nets.get(network.name) or {}).get("Aliases") or [])


def reconnect(network, container, timeline: Timeline, aliases: list[str]) -> None:  # put it back, with its aliases
    network.connect(container, aliases=aliases or None)
    timeline.course(f"docker network connect {network.name} {service_of(container)}")

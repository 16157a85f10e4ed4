"""Asking a served app until it answers, failing fast, and naming the kind of cause when it does not.

* :func:`serve_watching` (:func:`~dockerlab.grading.serving.serve` with a short first look) and :func:`keep_asking`
  (for a container already running): they ask in rounds, read where the container listens between rounds, stop at
  once when the port is bound to the container's loopback (a published port can never reach it), and print what
  they still wait for: a wait is never silent.
* :func:`cause_of`: the kind of cause (``checker.CAUSES``) of an app that did not answer; :func:`taken_port`,
  :func:`why_not_started`: a host port taken, an image gone (the check's own trouble, not the learner's answer).
"""
from __future__ import annotations

import re
import time

from dockerlab.errors import ContainerExited, WaitTimeout
from dockerlab.grading.probes import describe_listeners, listeners
from dockerlab.grading.serving import Served, explain_exit, serve
from dockerlab.run import http_get, logs_tail
from dockerlab.show import short

WAITING = ("not_listening", "listening", "other_port", "http")  # kinds of "no answer yet" worth asking again
# The kind of cause (dockerlab.grading.checker.CAUSES) of each way a served app gave no answer.
KIND_CAUSES = {"http": "not-answering", "loopback": "not-answering", "other_port": "not-answering",
               "not_listening": "not-answering", "listening": "not-answering", "module": "missing", "file": "missing",
               "env": "missing", "bind_denied": "wrong-value", "read_only": "wrong-value", "exited": "exited"}


def taken_port(text: str) -> str:
    """``host port N is taken (…)`` when an engine's error says a host port was taken (by another container or
    process), else ""."""
    m = re.search(r"Bind for (\S+) failed: port is already allocated|listen tcp\d? (\S+): bind: address already in use",
                  text)
    if m:
        return f"host port {(m.group(1) or m.group(2)).rsplit(':', 1)[-1]} is taken ({short(m.group(0), 90)})"
    taken = re.search(r"port is already allocated|address already in use|host port asked for is taken", text)
    return "a host port it asked for is taken (another container or program holds it)" if taken else ""


def why_not_started(served: Served) -> str:
    """Why a container :func:`serve` started did not start, in short: the host port taken, or the engine's words."""
    if re.search(r"No such image|is not on this engine|/sha256:", served.cause):
        return "its image is no longer on the engine (removed meanwhile)"
    return taken_port(served.cause) or served.cause.removeprefix("the container did not start: ")


def port_taken(text: str) -> bool:
    """Does an engine's error say that a host port was taken?"""
    return bool(taken_port(text))


def cause_of(served: Served) -> str:
    """The kind of cause of a served app that did not answer: a program absent from the image is ``missing``; a
    host port taken before the container started is the check's own trouble (``check-error``)."""
    if served.kind == "not_started":
        if port_taken(served.cause) or re.search(r"No such image|is not on this engine|/sha256:", served.cause):
            return "check-error"  # the check's own trouble: its port was taken, its image is gone
        return "missing" if re.search(r"executable file not found|no such file", served.cause, re.I) else "exited"
    return KIND_CAUSES.get(served.kind, "not-answering")


def _say(text: str) -> None:
    print(text, flush=True)


def keep_asking(lab, served: Served, timeout: float, *, every: float = 3.0, want: int | None = 200, waited: float = 0,
                say=_say) -> Served:
    """Ask a served app that has not answered ``want`` (None: any HTTP status) yet, again, for up to ``timeout`` more
    seconds, in rounds of ``every`` s. After a round without an answer it reads where the container listens
    (/proc/net/tcp) and stops at once when the port is bound to loopback only (a published port can never reach it);
    else ``say`` prints what is still awaited, so a wait is never silent. ``waited``: the seconds already spent.
    Returns ``served``, updated. Never raises for what the app does (a container removed meanwhile raises docker's
    NotFound)."""
    container, t0 = served.container, time.monotonic() - waited
    end = time.monotonic() + timeout
    while served.kind in WAITING and container is not None and time.monotonic() < end:
        try:
            served.status, served.body = http_get(served.host_port, served.path,
                                                  timeout=max(0.5, min(every, end - time.monotonic())),
                                                  container=container, expect_status=None)
            if want is None or served.status == want:
                served.kind, served.cause = "ok", ""
                break
            served.kind, seen = "http", f"it answered HTTP {served.status}"
            served.cause = (f"GET {served.path} on port {served.port} answered HTTP {served.status}: "
                            f"{short(served.body, 100)}")
        except ContainerExited:
            container.reload()
            served.logs = logs_tail(container, 20)
            served.kind, served.cause = explain_exit(container.attrs["State"].get("ExitCode"), served.logs)
            break
        except WaitTimeout:
            served.listening = listeners(container, lab)
            served.kind, seen = describe_listeners(served.listening, served.port)
            served.cause = (f"no answer to GET {served.path} on port {served.port} within "
                            f"{time.monotonic() - t0:.0f} s: {seen}")
        if served.kind in WAITING and time.monotonic() < end:
            say(f"… no answer to GET {served.path} on port {served.port} yet ({time.monotonic() - t0:.0f} of "
                f"{timeout + waited:.0f} s): {seen}")
    return served


def serve_watching(lab, image: str, thing: str, *, port: int = 8000, path: str = "/health", timeout: float = 30,
                   first: float = 3.0, say=_say, **run_kwargs) -> Served:
    """:func:`serve` that fails fast: a first look of ``first`` s, then :func:`keep_asking` for the rest of
    ``timeout`` (it stops at once on a port bound to loopback, and says what it waits for)."""
    served = serve(lab, image, thing, port=port, path=path, timeout=min(first, timeout), **run_kwargs)
    if served.kind in WAITING and timeout > first:
        served = keep_asking(lab, served, timeout - first, waited=first, say=say)
    return served

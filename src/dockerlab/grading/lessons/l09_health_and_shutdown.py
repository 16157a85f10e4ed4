"""Lesson 09 exercise: the invoice renderer (a stock ``ThreadingHTTPServer`` behind a start script) must stop cleanly.

One attack, judged from what happened: the image is started, a 2-second render is sent, ``docker stop -t 10`` comes
while it runs (:func:`dockerlab.grading.resilience.stop_in_flight`). The stop must end in a clean exit (0, or 128 +
the stop signal) well before the timeout, and the render must arrive complete: a program that merely exits fast
(no handler under an init, a handler that exits at once, request threads that are daemons) drops it. A timeline
shows what the course did and what the container did.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker, NotEvaluated, criterion, failed, passed
from dockerlab.grading.rebuild import build_failed
from dockerlab.grading.probes import pid1  # noqa: F401 (the lesson notebook reads PID 1 with it)
from dockerlab.grading.resilience import INITS, InFlightStop, stop_in_flight
from dockerlab.grading.serving import serve
from dockerlab.run import remove
from dockerlab.show import quiet_cli, short
from dockerlab.grading.lessons import lesson_hints

LESSON = "09_health_and_shutdown"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
STOP_TIMEOUT = 10
MAX_SECONDS = 6.0  # the render takes 2 s; well before the 10 s timeout even on a loaded machine
RENDER = "/render?id=7&s=2"
RENDERED = "invoice 7 rendered"


@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    image: object = None
    served: object = None
    stop: InFlightStop | None = None

    def need_served(self):
        if self.served is None or self.served.container is None or not self.served.ok:
            raise NotEvaluated("the renderer did not answer (line 2)")
        return self.served

    def attacked(self) -> InFlightStop:
        """The one attack, done once: a render in flight, then docker stop."""
        if self.stop is None:
            served = self.need_served()
            c = served.container

            def started() -> bool:
                return "render 7 started" in c.logs().decode(errors="replace")
            self.stop = stop_in_flight(self.lab, c, host_port=served.host_port, path=RENDER, expect_body=RENDERED,
                                       started=started, stop_timeout=STOP_TIMEOUT)
            self.stop.timeline.show()
        return self.stop


@criterion("l09.builds", "the image builds")
def builds(g: Grading):
    if not (g.app / "Dockerfile").exists() or not (g.app / "Dockerfile").read_text().strip():
        return failed("missing", f"no Dockerfile in {g.app.name}/ (or it is empty)", "keep the renderer's Dockerfile",
                      file="Dockerfile")
    try:
        g.image = g.lab.build(g.app, "exercise", quiet=True)
    except BuildFailed as exc:
        return build_failed(exc, "fix that step of the Dockerfile")
    return passed(f"built {g.image.tag}", tag=g.image.tag)


@criterion("l09.serves", "the renderer answers /health")
def serves(g: Grading):
    if g.image is None:
        raise NotEvaluated("the image did not build (line 1)")
    with quiet_cli():
        g.served = serve(g.lab, g.image.tag, "exercise", port=8000, path="/health", timeout=30)
    if not g.served.ok:
        return failed("exited" if g.served.container is None or g.served.kind in ("exited", "file", "module", "not_started")
                      else "not-answering", g.served.cause, g.served.fix or "the renderer must answer GET /health on 8000",
                      kind=g.served.kind)
    return passed(f"GET /health → {g.served.status}", status=g.served.status)


@criterion("l09.stops", f"docker stop: a clean exit in under {MAX_SECONDS:.0f} s")
def stops(g: Grading):
    s = g.attacked()
    obs = dict(exit_code=s.exit_code, seconds=round(s.seconds, 1), pid1=s.pid1.cmdline, stop_signal=s.stop_signal,
               catches_term=s.pid1.catches_term)
    head = (s.pid1.cmdline.split() or ["?"])[0].rsplit("/", 1)[-1]
    if s.killed:
        if s.pid1.is_shell:
            why = (f"PID 1 is `{short(s.pid1.cmdline, 60)}`, a shell that runs python as its child and does not pass "
                   f"{s.stop_signal} on")
            fix = "let python replace the shell: `exec python main.py` as the script's last line (or start python directly)"
        elif s.pid1.catches_term is False:
            why = (f"PID 1 is `{short(s.pid1.cmdline, 60)}` and nothing handles {s.stop_signal}: as PID 1, a process "
                   "without a handler ignores it")
            fix = "install a handler for the stop signal (signal.signal) that makes serve_forever() return"
        else:
            why = f"PID 1 (`{short(s.pid1.cmdline, 60)}`) handles the signal but did not exit"
            fix = "the handler must make serve_forever() return (server.shutdown() from another thread), then exit"
        return failed("not-graceful", f"exit 137: killed by SIGKILL after the {STOP_TIMEOUT} s stop timeout; {why}",
                      fix, **obs)
    if not s.clean_exit:
        return failed("not-graceful", f"exit code {s.exit_code} after {s.stop_signal} ({s.seconds:.1f} s): neither 0 nor "
                      f"{128 + s.signal_number} (128 + the stop signal); the log says `{short(log_tail(g), 100)}`",
                      "end with exit 0 once the server has drained", **obs)
    if s.seconds >= MAX_SECONDS:
        return failed("not-graceful", f"docker stop took {s.seconds:.1f} s for a 2 s request", "react to the stop "
                      "signal at once: stop accepting, wait only for the requests in flight", **obs)
    init = f" (an init: {head})" if head in INITS else ""
    return passed(f"exit {s.exit_code} after {s.seconds:.1f} s; PID 1 `{short(s.pid1.cmdline, 50)}`{init}", **obs)


def log_tail(g: Grading) -> str:
    try:
        lines = g.served.container.logs(tail=3).decode(errors="replace").strip().splitlines()
    except Exception:  # noqa: BLE001 - gone: nothing to quote
        return "(no logs)"
    return lines[-1] if lines else "(no logs)"


@criterion("l09.in-flight", "the render in flight arrives complete")
def in_flight(g: Grading):
    s = g.attacked()
    obs = dict(request=s.request, exit_code=s.exit_code, seconds=round(s.seconds, 1), timeline=s.timeline.observed())
    if s.completed:
        luck = f" (only because it was shorter than the {STOP_TIMEOUT} s before the SIGKILL)" if s.killed else ""
        return passed(f"GET {RENDER}, sent before the stop, answered {s.request['status']} '{s.request['body']}' "
                      f"after {s.request.get('seconds')} s{luck}", **obs)
    if s.killed:
        fix = "first make the stop signal reach a handler (line 3), and let the handler drain"
    elif s.exit_code == 128 + s.signal_number:
        fix = ("handle the stop signal yourself: a program that dies of it (no handler, or an init passing it on) drops "
               "what it was doing")
    else:
        fix = ("make the exit wait for the requests in flight: serve_forever() returns after shutdown(), and "
               "server_close() joins only request threads that are not daemons")
    return failed("not-graceful", f"GET {RENDER}, sent just before the stop, did not arrive complete: "
                  f"{s.dropped_because()}", fix, **obs)


CRITERIA = [builds, serves, stops, in_flight]


def grade(lab, app_dir, only=None) -> Checker:
    """Build ``app_dir``, start it, stop it with a render in flight; the filled table (never raises)."""
    g = Grading(lab, Path(app_dir))

    def cleanup():
        if g.served is not None and g.served.container is not None:
            remove(g.served.container, client=lab.client, quiet=True)

    return Checker(LESSON, "graceful-shutdown").run(CRITERIA, g, only=only, cleanup=cleanup)


def check(lab, app_dir, **kwargs) -> Checker:
    """Grade, and raise CheckFailed unless every line passed."""
    return grade(lab, app_dir, **kwargs).raise_unless_passed()

"""Lesson 09 exercise: make the service stop cleanly: fast, exit 0/143, and the in-flight request completes.

The stop is timed only once the service answers and PID 1 is read (its command line, and whether it has a
SIGTERM handler): a kill is then explained by what PID 1 was, not by how the CMD was spelled.
"""
from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker
from dockerlab.run import host_address, remove
from dockerlab.show import short
from dockerlab.grading.probes import pid1  # noqa: F401 (the lesson notebook reads PID 1 with it)
from dockerlab.grading.serving import serve, stop_when_ready

LESSON = "09_health_and_shutdown"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "Who is PID 1? With the shell form of CMD on a Debian image it is /bin/sh (dash), which does not pass SIGTERM on "
    "(bash and busybox sh exec the last command instead).",
    "Python as PID 1 ignores SIGTERM unless it has a handler. The handler must not exit at once: serve_forever() has "
    "to return so that server_close() waits for the requests in flight, and shutdown() blocks when called from the "
    "thread that serves.",
    "Lesson 09, section \"Graceful shutdown\", lists the three things that decide what `docker stop` does and builds "
    "a draining handler.",
)
STOP_TIMEOUT = 10
MAX_SECONDS = 6.0  # the in-flight request takes 2 s; well before the 10 s timeout even on a loaded machine


def slow_request(port: int, seconds: float = 2.0) -> tuple[threading.Thread, dict]:
    """GET /slow?s=SECONDS in a thread; the dict gets "status"/"body" or "error" when it ends."""
    result: dict = {}

    def go():
        try:
            with urllib.request.urlopen(f"http://{host_address()}:{port}/slow?s={seconds:g}", timeout=30) as r:
                result["status"], result["body"] = r.status, r.read().decode().strip()
        except Exception as exc:  # noqa: BLE001 - any failure of the request is the finding
            result["error"] = f"{type(exc).__name__}: {exc}"

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t, result


def wait_log(container, text: str, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in container.logs().decode(errors="replace"):
            return True
        time.sleep(0.1)
    return False


def check(lab, app_dir) -> Checker:
    """Build ``app_dir``, start it, send a slow request, ``docker stop -t 10`` it once it is ready, judge the stop."""
    c = Checker(LESSON, "graceful-shutdown")
    app_dir = Path(app_dir)
    try:
        result = lab.build(app_dir, "exercise", quiet=True)
    except BuildFailed as exc:
        c.fail("image builds", str(exc).splitlines()[0], "fix the Dockerfile")
        return c.report()
    served = serve(lab, result.tag, "exercise", port=8000, path="/health", timeout=20)
    container = served.container
    try:
        if not served.ok:
            c.fail("service starts", served.cause, served.fix or "the service must answer GET /health on port 8000")
            return c.report()
        thread, req = slow_request(served.host_port, 2.0)
        if not wait_log(container, "slow request started", 10):
            c.fail("slow request reaches the service", "the service never logged 'slow request started'",
                   "keep app.py's /slow endpoint")
            return c.report()
        stopped = stop_when_ready(lab, container, host_port=served.host_port, timeout=STOP_TIMEOUT)
        thread.join(15)
        code, secs = stopped.exit_code, stopped.seconds
        if code == 137:
            fix = ('use the exec form: CMD ["python", "app.py"]' if stopped.pid1.is_shell else
                   "install a SIGTERM handler in shutdown.install(server) that makes serve_forever() return")
            c.fail("stops on SIGTERM", f"exit code 137: killed (SIGKILL) after the {STOP_TIMEOUT} s stop timeout; "
                   + stopped.why_killed(STOP_TIMEOUT), fix)
        else:
            c.expect(code in (0, 143), "stops on SIGTERM", f"exit code {code}", fix="exit with 0 after draining",
                     ok=f"exit code {code} (PID 1: {stopped.pid1.cmdline})")
        c.expect(secs < MAX_SECONDS, f"stops in under {MAX_SECONDS:.0f} s", f"docker stop took {secs:.1f} s",
                 fix="react to SIGTERM right away instead of waiting for the SIGKILL", ok=f"docker stop took {secs:.1f} s")
        if req.get("status") == 200 and req.get("body") == "done":
            c.ok("in-flight request completes", "GET /slow answered 200 'done' during the shutdown")
        else:
            seen = req.get("error") or (f"HTTP {req.get('status')}: {req.get('body')}" if req else "no answer")
            c.fail("in-flight request completes", f"GET /slow, sent just before the stop, failed ({short(seen, 160)})",
                   "drain before exiting: call server.shutdown() from a thread (not os._exit / sys.exit) so "
                   "serve_forever() returns and server_close() waits for requests")
    finally:
        if container is not None:
            remove(container, client=lab.client, quiet=True)
    return c.report()

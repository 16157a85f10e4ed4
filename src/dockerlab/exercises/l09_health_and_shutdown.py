"""Lesson 09 exercise: make the service stop cleanly: fast, exit 0/143, and the in-flight request completes."""
from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path

from ..build import BuildFailed
from ..checks import Checker
from ..run import ContainerExited, WaitTimeout, free_port, host_address, http_get, remove

LESSON = "09_health_and_shutdown"
STOP_TIMEOUT = 10
MAX_SECONDS = 3.0


def pid1(container) -> str:
    """The command line of PID 1 in a running container (``docker exec NAME cat /proc/1/cmdline``)."""
    res = container.exec_run(["cat", "/proc/1/cmdline"])
    return res.output.decode(errors="replace").replace("\x00", " ").strip()


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


def check_graceful(lab, app_dir) -> Checker:
    """Build ``app_dir``, start it, send a slow request, ``docker stop -t 10`` it, and judge the stop."""
    c = Checker(LESSON, "graceful-shutdown")
    app_dir = Path(app_dir)
    try:
        result = lab.build(app_dir, "exercise", show=False)
    except BuildFailed as exc:
        c.fail("image builds", str(exc).splitlines()[0], "fix the Dockerfile")
        return c.report()
    port = free_port()
    container = lab.run(result.tag, "exercise", ports={"8000/tcp": port})
    try:
        try:
            http_get(port, "/health", timeout=20, container=container)
        except (WaitTimeout, ContainerExited) as exc:
            c.fail("service starts", str(exc)[:300], "the service must answer GET /health on port 8000")
            return c.report()
        first = pid1(container)
        thread, req = slow_request(port, 2.0)
        if not wait_log(container, "slow request started", 10):
            c.fail("slow request reaches the service", "the service never logged 'slow request started'",
                   "keep app.py's /slow endpoint")
            return c.report()
        stopped = lab.stop(container, timeout=STOP_TIMEOUT)
        thread.join(15)
        code, secs = stopped.exit_code, stopped.seconds
        if code == 137:
            if first.startswith(("/bin/sh", "sh ")):
                why = (f"PID 1 is `{first}` (shell-form CMD): the shell does not pass SIGTERM on to python",
                       'use the exec form: CMD ["python", "app.py"]')
            else:
                why = (f"PID 1 is `{first}` and nothing handled SIGTERM (as PID 1 python ignores it without a handler)",
                       "install a SIGTERM handler in shutdown.install(server) that makes serve_forever() return")
            c.fail("stops on SIGTERM", f"exit code 137: killed (SIGKILL) after the {STOP_TIMEOUT} s stop timeout; {why[0]}",
                   why[1])
        else:
            c.expect(code in (0, 143), "stops on SIGTERM", f"exit code {code}", "exit with 0 after draining",
                     detail_ok=f"exit code {code} (PID 1: {first})")
        c.expect(secs < MAX_SECONDS, f"stops in under {MAX_SECONDS:.0f} s", f"docker stop took {secs:.1f} s",
                 "react to SIGTERM right away instead of waiting for the SIGKILL", detail_ok=f"docker stop took {secs:.1f} s")
        if req.get("status") == 200 and req.get("body") == "done":
            c.ok("in-flight request completes", "GET /slow answered 200 'done' during the shutdown")
        else:
            seen = req.get("error") or (f"HTTP {req.get('status')}: {req.get('body')}" if req else "no answer")
            c.fail("in-flight request completes", f"GET /slow, sent just before the stop, failed ({seen[:160]})",
                   "drain before exiting: call server.shutdown() from a thread (not os._exit / sys.exit) so "
                   "serve_forever() returns and server_close() waits for requests")
    finally:
        remove(container, client=lab.client, quiet=True)
    return c.report()

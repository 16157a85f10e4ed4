"""Lesson 12 exercise: three broken services, each fixed with its Dockerfile or its run arguments.

``check(lab, apps, run_args)`` builds ``apps/<service>`` for each of the three services, runs it with
the learner's ``run_args[service]`` (keyword arguments of ``containers.run``: ``environment``, ``command`` …)
and a published port, then asks ``GET /health`` from this kernel. Each service gets one line: fixed, or
what was seen (exit code, the log line that explains it, the address and port it really listens on, read
from the container's /proc/net/tcp) and how to fix it.
"""
from __future__ import annotations

from pathlib import Path

from ..build import BuildFailed
from ..checks import Checker
from ..run import remove
from .probes import serve

LESSON = "12_debugging"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "Run each one and read its exit code and its logs (`container.wait()`, `container.logs()`): the last log line "
    "names the problem.",
    "wrong_cmd: where did COPY put the file? missing_env: which variable does the app read? localhost_bind: compare "
    "GET /health inside the container (`exec_run`) and from outside.",
    "Lesson 12, sections \"1. A container that crashes on start\", \"2. `docker cp` out of a stopped container\" and "
    "\"3. `exec` into a running container\".",
)
SERVICES = ("wrong_cmd", "missing_env", "localhost_bind")

FIXES = {
    "wrong_cmd": "make CMD name the file the image really has (look with `docker run --rm IMAGE ls -l` "
                 "or `docker cp`): the Dockerfile copies server.py into /srv, e.g. CMD [\"python\", \"/srv/server.py\"]",
    "missing_env": "set the variable: run_args[\"missing_env\"] = {\"environment\": {\"GREETING\": \"hello\"}} "
                   "(docker run -e GREETING=hello), or ENV GREETING=hello in the Dockerfile",
    "localhost_bind": "listen on every interface inside the container: CMD [\"python\", \"app.py\", \"--host\", "
                      "\"0.0.0.0\"] (or pass command=[…, \"--host\", \"0.0.0.0\"] in run_args)",
}


def check_one(lab, apps, service: str, run_args: dict | None, c: Checker, answer_timeout: float = 8) -> bool:
    """Build, run and probe one service; record one line on ``c``: fixed, or the observed cause."""
    name = f"{service} is fixed"
    app = Path(apps) / service
    try:
        result = lab.build(app, service, quiet=True)
    except (BuildFailed, FileNotFoundError) as exc:
        return c.fail(name, f"{service}: the image does not build: {str(exc).splitlines()[0]}",
                      "fix the Dockerfile so that `docker build` succeeds")
    kwargs = dict(run_args or {})
    kwargs.pop("ports", None)
    kwargs.pop("name", None)
    served = serve(lab, result.tag, service, port=8000, path="/health", timeout=answer_timeout, **kwargs)
    if served.container is not None:
        remove(served.container, client=lab.client, quiet=True)
    if served.ok:
        return c.ok(name, f"{service}: GET /health on the published port answered 200")
    fix = FIXES.get(service, "") if served.kind in ("file", "env", "loopback", "exited") else ""
    return c.fail(name, f"{service}: {served.cause}", fix or served.fix or "read `docker logs` and fix the cause")


def check(lab, apps, run_args: dict | None = None) -> Checker:
    """Check that each of the three broken services now answers ``GET /health`` on its published port."""
    c = Checker(LESSON, "broken-services")
    run_args = run_args or {}
    for service in SERVICES:
        check_one(lab, apps, service, run_args.get(service), c)
    return c.report()

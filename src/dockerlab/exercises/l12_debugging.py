"""Lesson 12 exercise: three broken services, each fixed with its Dockerfile or its run arguments.

``check_services(lab, apps, run_args)`` builds ``apps/<service>`` for each of the three services, runs it with
the learner's ``run_args[service]`` (keyword arguments of ``containers.run``: ``environment``, ``command`` …)
and a published port, then asks ``GET /health`` from this kernel. Each service gets one line: fixed, or
what was seen (exit code, the log line that explains it, the address it listens on) and how to fix it.
"""
from __future__ import annotations

from pathlib import Path

from ..build import BuildFailed
from ..checks import Checker
from ..run import ContainerExited, WaitTimeout, free_port, http_get, logs_tail, remove

LESSON = "12_debugging"
SERVICES = ("wrong_cmd", "missing_env", "localhost_bind")

FIXES = {
    "wrong_cmd": "make CMD name the file the image really has (look with `docker run --rm IMAGE ls -l` "
                 "or `docker cp`): the Dockerfile copies server.py into /srv, e.g. CMD [\"python\", \"/srv/server.py\"]",
    "missing_env": "set the variable: run_args[\"missing_env\"] = {\"environment\": {\"GREETING\": \"hello\"}} "
                   "(docker run -e GREETING=hello), or ENV GREETING=hello in the Dockerfile",
    "localhost_bind": "listen on every interface inside the container: CMD [\"python\", \"app.py\", \"--host\", "
                      "\"0.0.0.0\"] (or pass command=[…, \"--host\", \"0.0.0.0\"] in run_args)",
}


def _explain_exit(service: str, code, logs: str) -> tuple[str, str]:
    """What the exit code and the last log lines say, and the fix for this service."""
    last = [l for l in logs.strip().splitlines() if l.strip()]
    tail = last[-1].strip() if last else "(no log output)"
    if "can't open file" in logs or "No such file or directory" in logs:
        why = f"exited with code {code} at start: CMD names a file that is not in the image (log: {tail[:160]})"
    elif "KeyError" in logs:
        var = tail.split("KeyError:", 1)[-1].strip() if "KeyError:" in tail else "a variable"
        why = f"exited with code {code} at start: environment variable {var} is not set (log: {tail[:160]})"
    else:
        why = f"exited with code {code} at start (log: {tail[:160]})"
    return why, FIXES.get(service, "read `docker logs` and fix the cause")


def _listens_inside(container) -> bool:
    """Does GET /health answer on 127.0.0.1:8000 from inside the container (``docker exec``)?"""
    code = ("import urllib.request,sys; "
            "sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status == 200 else 1)")
    try:
        return container.exec_run(["python", "-c", code]).exit_code == 0
    except Exception:  # noqa: BLE001 - any failure means: not answering inside
        return False


def check_one(lab, apps, service: str, run_args: dict | None, c: Checker, answer_timeout: float = 8) -> bool:
    """Build, run and probe one service; record one line on ``c``."""
    name = f"{service} is fixed"
    app = Path(apps) / service
    try:
        result = lab.build(app, service, show=False)
    except (BuildFailed, FileNotFoundError) as exc:
        return c.fail(name, f"{service}: the image does not build: {str(exc).splitlines()[0]}",
                      "fix the Dockerfile so that `docker build` succeeds")
    kwargs = dict(run_args or {})
    kwargs.pop("ports", None)
    kwargs.pop("name", None)
    port = free_port()
    try:
        container = lab.run(result.tag, service, ports={"8000/tcp": port}, **kwargs)
    except Exception as exc:  # noqa: BLE001 - bad run arguments are the learner's to fix
        return c.fail(name, f"{service}: docker run failed: {str(exc)[:200]}", "check the run arguments")
    try:
        try:
            status, _ = http_get(port, "/health", timeout=answer_timeout, container=container)
            return c.expect(status == 200, name, f"{service}: GET /health answered HTTP {status}",
                            "the service must answer 200 on /health",
                            detail_ok=f"{service}: GET /health on the published port answered 200")
        except ContainerExited:
            container.reload()
            code = container.attrs["State"].get("ExitCode")
            why, fix = _explain_exit(service, code, logs_tail(container, 20))
            return c.fail(name, f"{service}: {why}", fix)
        except WaitTimeout:
            if _listens_inside(container):
                return c.fail(name, f"{service}: running, and /health answers inside the container (docker exec), "
                                    f"but not on the published port {port}: the server listens on 127.0.0.1 "
                                    "(the container's own loopback), which port publishing cannot reach",
                              FIXES.get(service, "listen on 0.0.0.0"))
            return c.fail(name, f"{service}: running, but nothing answers on port 8000 inside or outside "
                                f"(logs: {logs_tail(container, 3).strip()[:160]})",
                          "the server must listen on 0.0.0.0:8000")
    finally:
        remove(container, client=lab.client, quiet=True)


def check_services(lab, apps, run_args: dict | None = None) -> Checker:
    """Check that each of the three broken services now answers ``GET /health`` on its published port."""
    c = Checker(LESSON, "broken-services")
    run_args = run_args or {}
    for service in SERVICES:
        check_one(lab, apps, service, run_args.get(service), c)
    return c.report()

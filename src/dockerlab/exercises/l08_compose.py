"""Lesson 08 exercise: complete a Compose file so the stack comes up healthy, in order, and web answers from Postgres."""
from __future__ import annotations

import json
from pathlib import Path

from ..checks import Checker
from ..compose import ComposeError, Stack, depends_on, healthcheck_test
from ..run import WaitTimeout, free_port, http_get

LESSON = "08_compose"


def _health(container) -> str:
    container.reload()
    return ((container.attrs["State"].get("Health") or {}).get("Status")) or "no healthcheck"


def _last_check(container) -> str:
    container.reload()
    log = (container.attrs["State"].get("Health") or {}).get("Log") or []
    if not log:
        return "no check ran yet"
    last = log[-1]
    return f"last check exited {last.get('ExitCode')}: {str(last.get('Output', '')).strip()[:200] or '(no output)'}"


def check_stack(lab, stack_dir, compose_file: str = "compose.yaml", wait_timeout: int = 60) -> Checker:
    """Bring the learner's stack up (project ``lab.name('exercise')``), inspect it, take it down again.

    Expects: db has a health check; web depends on db and queue with ``condition: service_healthy``;
    ``up --wait`` succeeds (every health check passes); db and queue started before web; ``/db`` answers.
    """
    c = Checker(LESSON, "compose")
    stack_dir = Path(stack_dir)
    port = free_port()
    try:
        stack = Stack(lab, stack_dir, project="exercise", files=[compose_file], env={"WEB_PORT": str(port)})
        cfg = stack.config()
    except (ComposeError, FileNotFoundError) as exc:
        c.fail("compose file is valid", str(exc).splitlines()[0][:300],
               f"fix {compose_file} until `docker compose config` accepts it")
        return c.report()

    services = cfg.get("services") or {}
    for svc in ("web", "db", "queue"):
        if svc not in services:
            c.fail(f"service {svc} exists", f"{compose_file} has no service {svc!r} (services: {', '.join(services)})",
                   f"keep the {svc} service of the starter file")
    if c.failures:
        return c.report()

    test = healthcheck_test(cfg, "db")
    c.expect(test is not None, "db has a health check",
             "db has no healthcheck, so Compose cannot know when Postgres accepts connections",
             "add to db: healthcheck: {test: [\"CMD-SHELL\", \"pg_isready -U app -d app\"], interval: 1s, retries: 30}",
             detail_ok=f"test: {test}")
    for dep in ("db", "queue"):
        deps = depends_on(cfg, "web")
        cond = deps.get(dep)
        c.expect(cond == "service_healthy", f"web waits for {dep} to be healthy",
                 (f"web does not depend on {dep}" if cond is None else
                  f"web depends on {dep} with condition {cond}: web starts as soon as the {dep} container starts,"
                  " before it is ready"),
                 f"under web: depends_on: {{{dep}: {{condition: service_healthy}}}}",
                 detail_ok=f"depends_on {dep}: condition service_healthy")
    if c.failures:
        c.fail("stack comes up healthy", "not tried: fix the file first (the checks above)", "")
        return c.report()

    try:
        try:
            stack.up(wait=True, build=True, wait_timeout=wait_timeout)
            c.ok("stack comes up healthy", f"docker compose up --wait succeeded within {wait_timeout} s")
        except ComposeError as exc:
            db_containers = stack.containers("db")
            db_state = _health(db_containers[0]) if db_containers else "no container"
            if db_containers and db_state != "healthy":
                c.fail("stack comes up healthy",
                       f"db never became healthy (status {db_state}; {_last_check(db_containers[0])}) with test {test}",
                       "the health check command is wrong: try it by hand with "
                       f"`docker compose exec db {(' '.join(test[1:]) if isinstance(test, list) else test)}`, "
                       "e.g. test: [\"CMD-SHELL\", \"pg_isready -U app -d app\"]")
            else:
                c.fail("stack comes up healthy", str(exc).splitlines()[0][:300],
                       "read the log lines above (docker compose logs) and fix the failing service")
            return c.report()

        web, db, queue = stack.container("web"), stack.container("db"), stack.container("queue")
        states = {n: _health(x) for n, x in (("web", web), ("db", db), ("queue", queue))}
        c.expect(all(s == "healthy" for s in states.values()), "every service healthy",
                 f"health: {states}", "every service with a healthcheck must pass it", detail_ok=f"health: {states}")
        started = {n: x.attrs["State"]["StartedAt"] for n, x in (("web", web), ("db", db), ("queue", queue))}
        order = sorted(started, key=started.get)
        c.expect(order[-1] == "web", "started in order (db, queue before web)",
                 f"start order was {' → '.join(order)} (State.StartedAt)",
                 "web must wait for its dependencies: depends_on with condition service_healthy",
                 detail_ok=f"start order {' → '.join(order)} (State.StartedAt)")
        try:
            status, body = http_get(port, "/db", timeout=20, expect_status=None)
            data = json.loads(body) if status == 200 else {}
            c.expect(status == 200 and bool(data.get("server_version")), "web answers from Postgres",
                     f"GET /db → HTTP {status}: {body[:200]}", "web must reach Postgres at db:5432 (service name)",
                     detail_ok=f"GET /db → Postgres {data.get('server_version', '')[:20]}")
        except WaitTimeout as exc:
            c.fail("web answers from Postgres", str(exc), "is web's port published as ${WEB_PORT}:8000?")
    finally:
        stack.cleanup()
    return c.report()

"""Lesson 08 exercise: complete a Compose file so the stack comes up healthy, in order, and web answers from Postgres."""
from __future__ import annotations

import json
from pathlib import Path

from dockerlab.grading.checker import Checker
from dockerlab.compose import ComposeError, Stack, depends_on, healthcheck_test
from dockerlab.health import health_status
from dockerlab.run import WaitTimeout, free_port, http_get
from dockerlab.show import short
from dockerlab.grading.serving import healthcheck_can_fail

LESSON = "08_compose"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "A health check is a command Compose runs inside the container: exit 0 means healthy. The postgres image ships "
    "pg_isready for exactly this.",
    "Without -h, pg_isready asks the Unix socket, which answers during the image's init phase before TCP 5432 is "
    "open. And the short form `depends_on: [db]` only waits for the container to start.",
    "Lesson 08, sections \"A health check that asks what the app needs\" and \"Up, built, and waited for\" show "
    "the health check and the long form of depends_on with its condition.",
)


def check(lab, stack_dir, compose_file: str = "compose.yaml", wait_timeout: int = 60) -> Checker:
    """Bring the learner's stack up (project ``lab.name('exercise')``), inspect it, take it down again.

    Expects: db has a health check that can fail (run where Postgres is not up, it must report unhealthy); web
    depends on db and queue with ``condition: service_healthy``; ``up --wait`` succeeds (every health check
    passes); db and queue started before web; ``/db`` answers.
    """
    c = Checker(LESSON, "compose")
    stack_dir = Path(stack_dir)
    port = free_port()
    try:
        stack = Stack(lab, stack_dir, project="exercise", files=[compose_file], env={"WEB_PORT": str(port)})
        cfg = stack.config()
    except (ComposeError, FileNotFoundError) as exc:
        c.fail("compose file is valid", short(str(exc).splitlines()[0], 300),
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
             fix="add to db: healthcheck: {test: [\"CMD-SHELL\", \"pg_isready -h 127.0.0.1 -U app -d app\"], interval: 1s, retries: 30}",
             ok=f"test: {test}")
    if test is not None:  # a check that passes whatever Postgres does would let web start too early
        db = services["db"] or {}
        can_fail, seen = healthcheck_can_fail(lab, db.get("image") or "", ["CMD-SHELL", test] if isinstance(test, str)
                                              else test, thing="check-db-idle", environment=db.get("environment"))
        c.expect(can_fail is not False, "db's health check can report unhealthy", seen,
                 fix="ask Postgres itself, and let the failure through: test: [\"CMD-SHELL\", \"pg_isready -U app "
                     "-d app\"] (no `|| exit 0`, not `true`)", ok=seen)
    for dep in ("db", "queue"):
        deps = depends_on(cfg, "web")
        cond = deps.get(dep)
        c.expect(cond == "service_healthy", f"web waits for {dep} to be healthy",
                 (f"web does not depend on {dep}" if cond is None else
                  f"web depends on {dep} with condition {cond}: web starts as soon as the {dep} container starts,"
                  " before it is ready"),
                 fix=f"under web: depends_on: {{{dep}: {{condition: service_healthy}}}}",
                 ok=f"depends_on {dep}: condition service_healthy")
    if c.failures:
        c.skip("stack comes up healthy", "fix the file first (the lines above)")
        return c.report()

    try:
        try:
            stack.up(wait=True, build=True, wait_timeout=wait_timeout)
            c.ok("stack comes up healthy", f"docker compose up --wait succeeded within {wait_timeout} s")
        except ComposeError as exc:
            db_containers = stack.containers("db")
            db_state, last = health_status(db_containers[0]) if db_containers else ("no container", "")
            if db_containers and db_state != "healthy":
                c.fail("stack comes up healthy",
                       f"db never became healthy (status {db_state}; last check {last}) with test {test}",
                       "the health check command is wrong: try it by hand with "
                       f"`docker compose exec db {(' '.join(test[1:]) if isinstance(test, list) else test)}`, "
                       "e.g. test: [\"CMD-SHELL\", \"pg_isready -h 127.0.0.1 -U app -d app\"]")
            else:
                c.fail("stack comes up healthy", short(str(exc).splitlines()[0], 300),
                       "read the log lines above (docker compose logs) and fix the failing service")
            return c.report()

        web, db, queue = stack.container("web"), stack.container("db"), stack.container("queue")
        states = {n: health_status(x)[0] for n, x in (("web", web), ("db", db), ("queue", queue))}
        c.expect(all(s == "healthy" for s in states.values()), "every service healthy",
                 f"health: {states}", fix="every service with a healthcheck must pass it", ok=f"health: {states}")
        started = {n: x.attrs["State"]["StartedAt"] for n, x in (("web", web), ("db", db), ("queue", queue))}
        order = sorted(started, key=started.get)
        c.expect(order[-1] == "web", "started in order (db, queue before web)",
                 f"start order was {' → '.join(order)} (State.StartedAt)",
                 fix="web must wait for its dependencies: depends_on with condition service_healthy",
                 ok=f"start order {' → '.join(order)} (State.StartedAt)")
        try:
            status, body = http_get(port, "/db", timeout=20, expect_status=None)
            data = json.loads(body) if status == 200 else {}
            c.expect(status == 200 and bool(data.get("server_version")), "web answers from Postgres",
                     f"GET /db → HTTP {status}: {short(body, 200)}", fix="web must reach Postgres at db:5432 (service name)",
                     ok=f"GET /db → Postgres {data.get('server_version', '')[:20]}")
        except WaitTimeout as exc:
            c.fail("web answers from Postgres", str(exc), "is web's port published as ${WEB_PORT}:8000?")
    finally:
        stack.cleanup()
    return c.report()

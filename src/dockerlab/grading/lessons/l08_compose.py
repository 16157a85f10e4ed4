"""Lesson 08 exercise: the learner writes the paste service's ``compose.yaml`` (YAML, a stack the lesson did not run).

Judged by what Compose and Docker do, not the words: the file as ``docker compose config`` resolves it; db's health
check where Postgres accepts no TCP connection; ``up --wait``, every container's state; the start order (engine events);
a paste round trip; the mount holding PGDATA; a resilience line: Postgres crashed, the stack recovers (a timeline).
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from docker.errors import DockerException

from dockerlab.compose import ComposeError, Stack, healthcheck_test
from dockerlab.grading.checker import Checker, NotEvaluated, criterion, failed, passed
from dockerlab.grading.database import PG_VOLUME_18, PGDATA_17, pgdata_mount
from dockerlab.grading.probes import exec_argv
from dockerlab.grading.resilience import Events, Timeline, Watch, ask, crash, read_state
from dockerlab.grading.serving import healthcheck_argv, healthcheck_can_fail
from dockerlab.run import free_port, logs_tail, remove
from dockerlab.show import quiet_cli, short
from dockerlab.grading.lessons import lesson_hints

LESSON = "08_compose"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
SERVICES = ("api", "worker", "schema", "db")
LONG_RUNNING = ("api", "worker", "db")
RECOVER_TIMEOUT = 90  # Postgres' crash recovery plus a restart back-off, on a busy 2-core machine


@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    file: str
    wait_timeout: int
    port: int = 0
    stack: Stack | None = None
    cfg: dict | None = None
    events: list | None = None  # the engine's events for the project, collected while `up` ran (by the collector)
    collector: Events | None = None
    up_ok: bool = False

    def need_config(self) -> dict:
        if self.cfg is None:
            raise NotEvaluated(f"Compose could not read {self.file} (line 1)")
        return self.cfg

    def svc(self, name: str) -> dict:  # a service as `docker compose config` resolved it
        return (self.need_config().get("services") or {}).get(name) or {}

    def container(self, service: str):
        found = self.stack.containers(service) if self.stack else []
        return sorted(found, key=lambda c: c.name)[0] if found else None

    def need_up(self):
        if not self.up_ok:
            raise NotEvaluated("the stack did not come up (line 3)")


def log_line(container) -> str:
    return next((l.strip() for l in reversed(logs_tail(container, 8).splitlines()) if l.strip()), "no log output")


# --- the criteria ------------------------------------------------------------------------------------------------

@criterion("l08.valid", "Compose reads the file: api, worker, schema, db")
def valid(g: Grading):
    path = g.app / g.file
    if not path.exists() or not path.read_text().strip():
        return failed("missing", f"no {g.file} in {g.app.name}/ (or it is empty)", f"write the stack to {g.file}",
                      file=g.file)
    g.port = free_port()
    g.stack = Stack(g.lab, g.app, project="exercise", files=[g.file], env={"API_PORT": str(g.port)})
    try:
        cfg = g.stack.config()
    except ComposeError as exc:
        said = short(" ".join((exc.output or str(exc)).split()), 240)
        return failed("wrong-value", f"docker compose config rejects {g.file}: {said}",
                      "fix the YAML where Compose says (indentation: two spaces per level, `key: value`)", error=said)
    services = sorted(cfg.get("services") or {})
    missing = [s for s in SERVICES if s not in services]
    if missing:
        return failed("missing", f"no service {', '.join(missing)} (services: {', '.join(services) or 'none'})",
                      "keep the four services of the draft: api, worker, schema, db", services=services, missing=missing)
    g.cfg = cfg
    return passed(f"services {', '.join(services)}", services=services)


@criterion("l08.db-check", "db's health check asks Postgres over TCP (fails on the socket alone)")
def db_check(g: Grading):
    db = g.svc("db")
    test = healthcheck_test(g.cfg, "db")
    if test is None:
        return failed("missing", "db has no health check: nothing can wait until Postgres accepts connections",
                      "give db a healthcheck that runs pg_isready against 127.0.0.1", test=None)
    argv = healthcheck_argv(["CMD-SHELL", test] if isinstance(test, str) else test)
    env = db.get("environment") or {}
    with quiet_cli():  # Postgres as on its first start, while the image's init-time server runs: socket only
        pg = g.lab.run(db.get("image") or g.lab.base("postgres"), "check-pg-socket", ["postgres", "-c", "listen_addresses="],
                       environment=env)
    try:
        deadline = time.monotonic() + 90
        while "init process complete" not in logs_tail(pg, 40) or exec_argv(pg, ["pg_isready", "-q"]).exit_code != 0:
            if time.monotonic() > deadline:
                raise NotEvaluated("a Postgres listening on its socket only did not come up within 90 s")
            time.sleep(0.5)
        res = exec_argv(pg, ["timeout", "20", *argv])
    finally:
        remove(pg, client=g.lab.client, quiet=True)
    shown = short(" ".join(argv[2:] if argv[:2] == ["/bin/sh", "-c"] else argv), 100)
    if res.exit_code == 0:
        can_fail, _ = healthcheck_can_fail(g.lab, db.get("image") or g.lab.base("postgres"), ["CMD", *argv],
                                           thing="check-db-idle", environment=env)
        if can_fail is False:
            return failed("never-healthy", f"`{shown}` exits 0 even where Postgres is not running: it can never report "
                          "unhealthy", "let the check fail: no `|| exit 0`, no `true`; run pg_isready itself",
                          test=test, exit_code=0, can_fail=False)
        return failed("wrong-value", f"`{shown}` exits 0 while Postgres accepts no TCP connection (only its Unix "
                      "socket, as during the image's first-start init): api, worker and schema connect over TCP",
                      "ask over TCP: pg_isready -h 127.0.0.1 (with the stack's user and database)",
                      test=test, exit_code=0, asks="socket")
    return passed(f"`{shown}` fails (exit {res.exit_code}) while Postgres listens on its socket only, as it must",
                  test=test, exit_code=res.exit_code)


@criterion("l08.up", "up --wait: every service running or healthy, the job exited 0")
def up(g: Grading):
    g.need_config()
    collector, why = Events(f"com.docker.compose.project={g.stack.name}", client=g.lab.client), ""
    g.collector = collector
    try:
        with quiet_cli():
            g.stack.up(wait=True, build=True, wait_timeout=g.wait_timeout)
    except ComposeError as exc:
        said = " ".join(f"{exc} {exc.output or ''}".split())
        if "failed to solve" in said or "failed to build" in said.lower():
            return failed("build-failed", f"an image of the stack does not build: {short(said, 240)}",
                          "fix the Dockerfile step Compose names (services with build: . share it)", error=short(said, 240))
        if "port is already allocated" in said or "address already in use" in said:
            return failed("not-answering", f"api's host port {g.port} is taken by another program: {short(said, 160)}",
                          "publish api as \"${API_PORT}:8000\" (the check picks a free port) and run the check again",
                          port=g.port, taken=True)
        why = short(" ".join(str(exc).split()), 200)
    job = g.container("schema")
    deadline = time.monotonic() + 60
    while job is not None and read_state(job).status in ("running", "created") and time.monotonic() < deadline:
        time.sleep(0.5)
    g.events = collector.close()
    states = {s: (read_state(c) if (c := g.container(s)) is not None else None) for s in SERVICES}
    seen = {s: (st.said() if st else "no container") for s, st in states.items()}
    bad = []
    for s, st in states.items():
        if st is None:
            bad.append((s, "exited", f"{s} has no container"))
        elif s == "schema" and (st.status != "exited" or st.exit_code != 0):
            said = log_line(g.container(s))
            before = " (it ran before Postgres accepted connections)" if "refused" in said or "starting up" in said else ""
            bad.append((s, "exited", f"the job schema {st.said()}{before}: `{short(said, 140)}`"))
        elif s in LONG_RUNNING and st.status != "running":
            bad.append((s, "exited", f"{s} {st.said()}: `{short(log_line(g.container(s)), 140)}`"))
        elif s in LONG_RUNNING and st.health not in ("healthy", "none"):
            bad.append((s, "never-healthy", f"{s} is {st.health}"))
    if bad:
        return failed(bad[0][1], "; ".join(b[2] for b in bad) + (f" (compose: {why})" if why else ""),
                      "make each program start only once what it needs is ready (depends_on with a condition), and "
                      "read `docker compose logs SERVICE`", states=seen, failing=[b[0] for b in bad])
    g.up_ok = True
    return passed("up --wait: " + ", ".join(f"{s} {v}" for s, v in seen.items()), states=seen)


def events(g: Grading) -> dict:
    """{service: {"start": [t…], "die": [(t, code)…], "healthy": [t…]}} from the events collected while ``up`` ran."""
    out: dict = {s: {"start": [], "die": [], "healthy": []} for s in SERVICES}
    for e in g.events or []:
        attrs = (e.get("Actor") or {}).get("Attributes") or {}
        svc, action, t = attrs.get("com.docker.compose.service"), e.get("Action") or e.get("status") or "", e.get("timeNano", 0) / 1e9
        if svc not in out:
            continue
        if action == "start":
            out[svc]["start"].append(t)
        elif action == "die":
            out[svc]["die"].append((t, int(attrs.get("exitCode", -1))))
        elif action.startswith("health_status") and action.rstrip().endswith(" healthy"):
            out[svc]["healthy"].append(t)
    return out


@criterion("l08.order", "start order: db healthy → schema exit 0 → api, worker")
def order(g: Grading):
    if g.cfg is None or g.events is None or g.container("db") is None:
        raise NotEvaluated("the stack was not started (line 3)")
    ev = events(g)
    if not ev["db"]["start"]:
        raise NotEvaluated(f"the engine reported no start event for db during `up` ({len(g.events)} events)")
    t0 = ev["db"]["start"][0]

    def at(t):  # seconds since db started
        return None if t is None else round(t - t0, 1)
    healthy = min(ev["db"]["healthy"], default=None)
    job = min(ev["schema"]["start"], default=None)
    done = next(((t, c) for t, c in sorted(ev["schema"]["die"])), (None, None))
    starts = {s: min(ev[s]["start"], default=None) for s in ("api", "worker")}
    seen = {"db healthy": at(healthy), "schema started": at(job), "schema exited": at(done[0]), "exit code": done[1],
            **{f"{s} started": at(t) for s, t in starts.items()}}
    problems = []
    if job is not None and (healthy is None or job < healthy):
        problems.append(f"schema started {at(job)} s after db started, " + (
            "and db never reported healthy: nothing waited for Postgres" if healthy is None
            else f"before db was healthy (at {at(healthy)} s)"))
    for s, t in starts.items():
        if t is not None and (done[0] is None or t < done[0] or done[1] != 0):
            problems.append(f"{s} started at {at(t)} s, " + ("before schema finished" if done[0] is None or t < done[0]
                                                            else f"after schema failed (exit {done[1]})"))
    if problems:
        return failed("wrong-value", "; ".join(problems) + " (times from the engine's events, since db started)",
                      "schema: depends_on db with condition service_healthy; api and worker: depends_on schema with "
                      "condition service_completed_successfully (and db healthy)", **seen)
    return passed(f"db healthy at {at(healthy)} s → schema ran, exit 0 at {at(done[0])} s → api at "
                  f"{seen['api started']} s, worker at {seen['worker started']} s", **seen)


def round_trip(g: Grading, text: str, timeout: float = 30) -> tuple[bool, str]:
    """POST a paste (again while api does not answer: running is not listening), GET it until the worker counted it."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = ask(g.port, "/pastes", method="POST", body=text.encode(), timeout=5)
        if status is not None or time.monotonic() > deadline:
            break
        time.sleep(1)
    if status != 201:
        return False, f"POST /pastes → {status}: {short(body, 120)}"
    pid = json.loads(body)["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = ask(g.port, f"/pastes/{pid}", timeout=3)
        if status == 200 and json.loads(body).get("status") == "done":
            return True, f"paste {pid}: {json.loads(body)['words']} words, counted by the worker"
        time.sleep(0.5)
    return False, f"paste {pid} still not counted after {timeout:.0f} s (GET → {status}: {short(body, 80)})"


@criterion("l08.serves", "a paste goes api → db → worker")
def serves(g: Grading):
    g.need_up()
    ok, said = round_trip(g, "three little words")
    if not ok:
        return failed("not-answering", said, "api reaches Postgres at db:5432 and the worker must run: read "
                      "`docker compose logs api worker`", said=said)
    return passed(f"POST /pastes then GET: {said}", said=said)


@criterion("l08.volume", "Postgres keeps its data in a named volume")
def volume(g: Grading):
    db = g.container("db")
    if db is None:
        raise NotEvaluated("db has no container (line 3)")
    pgdata, mount = pgdata_mount(db)
    fix, where = (f"declare a named volume (top-level volumes:) and mount it at {PGDATA_17} (postgres 17 and older), or "
                  f"at {PG_VOLUME_18} with PGDATA={PG_VOLUME_18}/17/docker, the layout of 18+"), f"PGDATA {pgdata} is in"
    if mount is None:
        return failed("missing", f"nothing is mounted where PGDATA is ({pgdata})", fix, mount=None, pgdata=pgdata)
    if mount.get("Type") == "volume":
        try:
            labels = g.lab.client.volumes.get(mount["Name"]).attrs.get("Labels") or {}
        except DockerException:
            labels = {}
        if "com.docker.compose.volume" not in labels:
            return failed("missing", f"{where} the anonymous volume {short(mount['Name'], 16)} the image declares at "
                          f"{mount.get('Destination')}: a new db container (after `docker compose down`, or a new "
                          "image) starts with an empty database", fix, mount="anonymous", pgdata=pgdata)
        return passed(f"{where} the named volume {mount['Name']} (at {mount.get('Destination')})",
                      mount=labels["com.docker.compose.volume"], pgdata=pgdata)
    return passed(f"{where} a bind mount from {short(mount.get('Source'), 60)}", mount=mount.get("Type"), pgdata=pgdata)


@criterion("l08.recovers", "recovers from a Postgres crash by itself")
def recovers(g: Grading):
    g.need_up()
    db = g.container("db")
    tl = Timeline("the course crashes Postgres: what the stack did")
    (watch := Watch(tl, {s: g.container(s) for s in LONG_RUNNING}, {"api": (g.port, "/ready")})).start()
    crash(g.lab, db, tl, "a crash: the engine restarts it only if a restart policy says so")
    t_kill = time.monotonic()

    def down_for_good(w):
        for s in LONG_RUNNING:
            st = w.state(s)
            if st.status == "exited" and st.policy in ("no", "") and time.monotonic() - t_kill > 3:
                return f"{s} stays exited: its restart policy is `no`"
        return ""

    def back(w):
        db_ok = w.state("db").status == "running" and w.state("db").health in ("healthy", "none") and w.state("db").restarts
        return bool(db_ok) and w.codes.get("api") == 200 and all(w.state(s).status == "running" for s in ("api", "worker"))

    recovered = watch.until(back, RECOVER_TIMEOUT, give_up=down_for_good)
    ok, said = round_trip(g, "after the crash", timeout=30) if recovered else (False, "")
    if recovered:
        tl.course("POST /pastes (a new paste, for the worker)")
        tl.stack(said if ok else f"not counted: {said}")
    tl.show()
    seen = {s: watch.state(s).said() for s in LONG_RUNNING}
    obs = dict(timeline=tl.observed(), states=seen, restarts={s: watch.state(s).restarts for s in LONG_RUNNING},
               policies={s: watch.state(s).policy for s in LONG_RUNNING}, ready=watch.answers["api"])
    if not recovered:
        down = [s for s in LONG_RUNNING if watch.state(s).status != "running"]
        if down:
            return failed("exited", f"after the crash {', '.join(f'{s} {seen[s]}' for s in down)} and stayed down "
                          f"(restart policy: {', '.join(watch.state(s).policy for s in down)}): nobody restarts it",
                          f"give {', '.join(down)} a restart policy (restart: unless-stopped or on-failure)", **obs)
        return failed("never-healthy", f"not back within {RECOVER_TIMEOUT} s: {seen}; api /ready answered "
                      f"{watch.answers['api']}", "read `docker compose logs` for what each service waits for", **obs)
    if not ok:
        return failed("not-answering", f"back up, but a new paste was not counted: {said}",
                      "the worker must run again after the crash (restart policy)", **obs)
    return passed(f"db restarted by its policy ({seen['db']}); /ready answered {' → '.join(map(str, watch.answers['api']))}; "
                  f"a new paste was counted", **obs)


CRITERIA = [valid, db_check, up, order, serves, volume, recovers]


def grade(lab, stack_dir, compose_file: str = "compose.yaml", wait_timeout: int = 120, only=None) -> Checker:
    """Grade the stack in ``stack_dir`` (project ``lab.name('exercise')``), then take it down; never raises."""
    g = Grading(lab, Path(stack_dir), compose_file, wait_timeout)

    def cleanup():
        if g.collector is not None:
            g.collector.close()
        if g.stack is not None:
            g.stack.cleanup()

    return Checker(LESSON, "compose").run(CRITERIA, g, only=only, cleanup=cleanup)


def check(lab, stack_dir, compose_file: str = "compose.yaml", **kwargs) -> Checker:
    """Bring the learner's stack up, attack it, judge it, take it down; raise CheckFailed unless every line passed."""
    return grade(lab, stack_dir, compose_file, **kwargs).raise_unless_passed()

"""Lesson 13, the capstone's stack lines: the learner's ``compose.yaml`` brought up (line 10), then attacked (line 11).

* :func:`compose` (``l13.compose``): ``docker compose config``, then ``up --build --wait``: the service built from the
  folder healthy (or answering /health when it has no health check) next to a ``postgres`` service.
* :func:`recovers` (``l13.recovers``): the same running stack, attacked. The course kills Postgres (``docker kill``: a
  kill by hand, which no restart policy undoes), watches the app's health until it says *unhealthy* (its health check
  must notice that the database is gone), starts Postgres again, and watches the app turn *healthy* with nobody
  restarting it. The learner sees the :class:`~dockerlab.grading.watching.Timeline`; it is kept in ``observed``.

The stack is started once for both lines (:func:`live`) and taken down by :func:`close`. Every wait is bounded.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime
import re
import time

from docker.errors import DockerException

from dockerlab.compose import ComposeError, Stack
from dockerlab.grading.checker import NotEvaluated, failed, passed
from dockerlab.grading.resilience import Timeline, Watch
from dockerlab.grading.serving import answers_inside
from dockerlab.health import poll_health
from dockerlab.show import short

COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
PORT = 8000
HEALTH_TIMEOUT = 45
NOTICE_CAP = 60  # seconds the course waits, at most, for the app's health to say unhealthy with the database gone
RECOVER_TIMEOUT = 60  # seconds, at most, for Postgres' restart and the app's next passing health checks
NS = 1e-9


@dataclasses.dataclass
class Live:
    """The learner's stack, up once: line 10 judges how it came up, line 11 attacks it."""

    stack: Stack | None
    verdict: object  # line 10's verdict (passed or failed)
    dbs: list = dataclasses.field(default_factory=list)
    built: list = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.verdict.passed)


def live(g) -> Live:
    """Bring the stack up once (``g.live``), whichever of lines 10 and 11 asks first."""
    if getattr(g, "live", None) is None:
        g.live = _bring_up(g)
    return g.live


def close(g) -> None:
    if getattr(g, "live", None) is not None and g.live.stack is not None:
        g.live.stack.cleanup()
        with contextlib.suppress(OSError):
            (g.app / ".dockerlab.labels.yaml").unlink()


def _bring_up(g) -> Live:
    g.need_image()
    name = next((f for f in COMPOSE_FILES if (g.app / f).exists()), None)
    if name is None:
        return Live(None, failed("missing", "no compose.yaml in the app folder", "write compose.yaml with an app service "
                                 "(build: .) and a db service (postgres:17-trixie), both with healthchecks", file="compose.yaml"))
    stack = Stack(g.lab, g.app, project="capstone-stack", files=(name,), timeout=120)
    try:
        services = stack.config().get("services") or {}
    except (ComposeError, ValueError) as exc:
        return Live(stack, failed("wrong-value", f"docker compose config rejects {name}: "
                                  f"{short(str(exc).splitlines()[0], 200)}", "fix the YAML", file=name))
    dbs = [s for s, v in services.items() if "postgres" in str((v or {}).get("image", ""))]
    built = [s for s, v in services.items() if (v or {}).get("build") is not None]
    if not dbs or not built:
        return Live(stack, failed("missing", f"services {sorted(services)}: need one built from this folder (build: .) "
                                  "and one postgres", "add `app: {build: .}` and `db: {image: postgres:17-trixie}`",
                                  services=sorted(services)))
    try:
        stack.up(build=True, wait=True, wait_timeout=60)
    except ComposeError as exc:
        return Live(stack, failed("never-healthy", "docker compose up --wait failed: " + short(exc, 300),
                                  "give db a pg_isready healthcheck, make app depend on it (condition: service_healthy) "
                                  f"and set DATABASE_URL=postgresql://…@{dbs[0]}:5432/… (the service name, not "
                                  "localhost)"), dbs, built)
    bad, seen = [], []
    for svc in built:  # healthy, or (no health check at all: line 4's concern) answering /health
        for c in stack.containers(svc):
            status = poll_health(c, "healthy", 0).status
            if status != "none":
                (seen if status == "healthy" else bad).append(f"{svc} {status}")
                continue
            # No health check: `up --wait` returned once the container ran; give the app time to listen.
            answers, said = answers_inside(g.lab, c, PORT, wait=HEALTH_TIMEOUT)
            (seen if answers else bad).append(f"{svc} answers /health" if answers
                                              else f"{svc} does not answer /health ({said})")
    if bad:
        return Live(stack, failed("never-healthy", "not all up and healthy: " + ", ".join(bad),
                                  "make the app answer /health with the database", services=bad), dbs, built)
    return Live(stack, passed("up --wait: " + ", ".join(seen + [f"{d} up" for d in dbs]) + "; then down -v",
                              services=seen + dbs), dbs, built)


def compose(g):
    return live(g).verdict


# --- line 11: the database killed and started again --------------------------------------------------------

def _health_config(c) -> dict:
    """The app container's health check as the engine runs it (Compose's ``healthcheck:`` or the image's)."""
    hc = (c.attrs.get("Config") or {}).get("Healthcheck") or {}
    test = hc.get("Test") or []
    return dict(test=test, interval=(hc.get("Interval") or 30e9) * NS, timeout=(hc.get("Timeout") or 30e9) * NS,
                retries=hc.get("Retries") or 3)


def _when(stamp: str) -> datetime.datetime | None:
    """A time as Docker writes it (RFC 3339, nanoseconds, ``Z``)."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?", stamp or "")
    if not m:
        return None
    zone = "+00:00" if m.group(3) in (None, "Z") else m.group(3)
    return datetime.datetime.fromisoformat(m.group(1) + (m.group(2) or "")[:7] + zone)


def _probes_since(c, t0: datetime.datetime | None) -> list[int]:
    """Exit codes of the health probes the engine ran since ``t0`` (of the last five it keeps)."""
    with contextlib.suppress(DockerException):
        c.reload()
    log = ((c.attrs.get("State") or {}).get("Health") or {}).get("Log") or []
    return [p.get("ExitCode") for p in log if t0 is None or (_when(p.get("Start")) or t0) >= t0]


def recovers(g):
    lv = live(g)
    if not lv.ok:
        raise NotEvaluated("the stack did not come up (line 10)")
    app_svc, db_svc = lv.built[0], lv.dbs[0]
    app_c, db_c = lv.stack.containers(app_svc)[0], lv.stack.containers(db_svc)[0]
    hc = _health_config(app_c)
    if not hc["test"] or hc["test"] == ["NONE"]:
        raise NotEvaluated(f"{app_svc} has no health check to watch (line 4)")
    shown = short(" ".join(hc["test"][1:]), 90)
    window = min(NOTICE_CAP, hc["interval"] * (hc["retries"] + 1) + hc["timeout"] + 20)  # slack: a busy machine
    tl = Timeline(f"the course kills {db_svc}, then starts it again: what {app_svc}'s health did")
    watch = Watch(tl, {app_svc: app_c, db_svc: db_c})
    watch.start()
    restarts0 = watch.state(app_svc).restarts
    started0 = (app_c.attrs.get("State") or {}).get("StartedAt")
    db_c.kill()
    t_kill = time.monotonic()
    db_c.reload()
    t0 = _when((db_c.attrs.get("State") or {}).get("FinishedAt") or "")  # the engine's clock, as the probes' times
    tl.course(f"docker kill {db_svc} (SIGKILL; a kill by hand: no restart policy brings it back)")
    noticed = watch.until(lambda w: w.state(app_svc).health == "unhealthy", window)
    notice_s = round(time.monotonic() - t_kill, 1)
    probes = _probes_since(app_c, t0)
    inside = "" if noticed else answers_inside(g.lab, app_c, PORT)[1]
    if not noticed:
        tl.stack(f"GET /health inside {app_svc}: {inside}")
    db_c.start()
    t_start = time.monotonic()
    tl.course(f"docker start {db_svc}")

    def back(w):
        return w.state(db_svc).status == "running" and w.state(app_svc).health == "healthy"

    recovered = watch.until(back, RECOVER_TIMEOUT)
    back_s = round(time.monotonic() - t_start, 1)
    app_c.reload()
    restarted = (watch.state(app_svc).restarts != restarts0
                 or (app_c.attrs.get("State") or {}).get("StartedAt") != started0)
    tl.show()
    obs = dict(timeline=tl.observed(), health=watch.history[app_svc], noticed=noticed, restarted=restarted,
               failed_probes=sum(1 for c in probes if c != 0), interval=hc["interval"], retries=hc["retries"])
    if not noticed:
        if obs["failed_probes"] == 0:
            return failed("never-healthy", f"{db_svc} was down for {notice_s} s and {app_svc}'s health check (`{shown}`) "
                          f"kept passing (the {len(probes)} probes the engine logged since the kill: exit 0), "
                          f"while GET /health inside it said `{inside}`",
                          "let the health check ask /health (it answers 503 without the database): not just that the "
                          "process runs or the port is open", **obs)
        return failed("never-healthy", f"{db_svc} was down for {notice_s} s: {obs['failed_probes']} probes failed, but "
                      f"{app_svc} was not yet unhealthy (every {hc['interval']:g} s, {hc['retries']} retries)",
                      "check often enough to notice an outage within a minute (e.g. interval: 5s, retries: 3)", **obs)
    if not recovered:
        return failed("never-healthy", f"{db_svc} started again, but {app_svc} was not healthy within "
                      f"{RECOVER_TIMEOUT} s: {watch.state(app_svc).said()}",
                      "the app must reconnect to the database by itself (a new connection per request, or a retry)",
                      **obs)
    return passed(f"unhealthy {notice_s} s after the kill, healthy again {back_s} s after {db_svc} came back; "
                  f"{app_svc} {'restarted' if restarted else 'not restarted'}", notice_s=notice_s, back_s=back_s, **obs)

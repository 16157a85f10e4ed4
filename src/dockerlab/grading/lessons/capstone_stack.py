"""Lesson 13, the capstone's stack lines: the learner's ``compose.yaml`` brought up (line 10), then attacked (line 11).

* :func:`compose` (``l13.compose``): ``docker compose config``, then ``up --build --wait``: the service built from the
  folder healthy (or answering /health when it has no health check) and ready (``GET /ready`` 200: it reaches its
  database) next to a ``postgres`` service.
* :func:`recovers` (``l13.recovers``): the same running stack, attacked. The course kills Postgres (``docker kill``: a
  kill by hand, which no restart policy undoes). Readiness must notice (``GET /ready`` answers 503), liveness must not
  (the app's health check keeps passing: a health check that follows the database makes every replica *unhealthy* at
  once in an outage, lesson 09). Then the course starts Postgres again and waits until ``/ready`` answers 200, with
  nobody restarting the app. The learner sees the :class:`~dockerlab.grading.watching.Timeline`; it is kept in
  ``observed``.

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
from dockerlab.grading.serving import answers_inside, until_inside
from dockerlab.health import poll_health
from dockerlab.show import short

COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
PORT = 8000
HEALTH_TIMEOUT = 45
NOTICE_CAP = 60  # seconds the course watches the app's health checks, at most, with the database gone
READY_WAIT = 20  # seconds, at most, for /ready to say "not ready" once the database is gone
RECOVER_TIMEOUT = 60  # seconds, at most, for Postgres' restart and the app's /ready to answer 200 again
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
                                  "make the app answer /health (with a health check it can pass)", services=bad),
                    dbs, built)
    for svc in built:  # alive is not enough: the app must reach its database (its readiness)
        for c in stack.containers(svc):
            ready, said = until_inside(g.lab, c, PORT, "/ready", ok=True, wait=READY_WAIT)
            if not ready:
                return Live(stack, failed("not-answering", f"{svc} is up and alive, but not ready: GET /ready inside it "
                                          f"still said `{said}` after {READY_WAIT} s",
                                          f"set DATABASE_URL=postgresql://…@{dbs[0]}:5432/… (the service name, not "
                                          "localhost: inside a container, localhost is the container itself)",
                                          services=[f"{svc} not ready"]), dbs, built)
            seen.append(f"{svc} ready")
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
    # long enough for `retries` probes in a row to fail, if the check follows the database (slack: a busy machine)
    window = min(NOTICE_CAP, hc["interval"] * (hc["retries"] + 1) + hc["timeout"] + 20)
    tl = Timeline(f"the course kills {db_svc}, then starts it again: what {app_svc}'s readiness and health did")
    watch = Watch(tl, {app_svc: app_c, db_svc: db_c})
    watch.start()
    restarts0 = watch.state(app_svc).restarts
    started0 = (app_c.attrs.get("State") or {}).get("StartedAt")
    db_c.kill()
    t_kill = time.monotonic()
    db_c.reload()
    t0 = _when((db_c.attrs.get("State") or {}).get("FinishedAt") or "")  # the engine's clock, as the probes' times
    tl.course(f"docker kill {db_svc} (SIGKILL; a kill by hand: no restart policy brings it back)")

    # readiness must notice: GET /ready answers 503 (or anything but 200) while the database is gone
    noticed, ready_said = until_inside(g.lab, app_c, PORT, "/ready", ok=False, wait=READY_WAIT)
    notice_s = round(time.monotonic() - t_kill, 1)
    tl.stack(f"GET /ready inside {app_svc}: {ready_said}")

    # liveness must not: the health check keeps passing, `retries` probes in a row, while the database stays down
    # (the engine keeps the last five probes: at most five are asked for)
    def enough(w):
        return (w.state(app_svc).health == "unhealthy"
                or sum(1 for c in _probes_since(app_c, t0) if c == 0) >= min(hc["retries"], 5))

    watch.until(enough, window)
    probes = _probes_since(app_c, t0)
    failing = sum(1 for c in probes if c != 0)
    # unhealthy, or mostly failing probes (a check every 30 s may not reach its retries within the window; one probe
    # that timed out on a busy machine among passing ones is not the database's doing)
    went_unhealthy = (watch.state(app_svc).health == "unhealthy" or any("unhealthy" in h for h in watch.history[app_svc])
                      or failing > len(probes) - failing)
    live_s = round(time.monotonic() - t_kill, 1)
    tl.course(f"watched {app_svc}'s health check for {live_s} s with {db_svc} down: {len(probes)} probes, "
              f"{failing} failed")
    db_c.start()
    t_start = time.monotonic()
    tl.course(f"docker start {db_svc}")
    ready, back_said = until_inside(g.lab, app_c, PORT, "/ready", ok=True, wait=RECOVER_TIMEOUT)
    back_s = round(time.monotonic() - t_start, 1)
    tl.stack(f"GET /ready inside {app_svc}: {back_said}")
    watch.poll()
    app_c.reload()
    restarted = (watch.state(app_svc).restarts != restarts0
                 or (app_c.attrs.get("State") or {}).get("StartedAt") != started0)
    tl.show()
    obs = dict(timeline=tl.observed(), health=watch.history[app_svc], noticed=noticed, went_unhealthy=went_unhealthy,
               ready=ready, restarted=restarted, probes=len(probes), failed_probes=failing,
               interval=hc["interval"], retries=hc["retries"])
    if went_unhealthy:
        return failed("wrong-value", f"{app_svc} turned unhealthy with {db_svc} down: its health check (`{shown}`) "
                      f"follows the database ({obs['failed_probes']} of {len(probes)} probes failed), so an outage of "
                      "Postgres marks every replica unhealthy at once (Compose's `up --wait` fails, Swarm replaces "
                      "them all)",
                      "let the health check ask /health (the process serves) and leave the database to /ready "
                      "(lesson 09, \"What should /health check?\")", **obs)
    if restarted:
        return failed("exited", f"{app_svc} was restarted while {db_svc} was down or coming back: "
                      f"{watch.state(app_svc).said()}",
                      "the app must keep running through a database outage (it answers /ready 503 meanwhile)", **obs)
    if not noticed:
        return failed("wrong-value", f"{db_svc} was down, but GET /ready inside {app_svc} still said `{ready_said}` "
                      f"after {READY_WAIT} s", "/ready must ask the database (the app as shipped does: is it the "
                      "app.py and store.py of sample_apps/capstone_service?)", **obs)
    if not ready:
        return failed("not-answering", f"{db_svc} started again, but GET /ready inside {app_svc} did not answer 200 "
                      f"within {RECOVER_TIMEOUT} s: `{back_said}`",
                      f"the app must reconnect to the database by itself, and DATABASE_URL must name the service "
                      f"({db_svc}), which keeps its name when it starts again", **obs)
    return passed(f"/ready said not ready {notice_s} s after the kill and ready again {back_s} s after {db_svc} came "
                  f"back; the health check kept passing ({len(probes)} probes with {db_svc} down, {failing} failed); "
                  f"{app_svc} not restarted", notice_s=notice_s, back_s=back_s, **obs)

"""Lesson 13, the stack attacked: ``l13.recovers`` (Postgres killed, then started again: ``/ready`` must say 503, then
200, while the app's health check keeps passing and nobody restarts the app), and the image attacked after the check
(``dockerlab.grading.attack``: a leaky capstone image shows its leak, the solution's shows none).

The solution passes the line in its notebook (``make nb NB=13_capstone``); here: correct answers written
differently, and a wrong one. Each case grades only the build and the resilience line (``only=``), which brings the
stack up itself; every wait in the line is bounded (20 s for /ready to notice, a minute of health checks, a minute to
recover).
"""
import pytest

from dockerlab.grading.attack import attack
from dockerlab.grading.contents import env_secrets
from dockerlab.grading.lessons.l13_capstone import grade

from test_l13_capstone import APP_HEALTHCHECK, COMPOSE, DOCKERFILE, DOCKERIGNORE, replace, write

LESSON = "13_capstone"  # the conftest's lab and db fixtures

pytestmark = pytest.mark.engine

# Correct, written differently: the app's Compose health check only opens the port (liveness: the process listens).
PORT_ONLY = """    healthcheck:
      test: ["CMD", "python", "-c", "import socket; socket.create_connection(('127.0.0.1', 8000), timeout=2)"]
      interval: 1s
      timeout: 3s
      retries: 3
"""
# Wrong: the health check asks /ready, so it follows the database (lesson 09, "What should /health check?").
FOLLOWS_DB = """    healthcheck:
      test: ["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://localhost:8000/ready', timeout=2)"]
      interval: 1s
      timeout: 3s
      retries: 3
"""
# Correct, written differently: no health check in Compose (the image's HEALTHCHECK runs), restart policies on both
# services, the database's health check by CMD-SHELL with another user spelling.
RESTARTING = replace(replace(COMPOSE, APP_HEALTHCHECK, "    restart: unless-stopped\n"),
                     "    pull_policy: never\n", "    pull_policy: never\n    restart: on-failure\n")


def recovers(lab, db, compose):
    app = write(lab, DOCKERFILE, DOCKERIGNORE, compose)
    sc = grade(lab, app, database=db, live=False, only={"l13.builds", "l13.recovers"})
    assert sc.by_id("l13.compose").passed is None  # not graded: the resilience line brought the stack up itself
    assert not lab.client.containers.list(all=True, filters={"label": "com.docker.compose.project="
                                                             + lab.name("capstone-stack")})
    return sc.by_id("l13.recovers")


def test_other_correct_stack_recovers(lab, db):
    line = recovers(lab, db, RESTARTING)
    assert line.passed, line
    o = line.observed
    assert o["noticed"] and o["ready"] and not o["restarted"] and not o["went_unhealthy"]
    assert o["probes"] >= 1 and o["failed_probes"] == 0
    assert all(h.endswith(", healthy") for h in o["health"]), o["health"]  # each State.said(): "running, healthy"
    said = [e["what"] for e in o["timeline"] if e["actor"] == "stack" and "GET /ready" in e["what"]]
    assert said[0].split(": ", 1)[1].startswith("503") and said[-1].split(": ", 1)[1].startswith("200"), said
    assert [e["actor"] for e in o["timeline"]][:2] == ["stack", "course"]


def test_health_check_that_only_opens_the_port_is_a_liveness_check(lab, db):
    line = recovers(lab, db, replace(COMPOSE, APP_HEALTHCHECK, PORT_ONLY))
    assert line.passed, line
    assert line.observed["failed_probes"] == 0 and not line.observed["went_unhealthy"]


def test_health_check_that_follows_the_database_loses_the_line(lab, db):
    line = recovers(lab, db, replace(COMPOSE, APP_HEALTHCHECK, FOLLOWS_DB))
    assert line.passed is False and line.cause == "wrong-value", line
    o = line.observed
    assert o["went_unhealthy"] and o["failed_probes"] >= 1 and o["noticed"]
    assert o["failed_probes"] > o["probes"] - o["failed_probes"] or "unhealthy" in " ".join(o["health"])


def test_attack_finds_the_dotenv_of_a_leaky_image_and_nothing_in_the_solutions(lab, db):
    app = write(lab, DOCKERFILE, DOCKERIGNORE, COMPOSE)
    assert grade(lab, app, database=db, live=False, only={"l13.builds"}).by_id("l13.builds").passed
    clean = attack(lab, lab.image("capstone"), app=app, secrets=env_secrets(app), quiet=True)
    assert clean.leaks == [], str(clean)
    assert clean.by_attack("write to /").got is False and clean.by_attack("reach the Docker socket").got is False

    app = write(lab, DOCKERFILE, ".git\n.venv\n", COMPOSE)  # .env no longer ignored: `COPY . .` takes it
    assert grade(lab, app, database=db, live=False, only={"l13.builds"}).by_id("l13.builds").passed
    leaky = attack(lab, lab.image("capstone"), app=app, secrets=env_secrets(app), quiet=True)
    env = leaky.by_attack("find a .env")
    assert env.got and [f.path for f in env.findings] == ["/app/.env"] and "COPY . ." in env.findings[0].where
    assert [(f.name, f.path) for f in leaky.by_attack("read every file").findings] == [("CAPSTONE_SECRET", "/app/.env")]
    assert clean.image == leaky.image  # the same tag, rebuilt: the learner's image as the check left it

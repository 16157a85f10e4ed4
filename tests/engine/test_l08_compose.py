"""Lesson 08: the learner's compose.yaml for the paste service, judged by what Compose and Docker did.

Wrong answers fail on the line that names their cause; a file written differently passes; the resilience line
(Postgres crashed by the course) fails a stack that has no restart policy. The unsolved draft is proven by
tests/test_exercises.py (UNSOLVED_FAILS) and the solution by its notebook.
"""
import socket

import pytest

from dockerlab import Lesson
from dockerlab.grading.lessons import l08_compose
from dockerlab.grading.lessons.l08_compose import grade
from dockerlab.images import ref

pytestmark = pytest.mark.engine
PG = ref("postgres")

# Correct, written differently from the solution: environment instead of env_file, the health check as one string
# over localhost, `always`/`on-failure` policies, the long volume syntax, `restart: true` on a dependency.
OTHER_CORRECT = f"""
x-app: &app
  build: .
  environment:
    DATABASE_URL: postgresql://paste:paste@db:5432/pastes
  restart: on-failure
  depends_on:
    db:
      condition: service_healthy
      restart: true
    schema:
      condition: service_completed_successfully

services:
  db:
    image: {PG}
    pull_policy: never
    environment: {{POSTGRES_USER: paste, POSTGRES_PASSWORD: paste, POSTGRES_DB: pastes}}
    restart: always
    volumes:
      - type: volume
        source: data
        target: /var/lib/postgresql/data
    healthcheck:
      test: pg_isready --host=localhost --username=paste --dbname=pastes
      interval: 2s
      start_period: 60s
      start_interval: 1s
  schema:
    build: .
    command: python schema.py
    environment:
      DATABASE_URL: postgresql://paste:paste@db:5432/pastes
    depends_on:
      db: {{condition: service_healthy}}
  api:
    <<: *app
    command: python api.py
    ports: ["${{API_PORT}}:8000"]
  worker:
    <<: *app
    command: python worker.py

volumes:
  data: {{}}
"""
NO_RESTART_NO_VOLUME = (OTHER_CORRECT.replace("    restart: always\n", "").replace("  restart: on-failure\n", "")
                        .replace("""    volumes:
      - type: volume
        source: data
        target: /var/lib/postgresql/data
""", ""))
LOCALHOST = OTHER_CORRECT.replace("    command: python api.py\n", """    command: python api.py
    environment:
      DATABASE_URL: postgresql://paste:paste@localhost:5432/pastes
""")
SHORT_DEPENDS_ON = OTHER_CORRECT.replace("""    depends_on:
      db: {condition: service_healthy}
""", "    depends_on: [db]\n")
SOCKET_CHECK = OTHER_CORRECT.replace("pg_isready --host=localhost --username=paste --dbname=pastes",
                                     "pg_isready --username=paste --dbname=pastes")
NEVER_FAILS = OTHER_CORRECT.replace("pg_isready --host=localhost --username=paste --dbname=pastes",
                                    "pg_isready -h 127.0.0.1 || exit 0")
CONFIG_LINES = {"l08.valid", "l08.db-check"}


@pytest.fixture
def lab():
    lab = Lesson("08_compose", quiet=True)
    try:
        yield lab
    finally:
        lab.cleanup(quiet=True)


def stack(lab, compose: str, dockerfile=None):
    app = lab.workspace("paste_stack")
    (app / "compose.yaml").write_text(compose)
    if dockerfile is not None:
        (app / "Dockerfile").write_text(dockerfile((app / "Dockerfile").read_text()))
    return app


def test_other_correct_answer_passes_and_recovers(lab):
    sc = grade(lab, stack(lab, OTHER_CORRECT))
    assert sc.passed, sc
    rec = sc.by_id("l08.recovers").observed
    assert rec["restarts"]["db"] >= 1 and rec["policies"]["db"] == "always" and rec["ready"][-1] == 200
    assert sc.by_id("l08.volume").observed["mount"] == "data"
    order = sc.by_id("l08.order").observed
    assert order["db healthy"] <= order["schema started"] < order["schema exited"] <= order["api started"]


def test_no_restart_policy_stays_down_after_the_crash(lab):
    """Up and serving: only the attack shows it. The timeline says db exited and nothing restarted it. (And the data
    sat in the image's anonymous volume.)"""
    sc = grade(lab, stack(lab, NO_RESTART_NO_VOLUME))
    assert sc.failed_ids == ["l08.volume", "l08.recovers"]
    assert (sc.by_id("l08.volume").cause, sc.by_id("l08.volume").observed["mount"]) == ("missing", "anonymous")
    rec = sc.by_id("l08.recovers")
    assert rec.cause == "exited" and rec.observed["policies"]["db"] == "no" and rec.observed["restarts"]["db"] == 0
    assert any(e["actor"] == "course" and "SIGKILL" in e["what"] for e in rec.observed["timeline"])


def test_job_started_before_postgres_was_ready(lab):
    """`depends_on: [db]` waits for the container to start: the job finds no Postgres, exits 1, and the order says so."""
    sc = grade(lab, stack(lab, SHORT_DEPENDS_ON), only={"l08.valid", "l08.up", "l08.order"})
    assert sc.failed_ids == ["l08.up", "l08.order"]
    assert sc.by_id("l08.up").cause == "exited" and "schema" in sc.by_id("l08.up").observed["failing"]
    order = sc.by_id("l08.order")
    assert order.cause == "wrong-value" and order.observed["exit code"] == 1
    assert order.observed["schema started"] < order.observed["db healthy"]


def test_api_that_asks_localhost_for_postgres(lab):
    """Up and healthy (its health check asks only /live), but localhost in a container is the container itself."""
    sc = grade(lab, stack(lab, LOCALHOST), only={"l08.valid", "l08.up", "l08.serves"})
    assert sc.failed_ids == ["l08.serves"] and sc.by_id("l08.serves").cause == "not-answering"


def test_socket_health_check_is_named(lab):
    """pg_isready without a host asks the Unix socket: it passes while Postgres accepts no TCP connection."""
    sc = grade(lab, stack(lab, SOCKET_CHECK), only=CONFIG_LINES)
    assert sc.failed_ids == ["l08.db-check"]
    line = sc.by_id("l08.db-check")
    assert (line.cause, line.observed["exit_code"], line.observed["asks"]) == ("wrong-value", 0, "socket")


def test_health_check_that_cannot_fail(lab):
    sc = grade(lab, stack(lab, NEVER_FAILS), only=CONFIG_LINES)
    line = sc.by_id("l08.db-check")
    assert sc.failed_ids == ["l08.db-check"] and (line.cause, line.observed["can_fail"]) == ("never-healthy", False)


# --- a check ends in a verdict, never a traceback --------------------------------------------------------------

def test_empty_answer(lab):
    sc = grade(lab, stack(lab, ""))
    assert sc.failed_ids == ["l08.valid"] and sc.by_id("l08.valid").cause == "missing"
    assert all(r.passed is None for r in sc.results[1:])


def test_yaml_compose_rejects(lab):
    sc = grade(lab, stack(lab, "services:\n  api:\n    build: .\n   command: python api.py\n"), only=CONFIG_LINES)
    assert sc.failed_ids == ["l08.valid"] and sc.by_id("l08.valid").cause == "wrong-value"


def test_image_that_does_not_build(lab):
    sc = grade(lab, stack(lab, OTHER_CORRECT, lambda df: df.replace("COPY *.py", "COPY missing.py")),
               only={"l08.valid", "l08.up"})
    assert sc.failed_ids == ["l08.up"] and sc.by_id("l08.up").cause == "build-failed"


def test_port_already_taken(lab, monkeypatch):
    """Another program holds the port the check picked: the line says which port, not a traceback."""
    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        monkeypatch.setattr(l08_compose, "free_port", lambda: held.getsockname()[1])
        sc = grade(lab, stack(lab, OTHER_CORRECT), only={"l08.valid", "l08.up"})
    line = sc.by_id("l08.up")
    assert sc.failed_ids == ["l08.up"] and line.cause == "not-answering" and line.observed["taken"] is True

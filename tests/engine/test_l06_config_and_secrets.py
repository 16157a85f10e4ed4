"""Lesson 06: fx_rates's build-time key and run-time password. Wrong answers each fail the line of their defect with
its cause and the values seen; correct answers written differently pass; the check ends in a verdict when the answer
is empty, a port is taken or the container disappears while it is graded. The unsolved exercise's failed lines are
in tests/test_exercises.py (UNSOLVED_FAILS), the solution is proven by its notebook.

The attack (dockerlab.grading.attack) is proven here on the sample's own files (the exercise's starter, unedited)."""
from __future__ import annotations

import socket

import pytest

from dockerlab.grading.attack import attack
from dockerlab.grading.checker import Criterion
from dockerlab.grading.lessons import l06_config_and_secrets as ex
from dockerlab.images import ref

PY = ref("python")
KEY, PASSWORD = "fxk_live_8Hq2Zr5Tn1Wv7Yc3", "dbpw_Wq8nR2vL5tZk3pXe"
pytestmark = pytest.mark.engine

HEAD = f"FROM {PY}\nENV PYTHONUNBUFFERED=1\nWORKDIR /app\nCOPY fetch_rates.py ./\nCOPY feed/ feed/\n"
TAIL = 'COPY app.py ./\nUSER 10001\nCMD ["python", "app.py"]\n'
FETCH = "RUN --mount=type=secret,id=fx_feed_key,env=FX_FEED_KEY python fetch_rates.py\n"
COMPOSE = """services:
  rates:
    build:
      context: .
      secrets: [fx_feed_key]
    environment:
      DB_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_password]{extra}
secrets:
  fx_feed_key:
    environment: FX_FEED_KEY
  db_password:
    file: ../secrets/db_password.txt
"""

# Correct, and written differently: a builder stage, the key from a file secret read into the variable inside the one
# RUN, the password under another secret name and target, another service name, a fixed host port.
OTHER_DOCKERFILE = f"""FROM {PY} AS fetch
WORKDIR /src
COPY fetch_rates.py ./
COPY feed/ feed/
RUN --mount=type=secret,id=feed,target=/run/secrets/feed FX_FEED_KEY="$(cat /run/secrets/feed)" python fetch_rates.py

FROM {PY}
WORKDIR /app
COPY --from=fetch /src/data/ data/
COPY app.py ./
USER 65532:65532
ENTRYPOINT ["python"]
CMD ["app.py"]
"""
OTHER_COMPOSE = """services:
  api:
    build:
      context: .
      secrets:
        - source: feed
    environment:
      DB_PASSWORD_FILE: /var/run/pg-password
    secrets:
      - source: database
        target: /var/run/pg-password
    ports: ["{port}:8000"]
secrets:
  feed:
    file: ../secrets/fx_feed_key.txt
  database:
    file: ../secrets/db_password.txt
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def grade(lab, dockerfile: str | None, compose: str | None, **kwargs):
    """Write the answer into a fresh fx_rates workspace (None: keep the sample's own file) and grade it."""
    app = lab.workspace(ex.APP)
    if dockerfile is not None:
        (app / "Dockerfile").write_text(dockerfile)
    if compose is not None:
        (app / "compose.yaml").write_text(compose)
    secrets = app.parent / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "fx_feed_key.txt").write_text(KEY + "\n")
    (secrets / "db_password.txt").write_text(PASSWORD + "\n")
    return ex.grade(lab, app, secrets / "fx_feed_key.txt", secrets / "db_password.txt", **kwargs)


def test_other_correct_answer_passes(lab):
    sc = grade(lab, OTHER_DOCKERFILE, OTHER_COMPOSE.format(port=free_port()))
    assert sc.passed, str(sc)
    assert sc.by_id("l06.up").observed["service"] == "api"
    assert sc.by_id("l06.password-file").observed["path"] == "/var/run/pg-password"
    assert sc.by_id("l06.no-secret").observed["stages"] == ["fetch"]  # the builder stage was searched too


def test_the_lessons_file_mount_meets_a_tool_that_reads_a_variable(lab):
    """The lesson's own RUN form (the secret as a file) builds nothing here: the check names the upstream cause."""
    sc = grade(lab, HEAD + "RUN --mount=type=secret,id=fx_feed_key python fetch_rates.py\n" + TAIL,
               COMPOSE.format(extra=""))
    assert sc.failed_ids == ["l06.up"], str(sc)
    line = sc.by_id("l06.up")
    assert line.cause == "build-failed" and line.observed["mounts"] == ["--mount=type=secret,id=fx_feed_key"]
    assert line.observed["step"].startswith("RUN")
    assert all(r.passed is None for r in sc.lines[1:])


def test_a_secret_id_nobody_provides(lab):
    sc = grade(lab, HEAD + FETCH.replace("id=fx_feed_key,", "id=feed_key,required=true,") + TAIL,
               COMPOSE.format(extra=""), only={"l06.up"})
    assert sc.failed_ids == ["l06.up"], str(sc)
    assert sc.by_id("l06.up").cause == "missing" and sc.by_id("l06.up").observed["secret"] == "feed_key"


def test_no_fetch_step_serves_no_rates(lab):
    sc = grade(lab, HEAD + TAIL, COMPOSE.format(extra=""), only={"l06.up", "l06.rates"})
    assert sc.failed_ids == ["l06.rates"], str(sc)
    assert sc.by_id("l06.rates").cause == "missing" and sc.by_id("l06.rates").observed == {"rates": 0}


def test_password_file_set_and_the_variable_kept(lab):
    """The app reads the file (the _FILE variable wins), but the value is still in the container's environment."""
    sc = grade(lab, HEAD + FETCH + TAIL, COMPOSE.format(extra="").replace(
        "      DB_PASSWORD_FILE:", "      DB_PASSWORD: ${DB_PASSWORD}\n      DB_PASSWORD_FILE:"),
        only={"l06.up", "l06.password-file", "l06.not-in-inspect"})
    assert sc.failed_ids == ["l06.not-in-inspect"], str(sc)
    bad = sc.by_id("l06.not-in-inspect")
    assert bad.cause == "leaked" and bad.observed["variables"] == ["DB_PASSWORD"]


def test_the_file_of_another_secret(lab):
    """DB_PASSWORD_FILE names a file, but the wrong one (the feed key's): the fingerprint tells."""
    compose = COMPOSE.format(extra="").replace("secrets: [db_password]", "secrets: [db_password, fx_feed_key]").replace(
        "/run/secrets/db_password", "/run/secrets/fx_feed_key")
    sc = grade(lab, HEAD + FETCH + TAIL, compose, only={"l06.up", "l06.password-file"})
    assert sc.failed_ids == ["l06.password-file"], str(sc)
    bad = sc.by_id("l06.password-file")
    assert bad.cause == "wrong-value" and bad.observed["path"] == "/run/secrets/fx_feed_key"
    assert bad.observed["fingerprint"] == ex.fingerprint(KEY)


def test_key_in_a_builder_stage_is_found(lab):
    """The final image is clean; the builder stage (and so the build cache) holds the key as a build argument."""
    dockerfile = OTHER_DOCKERFILE.replace(
        'RUN --mount=type=secret,id=feed,target=/run/secrets/feed FX_FEED_KEY="$(cat /run/secrets/feed)" python',
        "ARG FX_FEED_KEY\nRUN python")
    compose = OTHER_COMPOSE.format(port=free_port()).replace("      secrets:\n        - source: feed\n",
                                                             "      args: [FX_FEED_KEY]\n")
    sc = grade(lab, dockerfile, compose, only={"l06.up", "l06.no-secret"})
    assert sc.failed_ids == ["l06.no-secret"], str(sc)
    bad = sc.by_id("l06.no-secret")
    assert bad.cause == "leaked" and bad.observed["names"] == ["FX_FEED_KEY"]
    assert any(w.startswith("FX_FEED_KEY in stage fetch: history step") for w in bad.observed["where"])
    assert not any("in the image:" in w for w in bad.observed["where"])


def test_empty_answer_and_missing_compose_file(lab):
    sc = grade(lab, "", None)
    assert sc.failed_ids == ["l06.up"] and sc.by_id("l06.up").observed == {"file": "Dockerfile"}, str(sc)
    app = lab.workspace(ex.APP)
    (app / "compose.yaml").unlink()
    sc = ex.grade(lab, app, *[app.parent / "secrets" / f for f in ("fx_feed_key.txt", "db_password.txt")])
    assert sc.failed_ids == ["l06.up"] and sc.by_id("l06.up").observed == {"file": "compose.yaml"}, str(sc)
    assert all(r.passed is None for r in sc.lines[1:])


def test_a_port_already_taken(lab, held_port):
    port = held_port
    sc = grade(lab, OTHER_DOCKERFILE, OTHER_COMPOSE.format(port=port), only={"l06.up"})
    assert sc.failed_ids == ["l06.up"], str(sc)
    assert sc.by_id("l06.up").cause == "not-answering" and sc.by_id("l06.up").observed == {"port": port}


def test_container_removed_while_graded(lab, monkeypatch):
    """The stack's container disappears after line 1: the lines that need it are not evaluated, and say why."""
    def remove_it(g):
        g.container.remove(force=True)
        return True, "removed"

    monkeypatch.setattr(ex, "CRITERIA", ex.CRITERIA[:1] + [Criterion("remove", remove_it, "test.remove")] + ex.CRITERIA[1:])
    sc = grade(lab, HEAD + FETCH + TAIL, COMPOSE.format(extra=""))
    assert sc.failed_ids == [], str(sc)
    gone = [r for r in sc.lines if r.passed is None]
    assert [r.id for r in gone] == ["l06.rates", "l06.password-file", "l06.not-in-inspect"]
    assert all("is gone" in r.detail for r in gone)
    assert sc.by_id("l06.no-secret").passed  # the image is still there


def test_attack_reads_the_starters_leaks_and_a_dotenv(lab):
    """The sample's own files leak the key through a build argument; without .dockerignore and with `COPY . .`, the
    developer's .env goes into a layer. The attack shows each with the step and Dockerfile line that leaked it."""
    sc = grade(lab, None, None, only={"l06.up"}, down=True)
    assert sc.by_id("l06.up").passed, str(sc)
    app = lab.workspace(ex.APP, fresh=False)
    report = attack(lab, lab.image("rates"), app=app, secrets={"FX_FEED_KEY": KEY, "DB_PASSWORD": PASSWORD}, quiet=True)
    args = report.by_attack("read the build arguments")
    lines = (app / "Dockerfile").read_text().splitlines()
    fetch = next(i for i, l in enumerate(lines, 1) if l.startswith("RUN") and "fetch_rates.py" in l)  # the leaking step
    assert args.got and [(f.name, f.what, f.line) for f in args.findings] == [("FX_FEED_KEY", "FX_FEED_KEY=fxk***", fetch)]
    assert report.by_attack("read the history").got
    assert report.by_attack("read the image config").got is False
    assert not report.by_attack("find a .env").got and not report.by_attack("write to /").got

    (app / ".dockerignore").unlink()
    text = (app / "Dockerfile").read_text().replace("COPY app.py ./", "COPY . .")
    (app / "Dockerfile").write_text(text)
    leaky = lab.build(app, "dotenv", buildargs={"FX_FEED_KEY": KEY}, quiet=True)
    report = attack(lab, leaky.image, app=app, secrets={"DB_PASSWORD": PASSWORD}, quiet=True)
    env = report.by_attack("find a .env")
    assert env.got and [f.path for f in env.findings] == ["/app/.env"] and "COPY . ." in env.findings[0].where
    assert [(f.name, f.path) for f in report.by_attack("read every file").findings] == [("DB_PASSWORD", "/app/.env")]

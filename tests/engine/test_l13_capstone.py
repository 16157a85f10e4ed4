"""Lesson 13: the capstone scorecard gives full marks to the solution, zero to the unsolved app, and
exactly one lost line to a solution with one defect of each kind (the lines it could not judge say so).

Cheap by design: one Lesson and one Postgres container for the module, BuildKit's cache shared by every case,
and the grader reuses an image whose inputs (Dockerfile + context) did not change.
"""
import shutil
from pathlib import Path

import pytest

from dockerlab import CheckFailed
from dockerlab.grading.lessons.l13_capstone import check, grade
from dockerlab.images import ref

LESSON = "13_capstone"  # the conftest's lab and db fixtures

PG = ref("postgres")
PY = ref("python")
UV_IMAGE = ref("uv")
pytestmark = pytest.mark.engine

DOCKERFILE = f"""\
FROM {PY} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
COPY requirements.txt .
RUN pip install -r requirements.txt

FROM {PY}
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --uid 10001 --no-create-home app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . .
USER app
EXPOSE 8000
HEALTHCHECK --interval=1s --timeout=3s --start-period=10s --retries=3 \\
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["python", "app.py"]
"""

DOCKERIGNORE = """\
.env
.git
.venv
__pycache__
*.pyc
Dockerfile
.dockerignore
compose.yaml
.dockerlab.labels.yaml
"""

COMPOSE = f"""\
services:
  app:
    build: .
    environment:
      DATABASE_URL: postgresql://app:app@db:5432/app
    env_file: .env
    healthcheck:
      test: ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
      interval: 1s
      timeout: 3s
      retries: 5
      start_period: 3s
    depends_on:
      db:
        condition: service_healthy
  db:
    image: {PG}
    pull_policy: never
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: app
      POSTGRES_DB: app
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U app -d app"]
      interval: 1s
      timeout: 3s
      retries: 30
"""

# A different correct answer: uv in a builder stage (pip-compatible interface), cache mount, other user.
UV_DOCKERFILE = f"""\
FROM {PY} AS build
COPY --from={UV_IMAGE} /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
RUN uv venv /app/.venv
COPY requirements.txt ./
RUN --mount=type=cache,target=/root/.cache/uv uv pip install --python /app/.venv/bin/python -r requirements.txt
COPY app.py store.py ./

FROM {PY}
RUN groupadd --gid 2000 svc && useradd --uid 2000 --gid svc svc
COPY --from=build --chown=svc:svc /app /app
WORKDIR /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1
USER svc:svc
HEALTHCHECK --interval=2s --timeout=3s --retries=5 CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://localhost:8000/health', timeout=2)"]
ENTRYPOINT ["python"]
CMD ["app.py"]
"""


def replace(text, old, new):
    assert old in text, old
    return text.replace(old, new)


SINGLE_STAGE = f"""\
FROM {PY}
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY . .
RUN pip install -r requirements.txt
RUN useradd --uid 10001 --no-create-home app
USER app
HEALTHCHECK --interval=1s --timeout=3s --start-period=10s --retries=3 \\
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["python", "app.py"]
"""

# One defect per line: (line, what to change). Each returns the (Dockerfile, .dockerignore, compose) to write.
DEFECTS = {
    1: lambda ns: (replace(DOCKERFILE, "COPY requirements.txt .", "COPY requirement.txt ."), DOCKERIGNORE, COMPOSE),
    2: lambda ns: (SINGLE_STAGE, DOCKERIGNORE, COMPOSE),
    3: lambda ns: (replace(DOCKERFILE, "USER app\n", ""), DOCKERIGNORE, COMPOSE),
    4: lambda ns: (replace(DOCKERFILE, """HEALTHCHECK --interval=1s --timeout=3s --start-period=10s --retries=3 \\
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]""",
                           "HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD curl -fsS http://127.0.0.1:8000/health"),
                   DOCKERIGNORE, COMPOSE),
    5: lambda ns: (replace(DOCKERFILE, 'CMD ["python", "app.py"]', "CMD python app.py"), DOCKERIGNORE, COMPOSE),
    6: lambda ns: (DOCKERFILE, ".env\n", COMPOSE),
    7: lambda ns: (replace(DOCKERFILE, f"FROM {PY}\nENV PATH", f"FROM {ns['moving_base']}\nENV PATH"),
                   DOCKERIGNORE, COMPOSE),
    8: lambda ns: (replace(DOCKERFILE, "USER app\n", f"ENV CAPSTONE_SECRET={ns['secret']}\nUSER app\n"),
                   DOCKERIGNORE, COMPOSE),
    9: lambda ns: (replace(DOCKERFILE, "USER app\n", "RUN dd if=/dev/zero of=/app/dataset.bin bs=1M count=80 status=none\nUSER app\n"),
                   DOCKERIGNORE, COMPOSE),
    10: lambda ns: (DOCKERFILE, DOCKERIGNORE, replace(COMPOSE, "@db:5432", "@localhost:5432")),
}


@pytest.fixture(scope="module")
def moving_base(lab, tmp_path_factory):
    """A course-labelled local image under a moving tag (`…:latest`): no registry, so no real python:3."""
    d = tmp_path_factory.mktemp("base")
    (d / "Dockerfile").write_text(f"FROM {lab.base('python')}\n")
    lab.build(d, "base", quiet=True)
    return lab.image("base")


def write(lab, dockerfile=DOCKERFILE, dockerignore=DOCKERIGNORE, compose=COMPOSE):
    app = lab.workspace("capstone_service")
    for name, text in (("Dockerfile", dockerfile), (".dockerignore", dockerignore), ("compose.yaml", compose)):
        if text is not None:
            (app / name).write_text(text)
    return app


def secret_of(app):
    return next(l.split("=", 1)[1] for l in (app / ".env").read_text().splitlines() if l.startswith("CAPSTONE_SECRET="))


def failed(sc) -> list[str]:
    return sc.failed_ids


# line -> (its id, the cause a defect on it must name)
LINES = {1: ("l13.builds", "build-failed"), 2: ("l13.deps-cached", "cache-miss"), 3: ("l13.non-root", "unsafe"),
         4: ("l13.healthy", "never-healthy"), 5: ("l13.graceful-stop", "not-graceful"),
         6: ("l13.dockerignore", "leaked"), 7: ("l13.pinned", "wrong-value"), 8: ("l13.no-secret", "leaked"),
         9: ("l13.size", "too-big"), 10: ("l13.compose", "not-answering")}


def ids(*lines) -> list[str]:
    return [LINES[n][0] for n in lines]


def test_unsolved_scores_zero_with_a_reason_on_every_line(lab, db):
    app = lab.workspace("capstone_service")
    assert not (app / "Dockerfile").exists() and not (app / ".dockerignore").exists()
    sc = grade(lab, app, database=db, live=False)  # graded once; check() is grade() + raise_unless_passed()
    with pytest.raises(CheckFailed):
        sc.raise_unless_passed()
    assert sc.score == 0 and failed(sc) == ids(1)
    assert sc.by_id("l13.builds").cause == "missing" and sc.by_id("l13.builds").observed == {"file": "Dockerfile"}
    assert all(l.passed is None and l.detail.startswith("not evaluated: ") for l in sc.lines[1:])


def test_solution_scores_full_marks(lab, db):
    app = write(lab)
    sc = check(lab, app, database=db, live=False)
    assert sc.score == 1.0, str(sc)
    assert sc.by_id("l13.deps-cached").observed["kind"] == "multi-stage"
    assert (app / ".git" / "HEAD").exists() and (app / ".venv").is_dir()  # the grader planted them
    assert not lab.client.containers.list(all=True, filters={"label": "com.docker.compose.project=" + lab.name("capstone-stack")})


def test_other_correct_answer_scores_full_marks(lab, db):
    app = write(lab, UV_DOCKERFILE)
    sc = grade(lab, app, database=db, live=False)
    assert sc.score == 1.0, str(sc)
    assert sc.by_id("l13.deps-cached").observed["kind"] == "multi-stage"


@pytest.mark.parametrize("line", sorted(DEFECTS))
def test_one_defect_loses_exactly_its_line(lab, db, moving_base, line):
    app = lab.workspace("capstone_service")
    dockerfile, dockerignore, compose = DEFECTS[line]({"secret": secret_of(app), "moving_base": moving_base})
    app = write(lab, dockerfile, dockerignore, compose)
    sc = grade(lab, app, database=db, live=False)
    if line == 1:
        assert failed(sc) == ids(1) and sc.by_id("l13.pinned").passed, str(sc)  # pins: read from the Dockerfile alone
        assert sc.by_id("l13.builds").observed["step"].endswith("COPY requirement.txt .")
        assert all(sc.line(n).passed is None for n in (2, 3, 4, 5, 6, 8, 9, 10))
        return
    assert failed(sc) == ids(line), str(sc)
    bad = sc.by_id(LINES[line][0])
    assert bad.cause == LINES[line][1] and bad.fix, bad
    observed = {
        2: lambda o: any(i.startswith("COPY . .") for i in o["rebuilt"]),
        3: lambda o: o["user"] == "",
        4: lambda o: o["status"] == "unhealthy",
        5: lambda o: o["exit_code"] == 137,
        6: lambda o: any("/.venv/" in p for p in o["paths"]),
        7: lambda o: any(r.endswith(":latest") or ":" not in r.rsplit("/", 1)[-1] for r in o["refs"]),
        8: lambda o: o["names"] == ["CAPSTONE_SECRET"] and any(w.startswith("CAPSTONE_SECRET in the image: config Env")
                                                               for w in o["where"]),
        9: lambda o: o["bytes"] > o["limit"],
        10: lambda o: True,  # Compose said why (its output is the detail)
    }[line]
    assert observed(bad.observed), bad


# --- issue 10: one defect, one line; probes that cannot fail; defects where the grader did not look ---------

HEALTHCHECK = """HEALTHCHECK --interval=1s --timeout=3s --start-period=10s --retries=3 \\
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
"""
APP_HEALTHCHECK = COMPOSE[COMPOSE.index("    healthcheck:"):COMPOSE.index("    depends_on:")]
# uv's own pattern: the dependencies from the lock first, the project after the code (that sync re-runs by design)
UV_SYNC_DOCKERFILE = f"""\
FROM {PY} AS build
COPY --from={UV_IMAGE} /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-install-project
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked

FROM {PY}
RUN useradd --uid 10001 app
COPY --from=build --chown=app /app /app
WORKDIR /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1
USER 10001
""" + HEALTHCHECK + 'CMD ["python", "app.py"]\n'
UV_DATA = Path(__file__).parent / "data" / "capstone_uv"


def lines_lost(lab, db, dockerfile=DOCKERFILE, dockerignore=DOCKERIGNORE, compose=COMPOSE, env_extra="", *, only):
    """Grade only the lines ``only`` (and line 1, the build): that each defect costs no *other* line is what the
    one-defect matrix above proves, for every line at once."""
    app = write(lab, dockerfile, dockerignore, compose)  # a fresh workspace
    if env_extra:
        (app / ".env").write_text((app / ".env").read_text() + env_extra)
    return grade(lab, app, database=db, live=False, only={1, *only})


@pytest.mark.parametrize("probe", ["CMD true", "CMD python -c \"import urllib.request as u; "
                                   "u.urlopen('http://127.0.0.1:8000/health', timeout=2)\" || exit 0"],
                         ids=["true", "or-exit-0"])
def test_health_check_that_cannot_fail_loses_its_line(lab, db, probe):
    sc = lines_lost(lab, db, replace(DOCKERFILE, HEALTHCHECK, f"HEALTHCHECK --interval=1s {probe}\n"), only={4})
    assert failed(sc) == ids(4), str(sc)
    assert sc.by_id("l13.healthy").observed == {"can_fail": False}


def test_missing_healthcheck_costs_only_its_own_line(lab, db):
    """No HEALTHCHECK anywhere (the image nor Compose): the stop still waits for the app, Compose accepts an app
    that answers /health without one."""
    sc = lines_lost(lab, db, replace(DOCKERFILE, HEALTHCHECK, ""), compose=replace(COMPOSE, APP_HEALTHCHECK, ""), only={4, 10})
    assert failed(sc) == ids(4), str(sc)
    assert sc.by_id("l13.healthy").observed == {"instruction": "HEALTHCHECK"}
    assert sc.by_id("l13.compose").passed and sc.by_id("l13.compose").observed["services"][0].endswith("answers /health")


def test_uv_two_step_sync_scores_full_marks(lab, db):
    app = write(lab, UV_SYNC_DOCKERFILE)
    for f in ("pyproject.toml", "uv.lock"):
        shutil.copy(UV_DATA / f, app / f)
    sc = grade(lab, app, database=db, live=False)
    assert sc.score == 1.0, str(sc)
    line2 = sc.by_id("l13.deps-cached").observed
    assert line2["kind"] == "multi-stage" and "uv sync --locked --no-install-project" in line2["install"]


def test_any_planted_secret_is_found(lab, db):
    """Another secret of the .env (not CAPSTONE_SECRET), baked in as a build argument's default."""
    token = "sk_live_4f9a8b7c6d5e4f3a2b1c"
    sc = lines_lost(lab, db, replace(DOCKERFILE, "USER app\n", f"ARG PAYMENT_API_KEY={token}\nRUN echo configured\nUSER app\n"),
                    env_extra=f"PAYMENT_API_KEY={token}\n", only={8})
    assert failed(sc) == ids(8), str(sc)
    assert any(w.startswith("PAYMENT_API_KEY in the image: history step") for w in sc.by_id("l13.no-secret").observed["where"])


def test_secret_in_an_earlier_stage_is_found(lab, db):
    """The final image is clean, the builder stage is not (and so the build cache)."""
    app = lab.workspace("capstone_service")
    sc = lines_lost(lab, db, replace(DOCKERFILE, "RUN pip install -r requirements.txt\n",
                                     f"RUN pip install -r requirements.txt\nENV CAPSTONE_SECRET={secret_of(app)}\n"), only={8})
    assert failed(sc) == ids(8), str(sc)
    where = sc.by_id("l13.no-secret").observed["where"]
    assert any(w.startswith("CAPSTONE_SECRET in stage builder: config Env") for w in where)
    assert not any("in the image:" in w for w in where)


def test_env_in_an_earlier_layer_is_found(lab, db):
    """Copied, then deleted by a later layer: still shipped (and the secret with it)."""
    sc = lines_lost(lab, db, replace(DOCKERFILE, "COPY . .\n", "COPY . .\nRUN rm -f .env\n"), dockerignore=".git\n.venv\n", only={6, 8})
    assert failed(sc) == ids(6, 8), str(sc)  # two criteria: the ignore file, and the secret it let in
    assert sc.by_id("l13.dockerignore").observed["earlier_layer"] == ["/app/.env"]


def test_user_named_but_uid_0_loses_its_line(lab, db):
    sc = lines_lost(lab, db, replace(DOCKERFILE, "useradd --uid 10001", "useradd --non-unique --uid 0"), only={3})
    assert failed(sc) == ids(3), str(sc)
    assert sc.by_id("l13.non-root").observed == {"user": "app", "uid": 0}

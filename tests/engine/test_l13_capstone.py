"""Lesson 13: the capstone scorecard gives full marks to the solution, zero to the unsolved app, and
exactly one lost line to a solution with one defect of each kind.

Cheap by design: one Lesson and one Postgres container for the module, BuildKit's cache shared by every case,
and the grader reuses an image whose inputs (Dockerfile + context) did not change.
"""
import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.exercises.l13_capstone import Database, check_capstone, grade, parse_dockerfile, pin_problem

pytestmark = pytest.mark.engine

DOCKERFILE = """\
FROM python:3.13.5-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
COPY requirements.txt .
RUN pip install -r requirements.txt

FROM python:3.13.5-slim
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

COMPOSE = """\
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
    image: postgres:17.6
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
UV_DOCKERFILE = """\
FROM python:3.13.5-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
RUN uv venv /app/.venv
COPY requirements.txt ./
RUN --mount=type=cache,target=/root/.cache/uv uv pip install --python /app/.venv/bin/python -r requirements.txt
COPY app.py store.py ./

FROM python:3.13.5-slim
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


SINGLE_STAGE = """\
FROM python:3.13.5-slim
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
    7: lambda ns: (replace(DOCKERFILE, "FROM python:3.13.5-slim\nENV PATH", f"FROM {ns['moving_base']}\nENV PATH"),
                   DOCKERIGNORE, COMPOSE),
    8: lambda ns: (replace(DOCKERFILE, "USER app\n", f"ENV CAPSTONE_SECRET={ns['secret']}\nUSER app\n"),
                   DOCKERIGNORE, COMPOSE),
    9: lambda ns: (replace(DOCKERFILE, "USER app\n", "RUN dd if=/dev/zero of=/app/dataset.bin bs=1M count=80 status=none\nUSER app\n"),
                   DOCKERIGNORE, COMPOSE),
    10: lambda ns: (DOCKERFILE, DOCKERIGNORE, replace(COMPOSE, "@db:5432", "@localhost:5432")),
}


@pytest.fixture(scope="module")
def lab():
    lab = Lesson("13_capstone", quiet=True)
    try:
        yield lab
    finally:
        lab.cleanup(quiet=True)


@pytest.fixture(scope="module")
def db(lab):
    db = Database(lab)
    try:
        yield db
    finally:
        db.remove()


@pytest.fixture(scope="module")
def moving_base(lab, tmp_path_factory):
    """A course-labelled local image under a moving tag (`…:latest`): no registry, so no real python:3."""
    d = tmp_path_factory.mktemp("base")
    (d / "Dockerfile").write_text(f"FROM {lab.base('python')}\n")
    lab.build(d, "base", show=False)
    return lab.image("base")


def write(lab, dockerfile=DOCKERFILE, dockerignore=DOCKERIGNORE, compose=COMPOSE):
    app = lab.workspace("capstone_service")
    for name, text in (("Dockerfile", dockerfile), (".dockerignore", dockerignore), ("compose.yaml", compose)):
        if text is not None:
            (app / name).write_text(text)
    return app


def secret_of(app):
    return next(l.split("=", 1)[1] for l in (app / ".env").read_text().splitlines() if l.startswith("CAPSTONE_SECRET="))


def test_pin_rules():
    assert pin_problem("python:3.13.5-slim") is None
    assert pin_problem("python:3.13.5-slim@sha256:" + "a" * 64) is None
    assert "latest" in pin_problem("python")
    assert "latest" in pin_problem("python:latest")
    assert "not an exact version" in pin_problem("python:3")
    parsed = parse_dockerfile(UV_DOCKERFILE)
    assert [s["ref"] for s in parsed["stages"]] == ["python:3.13.5-slim", "python:3.13.5-slim"]
    assert parsed["copy_from"] == ["ghcr.io/astral-sh/uv:0.13.8"]


def test_unsolved_scores_zero_with_a_reason_on_every_line(lab, db):
    app = lab.workspace("capstone_service")
    assert not (app / "Dockerfile").exists() and not (app / ".dockerignore").exists()
    with pytest.raises(CheckFailed):
        check_capstone(lab, app, database=db, live=False)
    sc = grade(lab, app, database=db, live=False)
    assert sc.score == 0
    assert "no Dockerfile" in sc.line(1).reason
    assert all(l.reason == "did not build" and l.fix for l in sc.lines[1:])


def test_solution_scores_full_marks(lab, db):
    app = write(lab)
    sc = check_capstone(lab, app, database=db, live=False)
    assert sc.score == 1.0, sc.text()
    assert "multi-stage" in sc.line(2).reason
    assert (app / ".git" / "HEAD").exists() and (app / ".venv").is_dir()  # the grader planted them
    assert not lab.client.containers.list(all=True, filters={"label": "com.docker.compose.project=" + lab.name("capstone-stack")})


def test_other_correct_answer_scores_full_marks(lab, db):
    app = write(lab, UV_DOCKERFILE)
    sc = grade(lab, app, database=db, live=False)
    assert sc.score == 1.0, sc.text()
    assert "multi-stage" in sc.line(2).reason


@pytest.mark.parametrize("line", sorted(DEFECTS))
def test_one_defect_loses_exactly_its_line(lab, db, moving_base, line):
    app = lab.workspace("capstone_service")
    dockerfile, dockerignore, compose = DEFECTS[line]({"secret": secret_of(app), "moving_base": moving_base})
    app = write(lab, dockerfile, dockerignore, compose)
    sc = grade(lab, app, database=db, live=False)
    failed = [l.number for l in sc.failures]
    if line == 1:
        assert failed == list(range(1, 11)), sc.text()
        assert "COPY requirement.txt .`" in sc.line(1).reason and "not found" in sc.line(1).reason
        assert all(l.reason == "did not build" for l in sc.lines[1:])
        return
    assert failed == [line], sc.text()
    bad = sc.line(line)
    assert bad.fix
    expected = {
        2: "ran again because `COPY . .` comes before it",
        3: "runs as root",
        4: "never healthy (unhealthy)",
        5: "exit 137",
        6: "(your local .venv)",
        7: "moving tag `latest`",
        8: "config Env",
        9: "over its budget",
        10: "docker compose up --wait failed",
    }[line]
    assert expected in bad.reason, bad.reason

"""Lesson 05: the uv Dockerfile check fails on the starter and on wrong answers, passes on right ones."""
from __future__ import annotations

import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.exercises.l05_uv import check_uv_dockerfile

pytestmark = pytest.mark.engine

UV = 'COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /uvx /bin/\n'
ENVS = 'ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never\n'
RUNTIME = ('ENV PATH="/app/.venv/bin:$PATH"\n'
           'CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]\n')

STARTER = """FROM python:3.13.5-slim
WORKDIR /app
COPY . .
RUN pip install flask gunicorn
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
"""

SOLUTION = ("FROM python:3.13.5-slim AS builder\n" + UV + ENVS + "WORKDIR /app\n"
            "COPY pyproject.toml uv.lock ./\n"
            "RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-install-project\n"
            "COPY . .\n"
            "RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev\n"
            "FROM python:3.13.5-slim\nWORKDIR /app\nCOPY --from=builder /app /app\n" + RUNTIME)

# another correct answer: one stage, --locked, uv's cache switched off instead of mounted
OTHER_CORRECT = ("FROM python:3.13.5-slim\n" + UV + ENVS + "ENV UV_NO_CACHE=1\nWORKDIR /app\n"
                 "COPY pyproject.toml uv.lock ./\n"
                 "RUN uv sync --locked --no-dev --no-install-project\n"
                 "COPY . .\nRUN uv sync --locked --no-dev\n" + RUNTIME)

UV_PIP_INSTALL = ("FROM python:3.13.5-slim\n" + UV + ENVS + "WORKDIR /app\n"
                  "COPY pyproject.toml uv.lock ./\n"
                  "RUN --mount=type=cache,target=/root/.cache/uv uv pip install --system flask gunicorn\n"
                  "COPY . .\nCMD [\"gunicorn\", \"--bind\", \"0.0.0.0:8000\", \"app:app\"]\n")

CODE_BEFORE_SYNC = ("FROM python:3.13.5-slim\n" + UV + ENVS + "WORKDIR /app\n"
                    "COPY . .\n"
                    "RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev\n" + RUNTIME)

CACHE_LEFT = ("FROM python:3.13.5-slim\n" + UV + ENVS + "WORKDIR /app\n"
              "COPY pyproject.toml uv.lock ./\n"
              "RUN uv sync --frozen --no-dev --no-install-project\n"
              "COPY . .\nRUN uv sync --frozen --no-dev\n" + RUNTIME)


@pytest.fixture
def lab():
    lesson = Lesson("05_uv", namespace=None, quiet=True)
    try:
        yield lesson
    finally:
        lesson.cleanup(quiet=True)


def _check(lab, dockerfile: str):
    app = lab.workspace("uv_service")
    (app / "Dockerfile").write_text(dockerfile)
    return check_uv_dockerfile(lab, app)


def _failures(lab, dockerfile: str) -> dict[str, str]:
    with pytest.raises(CheckFailed) as info:
        _check(lab, dockerfile)
    return {f.name: f.detail for f in info.value.failures}


def test_starter_fails(lab):
    fails = _failures(lab, STARTER)
    assert "but the image has flask" in fails["lock honoured"]
    assert "ran again" in fails["dependencies cached on a code change"]


def test_uv_pip_install_is_not_the_lock(lab):
    fails = _failures(lab, UV_PIP_INSTALL)
    assert set(fails) == {"lock honoured"}
    assert "uv.lock pins flask 3.0.3 but the image has flask" in fails["lock honoured"]


def test_code_copied_before_sync(lab):
    fails = _failures(lab, CODE_BEFORE_SYNC)
    assert set(fails) == {"dependencies cached on a code change"}
    assert "after editing app.py" in fails["dependencies cached on a code change"]


def test_cache_left_in_image(lab):
    fails = _failures(lab, CACHE_LEFT)
    assert set(fails) == {"no uv cache in the image"}
    assert "/root/.cache/uv holds" in fails["no uv cache in the image"]


def test_solution_passes(lab):
    assert _check(lab, SOLUTION).passed


def test_other_correct_answer_passes(lab):
    assert _check(lab, OTHER_CORRECT).passed

"""Lesson 05: the uv Dockerfile check fails on the starter and on wrong answers, passes on right ones."""
from __future__ import annotations

import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons.l05_uv import check
from dockerlab.images import ref

PY = ref("python")
UV_IMAGE = ref("uv")
pytestmark = pytest.mark.engine

UV = f'COPY --from={UV_IMAGE} /uv /uvx /bin/\n'
ENVS = 'ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never\n'
RUNTIME = ('ENV PATH="/app/.venv/bin:$PATH"\n'
           'CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]\n')

STARTER = f"""FROM {PY}
WORKDIR /app
COPY . .
RUN pip install flask gunicorn
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
"""

SOLUTION = (f"FROM {PY} AS builder\n" + UV + ENVS + "WORKDIR /app\n"
            "COPY pyproject.toml uv.lock ./\n"
            "RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-install-project\n"
            "COPY . .\n"
            "RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev\n"
            f"FROM {PY}\nWORKDIR /app\nCOPY --from=builder /app /app\n" + RUNTIME)

# another correct answer: one stage, --locked, uv's cache switched off instead of mounted
OTHER_CORRECT = (f"FROM {PY}\n" + UV + ENVS + "ENV UV_NO_CACHE=1\nWORKDIR /app\n"
                 "COPY pyproject.toml uv.lock ./\n"
                 "RUN uv sync --locked --no-dev --no-install-project\n"
                 "COPY . .\nRUN uv sync --locked --no-dev\n" + RUNTIME)

UV_PIP_INSTALL = (f"FROM {PY}\n" + UV + ENVS + "WORKDIR /app\n"
                  "COPY pyproject.toml uv.lock ./\n"
                  "RUN --mount=type=cache,target=/root/.cache/uv uv pip install --system flask gunicorn\n"
                  "COPY . .\nCMD [\"gunicorn\", \"--bind\", \"0.0.0.0:8000\", \"app:app\"]\n")

CODE_BEFORE_SYNC = (f"FROM {PY}\n" + UV + ENVS + "WORKDIR /app\n"
                    "COPY . .\n"
                    "RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev\n" + RUNTIME)

CACHE_LEFT = (f"FROM {PY}\n" + UV + ENVS + "WORKDIR /app\n"
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
    return check(lab, app)


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
    assert "a uv cache at /root/.cache/uv" in fails["no uv cache in the image"]


def test_other_correct_answer_passes(lab):
    assert _check(lab, OTHER_CORRECT).passed


# --- issue 10: the cache wherever it is, uv by any path, a non-root image ----------------------------------

# uv copied to another place and called by absolute path, the server by absolute path through ENTRYPOINT,
# the runtime as a non-root user
OTHER_SPELLING = (f"FROM {PY} AS build\n"
                  f"COPY --from={UV_IMAGE} /uv /usr/local/bin/uv\n" + ENVS + "WORKDIR /app\n"
                  "COPY pyproject.toml uv.lock ./\n"
                  "RUN --mount=type=cache,target=/root/.cache/uv /usr/local/bin/uv sync --locked --no-dev --no-install-project\n"
                  "COPY . .\nRUN --mount=type=cache,target=/root/.cache/uv /usr/local/bin/uv sync --locked --no-dev\n"
                  f"FROM {PY}\nRUN useradd --uid 2000 svc\nCOPY --from=build --chown=svc /app /app\n"
                  "USER svc\nWORKDIR /app\n"
                  'ENTRYPOINT ["/app/.venv/bin/gunicorn"]\nCMD ["--bind", "0.0.0.0:8000", "app:app"]\n')
# the cache under UV_CACHE_DIR, not under /root/.cache/uv
CACHE_ELSEWHERE = CACHE_LEFT.replace("ENV UV_COMPILE", "ENV UV_CACHE_DIR=/opt/uv-cache UV_COMPILE")
# a non-root user runs uv: the cache is in its home
CACHE_IN_USER_HOME = CACHE_LEFT.replace("WORKDIR /app\n", "RUN useradd --create-home --uid 10001 app\n"
                                        "WORKDIR /app\nRUN chown app /app\nUSER app\n")
# the cache removed in a later RUN: still in the earlier layer, shipped
CACHE_DELETED_LATER = CACHE_LEFT.replace("COPY . .\n", "RUN rm -rf /root/.cache/uv\nCOPY . .\n").replace(
    "RUN uv sync --frozen --no-dev\n", "RUN uv sync --frozen --no-dev && rm -rf /root/.cache/uv\n")


def test_equivalent_spelling_passes(lab):
    assert _check(lab, OTHER_SPELLING).passed


def test_cache_under_another_path_is_found(lab):
    fails = _failures(lab, CACHE_ELSEWHERE)
    assert set(fails) == {"no uv cache in the image"}
    assert "a uv cache at /opt/uv-cache" in fails["no uv cache in the image"]


def test_cache_in_a_non_root_users_home_is_found(lab):
    fails = _failures(lab, CACHE_IN_USER_HOME)
    assert set(fails) == {"no uv cache in the image"}
    assert "a uv cache at /home/app/.cache/uv" in fails["no uv cache in the image"]


def test_cache_deleted_in_a_later_layer_is_found(lab):
    fails = _failures(lab, CACHE_DELETED_LATER)
    assert set(fails) == {"no uv cache in the image"}
    assert "deleted by a later layer but still shipped" in fails["no uv cache in the image"]

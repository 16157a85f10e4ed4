"""Lesson 03 exercise check (word_stats, a packaged service): fails on the starter and on plausible wrong orders,
passes on the solution and on a correct Dockerfile written differently (real engine, BuildKit)."""
from __future__ import annotations

import json

import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons import l03_layers_and_cache as ex
from dockerlab.images import ref

PY = ref("python")
pytestmark = pytest.mark.engine

HEAD = f"FROM {PY}\nENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1\nWORKDIR /app\n"
TAIL = 'EXPOSE 8000\nCMD ["gunicorn", "--bind", "0.0.0.0:8000", "wordstats.app:app"]\n'
LOCKED = "RUN pip install --no-cache-dir -r requirements.lock\n"

SOLUTION = (HEAD + "COPY requirements.lock .\n" + LOCKED + "COPY pyproject.toml .\nCOPY src/ src/\n"
            "RUN pip install --no-cache-dir --no-deps .\n" + TAIL)
# Wrong: every file the installs read, copied before the dependency install (src/ changes with the code).
ALL_INPUTS_FIRST = (HEAD + "COPY requirements.lock pyproject.toml ./\nCOPY src/ src/\n"
                    "RUN pip install --no-cache-dir -r requirements.lock && pip install --no-cache-dir --no-deps .\n" + TAIL)
# Wrong: cached, but the dependencies by name: pip resolves the newest versions, not the lock's.
BY_NAME = (HEAD + "RUN pip install --no-cache-dir flask gunicorn\nCOPY . .\nRUN pip install --no-cache-dir --no-deps .\n"
           + TAIL)
# Wrong: the lock installed and the code copied, but the project itself never installed (src layout: not importable).
NO_PROJECT = HEAD + "COPY requirements.lock .\n" + LOCKED + "COPY . .\n" + TAIL
# Wrong: installs from a file that is not in the image yet.
LOCK_NOT_COPIED = HEAD + "COPY pyproject.toml .\n" + LOCKED + "COPY . .\nRUN pip install --no-cache-dir --no-deps .\n" + TAIL
# Correct, written differently: another WORKDIR, the lock under /tmp with a pip cache mount, the whole folder copied,
# an editable install of the project (its dependencies already satisfied).
OTHER_CORRECT = (f"FROM {PY}\nWORKDIR /srv/wordstats\nCOPY requirements.lock /tmp/\n"
                 "RUN --mount=type=cache,target=/root/.cache/pip pip install -r /tmp/requirements.lock\n"
                 "COPY . .\nRUN pip install --no-cache-dir -e .\n" + TAIL)


@pytest.fixture(scope="module")
def lab():
    with Lesson(ex.LESSON, quiet=True) as lesson:
        yield lesson


def run_check(lab, dockerfile: str, starter: bool = False):
    app = lab.workspace(ex.APP)
    if not starter:
        (app / "Dockerfile").write_text(dockerfile)
    return ex.check(lab, app)


def failure(lab, dockerfile: str = "", starter: bool = False) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        run_check(lab, dockerfile, starter)
    return info.value


def names(err: CheckFailed) -> list[str]:
    return [r.name for r in err.failures]


def test_starter_fails_naming_copy_all(lab):
    err = failure(lab, starter=True)
    assert names(err) == ["dependency install cached after a code change"]
    assert "ran again because `COPY . .` comes before it" in str(err)


def test_all_inputs_before_the_install_fails(lab):
    err = failure(lab, ALL_INPUTS_FIRST)
    assert names(err) == ["dependency install cached after a code change"]
    assert "ran again because `COPY src/ src/` comes before it" in str(err)


def test_dependencies_by_name_fail_on_the_lock(lab):
    err = failure(lab, BY_NAME)
    assert names(err) == ["versions from requirements.lock"]
    assert "flask" in str(err) and "(lock: 3.1.2)" in str(err)  # pip resolves a newer Flask than the course pins


def test_project_never_installed_fails(lab):
    err = failure(lab, NO_PROJECT)
    assert names(err) == ["the changed code runs", "serves /health"]
    assert "cannot import wordstats.text" in str(err)


def test_a_build_that_fails_marks_the_rest_not_evaluated(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "progress.json"))
    err = failure(lab, LOCK_NOT_COPIED)
    assert names(err) == ["the image builds"] and "requirements.lock" in str(err)
    lines = json.loads((tmp_path / "progress.json").read_text())["attempts"][-1]["results"]
    assert [r["passed"] for r in lines] == [False, None, None, None, None]
    assert all(r["detail"].startswith("not evaluated") for r in lines[1:])


def test_other_correct_answer_passes(lab):
    assert run_check(lab, OTHER_CORRECT).passed

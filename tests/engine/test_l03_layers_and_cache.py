"""Lesson 03 exercise check (word_stats, a packaged service): plausible wrong orders each lose their own line
(asserted by id, cause and the values seen), correct Dockerfiles written otherwise pass, and every input ends in a
verdict (an empty Dockerfile, one that does not build, a host port taken, the rebuilt image removed mid-check). The
unsolved exercise and the solution notebook prove the starter and the solution (tests/test_exercises.py). Real
engine, BuildKit."""
from __future__ import annotations

import pytest

from dockerlab import CheckFailed
from dockerlab.grading import serving
from dockerlab.grading.lessons import l03_layers_and_cache as ex
from dockerlab.images import ref

PY = ref("python")
pytestmark = pytest.mark.engine
ALL = [c.id for c in ex.CRITERIA]

HEAD = f"FROM {PY}\nENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1\nWORKDIR /srv/wordstats\n"
TAIL = 'CMD ["gunicorn", "--bind", "0.0.0.0:8000", "wordstats.app:app"]\n'
LOCKED = "RUN pip install --no-cache-dir -r requirements.lock\n"

# Correct, written otherwise than the solution notebook: another WORKDIR, the lock under /tmp with a pip cache mount,
# the whole folder copied, an editable install of the project (its dependencies already satisfied).
OTHER_CORRECT = (f"FROM {PY}\nWORKDIR /srv/wordstats\nCOPY requirements.lock /tmp/\n"
                 "RUN --mount=type=cache,target=/root/.cache/pip pip install -r /tmp/requirements.lock\n"
                 "COPY . .\nRUN pip install --no-cache-dir -e .\n" + TAIL)
# Correct: the lock bind-mounted into the install step (never a layer), a non-root user.
BIND_MOUNTED = (HEAD + "RUN --mount=type=bind,source=requirements.lock,target=/tmp/requirements.lock \\\n"
                "    pip install --no-cache-dir -r /tmp/requirements.lock\n"
                "COPY pyproject.toml ./\nCOPY src ./src\nRUN pip install --no-cache-dir --no-deps .\n"
                "RUN useradd --uid 10001 app\nUSER 10001\n" + TAIL)
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


def write(lab, dockerfile: str):
    app = lab.workspace(ex.APP)  # a fresh copy of sample_apps/word_stats
    (app / "Dockerfile").write_text(dockerfile)
    return app


def grade(lab, dockerfile: str, **kwargs):
    return ex.grade(lab, write(lab, dockerfile), **kwargs)


def not_evaluated(sc) -> list[str]:
    return [r.id for r in sc.not_evaluated]


# --- every input ends in a verdict ------------------------------------------------------------------------------

def test_an_empty_dockerfile_is_a_build_failure(lab):
    sc = grade(lab, "")
    assert sc.failed_ids == ["l03.builds"] and sc.by_id("l03.builds").cause == "build-failed"
    assert not_evaluated(sc) == ALL[1:]


def test_a_build_that_fails_marks_the_rest_not_evaluated(lab):
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, write(lab, LOCK_NOT_COPIED))
    assert [r.id for r in info.value.failures] == ["l03.builds"]
    builds = info.value.failures[0]
    assert builds.cause == "build-failed" and builds.observed["step"].endswith("-r requirements.lock")


def test_host_port_taken_is_the_checks_own_trouble(lab, monkeypatch):
    port = lab.free_port()
    lab.run(lab.base("python"), "holder", ["sleep", "300"], ports={"8000/tcp": port})
    monkeypatch.setattr(serving, "free_port", lambda: port)
    sc = grade(lab, OTHER_CORRECT, only={"l03.builds", "l03.serves"})
    assert sc.failed_ids == ["l03.serves"] and sc.by_id("l03.serves").cause == "check-error"
    assert sc.by_id("l03.serves").observed["kind"] == "not_started"


def test_rebuilt_image_removed_mid_check_is_a_verdict(lab, monkeypatch):
    """The image the check rebuilt disappears before it is looked into (a cleanup in another notebook): the lines that
    needed it fail as the check's own trouble, or are not evaluated; no traceback."""
    def rebuilt_then_removed(*args, **kwargs):
        change = original(*args, **kwargs)
        lab.client.images.remove(change.result.image.id, force=True)
        return change
    original = ex.rebuild_after_code_change
    monkeypatch.setattr(ex, "rebuild_after_code_change", rebuilt_then_removed)
    sc = grade(lab, OTHER_CORRECT)
    assert sc.failed_ids == ["l03.code-runs", "l03.serves"], str(sc)
    assert {sc.by_id(i).cause for i in sc.failed_ids} == {"check-error"}
    assert not_evaluated(sc) == ["l03.lock-versions"]


# --- plausible wrong answers: each loses its own line ----------------------------------------------------------

def test_all_inputs_before_the_install_fails(lab):
    sc = grade(lab, ALL_INPUTS_FIRST)
    deps = sc.by_id("l03.deps-cached")
    assert sc.failed_ids == ["l03.deps-cached"] and deps.cause == "cache-miss"
    assert any(i.startswith("COPY src/ src/") for i in deps.observed["rebuilt"]), deps.observed


def test_dependencies_by_name_fail_on_the_lock(lab):
    sc = grade(lab, BY_NAME)
    assert sc.failed_ids == ["l03.lock-versions"] and sc.by_id("l03.lock-versions").cause == "wrong-value"
    have, pinned = sc.by_id("l03.lock-versions").observed["differ"]["flask"]
    assert pinned == "3.1.2" and have != pinned  # pip resolves a newer Flask than the lock pins


def test_project_never_installed_fails(lab):
    sc = grade(lab, NO_PROJECT)
    assert sc.failed_ids == ["l03.code-runs", "l03.serves"], str(sc)
    assert sc.by_id("l03.code-runs").cause == "missing" and sc.by_id("l03.code-runs").observed["stale"] is False
    assert sc.by_id("l03.serves").cause == "missing" and sc.by_id("l03.serves").observed["kind"] == "module"


# --- correct answers written differently -------------------------------------------------------------------------

@pytest.mark.parametrize("dockerfile", [OTHER_CORRECT, BIND_MOUNTED], ids=["editable-cache-mount", "bind-mount-non-root"])
def test_other_correct_answer_passes(lab, dockerfile):
    sc = ex.check(lab, write(lab, dockerfile))
    assert sc.by_id("l03.deps-cached").observed["rebuilt"] == []
    assert sc.by_id("l03.lock-versions").observed == {"differ": {}, "pins": 9}

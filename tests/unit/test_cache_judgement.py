"""Does a code change invalidate the dependency install? Judged on BuildKit's graph, not its "cached" flags alone.

A step that ran again although nothing it reads changed (BuildKit can re-run a cached step beside a concurrent build
that shares its base, moby/buildkit#6954) counts as kept; a message blames only a step that reads the changed file,
and only one the install step depends on (not a COPY in a stage whose result it never reads).
"""
from __future__ import annotations

import pytest

from dockerlab.build import Step
from dockerlab.grading.rebuild import judge_code_change, reads


class Graph:
    """Steps with made-up digests; ``after`` names the step(s) each one reads."""

    def __init__(self):
        self.steps: list[Step] = []

    def add(self, instruction: str, *, cached: bool, after: tuple[str, ...] = (), stage: str = "",
            context: bool = False) -> str:
        digest = f"sha256:{len(self.steps):04d}"
        n = sum(s.stage == stage for s in self.steps) + 1
        self.steps.append(Step(n, 0, instruction, cached, 0.0, stage, [], digest, after, context))
        return digest

    def result(self):
        class Result:
            steps = self.steps
        return Result()


def one_stage(*, venv_cached: bool, copy_all_first: bool = False) -> Graph:
    g = Graph()
    base = g.add("FROM docker.io/library/python:3.13.5-slim", cached=True)
    venv = g.add("RUN python -m venv /opt/venv", cached=venv_cached, after=(base,))
    if copy_all_first:
        code = g.add("COPY . .", cached=False, after=(venv,), context=True)
        g.add("RUN pip install -r requirements.txt", cached=False, after=(code,))
        return g
    req = g.add("COPY requirements.txt .", cached=venv_cached, after=(venv,), context=True)
    dep = g.add("RUN pip install -r requirements.txt", cached=venv_cached, after=(req,))
    g.add("COPY app.py .", cached=False, after=(dep,), context=True)
    return g


def test_a_good_order_is_kept():
    change = judge_code_change(one_stage(venv_cached=True).result(), "app.py")
    assert change.cached and not change.rebuilt and not change.rescheduled and change.kept_by == "cache"
    assert [s.instruction.split()[0] for s in change.upto] == ["FROM", "RUN", "COPY", "RUN"]


def test_a_step_the_engine_ran_again_counts_as_kept():
    """The fresh-machine failure: `RUN python -m venv` (it reads no file of the app) re-ran beside other builds."""
    change = judge_code_change(one_stage(venv_cached=False).result(), "app.py")
    assert change.cached and not change.rebuilt
    assert [s.instruction for s in change.rescheduled] == [
        "RUN python -m venv /opt/venv", "COPY requirements.txt .", "RUN pip install -r requirements.txt"]
    assert change.kept_by == "rescheduled" and change.blamed is None and change.why() == ""


def test_a_copy_of_the_code_before_the_install_is_blamed():
    change = judge_code_change(one_stage(venv_cached=True, copy_all_first=True).result(), "app.py")
    assert not change.cached
    assert [s.instruction for s in change.rebuilt] == ["COPY . .", "RUN pip install -r requirements.txt"]
    assert change.blamed is change.rebuilt[0] and change.kept_by == ""
    assert f"`{change.blamed.instruction}`" in change.why() and change.code_file in change.why()


def test_a_copy_in_a_stage_the_install_does_not_read_is_not_blamed():
    """A wheel built in another stage from the source: that stage re-runs, the install (in its own chain) is kept."""
    g = Graph()
    base = g.add("FROM docker.io/library/python:3.13.5-slim", cached=True, stage="wheel")
    src = g.add("COPY . /src", cached=False, after=(base,), stage="wheel", context=True)
    g.add("RUN pip wheel /src -w /wheels", cached=False, after=(src,), stage="wheel")
    base2 = g.add("FROM docker.io/library/python:3.13.5-slim", cached=True, stage="deps")
    req = g.add("COPY requirements.txt .", cached=True, after=(base2,), stage="deps", context=True)
    dep = g.add("RUN pip install -r requirements.txt", cached=True, after=(req,), stage="deps")
    change = judge_code_change(g.result(), "app.py")
    assert change.cached and change.dependency_step.digest == dep
    assert all(s.stage == "deps" for s in change.upto)


def test_a_stage_the_install_copies_from_is_followed():
    g = Graph()
    base = g.add("FROM docker.io/library/python:3.13.5-slim", cached=True, stage="src")
    src = g.add("COPY . /src", cached=False, after=(base,), stage="src", context=True)
    base2 = g.add("FROM docker.io/library/python:3.13.5-slim", cached=True, stage="final")
    cp = g.add("COPY --from=src /src /src", cached=False, after=(base2, src), stage="final")
    g.add("RUN pip install -r /src/requirements.txt", cached=False, after=(cp,), stage="final")
    change = judge_code_change(g.result(), "app.py")
    assert not change.cached and change.blamed.digest == src and f"`{change.blamed.instruction}`" in change.why()


def test_a_bind_mount_of_the_whole_context_reads_the_code():
    g = Graph()
    base = g.add("FROM docker.io/library/python:3.13.5-slim", cached=True)
    g.add("RUN --mount=type=bind,target=/src pip install /src", cached=False, after=(base,), context=True)
    change = judge_code_change(g.result(), "app.py")
    assert not change.cached and change.blamed is change.dependency_step  # it reads the code itself


@pytest.mark.parametrize("instruction,context,expected", [
    ("RUN --mount=type=bind,source=uv.lock,target=uv.lock --mount=type=bind,source=pyproject.toml,target=pyproject.toml "
     "uv sync --locked --no-install-project", True, False),
    ("RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked", False, False),
    ("RUN --mount=type=bind,target=/src pip install /src", True, True),
    ("RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels pip install /wheels/*", False, False),
    ("RUN --mount=source=.,target=/src pip install /src", True, True),
    ("COPY app.py .", True, True),
    ("COPY --from=builder /app/app.py .", False, False),
])
def test_which_steps_read_the_changed_file(instruction, context, expected):
    assert reads(Step(1, 1, instruction, False, 0.0, "", [], "sha256:x", (), context), "app.py") is expected


def test_without_a_graph_every_step_before_the_install_counts():
    """An older BuildKit reports no digests: the judgement falls back to the cached flags in build order."""
    steps = [Step(1, 3, "FROM python:3.13.5-slim", True, 0.0), Step(2, 3, "COPY . .", False, 0.0),
             Step(3, 3, "RUN pip install -r requirements.txt", False, 0.0)]

    class Result:
        pass
    Result.steps = steps
    change = judge_code_change(Result(), "app.py")
    assert not change.cached and "`COPY . .`" in change.why()

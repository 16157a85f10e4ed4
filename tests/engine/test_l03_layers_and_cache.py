"""Lesson 03 exercise check: fails on the starter and on wrong orders, passes on good orders (real engine)."""
from __future__ import annotations

import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.exercises import l03_layers_and_cache as ex
from dockerlab.images import ref

PY = ref("python")
pytestmark = pytest.mark.engine

HEAD = f"FROM {PY}\nWORKDIR /app\n"
TAIL = 'EXPOSE 8000\nCMD ["python", "app.py"]\n'

STARTER = HEAD + "COPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n" + TAIL
SOLUTION = HEAD + "COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n" + TAIL
OTHER_CORRECT = (HEAD + "COPY requirements.txt /tmp/requirements.txt\n"
                 "RUN pip install --no-cache-dir -r /tmp/requirements.txt && rm /tmp/requirements.txt\n"
                 "COPY app.py ./\n" + TAIL)
CODE_BEFORE_INSTALL = HEAD + "COPY requirements.txt .\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n" + TAIL
NO_REQUIREMENTS = HEAD + "RUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n" + TAIL
NO_CODE = HEAD + "COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n" + TAIL
BOTH_FILES_AT_ONCE = HEAD + "COPY requirements.txt app.py ./\nRUN pip install --no-cache-dir -r requirements.txt\n" + TAIL


@pytest.fixture(scope="module")
def lab():
    with Lesson(ex.LESSON, quiet=True) as lesson:
        yield lesson


def run_check(lab, dockerfile: str):
    app = lab.workspace("cache_demo")
    (app / "Dockerfile").write_text(dockerfile)
    return ex.check(lab, app)


def failure_text(info) -> str:
    return str(info.value)


def test_starter_fails_naming_copy_all(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, STARTER)
    text = failure_text(info)
    assert "pip install and every step before it come from the cache" in text
    assert "ran again because `COPY . .` comes before it" in text
    assert "copy requirements.txt alone first" in text


def test_code_copied_before_install_fails(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, CODE_BEFORE_INSTALL)
    assert "ran again because `COPY . .` comes before it" in failure_text(info)


def test_requirements_and_code_in_one_copy_fails(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, BOTH_FILES_AT_ONCE)
    assert "ran again because `COPY requirements.txt app.py ./` comes before it" in failure_text(info)


def test_install_without_requirements_fails_the_build(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, NO_REQUIREMENTS)
    text = failure_text(info)
    assert "the image builds: the build failed at `RUN pip install" in text
    assert "put `COPY requirements.txt .` before it" in text


def test_code_never_copied_fails(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, NO_CODE)
    text = failure_text(info)
    assert "the code change reaches the image" in text
    assert "the app answers /health" in text
    assert "the code is not in the image" in text


def test_solution_passes(lab):
    assert run_check(lab, SOLUTION).passed


def test_other_correct_order_passes(lab):
    assert run_check(lab, OTHER_CORRECT).passed


# --- issue 10: judged by the builder's own steps, not by the Dockerfile's words ------------------------------

# requirements.txt bind-mounted into the install step (no COPY at all), pip by another name
BIND_REQUIREMENTS = (HEAD + "RUN --mount=type=bind,source=requirements.txt,target=/tmp/requirements.txt \\\n"
                     "    python3 -m pip install --no-cache-dir -r /tmp/requirements.txt\nCOPY . .\n" + TAIL)
# the whole context bind-mounted into the install: no COPY before it, yet every code change re-runs it
BIND_CONTEXT = (HEAD + "RUN --mount=type=bind,target=/src pip install --no-cache-dir -r /src/requirements.txt\n"
                "COPY . .\n" + TAIL)
# two stages: the builder copies the code before it builds the wheels, the runtime installs them
BUILDER_COPIES_CODE_FIRST = (f"FROM {PY} AS wheels\nWORKDIR /src\nCOPY . .\n"
                             "RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt\n\n" + HEAD
                             + "COPY --from=wheels /wheels /wheels\n"
                               "RUN pip install --no-cache-dir --no-index /wheels/*.whl\nCOPY . .\n" + TAIL)
NON_ROOT = SOLUTION.replace("EXPOSE 8000", "RUN useradd --uid 10001 app\nUSER 10001:10001\nEXPOSE 8000")


def test_equivalent_spelling_passes(lab):
    assert run_check(lab, BIND_REQUIREMENTS).passed


def test_bind_mounting_the_whole_context_fails(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, BIND_CONTEXT)
    assert "ran again although every step before it came from the cache" in failure_text(info)


def test_code_copied_first_in_another_stage_fails(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, BUILDER_COPIES_CODE_FIRST)
    text = failure_text(info)
    assert "pip install and every step before it come from the cache" in text
    assert "`COPY . .` comes before it and re-ran" in text


def test_non_root_image_gets_a_verdict(lab):
    assert run_check(lab, NON_ROOT).passed

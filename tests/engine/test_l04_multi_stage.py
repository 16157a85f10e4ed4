"""Lesson 04 exercise check: fails on the single-stage starter and wrong multi-stage builds, passes on three correct ones."""
from __future__ import annotations

import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons import l04_multi_stage as ex
from dockerlab.images import ref

PY = ref("python")
pytestmark = pytest.mark.engine

APT = ("RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev "
       "&& rm -rf /var/lib/apt/lists/*\n")
CMD = 'EXPOSE 8000\nCMD ["python", "-m", "nativedemo"]\n'

STARTER = f"FROM {PY}\n{APT}WORKDIR /src\nCOPY . .\nRUN pip install --no-cache-dir .\n{CMD}"
BUILDER = f"FROM {PY} AS builder\n{APT}WORKDIR /src\nCOPY . .\nRUN pip wheel --no-cache-dir --wheel-dir /wheels .\n\n"
SOLUTION_WHEELS = (BUILDER + f"FROM {PY}\nCOPY --from=builder /wheels /wheels\n"
                   "RUN pip install --no-cache-dir --no-index /wheels/*.whl\n" + CMD)
SOLUTION_BIND = (BUILDER + f"FROM {PY}\n"
                 "RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \\\n"
                 "    pip install --no-cache-dir --no-index /wheels/*.whl\n" + CMD)
SOLUTION_VENV = (f"FROM {PY} AS build\n{APT}RUN python -m venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\n"
                 "WORKDIR /src\nCOPY . .\nRUN pip install --no-cache-dir .\n\n"
                 f"FROM {PY}\nCOPY --from=build /opt/venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\n" + CMD)
COPY_WHOLE_FS = BUILDER + f"FROM {PY}\nCOPY --from=builder / /\nRUN pip install --no-cache-dir --no-index /wheels/*.whl\n" + CMD
FINAL_FROM_BUILDER = BUILDER + "FROM builder\nRUN pip install --no-cache-dir --no-index /wheels/*.whl\n" + CMD
FORGOT_WHEELS = BUILDER + f"FROM {PY}\nWORKDIR /src\n" + CMD
BIND_WITHOUT_FROM = (BUILDER + f"FROM {PY}\nRUN --mount=type=bind,source=/wheels,target=/wheels "
                     "pip install --no-cache-dir --no-index /wheels/*.whl\n" + CMD)


@pytest.fixture(scope="module")
def lab():
    with Lesson(ex.LESSON, quiet=True) as lesson:
        yield lesson


def run_check(lab, dockerfile: str):
    app = lab.workspace("native_ext")
    (app / "Dockerfile").write_text(dockerfile)
    return ex.check(lab, app)


def test_single_stage_starter_fails(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, STARTER)
    text = str(info.value)
    assert "the Dockerfile has a builder and a runtime stage: 1 FROM line(s)" in text
    assert "no C compiler in the final image: found /usr/bin/gcc" in text
    assert "the final image is within its size budget" in text and "site-packages" in text
    assert "the app answers" not in text  # the single-stage image does run


def test_copying_the_whole_builder_filesystem_fails(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, COPY_WHOLE_FS)
    text = str(info.value)
    assert "no C compiler in the final image: found /usr/bin/gcc" in text
    assert "copies the builder's whole filesystem" in text
    assert "is over the budget" in text


def test_final_stage_from_builder_fails(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, FINAL_FROM_BUILDER)
    text = str(info.value)
    assert "the final stage starts `FROM builder`, so it inherits the compiler" in text
    assert "is over the budget" in text


def test_runtime_without_the_wheels_fails(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, FORGOT_WHEELS)
    text = str(info.value)
    assert "the app answers with the C extension's result" in text
    assert "No module named nativedemo" in text
    assert "the runtime stage does not have the built package" in text
    assert "no C compiler" not in text


def test_bind_mount_from_the_build_context_fails(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, BIND_WITHOUT_FROM)
    text = str(info.value)
    assert "the image builds: the build failed at `" in text and "/wheels" in text
    assert "a bind mount without `from=` mounts the build context" in text


def test_bind_mount_solution_passes(lab):
    result = run_check(lab, SOLUTION_BIND)
    assert result.passed
    image = lab.client.images.get(lab.image("exercise"))
    assert not any("COPY /wheels" in (h.get("CreatedBy") or "") for h in image.history())  # no layer holds the wheels


def test_wheels_solution_passes(lab):
    assert run_check(lab, SOLUTION_WHEELS).passed


def test_venv_solution_passes(lab):
    assert run_check(lab, SOLUTION_VENV).passed


# --- issue 10: judged by what the image holds, wherever it is ---------------------------------------------

# the same answer spelled otherwise: the base through an ARG and its full name, stages copied by index,
# the program by absolute path, a non-root user
OTHER_SPELLING = (f"ARG BASE=docker.io/library/{PY}\nFROM ${{BASE}}\n{APT}WORKDIR /src\nCOPY . .\n"
                  "RUN pip wheel --no-cache-dir --wheel-dir /wheels .\n\n"
                  "FROM ${BASE}\nCOPY --from=0 /wheels /wheels\n"
                  "RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels\n"
                  "RUN useradd --uid 10001 app\nUSER 10001:10001\n"
                  'EXPOSE 8000\nENTRYPOINT ["/usr/bin/env", "python"]\nCMD ["-m", "nativedemo"]\n')
# the final stage inherits the builder, and its PATH no longer has /usr/bin: `command -v gcc` finds nothing
HIDDEN_COMPILER = (f"FROM {PY} AS build\n{APT}RUN python -m venv /opt/venv\nWORKDIR /src\nCOPY . .\n"
                   "RUN /opt/venv/bin/pip install --no-cache-dir .\n\n"
                   "FROM build\nENV PATH=/opt/venv/bin\nUSER 10001\n" + CMD)


def test_equivalent_spelling_passes(lab):
    assert run_check(lab, OTHER_SPELLING).passed


def test_compiler_off_the_path_is_found(lab):
    with pytest.raises(CheckFailed) as info:
        run_check(lab, HIDDEN_COMPILER)
    text = str(info.value)
    assert "no C compiler in the final image: found /usr/bin/gcc" in text
    assert "the final stage starts `FROM build`, so it inherits the compiler" in text
    assert "the app answers" not in text  # a non-root image: a verdict for each line, the app itself runs

"""Lesson 04: the multi-stage check on dsn_api (psycopg2 compiled against libpq). Each plausible wrong answer loses
its own line, with its cause and the values seen; correct answers spelled otherwise pass. The unsolved starter's
failing lines are in tests/test_exercises.py (UNSOLVED_FAILS); the solution notebook proves the solution."""
from __future__ import annotations


import pytest

from dockerlab.grading.lessons import l04_multi_stage as ex
from dockerlab.images import ref

PY = ref("python")
pytestmark = pytest.mark.engine

APT_BUILD = ("RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libpq-dev "
             "&& rm -rf /var/lib/apt/lists/*\n")
APT_RUNTIME = "RUN apt-get update && apt-get install -y --no-install-recommends libpq5 && rm -rf /var/lib/apt/lists/*\n"
BUILDER = f"FROM {PY} AS builder\n{APT_BUILD}COPY requirements.txt .\nRUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt\n\n"
INSTALL_BIND = ("RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels "
                "pip install --no-cache-dir --no-index /wheels/*.whl\n")
APP = 'WORKDIR /app\nCOPY app.py .\nEXPOSE 8000\nCMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]\n'


def runtime(*lines: str, app: str = APP) -> str:
    return BUILDER + f"FROM {PY}\n" + "".join(lines) + app


# Plausible wrong answers: (Dockerfile, the one line it loses, that line's cause)
NO_RUNTIME_LIB = runtime(INSTALL_BIND)  # the lesson's pattern, as it stands: the wheel, not the library it loads
DEV_PACKAGE_IN_RUNTIME = runtime(APT_RUNTIME.replace("libpq5", "libpq-dev"), INSTALL_BIND)
FINAL_FROM_BUILDER = BUILDER + "FROM builder\n" + INSTALL_BIND + APP
FORGOT_THE_CODE = runtime(APT_RUNTIME, INSTALL_BIND, app='EXPOSE 8000\nCMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]\n')
BINARY_WHEEL = (f"FROM {PY}\nWORKDIR /app\nRUN pip install --no-cache-dir psycopg2-binary gunicorn==27.0.1\n"
                'COPY app.py .\nCMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]\n')
BIND_WITHOUT_FROM = runtime(APT_RUNTIME, INSTALL_BIND.replace("from=builder,", ""))
NO_LIBPQ_DEV = (BUILDER.replace("libpq-dev ", "") + f"FROM {PY}\n" + APT_RUNTIME + INSTALL_BIND + APP)

# Correct answers written otherwise than the solution notebook's.
# The base through an ARG and its full name, wheels COPYed from stage 0 and deleted in the same RUN, a numeric user,
# ENTRYPOINT + CMD, the server by absolute path.
COPIED_WHEELS = (f"ARG BASE=docker.io/library/{PY}\nFROM ${{BASE}}\n{APT_BUILD}COPY requirements.txt /tmp/\n"
                 "RUN pip wheel --no-cache-dir --wheel-dir /wheels -r /tmp/requirements.txt\n\n"
                 "FROM ${BASE}\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends libpq5 \\\n"
                 " && rm -rf /var/lib/apt/lists/*\nCOPY --from=0 /wheels /tmp/wheels\n"
                 "RUN pip install --no-cache-dir --no-index /tmp/wheels/*.whl && rm -rf /tmp/wheels\n"
                 "RUN useradd --uid 2000 svc\nWORKDIR /srv\nCOPY app.py ./\nUSER 2000:2000\n"
                 'ENTRYPOINT ["/usr/local/bin/gunicorn"]\nCMD ["--bind", "0.0.0.0:8000", "app:app"]\n')
# A virtual environment built in the builder and copied whole; the server started as `python -m gunicorn`.
VENV = (f"FROM {PY} AS build\n{APT_BUILD}RUN python -m venv /opt/venv\nCOPY requirements.txt .\n"
        "RUN /opt/venv/bin/pip install --no-cache-dir -r requirements.txt\n\n"
        f"FROM {PY}\n{APT_RUNTIME}COPY --from=build /opt/venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\n"
        "RUN groupadd -g 3000 web && useradd -u 3000 -g web web\nUSER web\nWORKDIR /home/web\nCOPY app.py .\n"
        'CMD ["python", "-m", "gunicorn", "--bind", "0.0.0.0:8000", "app:app"]\n')


def grade(lab, dockerfile: str, **kwargs):
    app = lab.workspace("dsn_api")
    (app / "Dockerfile").write_text(dockerfile)
    return ex.grade(lab, app, **kwargs)


@pytest.mark.parametrize("dockerfile", [COPIED_WHEELS, VENV], ids=["copied-wheels", "venv"])
def test_correct_answers_written_otherwise_pass(lab, dockerfile):
    sc = grade(lab, dockerfile)
    assert sc.passed, str(sc)
    assert sc.by_id("l04.no-compiler").observed["compilers"] == []
    assert "libpq.so.5" in sc.by_id("l04.runtime-lib").observed["libraries"]
    assert sc.by_id("l04.answers").observed["body"]["host"] == "db.internal"
    size = sc.by_id("l04.size").observed
    assert size["bytes"] <= size["limit"] and "/lib/x86_64-linux-gnu/libpq.so.5" in size["libraries"]


def test_the_wheel_without_the_library_it_loads(lab):
    sc = grade(lab, NO_RUNTIME_LIB)
    assert sc.failed_ids == ["l04.runtime-lib"], str(sc)
    line = sc.by_id("l04.runtime-lib")
    assert line.cause == "missing" and line.observed["not_found"] == ["libpq.so.5"]
    assert line.observed["module"].rsplit("/", 1)[-1].startswith("_psycopg.")
    assert sc.by_id("l04.answers").passed is None  # one defect, one line: the app is not judged a second time


def test_the_dev_package_in_the_runtime_is_over_the_budget(lab):
    sc = grade(lab, DEV_PACKAGE_IN_RUNTIME)
    assert sc.failed_ids == ["l04.size"], str(sc)
    line = sc.by_id("l04.size")
    assert line.cause == "too-big" and line.observed["bytes"] > line.observed["limit"]
    assert {"libpq-dev", "libssl-dev"} <= set(line.observed["packages"])  # the upstream cause, by package


def test_final_stage_from_the_builder_ships_the_compiler(lab):
    sc = grade(lab, FINAL_FROM_BUILDER)
    assert sc.failed_ids == ["l04.no-compiler", "l04.size"], str(sc)
    line = sc.by_id("l04.no-compiler")
    assert line.cause == "leaked" and line.observed["compilers"][0] == "/usr/bin/gcc"
    assert line.observed["count"] >= 2  # the driver and the compiler proper, at least
    assert "gcc-14" in " ".join(sc.by_id("l04.size").observed["packages"])


def test_the_code_left_out_of_the_final_stage(lab):
    sc = grade(lab, FORGOT_THE_CODE)
    assert sc.failed_ids == ["l04.answers"], str(sc)
    line = sc.by_id("l04.answers")
    assert line.cause == "missing" and line.observed["kind"] == "module" and line.observed["missing"] == "app"


def test_a_wheel_that_bundles_its_own_libpq_is_not_the_pinned_package(lab):
    sc = grade(lab, BINARY_WHEEL, only={"l04.builds", "l04.runtime-lib"})
    assert sc.failed_ids == ["l04.runtime-lib"], str(sc)
    line = sc.by_id("l04.runtime-lib")
    assert line.cause == "wrong-value" and set(line.observed["dists"]) == {"psycopg2-binary"}


@pytest.mark.parametrize("dockerfile, lacking", [(BIND_WITHOUT_FROM, "mount-source"), (NO_LIBPQ_DEV, "pg_config")],
                         ids=["bind-without-from", "no-libpq-dev"])
def test_a_build_that_fails_names_what_was_missing(lab, dockerfile, lacking):
    sc = grade(lab, dockerfile)
    assert sc.failed_ids == ["l04.builds"], str(sc)
    line = sc.by_id("l04.builds")
    assert line.cause == "build-failed" and line.observed["lacking"] == lacking
    assert ("pip" in line.observed["step"]) and all(r.passed is None for r in sc.results[1:])


def test_an_empty_answer_is_a_verdict(lab):
    sc = grade(lab, "")
    assert sc.failed_ids == ["l04.builds"] and sc.by_id("l04.builds").cause == "missing"
    assert sc.by_id("l04.builds").observed == {"file": "Dockerfile"}


def test_a_port_taken_meanwhile_is_the_checks_failure(lab, port_taken):
    sc = grade(lab, VENV, only={"l04.builds", "l04.answers"})
    assert sc.failed_ids == ["l04.answers"] and sc.by_id("l04.answers").cause == "check-error", str(sc)


def test_a_container_that_disappears_mid_check_is_a_verdict(lab, removed_on_first_get):
    sc = grade(lab, VENV, only={"l04.builds", "l04.answers"})
    assert sc.failed_ids == ["l04.answers"] and sc.by_id("l04.answers").cause == "check-error", str(sc)

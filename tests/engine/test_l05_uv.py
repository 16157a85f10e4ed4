"""Lesson 05: the uv check on slug_api (a src-layout package, an optional extra, a dev group). Each plausible wrong
answer loses its own line, with its cause and the values seen; correct answers spelled otherwise pass, among them one
that builds the project's wheel in an earlier stage that copies the source (issue 20: the cache line follows BuildKit's
graph). The unsolved starter's failing lines are in tests/test_exercises.py; the solution notebook proves the solution."""
from __future__ import annotations


import pytest

from dockerlab.grading.lessons import l05_uv as ex
from dockerlab.images import ref

PY = ref("python")
UV_IMAGE = ref("uv")
pytestmark = pytest.mark.engine

UV = f"COPY --from={UV_IMAGE} /uv /bin/uv\n"
ENVS = "ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never\n"
CACHE = "--mount=type=cache,target=/root/.cache/uv"
GUNICORN = 'CMD ["gunicorn", "--bind", "0.0.0.0:8000", "slug_api.app:app"]\n'


def two_stage(deps: str = "--locked --no-dev --extra server", project: str = "--locked --no-dev --extra server --no-editable",
              cache: str = CACHE, final_copy: str = "COPY --from=builder /app/.venv /app/.venv\n") -> str:
    return (f"FROM {PY} AS builder\n{UV}{ENVS}WORKDIR /app\nCOPY pyproject.toml uv.lock ./\n"
            f"RUN {cache} uv sync {deps} --no-install-project\nCOPY src ./src\nRUN {cache} uv sync {project}\n\n"
            f"FROM {PY}\nWORKDIR /app\n{final_copy}" + 'ENV PATH="/app/.venv/bin:$PATH"\n' + GUNICORN)


# Plausible wrong answers
FROZEN = two_stage().replace("--locked", "--frozen")  # the flag the lesson shows hiding a stale lock
UV_PIP = (f"FROM {PY}\n{UV}{ENVS}WORKDIR /app\nCOPY pyproject.toml uv.lock ./\n"
          f"RUN {CACHE} uv pip install --system -r pyproject.toml --extra server\n"
          f"COPY src ./src\nRUN {CACHE} uv pip install --system --no-deps .\n" + GUNICORN)
CODE_FIRST = (f"FROM {PY}\n{UV}{ENVS}WORKDIR /app\nCOPY . .\nRUN {CACHE} uv sync --locked --no-dev --extra server\n"
              'ENV PATH="/app/.venv/bin:$PATH"\n' + GUNICORN)
NO_EXTRA = two_stage(deps="--locked --no-dev", project="--locked --no-dev --no-editable")
EDITABLE_LEFT_BEHIND = two_stage(project="--locked --no-dev --extra server")  # .venv alone, linked to /app/src
WITH_DEV = two_stage(deps="--locked --extra server", project="--locked --extra server --no-editable")


def one_stage(cache: str = "", user: str = "") -> str:
    return (f"FROM {PY}\n{UV}{ENVS}{user}WORKDIR /app\nCOPY pyproject.toml uv.lock ./\n"
            f"RUN {cache} uv sync --locked --no-dev --extra server --no-install-project\nCOPY src ./src\n"
            f"RUN {cache} uv sync --locked --no-dev --extra server\n" + 'ENV PATH="/app/.venv/bin:$PATH"\n' + GUNICORN)


CACHE_LEFT = one_stage()  # no cache mount: uv's cache stays in the layer
CACHE_IN_USER_HOME = one_stage(user="RUN useradd --create-home --uid 10001 dev && mkdir /app && chown dev /app\nUSER dev\n")
CACHE_DELETED_LATER = one_stage().replace("COPY src ./src\n", "RUN rm -rf /root/.cache/uv\nCOPY src ./src\n").replace(
    "--extra server\nENV", "--extra server && rm -rf /root/.cache/uv\nENV")
PROJECT_BEFORE_ITS_CODE = two_stage(deps="--locked --no-dev --extra server --no-editable").replace(
    " --no-install-project", "", 1)

# Correct answers written otherwise than the solution notebook's.
# One stage, uv's cache switched off, a non-root user, the project editable (its source is there), ENTRYPOINT + CMD
# by absolute path, every extra.
ONE_STAGE = (f"FROM {PY}\nCOPY --from={UV_IMAGE} /uv /usr/local/bin/uv\n{ENVS}ENV UV_NO_CACHE=1\n"
             "RUN useradd --uid 2000 svc\nWORKDIR /srv\nCOPY pyproject.toml uv.lock ./\n"
             "RUN /usr/local/bin/uv sync --locked --no-dev --all-extras --no-install-project\n"
             "COPY src/ src/\nRUN /usr/local/bin/uv sync --locked --no-dev --all-extras\nUSER 2000\n"
             'ENTRYPOINT ["/srv/.venv/bin/gunicorn"]\nCMD ["--bind", "0.0.0.0:8000", "slug_api.app:app"]\n')
# The project's wheel built in an earlier stage that copies the source (it runs again on every code change); the
# dependencies from the lock in another stage, bind-mounting the lock files; the wheel installed without its deps.
WHEEL_STAGE = (f"FROM {PY} AS wheel\n{UV}WORKDIR /src\nCOPY . .\nRUN uv build --wheel --out-dir /dist\n\n"
               f"FROM {PY} AS venv\n{UV}{ENVS}WORKDIR /app\n"
               f"RUN {CACHE} --mount=type=bind,source=uv.lock,target=uv.lock "
               "--mount=type=bind,source=pyproject.toml,target=pyproject.toml "
               "uv sync --locked --no-dev --extra server --no-install-project\n"
               "RUN --mount=type=bind,from=wheel,source=/dist,target=/dist "
               "uv pip install --python /app/.venv/bin/python --no-deps /dist/*.whl\n\n"
               f"FROM {PY}\nRUN useradd --uid 10001 app\nCOPY --from=venv /app/.venv /app/.venv\nUSER app\n"
               'ENV PATH="/app/.venv/bin:$PATH"\n' + GUNICORN)


def grade(lab, dockerfile: str, **kwargs):
    app = lab.workspace("slug_api")
    (app / "Dockerfile").write_text(dockerfile)
    return ex.grade(lab, app, **kwargs)


def test_one_stage_non_root_passes(lab):
    sc = grade(lab, ONE_STAGE)
    assert sc.passed, str(sc)
    assert set(sc.by_id("l05.lock").observed["versions"].values()) == {ex.OLD_VERSION}
    assert "/srv/.venv/lib/python3.13/site-packages" in sc.by_id("l05.lock").observed["versions"]


def test_a_wheel_built_in_an_earlier_stage_from_the_source_keeps_the_cache_line(lab):
    """Issue 20: the wheel stage copies the code and runs again on a code change; the dependency install reads only
    the lock files, so it is kept (judged on BuildKit's graph, not on the order the steps ran in)."""
    sc = grade(lab, WHEEL_STAGE)
    assert sc.passed, str(sc)
    cache = sc.by_id("l05.deps-cached").observed
    assert "--no-install-project" in cache["install"]
    assert any("uv build --wheel" in step for step in cache["reran"])  # the wheel stage did run again


def test_frozen_installs_a_stale_lock(lab):
    sc = grade(lab, FROZEN)
    assert sc.failed_ids == ["l05.locked"], str(sc)
    assert sc.by_id("l05.locked").cause == "wrong-value" and sc.by_id("l05.locked").observed == {"stale": ex.STALE_DEPENDENCY}


def test_uv_pip_resolves_again(lab):
    sc = grade(lab, UV_PIP)
    assert sc.failed_ids == ["l05.lock"], str(sc)
    line = sc.by_id("l05.lock")
    assert line.cause == "wrong-value" and ex.OLD_VERSION not in line.observed["versions"].values()
    assert sc.by_id("l05.locked").passed is None  # not judged twice


def test_code_copied_before_the_install(lab):
    sc = grade(lab, CODE_FIRST)
    assert sc.failed_ids == ["l05.deps-cached"], str(sc)
    line = sc.by_id("l05.deps-cached")
    assert line.cause == "cache-miss" and line.observed["rebuilt"][0] == "COPY . ."


def test_the_extra_left_out(lab):
    sc = grade(lab, NO_EXTRA)
    assert sc.failed_ids == ["l05.answers"], str(sc)
    line = sc.by_id("l05.answers")
    assert line.cause == "missing" and line.observed["extra"] == "server"


def test_an_editable_install_whose_source_stayed_behind(lab):
    sc = grade(lab, EDITABLE_LEFT_BEHIND)
    assert sc.failed_ids == ["l05.answers"], str(sc)
    line = sc.by_id("l05.answers")
    assert line.cause == "missing" and line.observed["path"] == "/app/src" and line.observed["pth"].endswith(".pth")


def test_the_dev_group_shipped(lab):
    sc = grade(lab, WITH_DEV)
    assert sc.failed_ids == ["l05.no-dev"], str(sc)
    line = sc.by_id("l05.no-dev")
    assert line.cause == "wrong-value" and list(line.observed["dev"]) == ["pytest"]


@pytest.mark.parametrize("dockerfile, path, deleted", [(CACHE_LEFT, "/root/.cache/uv", False),
                                                        (CACHE_IN_USER_HOME, "/home/dev/.cache/uv", False),
                                                        (CACHE_DELETED_LATER, "/root/.cache/uv", True)],
                         ids=["root", "non-root-home", "deleted-later"])
def test_a_uv_cache_is_found_wherever_it_is(lab, dockerfile, path, deleted):
    sc = grade(lab, dockerfile, only={"l05.builds", "l05.no-cache"})
    assert sc.failed_ids == ["l05.no-cache"], str(sc)
    line = sc.by_id("l05.no-cache")
    caches = line.observed["caches"]
    assert line.cause == "leaked" and caches[0]["tool"] == "uv" and caches[0]["path"] == path
    assert caches[0]["deleted_later"] is deleted


def test_the_project_installed_before_its_code(lab):
    sc = grade(lab, PROJECT_BEFORE_ITS_CODE)
    assert sc.failed_ids == ["l05.builds"], str(sc)
    line = sc.by_id("l05.builds")
    assert line.cause == "build-failed" and "uv sync" in line.observed["step"]
    assert all(r.passed is None for r in sc.results[1:])


def test_an_empty_answer_is_a_verdict(lab):
    sc = grade(lab, "\n")
    assert sc.failed_ids == ["l05.builds"] and sc.by_id("l05.builds").cause == "missing"


def test_a_port_taken_meanwhile_is_the_checks_failure(lab, port_taken):
    sc = grade(lab, ONE_STAGE, only={"l05.builds", "l05.answers"})
    assert sc.failed_ids == ["l05.answers"] and sc.by_id("l05.answers").cause == "check-error", str(sc)


def test_a_container_that_disappears_mid_check_is_a_verdict(lab, removed_on_first_get):
    sc = grade(lab, ONE_STAGE, only={"l05.builds", "l05.answers"})
    assert sc.failed_ids == ["l05.answers"] and sc.by_id("l05.answers").cause == "check-error", str(sc)

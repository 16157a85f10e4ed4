"""Lesson 06: the token-leak check fails on the starter and on leaky answers, passes on secret mounts."""
from __future__ import annotations

import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons.l06_config_and_secrets import TOKEN, check
from dockerlab.paths import workspace_root
from dockerlab.images import ref

PY = ref("python")
pytestmark = pytest.mark.engine

HEAD = f"FROM {PY}\nWORKDIR /app\nCOPY install_private.py ./\nCOPY vendor/ vendor/\n"
TAIL = 'COPY app.py ./\nCMD ["python", "app.py"]\n'

STARTER = HEAD + "ARG INDEX_TOKEN\nRUN python install_private.py\n" + TAIL
ENV_TOKEN = HEAD + "ARG INDEX_TOKEN\nENV INDEX_TOKEN=$INDEX_TOKEN\nRUN python install_private.py\n" + TAIL
COPY_THEN_RM = (HEAD + "COPY index_token.txt /run/secrets/index_token\nRUN python install_private.py\n"
                "RUN rm /run/secrets/index_token\n" + TAIL)
SOLUTION = HEAD + "RUN --mount=type=secret,id=index_token python install_private.py && rm -rf vendor\n" + TAIL
# another correct answer: the secret mounted at another path, read into the variable inside the RUN only
OTHER_TARGET = (HEAD + "RUN --mount=type=secret,id=index_token,target=/root/index.tok "
                "INDEX_TOKEN=\"$(cat /root/index.tok)\" python install_private.py\n" + TAIL)
# and the secret as an environment variable of the one RUN (env=, no file at /run/secrets)
ENV_FORM = HEAD + "RUN --mount=type=secret,id=index_token,env=INDEX_TOKEN python install_private.py\n" + TAIL


@pytest.fixture
def lab():
    lesson = Lesson("06_config_and_secrets", namespace=None, quiet=True)
    try:
        yield lesson
    finally:
        lesson.cleanup(quiet=True)


def _check(lab, dockerfile: str, token_in_context: bool = False):
    app = lab.workspace("private_pkg_install")
    (app / "Dockerfile").write_text(dockerfile)
    if token_in_context:
        (app / "index_token.txt").write_text(TOKEN + "\n")
    secret_dir = workspace_root(lab.ns) / lab.id / "test-secrets"
    secret_dir.mkdir(parents=True, exist_ok=True)
    token_file = secret_dir / "index_token.txt"
    token_file.write_text(TOKEN + "\n")
    return check(lab, app, token_file)


def _failures(lab, dockerfile: str, **kw) -> dict[str, str]:
    with pytest.raises(CheckFailed) as info:
        _check(lab, dockerfile, **kw)
    return {f.name: f.detail for f in info.value.failures}


def test_starter_arg_token_leaks_through_history(lab):
    fails = _failures(lab, STARTER)
    assert set(fails) == {"token nowhere in the image"}
    assert "history step" in fails["token nowhere in the image"]
    assert "INDEX_TOKEN=ghp***" in fails["token nowhere in the image"]


def test_env_token_leaks_through_config(lab):
    fails = _failures(lab, ENV_TOKEN)
    assert "config Env: INDEX_TOKEN=ghp***" in fails["token nowhere in the image"]


def test_copy_then_rm_leaks_through_the_layer(lab):
    fails = _failures(lab, COPY_THEN_RM, token_in_context=True)
    detail = fails["token nowhere in the image"]
    assert "file /run/secrets/index_token, deleted by a later layer but still in this one" in detail


def test_secret_mount_without_the_install_fails(lab):
    fails = _failures(lab, HEAD + TAIL)
    assert "import acme_private` failed" in fails["acme_private installed"]


def test_other_target_passes(lab):
    assert _check(lab, OTHER_TARGET).passed


def test_secret_as_env_passes(lab):
    assert _check(lab, ENV_FORM).passed


# --- issue 10: every stage, not only the final image -------------------------------------------------------

VENV_BUILDER = (f"FROM {PY} AS builder\nWORKDIR /app\nCOPY install_private.py ./\nCOPY vendor/ vendor/\n"
                "RUN python -m venv /opt/venv\n")
VENV_RUNTIME = (f"FROM {PY}\nCOPY --from=builder /opt/venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\n"
                "WORKDIR /app\n" + TAIL)
# the token as a build argument of a builder stage: the final image holds none of it, the builder stage does
# (its history; and so the build cache, and every image built --target builder)
TOKEN_IN_BUILDER = (VENV_BUILDER + "ARG INDEX_TOKEN\nRUN /opt/venv/bin/python install_private.py\n\n" + VENV_RUNTIME)
# the same two stages with the secret mounted, and a non-root runtime
SECRET_IN_BUILDER = (VENV_BUILDER + "RUN --mount=type=secret,id=index_token /opt/venv/bin/python install_private.py\n\n"
                     + VENV_RUNTIME.replace("WORKDIR /app\n", "WORKDIR /app\nUSER nobody\n"))


def test_token_in_an_earlier_stage_is_found(lab):
    fails = _failures(lab, TOKEN_IN_BUILDER)
    assert set(fails) == {"token nowhere in the image"}
    detail = fails["token nowhere in the image"]
    assert "in stage builder: history step" in detail and "INDEX_TOKEN=ghp***" in detail
    assert "in the image:" not in detail  # the final image itself is clean: only the stage search finds it


def test_secret_mount_in_a_builder_stage_passes(lab):
    assert _check(lab, SECRET_IN_BUILDER).passed


def test_build_check_flags_the_starter_not_the_solution(lab):
    """docker build --check (lesson and hint 1): SecretsUsedInArgOrEnv on the starter's ARG, nothing on the answers."""
    from dockerlab.build import check

    app = lab.workspace("private_pkg_install")
    for name, text in (("starter", STARTER), ("solution", SOLUTION), ("env", ENV_FORM)):
        (app / f"Dockerfile.{name}").write_text(text)
    starter = check(app, dockerfile="Dockerfile.starter", quiet=True)
    assert [(w["rule"], w["line"]) for w in starter] == [("SecretsUsedInArgOrEnv", 5)]
    assert "INDEX_TOKEN" in starter[0]["message"]
    assert len(check(app, dockerfile="Dockerfile.solution", quiet=True)) == 0
    assert len(check(app, dockerfile="Dockerfile.env", quiet=True)) == 0

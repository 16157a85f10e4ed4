"""Lesson 12: the broken-services check fails on each service still broken, passes once all three are fixed."""
import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.exercises.l12_debugging import check
from dockerlab.images import ref

PY = ref("python")
pytestmark = pytest.mark.engine

BIND_ALL = {"command": ["python", "app.py", "--host", "0.0.0.0"]}
GREETING = {"environment": {"GREETING": "hello"}}


@pytest.fixture(scope="module")
def lab():  # one Lesson for the module: the images stay cached between cases, cleanup at the end
    lab = Lesson("12_debugging", quiet=True)
    try:
        yield lab
    finally:
        lab.cleanup(quiet=True)


def fix_cmd_in_dockerfile(apps):
    df = apps / "wrong_cmd" / "Dockerfile"
    df.write_text(df.read_text().replace('"/app/server.py"', '"/srv/server.py"'))


def run_args(wrong_cmd=True, missing_env=True, localhost_bind=True):
    return {"missing_env": GREETING if missing_env else {}, "localhost_bind": BIND_ALL if localhost_bind else {}}


def failing(lab, apps, args):
    with pytest.raises(CheckFailed) as exc:
        check(lab, apps, args)
    return exc.value


def test_unsolved_fails_with_a_message_per_service(lab):
    apps = lab.workspace("broken_services")
    err = failing(lab, apps, {})
    msg = str(err)
    assert len(err.failures) == 3
    assert "wrong_cmd: the container exited with code 2: `/app/server.py` is not in the image" in msg
    assert "missing_env: the container exited with code 1: environment variable GREETING is not set" in msg
    assert "localhost_bind: no answer to GET /health on port 8000" in msg
    assert "listens on 127.0.0.1:8000: on port 8000 only the container's own loopback" in msg


def test_wrong_cmd_left_broken(lab):
    apps = lab.workspace("broken_services")
    err = failing(lab, apps, run_args())
    assert [f.name for f in err.failures] == ["wrong_cmd is fixed"]
    assert "can't open file '/app/server.py'" in str(err)


def test_missing_env_left_broken(lab):
    apps = lab.workspace("broken_services")
    fix_cmd_in_dockerfile(apps)
    err = failing(lab, apps, run_args(missing_env=False))
    assert [f.name for f in err.failures] == ["missing_env is fixed"]
    assert "GREETING" in str(err) and "-e GREETING=" in str(err)


def test_localhost_bind_left_broken(lab):
    apps = lab.workspace("broken_services")
    fix_cmd_in_dockerfile(apps)
    err = failing(lab, apps, run_args(localhost_bind=False))
    assert [f.name for f in err.failures] == ["localhost_bind is fixed"]
    assert "listens on 127.0.0.1" in str(err) and "--host" in str(err)


def test_solution_passes(lab):
    apps = lab.workspace("broken_services")
    fix_cmd_in_dockerfile(apps)
    assert check(lab, apps, run_args()).passed
    assert not lab.client.containers.list(all=True, filters={"label": "org.dockerlab.lesson=12", "name": lab.name("")})


def test_other_correct_answer_passes(lab):
    """All three fixed another way: run-time command for wrong_cmd, ENV and CMD edits in the Dockerfiles."""
    apps = lab.workspace("broken_services")
    env_df = apps / "missing_env" / "Dockerfile"
    env_df.write_text(env_df.read_text().replace("WORKDIR /app", "ENV GREETING=bonjour\nWORKDIR /app"))
    bind_df = apps / "localhost_bind" / "Dockerfile"
    bind_df.write_text(bind_df.read_text().replace('CMD ["python", "app.py"]',
                                                   'CMD ["python", "app.py", "--host=0.0.0.0", "--port=8000"]'))
    args = {"wrong_cmd": {"command": ["python", "server.py"], "working_dir": "/srv"}}
    assert check(lab, apps, args).passed


# --- issue 10: the observed cause, another spelling ------------------------------------------------------------

def test_listening_on_another_port_is_named(lab):
    """Bound to every interface, on the wrong port: the check reads where it listens, it does not guess."""
    apps = lab.workspace("broken_services")
    fix_cmd_in_dockerfile(apps)
    args = dict(run_args(), localhost_bind={"command": ["python", "app.py", "--host", "0.0.0.0", "--port", "8080"]})
    err = failing(lab, apps, args)
    assert [f.name for f in err.failures] == ["localhost_bind is fixed"]
    assert "the app listens on 0.0.0.0:8080, not on port 8000" in str(err)


def test_equivalent_spelling_passes(lab):
    """The file by absolute path through env, the variable given as a list."""
    apps = lab.workspace("broken_services")
    args = {"wrong_cmd": {"command": ["/usr/bin/env", "python", "/srv/server.py"]},
            "missing_env": {"environment": ["GREETING=hi"]}, "localhost_bind": BIND_ALL}
    assert check(lab, apps, args).passed


MULTISTAGE = f"""FROM {PY} AS deps
RUN pip --version

FROM deps AS test
RUN python -c "import sys; sys.exit('test failed: expected 2, got 3')"

FROM deps
CMD ["python", "-c", "print('ok')"]
"""


def test_build_without_target_skips_the_broken_test_stage(lab):
    """Lesson 12 section 5: no --target builds the last stage only (green); --target test raises BuildFailed."""
    from dockerlab import BuildFailed

    build_dir = lab.workspace("broken_services") / "multistage"
    build_dir.mkdir(exist_ok=True)
    (build_dir / "Dockerfile").write_text(MULTISTAGE)
    full = lab.build(build_dir, "full", quiet=True)
    assert full.steps and not any("sys.exit" in s.instruction for s in full.steps)  # the test stage's step never ran
    with pytest.raises(BuildFailed) as info:
        lab.build(build_dir, "test", target="test", quiet=True)
    assert info.value.step.startswith("[test ") and "sys.exit" in info.value.step
    assert info.value.log_tail[-1] == "test failed: expected 2, got 3"

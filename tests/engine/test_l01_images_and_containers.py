"""Lesson 01 exercise check: fails on the starter and on wrong answers, passes on correct ones (real engine)."""
import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.exercises import l01_images_and_containers as ex
from dockerlab.exercises.probes import helper

pytestmark = pytest.mark.engine

REQ = ex.REQUIREMENTS
SERVER = ["python", "-m", "http.server", "8000"]


@pytest.fixture
def lab():
    with Lesson(ex.LESSON, quiet=True) as lesson:
        yield lesson


def start(lab, command=SERVER, **kwargs):
    return lab.run(lab.base("python"), REQ["thing"], command, **kwargs)


def failure_text(lab) -> str:
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, timeout=5)
    return str(info.value)


def test_no_container_fails(lab):
    assert "no container named" in failure_text(lab)


def test_starter_fails(lab):
    start(lab)
    msg = failure_text(lab)
    assert "APP_GREETING is not set" in msg
    assert "8000/tcp is not published" in msg
    assert "no memory limit" in msg


def test_wrong_env_value_fails(lab):
    start(lab, environment={"APP_GREETING": "hello"}, ports={"8000/tcp": lab.free_port()}, mem_limit="96m")
    msg = failure_text(lab)
    assert "APP_GREETING='hello', expected 'hello-from-docker'" in msg
    assert "memory limit" not in msg and "published" not in msg


def test_no_port_published_fails(lab):
    start(lab, environment=REQ["env"], mem_limit="96m")
    msg = failure_text(lab)
    assert "8000/tcp is not published to the host" in msg
    assert "APP_GREETING" not in msg


def test_no_memory_limit_fails(lab):
    start(lab, environment=REQ["env"], ports={"8000/tcp": lab.free_port()})
    assert "no memory limit" in failure_text(lab)


def test_wrong_memory_limit_fails(lab):
    start(lab, environment=REQ["env"], ports={"8000/tcp": lab.free_port()}, mem_limit="100m")
    assert "limit is 104857600 bytes" in failure_text(lab)


def test_stopped_container_fails(lab):
    c = start(lab, environment=REQ["env"], ports={"8000/tcp": lab.free_port()}, mem_limit="96m")
    c.stop(timeout=1)
    msg = failure_text(lab)
    assert "status exited" in msg
    assert "the container is not running" in msg


def test_published_but_not_listening_fails(lab):
    start(lab, ["sleep", "60"], environment=REQ["env"], ports={"8000/tcp": lab.free_port()}, mem_limit="96m")
    assert "answers HTTP" in failure_text(lab)


def test_solution_passes(lab):
    start(lab, environment=REQ["env"], ports={"8000/tcp": lab.free_port()}, mem_limit="96m")
    assert ex.check(lab).passed


def test_other_correct_answer_passes(lab):
    # different spelling of the same requirements: bytes for the limit, an extra variable, a bind address,
    # the port given as an int key, and the environment as a list
    start(lab, ["python", "-m", "http.server", "--bind", "0.0.0.0", "8000"],
          environment=["EXTRA=1", "APP_GREETING=hello-from-docker"], ports={8000: lab.free_port()},
          mem_limit=96 * 1024 * 1024)
    assert ex.check(lab).passed


# --- issue 10: judged by what runs, observed causes, non-root --------------------------------------------

def test_equivalent_spelling_passes(lab):
    """The interpreter by absolute path, the limit in KiB, the port published by number: the same container."""
    python = helper(lab, lab.base("python"), ["sh", "-c", "command -v python3"]).output.strip()  # /usr/…/python3
    start(lab, [python, "-m", "http.server", "8000"], environment=REQ["env"],
          ports={8000: lab.free_port()}, mem_limit="98304k")
    assert ex.check(lab).passed


def test_non_root_container_gets_a_verdict(lab):
    start(lab, user="10001:10001", environment=REQ["env"], ports={"8000/tcp": lab.free_port()}, mem_limit="96m")
    assert ex.check(lab).passed


def test_listening_on_another_port_is_named(lab):
    """The cause is observed (the container's own /proc/net/tcp), not guessed."""
    start(lab, ["python", "-m", "http.server", "8080"], environment=REQ["env"], ports={"8000/tcp": lab.free_port()},
          mem_limit="96m")
    msg = failure_text(lab)
    assert "the app listens on 0.0.0.0:8080, not on port 8000" in msg


def test_listening_on_loopback_is_named(lab):
    start(lab, ["python", "-m", "http.server", "--bind", "127.0.0.1", "8000"], user="10001",
          environment=REQ["env"], ports={"8000/tcp": lab.free_port()}, mem_limit="96m")
    assert "only the container's own loopback (127.0.0.1)" in failure_text(lab)

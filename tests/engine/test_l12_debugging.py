"""Lesson 12 exercise check (dice_roller, a service that never becomes healthy), real engine.

The unsolved folder is run by tests/test_exercises.py (UNSOLVED_FAILS) and the solution by its notebook. Here:
plausible half-fixes lose exactly their line, with its cause and the values seen, and without the line naming the
fault the learner is there to find; fixes written differently pass (the line endings repaired in the Dockerfile, an
exec-form health check with other timings); the check ends in a verdict on an empty answer, an image that does not
build, a port already taken and a container that disappears mid-check.
"""
import socket

import pytest

from dockerlab import CheckFailed
from dockerlab.grading import serving
from dockerlab.grading.lessons import l12_debugging as ex

pytestmark = pytest.mark.engine

HEALTHCHECK = "HEALTHCHECK --interval=2s --timeout=3s --start-period=5s --retries=3 \\\n  "
CURL = "CMD curl -fsS http://127.0.0.1:8000/health || exit 1"
PY_CHECK = """CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]"""
IDS = [c.id for c in ex.CRITERIA]


@pytest.fixture
def app(lab):
    return lab.workspace(ex.APP)


def lf_script(app):
    script = app / "entrypoint.sh"
    script.write_bytes(script.read_bytes().replace(b"\r\n", b"\n"))


def edit(app, old, new, name="Dockerfile"):
    f = app / name
    text = f.read_bytes().decode()  # as it is: CRLF line endings stay
    assert old in text, old
    f.write_bytes(text.replace(old, new).encode())


def graded(lab, app, **kwargs):
    sc = ex.grade(lab, app, **kwargs)
    with pytest.raises(CheckFailed):  # check() is grade() + raise_unless_passed()
        sc.raise_unless_passed()
    return sc


def said(line) -> str:
    return f"{line.detail} {line.fix}"


# --- half-fixes: one line each, what was observed, never the fault itself --------------------------------------

def test_another_interpreter_keeps_the_fault_and_the_line_names_what_was_seen(lab, app):
    """#!/bin/bash instead of #!/bin/sh: the file is still there, exec still says it is not."""
    edit(app, "#!/bin/sh", "#!/bin/bash", name="entrypoint.sh")
    sc = graded(lab, app)
    assert sc.failed_ids == ["l12.starts"], str(sc)
    line = sc.by_id("l12.starts")
    assert line.cause == "exited" and line.observed["in_image"] is True
    assert line.observed["program"] == "/usr/local/bin/dice-entrypoint" and line.observed["exit_code"] != 0
    # the debugging rule: what was seen, not the cause the learner is there to find
    assert not any(w in said(line).lower() for w in ("\\r", "crlf", "line ending", "carriage", "windows"))
    assert [r.passed for r in sc.lines] == [True, False, None, None, True]  # the idle health check: judged apart


def test_line_endings_fixed_but_curl_health_check_fails(lab, app):
    lf_script(app)
    sc = graded(lab, app)
    assert sc.failed_ids == ["l12.healthy"], str(sc)
    line = sc.by_id("l12.healthy")
    assert line.cause == "never-healthy" and line.observed["status"] == "unhealthy"
    assert set(line.observed["exit_codes"]) == {1} and "curl" in line.observed["output"]  # `|| exit 1`
    assert "curl" not in said(line)  # where to look (State.Health.Log), not what it says
    assert sc.by_id("l12.roll").observed["sides"] == 6 and sc.by_id("l12.can-fail").observed == {"can_fail": True}


def test_removing_the_health_check_fails(lab, app):
    lf_script(app)
    edit(app, HEALTHCHECK + CURL + "\n", "")
    sc = graded(lab, app)
    assert sc.failed_ids == ["l12.healthy"], str(sc)
    assert sc.by_id("l12.healthy").cause == "missing"
    assert sc.by_id("l12.healthy").observed == {"instruction": "HEALTHCHECK"}
    assert sc.by_id("l12.can-fail").passed is None


def test_a_health_check_that_cannot_fail_fails(lab, app):
    lf_script(app)
    edit(app, CURL, "CMD curl -fsS http://127.0.0.1:8000/health || exit 0")
    sc = graded(lab, app)
    assert sc.failed_ids == ["l12.can-fail"], str(sc)
    assert sc.by_id("l12.can-fail").cause == "never-healthy"
    assert sc.by_id("l12.can-fail").observed == {"can_fail": False}


def test_bypassing_the_entrypoint_fails(lab, app):
    """Skip the script instead of fixing it: the defaults it sets are missing, the app refuses to start."""
    edit(app, 'ENTRYPOINT ["dice-entrypoint"]', "ENTRYPOINT []")
    edit(app, CURL, PY_CHECK)
    sc = graded(lab, app)
    assert sc.failed_ids == ["l12.starts"], str(sc)
    line = sc.by_id("l12.starts")
    assert line.cause == "exited" and line.observed["kind"] == "env"


def test_bypassing_the_entrypoint_with_a_wrong_default_fails_the_roll(lab, app):
    """Skip the script and set its variable by hand, to 0: /health answers, /roll cannot roll a 0-sided die."""
    edit(app, 'ENTRYPOINT ["dice-entrypoint"]', 'ENV DICE_SIDES=0\nENTRYPOINT []')
    edit(app, CURL, PY_CHECK)
    sc = graded(lab, app, only={"l12.builds", "l12.starts", "l12.roll"})
    assert sc.failed_ids == ["l12.roll"], str(sc)
    line = sc.by_id("l12.roll")
    assert line.cause == "wrong-value" and line.observed == {"status": 500, "dice": []}


def test_a_health_check_on_the_wrong_port_fails(lab, app):
    lf_script(app)
    edit(app, CURL, PY_CHECK.replace("8000", "8080"))
    sc = graded(lab, app)
    assert sc.failed_ids == ["l12.healthy"], str(sc)
    line = sc.by_id("l12.healthy")
    assert line.observed["status"] == "unhealthy" and set(line.observed["exit_codes"]) == {1}


# --- a verdict on every input -----------------------------------------------------------------------------------

def test_an_empty_answer_gets_a_verdict(lab, app):
    (app / "Dockerfile").unlink()
    sc = graded(lab, app)
    assert sc.failed_ids == ["l12.builds"] and sc.by_id("l12.builds").cause == "missing"
    assert sc.by_id("l12.builds").observed == {"file": "Dockerfile"}
    assert all(r.passed is None for r in sc.lines[1:])


def test_an_image_that_does_not_build_gets_a_verdict(lab, app):
    edit(app, "COPY app.py .", "COPY app.py dice.py .")
    sc = graded(lab, app)
    assert sc.failed_ids == ["l12.builds"] and sc.by_id("l12.builds").cause == "build-failed"
    assert "COPY app.py dice.py ." in sc.by_id("l12.builds").observed["step"]


@pytest.fixture
def taken_port():
    """A host port some other program listens on."""
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        yield s.getsockname()[1]


def test_a_port_already_taken_twice_is_the_checks_own_failure(lab, app, taken_port, monkeypatch):
    lf_script(app)
    monkeypatch.setattr(serving, "free_port", lambda: taken_port)
    sc = graded(lab, app)
    assert sc.failed_ids == ["l12.starts"], str(sc)
    line = sc.by_id("l12.starts")
    assert line.cause == "check-error" and line.observed == {"port": taken_port}
    assert [r.passed for r in sc.lines] == [True, False, None, None, True]


def test_a_container_that_disappears_mid_check_gets_a_verdict(lab, app, monkeypatch):
    """Removed (by someone else) while the check waits for healthy."""
    lf_script(app)
    edit(app, CURL, PY_CHECK)
    real = ex.poll_health

    def poll_health(container, *args, **kwargs):
        container.remove(force=True)
        return real(container, *args, **kwargs)

    monkeypatch.setattr(ex, "poll_health", poll_health)
    sc = graded(lab, app)
    assert sc.failed_ids == ["l12.healthy"], str(sc)
    line = sc.by_id("l12.healthy")
    assert line.cause == "exited" and line.observed == {"status": "removed"}
    assert sc.by_id("l12.can-fail").passed


def test_other_correct_answer_passes_on_a_port_taken_once(lab, app, taken_port, monkeypatch):
    """The script repaired by the Dockerfile (as root, before USER), an exec-form check with other timings; the
    check's first free port is taken by another program, so it runs the image again on another one."""
    ports = iter([taken_port])
    real = serving.free_port
    monkeypatch.setattr(serving, "free_port", lambda: next(ports, None) or real())
    edit(app, "USER 10001", "RUN sed -i 's/\\r$//' /usr/local/bin/dice-entrypoint\nUSER 10001")
    edit(app, HEALTHCHECK + CURL,
         'HEALTHCHECK --interval=1s --retries=5 CMD ["python", "-c", '
         '"import sys, urllib.request as u; sys.exit(u.urlopen(\'http://localhost:8000/health\').status != 200)"]')
    sc = ex.check(lab, app)
    assert sc.passed and [r.id for r in sc.lines] == IDS
    assert sc.by_id("l12.healthy").observed == {"status": "healthy"}
    assert len(sc.by_id("l12.roll").observed["dice"]) == 5

"""Lesson 09: the graceful-shutdown check fails on the starter and on wrong answers, passes on correct ones."""
import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons.l09_health_and_shutdown import check

pytestmark = pytest.mark.engine

GOOD = '''import signal
import threading


def install(server):
    def on_sigterm(signum, frame):
        threading.Thread(target=server.shutdown).start()
    signal.signal(signal.SIGTERM, on_sigterm)
'''
OTHER_GOOD = '''import signal
import threading

stopping = threading.Event()


def install(server):
    def drain():
        stopping.wait()
        server.shutdown()
    threading.Thread(target=drain, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
'''
NO_DRAIN = '''import os
import signal


def install(server):
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
'''
EXEC_CMD = 'CMD ["python", "app.py"]'


@pytest.fixture
def lab():
    lab = Lesson("09_health_and_shutdown", quiet=True)
    try:
        yield lab
    finally:
        lab.cleanup(quiet=True)


def app(lab, shutdown_py=None, cmd=None):
    path = lab.workspace("graceful_service")
    if shutdown_py is not None:
        (path / "shutdown.py").write_text(shutdown_py)
    if cmd is not None:
        df = path / "Dockerfile"
        df.write_text(df.read_text().replace("CMD python app.py", cmd))
    return path


def failing(lab, path):
    with pytest.raises(CheckFailed) as exc:
        check(lab, path)
    return str(exc.value)


def test_starter_fails(lab):
    msg = failing(lab, app(lab))
    assert "exit code 137" in msg and "shell-form CMD" in msg


def test_shell_form_cmd_with_a_handler_fails(lab):
    msg = failing(lab, app(lab, GOOD))
    assert "exit code 137" in msg and "shell-form CMD" in msg
    assert 'CMD ["python", "app.py"]' in msg


def test_exec_form_without_handler_fails(lab):
    msg = failing(lab, app(lab, cmd=EXEC_CMD))
    assert "exit code 137" in msg and "nothing handled SIGTERM" in msg


def test_handler_that_does_not_drain_fails(lab):
    msg = failing(lab, app(lab, NO_DRAIN, EXEC_CMD))
    assert "in-flight request completes" in msg and "failed" in msg
    assert "stops on SIGTERM" not in msg  # it did stop, with 0, fast


def test_other_correct_answer_passes(lab):
    assert check(lab, app(lab, OTHER_GOOD, "CMD exec python app.py")).passed


# --- issue 10: judged by what PID 1 is and does, once the service is ready -----------------------------------

IGNORES_TERM = '''import signal


def install(server):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
'''


@pytest.mark.parametrize("cmd", ['ENTRYPOINT ["/usr/bin/env", "python"]\nCMD ["app.py"]',
                                 'SHELL ["/bin/bash", "-c"]\nCMD python app.py'], ids=["env-entrypoint", "bash-exec"])
def test_equivalent_spellings_pass(lab, cmd):
    """PID 1 is python either way (env execs it; bash execs a lone command): what runs is judged, not the words."""
    assert check(lab, app(lab, GOOD, cmd)).passed


def test_ignoring_sigterm_is_named(lab):
    """The handler is read from PID 1 itself (/proc/1/status SigCgt): ignoring SIGTERM is not handling it."""
    msg = failing(lab, app(lab, IGNORES_TERM, EXEC_CMD))
    assert "exit code 137" in msg and "PID 1 is `python app.py` and nothing handled SIGTERM" in msg

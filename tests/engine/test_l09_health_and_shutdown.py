"""Lesson 09: the invoice renderer must stop cleanly with a render in flight. Wrong answers fail on the line that
names their cause; answers written differently pass; the in-flight probe catches what exit codes alone miss."""
import pytest

from dockerlab import Lesson
from dockerlab.grading import resilience
from dockerlab.grading.lessons.l09_health_and_shutdown import RENDER, RENDERED, grade
from dockerlab.grading.serving import serve
from dockerlab.run import remove

pytestmark = pytest.mark.engine

SERVER = '''from http.server import ThreadingHTTPServer

from renderer import PORT, Renderer

server = ThreadingHTTPServer(("0.0.0.0", PORT), Renderer)
'''
# Lesson 09's handler, as is, on the stock server: request threads are daemons (N12), so the exit drops the render.
LESSON_HANDLER = "import signal\nimport threading\n" + SERVER + '''
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
server.serve_forever()
server.server_close()
'''
# Correct, written differently: STOPSIGNAL SIGINT, KeyboardInterrupt caught, threads made non-daemon by a subclass.
SIGINT_MAIN = '''from http.server import ThreadingHTTPServer

from renderer import PORT, Renderer


class Server(ThreadingHTTPServer):
    daemon_threads = False


server = Server(("0.0.0.0", PORT), Renderer)
try:
    server.serve_forever()
except KeyboardInterrupt:
    print("renderer: SIGINT, draining", flush=True)
server.server_close()
'''
# Correct, written differently: daemon threads kept, the requests in flight counted and waited for.
COUNTING_MAIN = "import signal\nimport threading\nimport time\n" + SERVER + '''
busy, lock = [0], threading.Lock()
handle = server.finish_request


def counted(request, address):
    with lock:
        busy[0] += 1
    try:
        handle(request, address)
    finally:
        with lock:
            busy[0] -= 1


server.finish_request = counted
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
server.serve_forever()
while busy[0]:
    time.sleep(0.05)
'''
EXITS_AT_ONCE = "import os\nimport signal\n" + SERVER + '''
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
server.serve_forever()
'''


@pytest.fixture
def lab():
    lab = Lesson("09_health_and_shutdown", quiet=True)
    try:
        yield lab
    finally:
        lab.cleanup(quiet=True)


def app(lab, main=None, *, exec_in_script=True, dockerfile=None):
    path = lab.workspace("invoice_renderer")
    if exec_in_script:
        (path / "start.sh").write_text((path / "start.sh").read_text().replace("\npython main.py", "\nexec python main.py"))
    if main is not None:
        (path / "main.py").write_text(main)
    if dockerfile is not None:
        (path / "Dockerfile").write_text(dockerfile(path / "Dockerfile"))
    return path


def test_shell_pid1_is_killed_and_named(lab):
    """Without `exec` in start.sh, PID 1 is the shell: SIGKILL after 10 s. The render still finished (2 s < 10 s)."""
    sc = grade(lab, app(lab, LESSON_HANDLER, exec_in_script=False))
    assert sc.failed_ids == ["l09.stops"]
    stops = sc.by_id("l09.stops")
    assert (stops.cause, stops.observed["exit_code"], stops.observed["pid1"]) == ("not-graceful", 137, "sh start.sh")
    assert sc.by_id("l09.in-flight").passed


def test_lesson_handler_on_a_stock_server_drops_the_render(lab):
    """N12: exit 0 in well under a second, yet the render in flight is lost (its thread was a daemon)."""
    sc = grade(lab, app(lab, LESSON_HANDLER))
    assert sc.failed_ids == ["l09.in-flight"]
    line = sc.by_id("l09.in-flight")
    assert line.cause == "not-graceful" and line.observed["exit_code"] == 0 and "error" in line.observed["request"]
    assert sc.by_id("l09.stops").observed["catches_term"] is True


def test_handler_that_exits_at_once_drops_the_render(lab):
    sc = grade(lab, app(lab, EXITS_AT_ONCE))
    assert sc.failed_ids == ["l09.in-flight"] and sc.by_id("l09.in-flight").observed["exit_code"] == 0


def test_exec_without_a_handler_is_ignored_until_sigkill(lab):
    sc = grade(lab, app(lab))
    stops = sc.by_id("l09.stops")
    assert sc.failed_ids == ["l09.stops"]
    assert (stops.observed["exit_code"], stops.observed["pid1"], stops.observed["catches_term"]) == (
        137, "python main.py", False)


def test_stopsignal_sigint_answer_passes(lab):
    """Another correct answer: STOPSIGNAL SIGINT, python started directly (no script), non-daemon threads."""
    def dockerfile(df):
        return df.read_text().replace('ENTRYPOINT ["sh", "start.sh"]', 'STOPSIGNAL SIGINT\nCMD ["python", "main.py"]')
    sc = grade(lab, app(lab, SIGINT_MAIN, exec_in_script=False, dockerfile=dockerfile))
    assert sc.passed, sc
    assert sc.by_id("l09.stops").observed["stop_signal"] == "SIGINT"


def test_counting_requests_answer_passes(lab):
    sc = grade(lab, app(lab, COUNTING_MAIN))
    assert sc.passed, sc
    assert sc.by_id("l09.in-flight").observed["request"]["body"] == RENDERED


def test_no_handler_under_tini_exits_fast_and_is_caught(lab):
    """The issue's finding: a handler-less program under an init exits at once on SIGTERM (143, which an exit-code
    check takes for graceful) and drops the request in flight; the in-flight probe catches it."""
    image = lab.build(app(lab), "no-handler", quiet=True).tag
    served = serve(lab, image, "tini", port=8000, timeout=30, init=True)
    try:
        assert served.ok, served.cause
        res = resilience.stop_in_flight(lab, served.container, host_port=served.host_port, path=RENDER,
                                        expect_body=RENDERED)
    finally:
        remove(served.container, client=lab.client, quiet=True)
    assert res.exit_code == 143 and res.clean_exit and res.seconds < 5  # what an exit-code-only check sees: fine
    assert not res.completed and "error" in res.request  # what really happened: the request was dropped
    assert res.pid1.cmdline.split()[0].rsplit("/", 1)[-1] in resilience.INITS
    assert [e.actor for e in res.timeline.events][-1] == "stack" and res.timeline.events[-1].cause


# --- a check ends in a verdict, never a traceback --------------------------------------------------------------

def test_image_that_does_not_build(lab):
    sc = grade(lab, app(lab, dockerfile=lambda df: df.read_text().replace("COPY *.py", "COPY missing.py")))
    assert sc.failed_ids == ["l09.builds"] and sc.by_id("l09.builds").cause == "build-failed"
    assert [r.passed for r in sc.results[1:]] == [None, None, None]


def test_empty_answer(lab):
    sc = grade(lab, app(lab, dockerfile=lambda df: ""))
    assert sc.failed_ids == ["l09.builds"] and sc.by_id("l09.builds").cause == "missing"


def test_container_that_disappears_mid_check(lab, monkeypatch):
    """The container is removed while the render is in flight: the stop cannot finish, the lines say so."""
    send = resilience.send_slow

    def send_then_remove(port, path, timeout=30):
        flight = send(port, path, timeout)
        remove(lab.name("exercise"), client=lab.client, quiet=True)
        return flight
    monkeypatch.setattr(resilience, "send_slow", send_then_remove)
    sc = grade(lab, app(lab, LESSON_HANDLER))
    assert sc.failed_ids == ["l09.stops", "l09.in-flight"]
    assert {sc.by_id(i).cause for i in sc.failed_ids} == {"check-error"}

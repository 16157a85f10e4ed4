"""The resilience toolkit without an engine: the timeline, and the cause named for a request dropped at a stop."""
import http.server
import threading

import pytest

from dockerlab.grading import resilience, watching
from dockerlab.grading.probes import Pid1
from dockerlab.grading.resilience import InFlightStop, State, Timeline


def stop(code, pid1="python main.py", catches=True, signal="SIGTERM", request=None, seconds=0.4):
    return InFlightStop(code, seconds, request if request is not None else {"error": "RemoteDisconnected: closed"},
                        "done", Pid1(pid1, 10001, catches), signal, 10, Timeline())


def test_timeline_rows_keep_the_actor_and_the_cause():
    tl = Timeline("t")
    tl.course("docker stop -t 10")
    tl.stack("exited 0", "the handler")
    rows = tl.table().rows
    assert [bool(r["the course"]) for r in rows] == [True, False] and rows[1]["cause"] == "the handler"
    assert [e["actor"] for e in tl.observed()] == ["course", "stack"]


@pytest.mark.parametrize("stop_signal, number", [("SIGTERM", 15), ("SIGINT", 2), ("quit", 3), ("9", 9), ("", 15)])
def test_signal_number(stop_signal, number):
    assert stop(0, signal=stop_signal).signal_number == number


def test_an_init_passing_sigterm_to_a_program_without_handler_is_named():
    """Exit 143 in 0.3 s: an exit-code check calls that graceful; the dropped request says otherwise."""
    s = stop(143, pid1="/sbin/docker-init -- python main.py", catches=True, seconds=0.3)
    assert s.clean_exit and not s.completed and not s.killed
    assert "docker-init" in s.dropped_because()


def test_causes_differ_by_what_happened():
    killed, died, early = stop(137, seconds=10.2), stop(143), stop(0)
    assert killed.killed and not killed.clean_exit
    assert len({killed.dropped_because(), died.dropped_because(), early.dropped_because()}) == 3
    assert "daemon" in early.dropped_because()


def test_a_complete_answer_needs_the_expected_body():
    assert stop(0, request={"status": 200, "body": "done"}).completed
    assert not stop(0, request={"status": 200, "body": "don"}).completed
    assert not stop(0, request={"status": 503, "body": "done"}).completed


def test_state_says_what_docker_reports():
    said = State("exited", "unhealthy", 0, 137, True, "no").said()
    assert said.startswith("exited") and "137" in said and "OOM" in said and said.endswith("unhealthy")
    assert State("running", "none", 1, 0, False, "on-failure").said() == "running"


def test_ask_and_send_slow_reach_a_local_server(monkeypatch):
    """Bounded requests to this machine only: one GET, one slow GET in a thread, and a refused port."""
    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"done"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(watching, "host_address", lambda: "127.0.0.1")
    try:
        port = server.server_address[1]
        assert resilience.ask(port, "/") == (200, "done")
        assert resilience.send_slow(port, "/x").wait(10)["body"] == "done"
    finally:
        server.shutdown()
        server.server_close()
    status, said = resilience.ask(port, "/", timeout=1)
    assert status is None and "Connection" in said

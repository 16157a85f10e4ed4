"""wait_for_answer without an engine: a local HTTP server whose answer changes (or never does)."""
import http.server
import json
import threading

import pytest

from dockerlab.compose import exec_frames_removed
from dockerlab.run import WaitTimeout, wait_for_answer


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 answering GET / with ``state["body"]`` (status ``state["status"]``)."""
    state = {"body": json.dumps({"greeting": "hello"}), "status": 200, "hits": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            state["hits"] += 1
            data = state["body"].encode()
            self.send_response(state["status"])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1], state
    srv.shutdown()


def greets(text):
    return lambda body: json.loads(body)["greeting"] == text


def test_returns_once_the_answer_changes(server):
    port, state = server
    threading.Timer(0.5, lambda: state.update(body=json.dumps({"greeting": "hi"}))).start()
    seconds, body = wait_for_answer(port, "/", until=greets("hi"), timeout=10)
    assert 0.4 < seconds < 10 and json.loads(body) == {"greeting": "hi"}


def test_error_pages_and_unreadable_answers_count_as_not_yet(server):
    port, state = server
    state.update(status=500, body="<html>debugger</html>")
    threading.Timer(0.5, lambda: state.update(status=200, body="not json")).start()
    threading.Timer(1.0, lambda: state.update(body=json.dumps({"greeting": "hi"}))).start()
    seconds, _ = wait_for_answer(port, "/", until=greets("hi"), timeout=10)
    assert seconds >= 0.9


def test_shows_progress_then_gives_up_with_what_it_saw(server, capsys):
    port, state = server
    with pytest.raises(WaitTimeout) as info:
        wait_for_answer(port, "/", until=greets("hi"), what="the greeting 'hi'", timeout=3, every=1,
                        evidence=lambda: "app.py in the container: GREETING = \"hello\"")
    progress = capsys.readouterr().out.splitlines()  # one line a second (fewer when a poll is slow)
    assert 1 <= len(progress) <= 2, progress
    assert all(line.endswith(" s, still waiting for the greeting 'hi': HTTP 200 {\"greeting\": \"hello\"}")
               for line in progress), progress
    msg = str(info.value)
    assert msg.startswith(f"the greeting 'hi' not seen at http://127.0.0.1:{port}/ after 3 s")
    assert 'last answer: HTTP 200 {"greeting": "hello"}' in msg
    assert msg.endswith('app.py in the container: GREETING = "hello"')


def test_watch_output_loses_the_exec_stream_frame_headers():
    raw = (b"Syncing service \"web\" after 1 changes were detected\n"
           b"\x02\x00\x00\x00\x00\x00\x00\x05rm: \x02\x00\x00\x00\x00\x00\x00\x1dcannot remove '/app/extra.py'"
           b"\x02\x00\x00\x00\x00\x00\x00\x13: Permission denied\x02\x00\x00\x00\x00\x00\x00\x01\n")
    assert exec_frames_removed(raw) == ("Syncing service \"web\" after 1 changes were detected\n"
                                        "rm: cannot remove '/app/extra.py': Permission denied\n")

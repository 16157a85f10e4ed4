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
    what, evidence = "the greeting 'hi'", 'app.py in the container: GREETING = "hello"'
    with pytest.raises(WaitTimeout) as info:
        wait_for_answer(port, "/", until=greets("hi"), what=what, timeout=3, every=1, evidence=lambda: evidence)
    progress = capsys.readouterr().out.splitlines()  # one line a second (fewer when a poll is slow)
    assert 1 <= len(progress) <= 2, progress
    # each: the seconds waited, what for, and the last answer (its status and body)
    for line in progress:
        seconds, unit = line.split()[:2]
        assert seconds.isdigit() and unit == "s," and what in line and line.endswith(f"200 {state['body']}"), line
    first, last_answer, *rest = str(info.value).splitlines()
    assert first.startswith(what) and f"http://127.0.0.1:{port}/" in first and first.split()[-2:] == ["3", "s"]
    assert last_answer.endswith(f"200 {state['body']}") and rest == [evidence]  # the last answer, then the evidence


def test_watch_output_loses_the_exec_stream_frame_headers():
    """Docker's exec stream: each chunk behind an 8-byte header (stream 2 = stderr, 3 zero bytes, big-endian length)."""
    plain = b"Syncing service \"web\" after 1 changes were detected\n"
    chunks = [b"rm: ", b"cannot remove '/app/extra.py'", b": Permission denied", b"\n"]
    raw = plain + b"".join(b"\x02\x00\x00\x00" + len(c).to_bytes(4, "big") + c for c in chunks)
    assert raw[len(plain):len(plain) + 8] == b"\x02\x00\x00\x00\x00\x00\x00\x04"  # the header as Docker sends it
    assert exec_frames_removed(raw) == (plain + b"".join(chunks)).decode()

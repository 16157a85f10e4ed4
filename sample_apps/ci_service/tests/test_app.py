"""The tests CI runs inside the image's test stage: `docker run IMAGE` (its CMD is pytest)."""
import json
import threading
import urllib.request

import pytest

import app


def test_greet_names_the_caller():
    assert app.greet("Ada") == "hello, Ada"


def test_greet_defaults_to_world():
    assert app.greet("  ") == "hello, world"


@pytest.fixture
def server():
    srv = app.serve(0)  # port 0: the OS picks a free one
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, json.load(r)


def test_health(server):
    assert get(server + "/health") == (200, {"status": "ok", "version": app.VERSION})


def test_greet_endpoint(server):
    status, body = get(server + "/greet?name=CI")
    assert status == 200 and body["message"] == "hello, CI"

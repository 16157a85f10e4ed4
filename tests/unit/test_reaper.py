"""A failed check's cleanup runs once the kernel process is gone, also after SIGKILL (dockerlab.grading.reaper), no engine.

The "kernel" is a short-lived Python child of this test that calls ``reaper.watch``; the engine is a fake one on
127.0.0.1 (``DOCKER_HOST=tcp://…``) that knows one labelled container and records every request it gets.
"""
from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from urllib.parse import parse_qs, urlparse

import psutil
import pytest

from dockerlab import engine
from dockerlab.grading import reaper

pytestmark = pytest.mark.skipif(os.name == "nt", reason="SIGKILL and sessions are POSIX")

CONTAINER = "c0ffee"
NS = f"unit-{os.getpid()}"  # a namespace of this run alone: watchers of other runs are not this test's


class _Handler(http.server.BaseHTTPRequestHandler):
    def _reply(self, status: int, body=None) -> None:
        data = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.requests.append(("GET", self.path))
        path = urlparse(self.path).path
        if path.endswith("/_ping"):
            self._reply(200, "OK")
        elif path.endswith("/version"):
            self._reply(200, {"ApiVersion": "1.44", "MinAPIVersion": "1.24", "Version": "fake"})
        elif path.endswith("/containers/json"):
            self._reply(200, [{"Id": CONTAINER, "Names": ["/dl-unit-12-dice"]}])
        elif path.endswith(f"/containers/{CONTAINER}/json"):
            self._reply(200, {"Id": CONTAINER, "Name": "/dl-unit-12-dice", "Config": {"Labels": {}}})
        elif path.endswith("/networks"):
            self._reply(200, [])
        elif path.endswith("/volumes"):
            self._reply(200, {"Volumes": [], "Warnings": None})
        else:
            self._reply(404, {"message": f"not in the fake engine: {path}"})

    def do_DELETE(self) -> None:  # noqa: N802
        self.server.requests.append(("DELETE", self.path))
        self._reply(204)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_engine(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for key in engine.DOCKER_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(engine, "_client", None)  # no client of another test: the one made now talks to this engine
    monkeypatch.setattr(engine, "_client_env", None)
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{server.server_address[1]}")
    yield server
    server.shutdown()


KERNEL = textwrap.dedent(f"""
    import time
    from dockerlab.grading import reaper
    reaper.watch("12_debugging", "{NS}")
    reaper.watch("12_debugging", "{NS}")   # the same lesson and namespace again: no second watcher
    print(" ".join(str(p.pid) for p in reaper._WATCHERS.values()), flush=True)
    time.sleep(600)
""")


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_the_watcher_cleans_once_its_kernel_is_killed_and_not_before(fake_engine):
    kernel = subprocess.Popen([sys.executable, "-c", KERNEL], stdout=subprocess.PIPE, text=True)
    watcher = None
    try:
        pids = kernel.stdout.readline().split()
        assert len(pids) == 1, f"watchers started: {pids} (one per lesson and namespace)"
        watcher = psutil.Process(int(pids[0]))
        # /proc/PID/cmdline reads empty for a moment while the new process execs: read it once it is there
        assert _wait(lambda: watcher.cmdline(), 5), f"watcher {watcher.pid}: {watcher.status()}"
        assert watcher.cmdline()[-6:] == ["--pid", str(kernel.pid), "--lesson", "12_debugging", "--ns", NS]
        assert os.getsid(watcher.pid) == watcher.pid != os.getsid(kernel.pid), (
            "the watcher must have a session of its own (Jupyter signals the kernel's process group)")

        time.sleep(2.5)  # the kernel lives: the watcher waits and asks the engine nothing
        assert watcher.is_running() and fake_engine.requests == []
        assert [w["kernel_alive"] for w in reaper.watchers("12_debugging", NS)] == [True]

        kernel.send_signal(signal.SIGKILL)  # no atexit, nothing; and not reaped yet: a zombie is gone too
        assert reaper.settle(ns=NS, timeout=30) == [], "the watcher did not finish within 30 s"
        assert _wait(lambda: not watcher.is_running() or watcher.status() == psutil.STATUS_ZOMBIE, 5)
    finally:
        kernel.kill()
        kernel.wait()
        if watcher is not None and watcher.is_running():
            watcher.kill()

    deletes = [path for method, path in fake_engine.requests if method == "DELETE"]
    assert len(deletes) == 1 and urlparse(deletes[0]).path.endswith(f"/containers/{CONTAINER}"), fake_engine.requests
    assert parse_qs(urlparse(deletes[0]).query)["force"] == ["True"]
    listed = [json.loads(parse_qs(urlparse(path).query)["filters"][0])["label"]
              for method, path in fake_engine.requests if method == "GET" and "filters" in path]
    assert {"org.dockerlab.lesson=12", f"org.dockerlab.namespace={NS}"} <= set(listed[0])
    kinds = {urlparse(path).path.rsplit("/", 1)[-1] for method, path in fake_engine.requests if "filters" in path}
    assert kinds == {"json", "networks", "volumes"}  # containers, networks, volumes; images stay


def test_a_kernel_gone_before_its_watcher_looked_is_cleaned_at_once(fake_engine):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert reaper.wait_and_clean(gone.pid, "12_debugging", NS, max_hours=0.001) is True
    assert any(method == "DELETE" for method, _ in fake_engine.requests)


def test_a_watcher_gives_up_when_its_kernel_outlives_it(fake_engine):
    assert reaper.wait_and_clean(os.getppid(), "12_debugging", NS, poll=0.05, max_hours=0.2 / 3600) is False
    assert fake_engine.requests == []


def test_one_watcher_per_lesson_and_namespace(watchers_started):  # conftest.py: recorded, not started
    for lesson, ns in [("07_volumes_and_dev_workflow", "a"), ("07_volumes_and_dev_workflow", "a"),
                       ("07_volumes_and_dev_workflow", "b"), ("09_health_and_shutdown", "a")]:
        reaper.watch(lesson, ns)
    args = [dict(zip(cmd[3::2], cmd[4::2])) for cmd, _ in watchers_started]
    assert [(a["--lesson"], a["--ns"]) for a in args] == [
        ("07_volumes_and_dev_workflow", "a"), ("07_volumes_and_dev_workflow", "b"), ("09_health_and_shutdown", "a")]
    assert all(a["--pid"] == str(os.getpid()) for a in args)
    assert watchers_started[0][0][:3] == [sys.executable, "-m", "dockerlab.grading.reaper"]


def test_the_watcher_uses_the_engine_of_the_kernels_client(watchers_started, monkeypatch):
    """Lesson 14 points DOCKER_HOST at a helper engine for a while; the lesson's objects are on the first one."""
    monkeypatch.setattr(engine, "_client_env", {"DOCKER_HOST": "tcp://10.0.0.1:2376", "DOCKER_TLS_VERIFY": "1",
                                                "DOCKER_CERT_PATH": None})
    monkeypatch.setenv("DOCKER_HOST", "tcp://172.17.0.5:2375")
    monkeypatch.setenv("DOCKER_CERT_PATH", "/elsewhere")
    reaper.watch("14_supply_chain", "a")
    env = watchers_started[0][1]
    assert env["DOCKER_HOST"] == "tcp://10.0.0.1:2376" and env["DOCKER_TLS_VERIFY"] == "1"
    assert "DOCKER_CERT_PATH" not in env


def test_without_a_watcher_the_cleanup_runs_at_exit(monkeypatch):
    registered = []

    def refuse(cmd, env):
        raise OSError("no more processes")

    monkeypatch.setattr(reaper, "_WATCHERS", {})
    monkeypatch.setattr(reaper, "_AT_EXIT", set())
    monkeypatch.setattr(reaper, "_spawn", refuse)
    monkeypatch.setattr(reaper.atexit, "register", lambda fn, *args, **kw: registered.append((fn, args)))
    reaper.watch("07_volumes_and_dev_workflow", "a")
    reaper.watch("07_volumes_and_dev_workflow", "a")
    assert registered == [(reaper.clean, ("07_volumes_and_dev_workflow", "a"))]

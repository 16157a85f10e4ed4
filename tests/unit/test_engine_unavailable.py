"""With no engine (or one that never answers), the client fails fast with the message that says what to do."""
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dockerlab.engine import HOW_TO_START, REASONS, EngineUnavailable, get_client

DOCKERLAB = [sys.executable, "-m", "dockerlab"]
SRC = str(Path(__file__).resolve().parents[2] / "src")


def run_cli(args, docker_host):
    env = dict(os.environ, DOCKER_HOST=docker_host, PYTHONPATH=SRC)
    t0 = time.monotonic()
    proc = subprocess.run(DOCKERLAB + args, capture_output=True, text=True, env=env, timeout=30)
    return proc, time.monotonic() - t0


def test_missing_socket_is_reported_with_the_fix(tmp_path, monkeypatch):
    address = f"unix://{tmp_path}/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", address)
    with pytest.raises(EngineUnavailable) as info:
        get_client(fresh=True)
    assert (info.value.address, info.value.reason) == (address, "no-socket")
    assert all(said in str(info.value) for said in (address, HOW_TO_START, REASONS["no-socket"]))


def test_doctor_exits_3_within_10_seconds_when_the_engine_never_answers(tmp_path):
    # A socket that accepts connections but never answers: the worst case, a hung engine.
    path = str(tmp_path / "hung.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        proc, seconds = run_cli(["doctor"], f"unix://{path}")
    finally:
        stop.set()
        t.join()
        srv.close()
    assert proc.returncode == 3, proc.stderr
    assert seconds < 10
    assert f"unix://{path}" in proc.stderr and REASONS["timeout"] in proc.stderr


def test_doctor_with_no_socket_exits_3(tmp_path):
    proc, seconds = run_cli(["doctor"], f"unix://{tmp_path}/none.sock")
    assert proc.returncode == 3 and seconds < 10
    assert HOW_TO_START in proc.stderr and REASONS["no-socket"] in proc.stderr


def test_cli_usage_errors_exit_2():
    proc, _ = run_cli(["images", "save"], "unix:///nonexistent")
    assert proc.returncode == 2


def test_doctor_versions_and_warnings():
    from dockerlab.engine import image_store
    from dockerlab.ops.doctor import CURRENT, below_current, older_than_current, version_tuple

    assert version_tuple("28.5.2+dfsg4") == (28, 5, 2)
    assert version_tuple("github.com/docker/buildx 0.29.1+ds1 0.29.1+ds1-4") == (0, 29, 1)
    assert version_tuple("v2.40.3") == (2, 40, 3) and version_tuple(None) == ()
    assert older_than_current("engine", "28.5.2") == ""
    assert below_current("engine", "26.1.5+dfsg1") == (27, 0) and below_current("engine", "28.5.2") is None
    assert below_current("buildx", "github.com/docker/buildx 0.13.1") == (0, 17)
    said = older_than_current("engine", "26.1.5")
    assert "27.0" in said and said.endswith(CURRENT["engine"][1])  # the version wanted, and why
    assert older_than_current("compose", "2.40.3-3") == "" and older_than_current("compose", "2.20.3")
    assert image_store({"Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "extfs"]]}) == "overlay2"
    assert image_store({"Driver": "overlayfs", "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]]}) == "containerd"

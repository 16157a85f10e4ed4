#!/usr/bin/env python3
"""A seat's init: PID 1 of the seat, uid 0 of the seat's user namespace (the seat's Unix user on the host).

It waits for the network the hub gives the seat (a veth on the seat's bridge), starts the seat's Docker engine
(dockerd, with its own containerd; its socket /run/docker.sock is group 1000's), says so in
/run/dockerlab/engine.json, and then waits for the hub to hand the seat to a learner: when
/opt/dockerlab-control/notebook.json appears (the hub's folder, read-only here), it copies the course into the
learner's home (the first time: ~/course, from the read-only /opt/course) and starts the learner's server
(jupyterhub-singleuser, as uid 1000 of the seat, the learner) with that command and environment. Both steps run as
the learner: nothing of the learner's is touched by root. SIGTERM stops the server, then the engine (its
containers stop with it), then the seat. Standard library only.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

RUN = "/run/dockerlab"
CONTROL = "/opt/dockerlab-control"
CFG = json.loads(os.environ.get("DOCKERLAB_SEAT", "{}"))
LEARNER_UID = LEARNER_GID = 1000
stopping = False
children: dict[str, subprocess.Popen] = {}


def log(msg: str) -> None:
    print(f"seat {CFG.get('slot', '?')}: {msg}", flush=True)


def state(name: str, **data) -> None:
    path = f"{RUN}/{name}.json"
    with open(path + ".tmp", "w") as f:
        json.dump({"time": time.time(), **data}, f)
    os.replace(path + ".tmp", path)


def on_term(signum, frame) -> None:  # noqa: ARG001
    global stopping
    stopping = True


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def ping(sock: str = "/run/docker.sock") -> bool:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    try:
        s.connect(sock)
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        return b"OK" in s.recv(4096)
    except OSError:
        return False
    finally:
        s.close()


def wait_network(timeout: float = 120) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping:
        routes = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True, text=True).stdout
        if "default" in routes:
            return
        time.sleep(0.1)
    raise SystemExit("seat_init: no network from the hub")


def start_engine() -> subprocess.Popen:
    with open("/run/daemon.json", "w") as f:
        json.dump(CFG.get("daemon", {}), f)
    args = ["dockerd", "--config-file", "/run/daemon.json", "--host", "unix:///run/docker.sock",
            "--group", str(LEARNER_GID + 1), "--exec-opt", "native.cgroupdriver=cgroupfs", "--pidfile", "/run/docker.pid"]
    if CFG.get("cgroup_parent"):
        args += ["--cgroup-parent", CFG["cgroup_parent"]]
    args += CFG.get("dockerd_args", [])
    logf = open("/var/log/dockerd.log", "ab")
    env = {"PATH": os.environ["PATH"], "HOME": "/run", "LANG": "C.UTF-8"}
    p = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < CFG.get("engine_timeout", 120):
        if p.poll() is not None:
            raise SystemExit(f"seat_init: dockerd exited with {p.returncode} (see /var/log/dockerd.log)")
        if ping():
            state("engine", pid=p.pid, seconds=round(time.monotonic() - t0, 2))
            log(f"engine answers after {time.monotonic() - t0:.1f} s")
            return p
        time.sleep(0.1)
    raise SystemExit("seat_init: dockerd did not answer")


def drop() -> None:
    """Become the learner (uid/gid 1000 of the seat, in the docker group of the seat's engine)."""
    os.setgroups([LEARNER_GID + 1])
    os.setgid(LEARNER_GID)
    os.setuid(LEARNER_UID)
    os.umask(0o022)


BASE_ENV = {"PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "/home/learner", "LANG": "C.UTF-8",
            "USER": "learner", "SHELL": "/bin/bash", "VIRTUAL_ENV": "/opt/venv"}
COPY = r"""
set -e
cd "$HOME"
mkdir -p .dockerlab
if [ ! -e course ]; then
  rm -rf .course-copy
  mkdir .course-copy
  cp -R --no-preserve=ownership,timestamps /opt/course/. .course-copy/
  chmod -R u+w .course-copy
  mv .course-copy course
fi
"""


# The learner's server, started before anybody has the seat: a Python process (as the learner) that has already
# imported what a Jupyter server imports (seconds of a busy machine's CPU), and waits for the hub's spec on its
# standard input; it then takes that environment and command line and runs jupyterhub-singleuser. Nothing of the
# learner's (token, name, URL) is known before; jupyterhub.singleuser itself reads its environment on import, so
# it is imported after.
ZYGOTE = r"""
import json, os, sys
import tornado.web, jupyter_server.serverapp, jupyterlab.labapp, jupyter_lsp, jupyter_server_terminals
import notebook_shim, jupyterhub.services.auth, ipykernel, docker
spec = json.loads(sys.stdin.read() or "null")
if not spec:
    sys.exit(0)
os.environ.clear()
os.environ.update(spec["env"])
os.chdir(spec.get("cwd") or os.environ.get("HOME", "/"))
sys.argv = list(spec["cmd"])
from jupyterhub.singleuser import main
sys.exit(main())
"""


def start_zygote() -> subprocess.Popen:
    logf = open("/var/log/server.log", "ab")
    return subprocess.Popen(["/opt/venv/bin/python", "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=logf,
                            stderr=subprocess.STDOUT, env=BASE_ENV, cwd="/home/learner", preexec_fn=drop,
                            start_new_session=True)


def start_notebook(spec: dict, zygote: subprocess.Popen | None) -> subprocess.Popen:
    t0 = time.monotonic()
    subprocess.run(["sh", "-c", COPY], env=BASE_ENV, cwd="/home/learner", preexec_fn=drop, check=True,
                   timeout=300)
    copied = time.monotonic() - t0
    env = {**BASE_ENV, **spec.get("env", {})}
    if zygote is not None and zygote.poll() is None and spec["cmd"][0] == "jupyterhub-singleuser":
        zygote.stdin.write(json.dumps({"cmd": spec["cmd"], "env": env, "cwd": spec.get("cwd")}).encode())
        zygote.stdin.close()
        p = zygote
    else:
        logf = open("/var/log/server.log", "ab")
        p = subprocess.Popen(spec["cmd"], env=env, cwd=spec.get("cwd", "/home/learner"), stdout=logf,
                             stderr=subprocess.STDOUT, preexec_fn=drop, start_new_session=True)
    log(f"course copy checked in {copied:.1f} s")
    state("notebook", pid=p.pid)
    log(f"server started (pid {p.pid})")
    return p


def stop(p: subprocess.Popen | None, timeout: float) -> None:
    if p is None or p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def main() -> int:
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    os.makedirs(RUN, exist_ok=True)
    os.umask(0o022)
    socket.sethostname(CFG.get("hostname", "learner"))
    state("init", pid=os.getpid())
    wait_network()
    engine = start_engine()
    zygote = start_zygote()
    try:  # the learner's copy of the course, before anybody has the seat (the same for every learner)
        subprocess.run(["sh", "-c", COPY], env=BASE_ENV, cwd="/home/learner", preexec_fn=drop, check=True,
                       timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        log(f"copying the course failed ({exc}): tried again when a learner has the seat")
    notebook, exited = None, False
    while not stopping:
        reap()
        if engine.poll() is not None:
            log(f"dockerd exited with {engine.returncode}")
            break
        if notebook is None and not exited and os.path.exists(f"{CONTROL}/notebook.json"):
            with open(f"{CONTROL}/notebook.json") as f:
                try:
                    notebook = start_notebook(json.load(f), zygote)
                    zygote = None
                except (OSError, ValueError, subprocess.SubprocessError) as exc:
                    log(f"the learner's server did not start: {exc}")
                    state("notebook-exit", code=-1, error=str(exc)[:300])
                    exited = True
        elif notebook is not None and notebook.poll() is not None:
            state("notebook-exit", code=notebook.returncode)
            log(f"server exited with {notebook.returncode}")
            notebook, exited = None, True
        time.sleep(0.2)
    stop(notebook, 10)
    stop(zygote, 5)
    stop(engine, 30)
    reap()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

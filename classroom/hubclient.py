"""Drive the classroom's hub the way learners' browsers do: sign up, sign in, start servers, run notebooks.

Used by tests/engine/test_classroom.py and classroom/measure.py. Everything goes through the hub's public URL:
the login form, the REST API (``/hub/api``), and each learner's Jupyter server behind the proxy (sessions,
contents, the kernel's websocket), with the learner's own token.
"""
from __future__ import annotations

import asyncio
import datetime
import json
import os
import threading
import time
import uuid
from pathlib import Path

import requests

from dockerlab.errors import WaitTimeout
from dockerlab.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]


class Hub:
    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def login_form(self, name: str, password: str, code: str = "") -> requests.Response:
        """The login page a learner's browser posts (with the _xsrf cookie and field)."""
        s = requests.Session()
        s.get(self.url + "/hub/login", timeout=60)
        return s.post(self.url + "/hub/login", allow_redirects=False, timeout=120,
                      data={"username": name, "password": password, "otp": code, "_xsrf": s.cookies.get("_xsrf", "")})

    def token(self, name: str, password: str) -> str:
        """Sign in through the REST API: a token for user name and password."""
        r = requests.post(f"{self.url}/hub/api/users/{name}/tokens", timeout=120,
                          json={"auth": {"username": name, "password": password}, "note": "test", "expires_in": 3600})
        assert r.status_code == 201, f"sign-in of {name} through the API: {r.status_code} {r.text[:300]}"
        return r.json()["token"]

    def api(self, method: str, path: str, token: str, **kw) -> requests.Response:
        return requests.request(method, self.url + "/hub/api" + path, headers={"Authorization": f"token {token}"},
                                timeout=120, **kw)

    def wait_ready(self, name: str, token: str, timeout: float = 420) -> None:
        server: dict = {}

        def ready() -> bool:
            nonlocal server
            server = self.api("GET", f"/users/{name}", token).json().get("servers", {}).get("", {})
            return bool(server.get("ready"))
        try:
            wait_until(ready, timeout=timeout, interval=1)
        except WaitTimeout:
            raise AssertionError(f"{name}'s server was not ready within {timeout:.0f} s: {server}") from None

    def wait_stopped(self, name: str, token: str, timeout: float = 180) -> None:
        try:
            wait_until(lambda: not self.api("GET", f"/users/{name}", token).json().get("servers"), timeout=timeout,
                       interval=1)
        except WaitTimeout:
            raise AssertionError(f"{name}'s server did not stop within {timeout:.0f} s") from None


class Kernel:
    """A kernel in a learner's server, as JupyterLab drives it: a session for a notebook path, then execute
    requests over the kernel's websocket, all through the hub's proxy with the learner's token."""

    def __init__(self, hub: Hub, user: str, token: str, path: str):
        self.base, self.headers = f"{hub.url}/user/{user}", {"Authorization": f"token {token}"}
        r = requests.post(self.base + "/api/sessions", headers=self.headers, timeout=180,
                          json={"path": path, "name": Path(path).name, "type": "notebook", "kernel": {"name": "python3"}})
        assert r.status_code == 201, f"{user}: no kernel session: {r.status_code} {r.text[:300]}"
        self.session_id, self.id = r.json()["id"], r.json()["kernel"]["id"]
        self.client_session = uuid.uuid4().hex

    def close(self) -> None:
        requests.delete(f"{self.base}/api/sessions/{self.session_id}", headers=self.headers, timeout=60)

    def run(self, cells: list[str], timeout: float = 300, stop_on_error: bool = True) -> list[dict]:
        return asyncio.run(self._run(cells, timeout, stop_on_error))

    def value(self, code: str, timeout: float = 120):
        """Run ``code`` whose last line prints one JSON value; return it."""
        out = self.run([code], timeout)[0]
        assert out["error"] is None, f"{out['error']}\n{out['traceback']}"
        return json.loads(out["stdout"].strip().splitlines()[-1])

    async def _run(self, cells, timeout, stop_on_error):
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = (self.base.replace("http://", "ws://", 1)
               + f"/api/kernels/{self.id}/channels?session_id={self.client_session}")
        ws = await websocket_connect(HTTPRequest(url, headers=self.headers, request_timeout=60),
                                     max_message_size=64 * 2**20)
        results = []
        try:
            for code in cells:
                msg_id = uuid.uuid4().hex
                ws.write_message(json.dumps({
                    "header": {"msg_id": msg_id, "username": "test", "session": self.client_session,
                               "msg_type": "execute_request", "version": "5.3",
                               "date": datetime.datetime.now(datetime.timezone.utc).isoformat()},
                    "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                    "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                                "allow_stdin": False, "stop_on_error": stop_on_error}}))
                out = {"code": code, "stdout": "", "error": None, "traceback": "", "status": None, "seconds": 0.0}
                t0, idle, reply = time.monotonic(), False, False
                while not (idle and reply):
                    raw = await asyncio.wait_for(ws.read_message(), timeout)
                    if raw is None:
                        raise AssertionError("the kernel's websocket closed")
                    m = json.loads(raw)
                    if (m.get("parent_header") or {}).get("msg_id") != msg_id:
                        continue
                    kind, c = m["msg_type"], m["content"]
                    if kind == "stream":
                        out["stdout"] += c["text"]
                    elif kind == "error":
                        out["error"] = f"{c['ename']}: {c['evalue']}"
                        out["traceback"] = "\n".join(c.get("traceback", []))[-3000:]
                    elif kind == "status" and c["execution_state"] == "idle":
                        idle = True
                    elif kind == "execute_reply":
                        reply, out["status"] = True, c["status"]
                out["seconds"] = time.monotonic() - t0
                results.append(out)
                if out["status"] != "ok" and stop_on_error:
                    break
        finally:
            ws.close()
        return results


def code_cells(path: str) -> list[str]:
    """The code cells of a notebook of the course folder."""
    nb = json.loads((ROOT / path).read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def upload(hub: Hub, user: str, token: str, path: str) -> None:
    """Put a notebook of the course folder into the learner's copy (the contents API: JupyterLab's upload)."""
    nb = json.loads((ROOT / path).read_text())
    base = f"{hub.url}/user/{user}/api/contents"
    h = {"Authorization": f"token {token}"}
    folder = str(Path(path).parent)
    if requests.get(f"{base}/{folder}", headers=h, timeout=60).status_code == 404:
        requests.put(f"{base}/{folder}", headers=h, json={"type": "directory"}, timeout=60).raise_for_status()
    requests.put(f"{base}/{path}", headers=h, timeout=60,
                 json={"type": "notebook", "format": "json", "content": nb}).raise_for_status()


# ------------------------------------------------------------------------------------------------ measuring
DATA_DIRS: dict[str, Path] = {}  # namespace -> the classroom's data folder, when not the default one


def seats(ns: str):
    """The classroom's seats (classroom/hub/dockerlab_hub/seats.py), read from its registry."""
    import sys

    sys.path.insert(0, str(ROOT / "classroom" / "hub"))
    sys.path.insert(0, str(ROOT / "classroom"))
    import classroom as room  # noqa: F401 (classroom/classroom.py)
    from dockerlab_hub.seats import Seats, Settings

    data = DATA_DIRS.get(ns) or room.default_data(ns)
    return Seats(Settings(ns=ns, data=Path(data), venv="", course_source=str(ROOT)))


def learner_seat(ns: str, user: str):
    """(Seats, the learner's Seat)."""
    s = seats(ns)
    seat = s.of(user)
    assert seat is not None, f"{user} has no seat in the classroom {ns}"
    return s, seat


def learner_memory(ns: str, user: str) -> dict:
    """MiB a learner's seat uses now (server, kernels, engine, every container they run: the seat's cgroup, minus
    the page cache the kernel may drop), with the part of the engine's daemons and of the Jupyter server."""
    s, seat = learner_seat(ns, user)
    total = s.cgroups(seat).memory()["used"] if s.alive(seat) else 0.0
    parts = {"engine": 0.0, "server": 0.0}
    for pid in s.cgroups(seat).pids():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096 / 2**20
        except (OSError, ValueError, IndexError):
            continue
        if cmd.rsplit("/", 1)[-1] in ("dockerd", "containerd"):
            parts["engine"] += rss
        elif "python" in cmd:
            parts["server"] += rss
    return {"total": total, **parts}


def learner_cpu_seconds(ns: str, user: str) -> float:
    """CPU time everything in a learner's seat has used so far, seconds."""
    s, seat = learner_seat(ns, user)
    return s.cgroups(seat).cpu_seconds()


def learner_disk_mib(ns: str, user: str) -> float:
    """MiB used on a learner's seat disk (home, the engine's images, containers, volumes, build cache)."""
    s, seat = learner_seat(ns, user)
    st = os.statvfs(s.mnt(seat))
    return (st.f_blocks - st.f_bfree) * st.f_frsize / 2**20


class PeakSampler(threading.Thread):
    """Samples the memory of learners' seats every second until stopped; keeps the peak of the sum."""

    def __init__(self, ns: str, users: list[str], every: float = 1.0):
        super().__init__(daemon=True)
        self.ns, self.users, self.every = ns, users, every
        self.peak, self.peak_each, self.samples = 0.0, {}, 0
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            each = {u: learner_memory(self.ns, u)["total"] for u in self.users}
            self.samples += 1
            if sum(each.values()) > self.peak:
                self.peak, self.peak_each = sum(each.values()), each
            self._stop_event.wait(self.every)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=30)


# ------------------------------------------------------------------------------------------------ isolation
def privileged_containers(ns: str, client=None) -> dict:
    """{learner: containers of the host's engine that run --privileged for them} (the classroom in ``ns``): every
    learner with a seat, and any classroom container of the namespace (none: seats are not containers)."""
    from dockerlab.engine import get_client

    c = client or get_client()
    out: dict[str, int] = {seat.learner: 0 for seat in seats(ns).all().values() if seat.learner}
    flt = {"label": [f"org.dockerlab.namespace={ns}"]}
    for ctr in c.containers.list(all=True, filters=flt, ignore_removed=True):
        if ctr.attrs["HostConfig"].get("Privileged"):
            who = ctr.labels.get("org.dockerlab.classroom.user", "(no learner)")
            out[who] = out.get(who, 0) + 1
    return out


def learner_targets(ns: str, user: str, data=None) -> dict:
    """Where a learner's things are, for another learner to try: their engine's socket (as the host's root reaches
    it) and ID, their server's address, their home on the host and the uid that owns it."""
    import docker

    s, seat = learner_seat(ns, user)
    sock = s.socket(seat)
    eid = docker.DockerClient(base_url="unix://" + sock, timeout=10).info()["ID"]
    home = s.home(seat)
    return {"engines": ["unix://" + sock, f"tcp://{seat.ip}:2375", f"tcp://{seat.ip}:2376"], "engine_id": eid,
            "notebooks": [f"{seat.ip}:8888"], "home_on_host": str(home), "home_uid": seat.learner_uid,
            "other_paths": [f"/proc/{seat.init_pid}/root/home/learner/escape-marker.txt"]}

"""The escape suite (issue 22): a learner of the classroom tries to leave their sandbox, and every attempt must fail.

A real classroom (``classroom.py up``, a real JupyterHub) with two learners, Ada (the attacker) and Bob (the
other learner). From Ada's notebook server, and from a privileged container Ada starts in her own engine
(``--privileged --pid=host --net=host -v /:/host -v /dev:/dev -v /var/run/docker.sock:…``), one program
(tests/engine/escape_probe.py) tries: the host's block devices, nsenter into PID 1 and into a host process,
/proc/sysrq-trigger, /proc/kcore, kernel modules, a cgroup v1 release_agent, the host's Docker socket, the host's
root-only files (read, and write into a folder the test made), a service on the host's 127.0.0.1, Bob's engine,
files and notebook server, and the hub's admin API with Ada's own token.

These machines' own sandbox refuses some of it even to root (opening /dev/vda, nsenter into PID 1, /proc/kcore,
modules): the same program therefore also runs in a privileged container started directly on the host's engine
(root on the host), the reference. An attempt Ada fails and the reference passes was stopped by the design; one
both fail was stopped by the machine and proves nothing about the design. For the attempts the machine refuses
to everybody, a stand-in the machine allows shows what the design does: a loop device over a marker file the
test made (a host disk), a process the test started (a host process).

Harmless by construction (see escape_probe.py): reads, opens without writing, marker files the test made, a
delete_module of a module that does not exist. Bounded: 3 s a connection, 10 s a setns attempt, one run of the
probe per place. The table of attempts is printed; the test fails when any attempt succeeded.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("jupyterhub", reason="the classroom dependency group is not installed (make env installs it)")

from dockerlab.cleanup import cleanup  # noqa: E402
from dockerlab.engine import get_client  # noqa: E402
from dockerlab.images import ref  # noqa: E402
from dockerlab.namespace import labels as course_labels, slug  # noqa: E402
from dockerlab.run import free_port  # noqa: E402

pytestmark = [pytest.mark.engine,
              pytest.mark.skipif(os.geteuid() != 0, reason="the classroom's hub makes seats (Unix users, namespaces, "
                                                           "disks, cgroups): it runs as root")]
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "classroom"))
import classroom as room_cli  # noqa: E402  (classroom/classroom.py)
import hubclient  # noqa: E402
from hubclient import Hub, Kernel, learner_targets, privileged_containers  # noqa: E402
from dockerlab.namespace import COURSE  # noqa: E402

NS = slug(os.environ.get("DOCKERLAB_NAMESPACE", "test") + "-escape")
CODE = "escape-" + uuid.uuid4().hex[:6]
TEACHER, TEACHER_PW = "teacher", "pw-" + uuid.uuid4().hex[:12]
ADA, BOB = "ada", "bob"
PASSWORDS = {ADA: "ada-" + uuid.uuid4().hex[:8], BOB: "bob-" + uuid.uuid4().hex[:8]}
PROBE = (Path(__file__).parent / "escape_probe.py").read_text()
PLACES = ("notebook", "container", "reference")
HEAD = {"notebook": "Ada's notebook", "container": "container in Ada's engine", "reference": "host root (reference)"}


# ------------------------------------------------------------------------------------------------ the host's side
class HostStage:
    """What the test puts on the host for the attempts to find: a root-only folder with a secret, a root-only
    folder to write into, a loop device over a marker image, a host process, a service on 127.0.0.1."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix=f"dockerlab-escape-{NS}-"))
        os.chmod(self.base, 0o711)
        self.secret_dir = self.base / "secret"
        self.secret_dir.mkdir(mode=0o700)
        self.secret = "host-secret-" + secrets.token_hex(8)
        (self.secret_dir / "marker").write_text(self.secret + "\n")
        os.chmod(self.secret_dir / "marker", 0o600)
        self.drop = self.base / "drop"
        self.drop.mkdir(mode=0o755)
        self.token = "dockerlab-escape-target-" + secrets.token_hex(6)
        self.target = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(900)", self.token])
        self.loop, self.loop_marker = self._loop_device()
        self.banner = "escape-banner-" + secrets.token_hex(6)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(1)
        self.port = self.listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _loop_device(self):
        img = self.base / "disk.img"
        marker = "host-disk-" + secrets.token_hex(8)
        with open(img, "wb") as f:
            f.write(marker.encode().ljust(1 << 20, b"\0"))
        p = subprocess.run(["losetup", "--find", "--show", "--read-only", str(img)], capture_output=True, text=True)
        if p.returncode != 0:
            return None, marker
        return p.stdout.strip(), marker

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall((self.banner + "\n").encode())

    def root_disk(self) -> dict:
        st = os.stat("/")
        major, minor = os.major(st.st_dev), os.minor(st.st_dev)
        name = Path(f"/sys/dev/block/{major}:{minor}").resolve().name
        return {"path": f"/dev/{name}", "major": major, "minor": minor}

    def config(self) -> dict:
        cfg = {"disk": self.root_disk(), "secret_path": str(self.secret_dir / "marker"), "secret": self.secret,
               "target_token": self.token, "drop_dir": str(self.drop), "loopback_port": self.port,
               "loopback_banner": self.banner}
        if self.loop:
            st = os.stat(self.loop)
            cfg["loop"] = {"path": self.loop, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                           "marker": self.loop_marker}
        return cfg

    def dropped(self, place: str) -> bool:
        path = self.drop / place
        there = path.exists()
        if there:
            path.unlink()
        return there

    def close(self):
        self._stop.set()
        self.listener.close()
        self.target.kill()
        self.target.wait()
        if self.loop:
            subprocess.run(["losetup", "--detach", self.loop], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ the room
@pytest.fixture(scope="module")
def room():
    data = Path(tempfile.mkdtemp(prefix=f"dockerlab-classroom-{NS}-"))
    settings = {"CLASSROOM_IMAGES_FIRST": "python", "CLASSROOM_IMAGES_LATER": "", "CLASSROOM_IDLE_TIMEOUT": "3600",
                "CLASSROOM_POOL": "0"}
    stage = None
    hubclient.DATA_DIRS[NS] = data
    try:
        info = room_cli.up(NS, data, port=free_port(), code=CODE, instructor=TEACHER, password=TEACHER_PW,
                           settings=settings, quiet=True)
        hub = Hub(info["url"])
        tokens = {}
        for name in (ADA, BOB):
            assert hub.login_form(name, PASSWORDS[name], CODE).status_code == 302
            tokens[name] = hub.token(name, PASSWORDS[name])
        tokens[TEACHER] = hub.token(TEACHER, TEACHER_PW)

        def start(name):
            r = hub.api("POST", f"/users/{name}/server", tokens[name])
            assert r.status_code in (201, 202), f"{name}: {r.status_code} {r.text[:300]}"
            hub.wait_ready(name, tokens[name])

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(start, (ADA, BOB)))
        stage = HostStage()
        yield {"hub": hub, "tokens": tokens, "data": data, "info": info, "stage": stage}
    finally:
        if stage is not None:
            stage.close()
        try:
            room_cli.down(NS, data, purge=True, quiet=True)
        finally:
            cleanup(ns=NS, quiet=True)
            shutil.rmtree(data, ignore_errors=True)


def _bob_marker(room) -> dict:
    """Markers in Bob's home, made by root on the host as Bob's files: a secret file, and progress records."""
    t = learner_targets(NS, BOB, room["data"])
    secret = "bob-secret-" + secrets.token_hex(8)
    path = Path(t["home_on_host"]) / "escape-marker.txt"
    path.write_text(secret + "\n")
    progress_marker = "bob-progress-" + secrets.token_hex(6)
    records = Path(t["home_on_host"]) / ".dockerlab" / "progress.json"
    records.parent.mkdir(exist_ok=True)
    records.write_text(json.dumps({"namespace": BOB, "attempts": [
        {"lesson": "01_images_and_containers", "exercise": "", "time": "2026-12-06T10:00:00", "seconds": 1.0,
         "passed": False, "results": [{"name": "memory limit", "passed": False, "detail": progress_marker,
                                       "fix": ""}]}]}))
    for p, mode in ((path, 0o600), (records.parent, 0o755), (records, 0o644)):
        os.chown(p, t["home_uid"], t["home_uid"])
        os.chmod(p, mode)
    return {**t, "secret": secret, "marker_on_host": str(path), "progress_marker": progress_marker}


def _run_in_kernel(room, cfg: dict) -> dict:
    """The probe in Ada's kernel (a subprocess of it) and in a privileged container Ada starts in her engine."""
    k = Kernel(room["hub"], ADA, room["tokens"][ADA], "notebooks/escape.ipynb")
    try:
        return k.value(f"""
import json, os, subprocess, sys, tempfile, docker
probe, cfg = {PROBE!r}, {json.dumps(cfg)!r}
cfg = json.loads(cfg)
cfg['hub']['url'] = os.environ['JUPYTERHUB_API_URL']
path = os.path.join(tempfile.mkdtemp(), 'probe.py')
open(path, 'w').write(probe)
out = {{}}
p = subprocess.run([sys.executable, path, json.dumps({{**cfg, 'context': 'notebook'}})], capture_output=True, text=True, timeout=180)
out['notebook'] = json.loads(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 else {{'error': p.stderr[-800:]}}
client = docker.from_env()
c = client.containers.run({ref('python')!r}, ['python', '-c', probe, json.dumps({{**cfg, 'context': 'container'}})],
    privileged=True, pid_mode='host', network_mode='host', detach=True,
    volumes={{'/': {{'bind': '/host', 'mode': 'rw'}}, '/dev': {{'bind': '/dev', 'mode': 'rw'}},
             '/var/run/docker.sock': {{'bind': '/hostsock/docker.sock', 'mode': 'rw'}}}},
    labels={{'org.dockerlab.course': {COURSE!r}, 'org.dockerlab.namespace': os.environ.get('DOCKERLAB_NAMESPACE', 'x')}})
try:
    res = c.wait(timeout=180)
    logs = c.logs(stdout=True, stderr=False).decode().strip()
    out['container'] = json.loads(logs.splitlines()[-1]) if res['StatusCode'] == 0 else {{'error': c.logs().decode()[-800:]}}
    out['container_privileged'] = client.api.inspect_container(c.id)['HostConfig']['Privileged']
finally:
    c.remove(force=True)
print(json.dumps(out))
""", timeout=420)
    finally:
        k.close()


def _run_reference(cfg: dict) -> dict:
    """The same probe in a privileged container started directly on the host's engine: what root can here."""
    client = get_client()
    c = client.containers.run(
        ref("python"), ["python", "-c", PROBE, json.dumps({**cfg, "context": "reference"})], detach=True,
        privileged=True, pid_mode="host", network_mode="host", labels=course_labels("escape", NS),
        volumes={"/": {"bind": "/host", "mode": "rw"}, "/dev": {"bind": "/dev", "mode": "rw"},
                 "/var/run/docker.sock": {"bind": "/hostsock/docker.sock", "mode": "rw"}})
    try:
        res = c.wait(timeout=180)
        assert res["StatusCode"] == 0, c.logs().decode()[-2000:]
        return json.loads(c.logs(stdout=True, stderr=False).decode().strip().splitlines()[-1])
    finally:
        c.remove(force=True)


def _progress_page_attempts(room, bob: dict) -> dict:
    """Ada points her progress records at files she may not read (a symlink in her home): the hub's secrets, and
    Bob's records; the progress page (the hub's, root) must not show them to her. Her records come back after."""
    secrets_path = str(Path(room["info"]["data"]) / "hub" / "secrets.json")
    bob_dir = str(Path(bob["home_on_host"]) / ".dockerlab")
    code = room["info"]["workshop_code"]
    out = {}
    for name, script, secret in (
            ("the hub's progress page reads a host file through a symlink in my home (the hub's secrets)",
             f"os.symlink({secrets_path!r}, d / 'progress.json')", code),
            ("the hub's progress page reads another learner's records through a symlink in my home",
             f"os.rmdir(d); os.symlink({bob_dir!r}, d)", bob["progress_marker"])):
        k = Kernel(room["hub"], ADA, room["tokens"][ADA], "notebooks/escape.ipynb")
        try:
            k.value("import json, os, pathlib, shutil\n"
                    "home = pathlib.Path.home(); d = home / '.dockerlab'\n"
                    "if d.exists(): shutil.move(str(d), str(home / '.dockerlab-kept'))\n"
                    f"d.mkdir(); {script}\nprint(json.dumps(True))")
            r = requests.get(room["hub"].url + "/services/progress/api/me", timeout=60,
                             headers={"Authorization": f"token {room['tokens'][ADA]}"})
            shown = secret in r.text
            out[name] = {"ok": shown, "detail": f"HTTP {r.status_code}: " + ("the secret is in the page" if shown
                                                                              else "not shown")}
        finally:
            try:
                k.value("import json, os, pathlib, shutil\n"
                        "home = pathlib.Path.home(); d = home / '.dockerlab'\n"
                        "(d.unlink() if d.is_symlink() else shutil.rmtree(d)) if os.path.lexists(d) else None\n"
                        "kept = home / '.dockerlab-kept'\n"
                        "shutil.move(str(kept), str(d)) if kept.exists() else d.mkdir()\nprint(json.dumps(True))")
            finally:
                k.close()
    return out


def _engine_socket_attempt(room, host_engine: str) -> dict:
    """Ada puts a symlink to the host's Docker socket where her engine's socket is (from a container of hers,
    which is root of her seat and has her seat's /run): the hub, asking her engine for its images (as it does
    when it starts her seat or loads images later), must not end up talking to the host's engine."""
    name = "the hub follows a symlink at my engine's socket (to the host's Docker socket)"
    k = Kernel(room["hub"], ADA, room["tokens"][ADA], "notebooks/escape.ipynb")
    try:
        # (detached: once the symlink is there, Ada's own client cannot reach her engine either, in her seat the
        # symlink points at itself; the test puts her socket back afterwards)
        k.value("import json, docker\n"
                "docker.from_env().containers.run(" + repr(ref("python")) + ", ['sh', '-c', "
                "'sleep 2 && mv /seatrun/docker.sock /seatrun/docker.sock.real && "
                "ln -s /var/run/docker.sock /seatrun/docker.sock'],"
                " volumes={'/run': {'bind': '/seatrun', 'mode': 'rw'}}, detach=True)\n"
                "print(json.dumps(True))", timeout=120)
    finally:
        k.close()
    seats, seat = hubclient.learner_seat(NS, ADA)
    run = Path(f"/proc/{seat.init_pid}/root/run")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (run / "docker.sock").is_symlink():
        time.sleep(0.5)
    try:
        assert (run / "docker.sock").is_symlink(), "Ada's container did not put the symlink in her seat's /run"
        try:
            missing = seats.missing_images(seat, ["python"])
            learner = {"ok": True, "detail": f"the hub asked the engine behind the symlink (missing: {missing})"}
        except Exception as exc:  # noqa: BLE001 - the refusal is the point
            learner = {"ok": False, "detail": f"the hub refused: {str(exc)[:160]}"}
        try:
            import docker

            eid = docker.DockerClient(base_url=f"unix://{run / 'docker.sock'}", timeout=10).info()["ID"]
            reference = {"ok": eid == host_engine, "detail": "root connecting through that path reaches "
                                                             + ("the host's engine" if eid == host_engine else eid)}
        except Exception as exc:  # noqa: BLE001
            reference = {"ok": False, "detail": str(exc)[:160]}
        return {"name": name, "learner": learner, "reference": reference}
    finally:
        if (run / "docker.sock").is_symlink() and (run / "docker.sock.real").exists():
            (run / "docker.sock").unlink()
            (run / "docker.sock.real").rename(run / "docker.sock")


def _hub_reference(room, bob: str) -> dict:
    """The hub's admin calls with the instructor's token (read-only ones): what an admin gets."""
    hub, tok = room["hub"], room["tokens"][TEACHER]
    return {"hub API: list every user (admin)": hub.api("GET", "/users", tok).status_code == 200,
            "hub API: the proxy's routing table (admin)": hub.api("GET", "/proxy", tok).status_code == 200,
            "hub API: the other learner's model (admin)": hub.api("GET", f"/users/{bob}", tok).status_code == 200}


def test_every_escape_attempt_is_refused(room):
    stage, hub = room["stage"], room["hub"]
    bob = _bob_marker(room)
    hub_side = _progress_page_attempts(room, bob)
    socket_attempt = _engine_socket_attempt(room, get_client().info()["ID"])
    room_page = requests.get(hub.url + "/services/progress/api/room", timeout=60,
                             headers={"Authorization": f"token {room['tokens'][TEACHER]}"}).text
    host_engine = get_client().info()["ID"]
    cfg = {
        "host": stage.config(),
        "host_engine_id": host_engine,
        "docker_sockets": ["/var/run/docker.sock", "/run/docker.sock", "/hostsock/docker.sock",
                           "/host/var/run/docker.sock", "/host/run/docker.sock"],
        "other": {"engines": bob["engines"], "engine_id": bob["engine_id"], "notebooks": bob["notebooks"],
                  "prefix": f"/user/{BOB}/", "secret": bob["secret"],
                  "files": [bob["marker_on_host"], "/home/learner/escape-marker.txt"] + bob.get("other_paths", [])},
        "hub": {"token": room["tokens"][ADA], "me": ADA, "other": BOB, "url": ""},
    }
    t0 = time.monotonic()
    learner = _run_in_kernel(room, cfg)
    dropped = {"notebook": stage.dropped("notebook")}
    dropped["container"] = stage.dropped("container")
    ref_cfg = {**cfg, "hub": None}
    reference = _run_reference(ref_cfg)
    dropped["reference"] = stage.dropped("reference")
    seconds = time.monotonic() - t0
    assert "error" not in learner["notebook"], learner["notebook"]
    assert "error" not in learner["container"], learner["container"]
    results = {"notebook": learner["notebook"], "container": learner["container"], "reference": reference}
    for place in PLACES:  # the write attempt: decided on the host, by the file being there
        name = "write a file into a root-only folder of the host"
        if name in results[place]:
            results[place][name]["ok"] = dropped[place]
    hub_ref = _hub_reference(room, BOB)
    # leave nothing behind, whatever the hub allowed
    r = hub.api("GET", f"/users/{BOB}/tokens", room["tokens"][TEACHER])
    for t in (r.json().get("api_tokens", []) if r.status_code == 200 else []):
        if t.get("note") == "escape-probe":
            hub.api("DELETE", f"/users/{BOB}/tokens/{t['id']}", room["tokens"][TEACHER])
    hub.api("DELETE", "/users/escape-probe-user", room["tokens"][TEACHER])
    hub.api("PATCH", f"/users/{ADA}", room["tokens"][TEACHER], json={"admin": False})

    for name, res in hub_side.items():  # tried from Ada's notebook; the reference: the instructor's own page
        results["notebook"][name] = res
        results["reference"][name] = ({"ok": True, "detail": "root reads any file"} if "host file" in name else
                                      {"ok": bob["progress_marker"] in room_page,
                                       "detail": "the instructor's room page shows Bob's records"})
    # planted from Ada's container; the hub's own code is what is tried
    results["container"][socket_attempt["name"]] = socket_attempt["learner"]
    results["reference"][socket_attempt["name"]] = socket_attempt["reference"]
    rows, succeeded = [], []
    names = list(dict.fromkeys([*results["notebook"], *results["container"]]))
    for name in names:
        cell = {p: results[p].get(name) for p in PLACES}
        if name.startswith("hub API"):
            cell["reference"] = ({"ok": hub_ref[name], "detail": "instructor's token"} if name in hub_ref else
                                 {"ok": True, "detail": "an admin may (not tried)"})
        learner_ok = any((cell[p] or {}).get("ok") for p in ("notebook", "container"))
        if learner_ok:
            verdict = "SUCCEEDED"
            succeeded.append(name)
        elif (cell["reference"] or {}).get("ok"):
            verdict = "design"
        else:
            verdict = "machine"
        rows.append((name, cell, verdict))

    def mark(c):
        return "-" if c is None else ("YES" if c["ok"] else "refused")

    w = max(len(n) for n, _, _ in rows)
    lines = [f"{'attempt':<{w}}  {HEAD['notebook']:<15} {HEAD['container']:<26} {HEAD['reference']:<22} stopped by",
             "-" * (w + 85)]
    for name, cell, verdict in rows:
        lines.append(f"{name:<{w}}  {mark(cell['notebook']):<15} {mark(cell['container']):<26} "
                     f"{mark(cell['reference']):<22} {verdict}")
    details = [f"  {name}\n" + "\n".join(f"      {HEAD[p]}: {(cell[p] or {}).get('detail', '-')}" for p in PLACES)
               for name, cell, _ in rows]
    privileged = privileged_containers(NS)
    figures = {
        "escape attempts that succeed from a learner's notebook or their containers": f"{len(succeeded)} of {len(rows)}",
        "stopped by the design / by the machine": f"{sum(v == 'design' for _, _, v in rows)} / "
                                                   f"{sum(v == 'machine' for _, _, v in rows)}",
        "privileged containers per learner (host engine)": ", ".join(f"{u} {n}" for u, n in privileged.items()),
        "the learner's container was --privileged in its own engine": str(learner.get("container_privileged")),
        "the suite's attempts (probe in three places)": f"{seconds:.0f} s",
    }
    print("\n=== escape attempts (design: stopped by the classroom's design; machine: these machines refuse it "
          "even to root; SUCCEEDED: the learner got it)\n" + "\n".join(lines)
          + "\n\n=== what each place saw\n" + "\n".join(details)
          + "\n\n=== escape figures\n" + "\n".join(f"  {k}: {v}" for k, v in figures.items()), flush=True)
    assert not succeeded, f"escape attempts that succeeded: {succeeded}"
    assert all(n == 0 for n in privileged.values()), f"privileged containers of learners: {privileged}"

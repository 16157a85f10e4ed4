"""The classroom (classroom/, issues 13 and 22) on this machine: JupyterHub, two learners, a seat each.

The hub starts as ``make classroom`` starts it (classroom/classroom.py ``up``: on the host, as root), with a pool of
two warm seats; two learners sign up through the hub's login form with the workshop code, sign in through the REST
API (a token for name and password), and start their servers: each gets a warm seat (their own Docker engine in
their own user, PID, mount and network namespaces, their own disk and cgroups; no privileged container). Then:

- lessons 01, 05, 08 and 11 run unchanged, cell by cell, in Ada's kernel against her engine, while Bob runs
  lesson 01's solution and then the exercise as handed out (unsolved: it fails, with the check's reasons). Each
  proves what a seat must give beyond lesson 01: 05 BuildKit's cache and bind mounts and the uv image, 08 Compose,
  its networks and the database images, 11 a registry and multi-stage targets (lesson 04's multi-stage builds are
  05's and 11's too, so it no longer runs here);
- isolation, both ways: A can neither list, reach nor change B's engine, containers, images or files
  (tests/engine/test_escape.py tries to leave the seat altogether);
- the instructor's page lists both learners' results; a learner sees only their own;
- fairness: while Bob builds with every core, fills his disk and starts a burst of processes (each load bounded
  in count and time, and stopping by itself), Ada's lesson 01 still finishes; his disk is full, hers is not, the
  host's free space does not move, his burst stops at the seat's pids limit;
- jupyterhub-idle-culler (its own cull function, one pass) stops both seats; a learner's files and images survive,
  and come back at the next start;
- ``down --purge`` leaves no container, network, Unix user, subordinate id, cgroup, loop device or mount behind.

Measured, printed, never asserted: sign-in to a ready lesson with a warm pool, memory of an idle learner and of a
warm seat nobody has, each lesson's time and memory, Ada's lesson 01 alone and beside Bob's loads, a second sign-in.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

requests = pytest.importorskip("requests")
pytest.importorskip("jupyterhub", reason="the classroom dependency group is not installed (make env installs it)")

from dockerlab.cleanup import cleanup, course_objects  # noqa: E402
from dockerlab.engine import get_client  # noqa: E402
from dockerlab.images import ref  # noqa: E402
from dockerlab.namespace import slug  # noqa: E402
from dockerlab.run import free_port  # noqa: E402

pytestmark = [pytest.mark.engine,
              pytest.mark.skipif(os.geteuid() != 0, reason="the classroom's hub makes seats (Unix users, namespaces, "
                                                           "disks, cgroups): it runs as root")]
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "classroom"))
import classroom as room_cli  # noqa: E402  (classroom/classroom.py)
import hubclient  # noqa: E402  (classroom/hubclient.py)
from hubclient import Hub, Kernel, PeakSampler, code_cells, learner_memory, learner_targets, upload  # noqa: E402

NS = slug(os.environ.get("DOCKERLAB_NAMESPACE", "test") + "-room")
CODE = "test-workshop-" + uuid.uuid4().hex[:6]
INSTRUCTOR, INSTRUCTOR_PASSWORD = "teacher", "pw-" + uuid.uuid4().hex[:12]
LEARNERS = {"ada": "ada-" + uuid.uuid4().hex[:8], "bob": "bob-" + uuid.uuid4().hex[:8]}
SOLUTION = "solutions/01_images_and_containers.ipynb"
EXERCISE = "exercises/01_images_and_containers.ipynb"
LESSONS = ["01_images_and_containers", "05_uv", "08_compose", "11_registries_and_ci"]
POOL = 2
SEAT_PIDS = 1024
FIGURES: dict[str, str] = {}


def figure(key: str, text: str) -> None:
    FIGURES[key] = text
    print(f"\n[measured] {key}: {text}", flush=True)


def seats():
    return hubclient.seats(NS)


def hub_log(room) -> str:
    return Path(room["info"]["log"]).read_text(errors="replace")


# ------------------------------------------------------------------------------------------------ the room
@pytest.fixture(scope="module")
def room():
    data = Path(tempfile.mkdtemp(prefix=f"dockerlab-classroom-{NS}-"))
    hubclient.DATA_DIRS[NS] = data
    settings = {
        "CLASSROOM_POOL": str(POOL),
        "CLASSROOM_IMAGES_FIRST": "python",                    # the warm seats: engine up, lesson 01's image
        "CLASSROOM_IMAGES_LATER": "uv postgres redis registry",  # lessons 05, 08, 11: in the background
        "CLASSROOM_IDLE_TIMEOUT": "3600",  # the culler runs, but culls only when this test asks it to
        "CLASSROOM_SEAT_DISK": "8G",
        "CLASSROOM_SEAT_MEM": "3G",
        "CLASSROOM_SEAT_PIDS": str(SEAT_PIDS),
    }
    t0 = time.monotonic()
    try:
        info = room_cli.up(NS, data, port=free_port(), code=CODE, instructor=INSTRUCTOR,
                           password=INSTRUCTOR_PASSWORD, settings=settings, quiet=True)
        figure("hub start (learners' environment and images built or kept, hub answering)",
               f"{time.monotonic() - t0:.1f} s")
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            s = seats()
            warm = [x for x in s.all().values() if x.learner is None and s.alive(x) and x.images]
            if len(warm) >= POOL:
                break
            time.sleep(1)
        assert len(warm) >= POOL, f"the pool has {len(warm)} warm seats after 600 s:\n{hub_log({'info': info})[-3000:]}"
        figure(f"the pool warm ({POOL} seats: engine up, the Python image loaded), after the hub answered",
               f"{time.monotonic() - t0:.1f} s from `up`")
        mem = [s.cgroups(x).memory()["used"] for x in warm]
        figure("memory of a warm seat nobody has yet (engine, a Python process with the server's imports)",
               " / ".join(f"{m:.0f} MiB" for m in mem))
        yield {"hub": Hub(info["url"]), "data": data, "tokens": {}, "info": info, "alone": {}}
    finally:
        try:
            room_cli.down(NS, data, purge=True, quiet=True)
        finally:
            cleanup(ns=NS, quiet=True)
            shutil.rmtree(data, ignore_errors=True)
            if FIGURES:
                print("\n=== classroom figures (this machine, this run)\n"
                      + "\n".join(f"  {k}: {v}" for k, v in FIGURES.items()), flush=True)


def test_learners_sign_up_sign_in_and_get_a_warm_seat(room):
    hub = room["hub"]
    refused = hub.login_form("eve", "eve-password", "not-the-code")
    assert refused.status_code == 403 and "hub/spawn" not in refused.headers.get("location", ""), refused.status_code
    with pytest.raises(AssertionError):
        hub.token("eve", "eve-password")  # no account without the code

    signed_in = {}
    for name, password in LEARNERS.items():
        signed_in[name] = time.monotonic()
        r = hub.login_form(name, password, CODE)
        assert r.status_code == 302, f"{name}'s first sign-in: {r.status_code}"
        room["tokens"][name] = hub.token(name, password)
    room["tokens"][INSTRUCTOR] = hub.token(INSTRUCTOR, INSTRUCTOR_PASSWORD)
    assert hub.api("GET", "/user", room["tokens"][INSTRUCTOR]).json()["admin"] is True
    assert hub.api("GET", "/user", room["tokens"]["ada"]).json()["admin"] is False

    def start(name):
        token = room["tokens"][name]
        t0 = time.monotonic()
        r = hub.api("POST", f"/users/{name}/server", token)
        assert r.status_code in (201, 202), f"{name}: {r.status_code} {r.text[:300]}"
        hub.wait_ready(name, token)
        ready = time.monotonic()
        k = Kernel(hub, name, token, "notebooks/01_images_and_containers.ipynb")
        try:
            first = k.value("import json, os, dockerlab\n"
                            "lab = dockerlab.Lesson('01_images_and_containers', quiet=True)\n"
                            "print(json.dumps([lab.client.images.get(lab.base('python')).tags, os.getuid(), "
                            "os.environ['DOCKER_HOST'], os.environ['DOCKERLAB_HOST_ADDR']]))")
        finally:
            k.close()
        return t0, ready, time.monotonic(), first

    with ThreadPoolExecutor(2) as pool:
        done = dict(zip(LEARNERS, pool.map(start, LEARNERS)))
    for name, (t0, ready, lesson_ready, (tags, uid, docker_host, addr)) in done.items():
        assert ref("python") in tags, tags
        assert uid == 1000 and docker_host == "unix:///var/run/docker.sock" and addr == "127.0.0.1"
        figure(f"sign-in to a ready lesson with a warm pool, {name} (two learners at once)",
               f"{lesson_ready - signed_in[name]:.1f} s (server ready {ready - t0:.1f} s after the start request; "
               f"then a kernel, dockerlab.Lesson and the course image in the learner's engine)")
    log = hub_log(room)
    for name in LEARNERS:
        assert re.search(rf"{name}: a warm seat of the pool \(s\d+\)", log), f"{name} did not get a warm seat"
    time.sleep(3)
    for name in LEARNERS:
        m = learner_memory(NS, name)
        figure(f"memory of one idle learner, {name}",
               f"{m['total']:.0f} MiB, the whole seat (RSS of its Jupyter processes {m['server']:.0f} MiB, "
               f"of its engine's daemons {m['engine']:.0f} MiB)")
    s = seats()
    seat = s.of("ada")
    figure("disk of one learner's seat after sign-in", f"{hubclient.learner_disk_mib(NS, 'ada'):.0f} MiB used")
    # the seat: no privileged container anywhere, its own limits, nothing of it runs as root of the host
    assert not [c for c in get_client().containers.list(all=True, filters={"label": f"org.dockerlab.namespace={NS}"})
                if c.attrs["HostConfig"].get("Privileged")]
    memory_limit = next(d for d in s.cgroups(seat).dirs() if "memory" in str(d)) / "memory.limit_in_bytes"
    assert int(memory_limit.read_text()) == 3 * 2**30
    uids = {int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[1]) for pid in s.cgroups(seat).pids()}
    assert 0 not in uids, f"a process of Ada's seat runs as root of the host: {uids}"
    assert uids <= {seat.uid, seat.learner_uid} | set(range(seat.subuid, seat.subuid + 65536)), uids


def _wait_images(name: str, keys: list[str], timeout: float = 600) -> float:
    """Until the background copy of the later course images into NAME's seat is done; seconds waited."""
    t0 = time.monotonic()
    s, seat = hubclient.learner_seat(NS, name)
    while time.monotonic() - t0 < timeout:
        if not s.missing_images(seat, keys):
            return time.monotonic() - t0
        time.sleep(2)
    raise AssertionError(f"{name}'s seat still lacks some of {keys} after {timeout:.0f} s")


def test_lessons_run_unchanged_in_a_seat(room):
    hub = room["hub"]
    sampler = PeakSampler(NS, list(LEARNERS))
    sampler.start()

    def ada():
        token, out = room["tokens"]["ada"], {}
        for lesson in LESSONS:
            if lesson != LESSONS[0]:
                waited = _wait_images("ada", ["uv", "postgres", "redis", "registry"])
                if waited > 1:
                    out["waited for the later images"] = waited
            path = f"notebooks/{lesson}.ipynb"
            cells = code_cells(path)
            k = Kernel(hub, "ada", token, path)  # the learner's own copy, as handed out
            try:
                t0 = time.monotonic()
                cpu0 = hubclient.learner_cpu_seconds(NS, "ada")
                res = k.run(cells, timeout=900)
                out[lesson] = (res, len(cells), time.monotonic() - t0, hubclient.learner_cpu_seconds(NS, "ada") - cpu0)
            finally:
                k.close()
        return out

    def bob():
        token = room["tokens"]["bob"]
        upload(hub, "bob", token, SOLUTION)
        k = Kernel(hub, "bob", token, SOLUTION)
        try:
            t0 = time.monotonic()
            sol = k.run(code_cells(SOLUTION), timeout=600)
            seconds = time.monotonic() - t0
        finally:
            k.close()
        k = Kernel(hub, "bob", token, EXERCISE)
        try:
            exe = k.run(code_cells(EXERCISE), timeout=600)
        finally:
            k.close()
        return sol, seconds, exe

    try:
        with ThreadPoolExecutor(2) as pool:
            fa, fb = pool.submit(ada), pool.submit(bob)
            ada_out, (sol, sol_seconds, exe) = fa.result(), fb.result()
    finally:
        sampler.stop()
    for lesson in LESSONS:
        res, n, seconds, cpu = ada_out[lesson]
        bad = [o for o in res if o["status"] != "ok"]
        assert not bad and len(res) == n, (f"{lesson} in Ada's seat: {bad[0]['error']}\n{bad[0]['traceback']}"
                                           if bad else f"{lesson}: {len(res)} of {n} cells ran")
        figure(f"lesson {lesson} (notebook, unchanged) in Ada's seat", f"{seconds:.0f} s, {cpu:.0f} CPU-s, {n} cells")
    room["alone"]["01"] = ada_out[LESSONS[0]][2]
    if "waited for the later images" in ada_out:
        figure("Ada waited for the later course images (background copy)", f"{ada_out['waited for the later images']:.0f} s")
    bad = [o for o in sol if o["status"] != "ok"]
    assert not bad, f"Bob's lesson 01 solution: {bad[0]['error']}\n{bad[0]['traceback']}"
    figure("lesson 01 solution in Bob's seat (beside Ada's lessons)", f"{sol_seconds:.1f} s")
    assert exe[-1]["error"] and "CheckFailed" in exe[-1]["error"], [o["error"] for o in exe]
    figure("memory of both learners while Ada runs the lessons and Bob lesson 01 (peak of the sum)",
           f"{sampler.peak:.0f} MiB ({', '.join(f'{u} {m:.0f} MiB' for u, m in sampler.peak_each.items())}; "
           f"{sampler.samples} samples about 1 s apart)")
    figure("disk of Ada's seat after the five lessons", f"{hubclient.learner_disk_mib(NS, 'ada'):.0f} MiB used")


def _probe(room, name) -> dict:
    """In NAME's kernel: a running container publishing a port, an image of theirs, a file in their home."""
    k = Kernel(room["hub"], name, room["tokens"][name], "notebooks/probe.ipynb")
    try:
        return k.value(
            "import json, os, pathlib, dockerlab\n"
            "lab = dockerlab.Lesson('99_isolation', quiet=True)\n"
            "port = lab.free_port()\n"
            "c = lab.run(lab.base('python'), 'web', ['python', '-m', 'http.server', '8000'], ports={'8000/tcp': port})\n"
            "lab.http_get(port, timeout=60)\n"
            "lab.client.images.get(lab.base('python')).tag(lab.image('mine'))\n"
            "secret = pathlib.Path.home() / 'secret.txt'\n"
            "secret.write_text('only ' + os.environ['DOCKERLAB_NAMESPACE'])\n"
            "print(json.dumps({'port': port, 'container': c.name, 'image': lab.image('mine'), 'file': str(secret)}))",
            timeout=240)
    finally:
        k.close()


def test_isolation_both_ways(room):
    probes = {name: _probe(room, name) for name in LEARNERS}
    for name, p in probes.items():
        t = learner_targets(NS, name)
        p["engines"], p["address"] = t["engines"], t["notebooks"][0].split(":")[0]
        p["host_file"] = str(Path(t["home_on_host"]) / "secret.txt")
    for a, b in (("ada", "bob"), ("bob", "ada")):
        theirs = probes[b]
        k = Kernel(room["hub"], a, room["tokens"][a], "notebooks/probe.ipynb")
        try:
            seen = k.value(f"""
import json, os, socket, docker, dockerlab
theirs = {json.dumps(theirs)}
def reach(host, port, timeout=3):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False
changed = []
for ep in theirs['engines']:
    try:
        docker.DockerClient(base_url=ep, timeout=5).containers.get(theirs['container']).remove(force=True)
        changed.append(ep)
    except Exception:
        pass
me = docker.from_env()
lab = dockerlab.Lesson('98_isolation', quiet=True)
inner = lab.run(lab.base('python'), 'reach', ['python', '-c',
    "import socket, sys\\n"
    "for p in (2375, 8888, %d):\\n"
    "    try:\\n"
    "        socket.create_connection(('%s', p), timeout=3).close(); sys.exit(1)\\n"
    "    except OSError:\\n"
    "        pass" % (theirs['port'], theirs['address'])], detach=True)
inner_exit = lab.wait_exit(inner, timeout=60)['ExitCode']
look = lab.run(lab.base('python'), 'look', ['sh', '-c', 'cat /theirs 2>&1; true'],
               volumes={{theirs['host_file']: {{'bind': '/theirs', 'mode': 'ro'}}}})
lab.wait_exit(look, timeout=60)
looked = look.logs().decode()
lab.cleanup()
print(json.dumps({{
    'containers': [c.name for c in me.containers.list(all=True)],
    'images': [t for i in me.images.list() for t in i.tags],
    'published_port': reach(theirs['address'], theirs['port']),
    'server': reach(theirs['address'], 8888),
    'changed': changed,
    'inner_reach_exit': inner_exit,
    'their_file_here': os.path.isfile(theirs['host_file']) and 'only' in open(theirs['host_file']).read(),
    'looked': looked,
}}))""", timeout=300)
        finally:
            k.close()
        assert theirs["container"] not in seen["containers"], f"{a} lists {b}'s container: {seen['containers']}"
        assert theirs["image"] not in seen["images"], f"{a} lists {b}'s image"
        assert not seen["published_port"], f"{a} reaches the port {b}'s container publishes"
        assert not seen["server"], f"{a} reaches {b}'s notebook server"
        assert not seen["changed"], f"{a} removed {b}'s container through {seen['changed']}"
        assert seen["inner_reach_exit"] == 0, f"a container in {a}'s engine reaches {b}'s seat"
        assert not seen["their_file_here"], f"{a} sees {b}'s file"
        assert "only " + b not in seen["looked"], f"{a}'s engine mounts {b}'s home: {seen['looked']}"
        print(f"\n{a} -> {b}: lists {len(seen['containers'])} container(s) of its own only; {b}'s engine, server, "
              f"published port and files are out of reach (from the notebook and from {a}'s own containers)")
    for name, p in probes.items():  # each learner's things are intact after the other's attempts
        k = Kernel(room["hub"], name, room["tokens"][name], "notebooks/probe.ipynb")
        try:
            state = k.value(f"import json, docker, pathlib; c = docker.from_env().containers.get({p['container']!r});"
                            f" print(json.dumps([c.status, pathlib.Path({p['file']!r}).read_text()]))")
        finally:
            k.close()
        assert state == ["running", "only " + name], state


def test_instructor_page_shows_the_room_learners_see_their_own(room):
    hub = room["hub"]
    base = hub.url + "/services/progress"

    def get(path, name):
        return requests.get(base + path, headers={"Authorization": f"token {room['tokens'][name]}"}, timeout=60)

    r = get("/api/room", INSTRUCTOR)
    assert r.status_code == 200, r.text[:300]
    data = r.json()
    assert sorted(data["learners"]) == ["ada", "bob"], sorted(data["learners"])  # not the instructor
    bob = {l["lesson"]: l for l in data["learners"]["bob"]["lessons"]}["01_images_and_containers"]
    assert bob["attempts"] == 2 and bob["status"] == "failing", bob
    l01 = {l["lesson"]: l for l in data["lessons"]}["01_images_and_containers"]
    assert "bob" in l01["failing"], l01
    stuck = [c for c in data["checks"] if c["failing_now"]]
    assert stuck and all("bob" in c["failing"] for c in stuck) and all(c["top_reason"] for c in stuck), stuck
    page = get("/", INSTRUCTOR).text
    for text in ("ada", "bob", "Where the room is stuck", stuck[0]["check"]):
        assert text in page, text
    print("\ninstructor's page: " + "; ".join(f"{c['check']}: {c['failing_now']} of {c['attempted_by']} failing "
                                              f"now ({c['top_reason']})" for c in stuck))
    # a learner: their own records only, and no room
    assert get("/api/room", "ada").status_code == 403
    me = get("/api/me", "bob").json()
    assert me["namespace"] == "bob" and me["summary"]["attempts"] == 2
    page = get("/", "ada").text
    assert "ada" in page and "bob" not in page


BOB_LOADS = r"""
import json, os, pathlib, subprocess, threading, time, dockerlab
lab = dockerlab.Lesson('97_loads', quiet=True)
out = {}
# 1. a build with every core: a RUN step keeps each core busy for 40 s, then stops
ctx = pathlib.Path.home() / 'loads-build'
ctx.mkdir(exist_ok=True)
(ctx / 'spin.py').write_text(
    'import os, time, multiprocessing as m\n'
    'def spin(_):\n'
    '    t = time.time()\n'
    '    while time.time() - t < 40:\n'
    '        pass\n'
    'm.Pool(os.cpu_count()).map(spin, range(os.cpu_count()))\n')
(ctx / 'Dockerfile').write_text('FROM ' + lab.base('python') + '\nCOPY spin.py /spin.py\nRUN python /spin.py\n')
def build():
    t = time.monotonic()
    p = subprocess.run(['docker', 'build', '--no-cache', '-q', '-t', lab.image('spin'), str(ctx)],
                       capture_output=True, text=True, timeout=300)
    out['build'] = {'exit': p.returncode, 'seconds': round(time.monotonic() - t, 1), 'cores': os.cpu_count(),
                    'error': (p.stderr or '')[-300:]}
# 2. fill the seat's disk, once the build and the burst run: reserve all its free space, try one more write
def fill():
    time.sleep(10)
    t = time.monotonic()
    st = os.statvfs(pathlib.Path.home())
    free = st.f_bavail * st.f_frsize
    big = pathlib.Path.home() / 'loads-fill'
    p = subprocess.run(['fallocate', '-l', str(free), str(big)], capture_output=True, text=True, timeout=120)
    try:
        with open(pathlib.Path.home() / 'loads-one-more', 'wb') as f:
            f.write(b'x' * 2**20); f.flush(); os.fsync(f.fileno())
        more = 'written'
    except OSError as e:
        more = e.strerror
    out['disk'] = {'free_before': free, 'fallocate_exit': p.returncode, 'one_more_write': more,
                   'free_after': os.statvfs(pathlib.Path.home()).f_bavail * st.f_frsize,
                   'seconds': round(time.monotonic() - t, 1)}
    time.sleep(20)  # full for a while, beside Ada's lesson
    big.unlink(); (pathlib.Path.home() / 'loads-one-more').unlink(missing_ok=True)
# 3. a burst of processes: at most 3000, each sleeping 20 s; the seat's pids limit stops it
BURST = '''
import os, subprocess, sys, time
started, error = 0, ''
procs = []
for i in range(3000):
    try:
        procs.append(subprocess.Popen(['sleep', '20']))
        started += 1
    except OSError as e:
        error = e.strerror
        break
print(started, error, flush=True)
for p in procs:
    p.wait()
'''
def burst():
    t = time.monotonic()
    c = lab.run(lab.base('python'), 'burst', ['python', '-c', BURST])
    res = lab.wait_exit(c, timeout=180)
    line = c.logs().decode().strip().splitlines()[-1:] or ['0 ?']
    started, _, error = line[0].partition(' ')
    out['burst'] = {'started': int(started), 'error': error, 'exit': res['ExitCode'],
                    'seconds': round(time.monotonic() - t, 1)}
def guarded(f):
    def run():
        try:
            f()
        except Exception as e:  # the load's own failure, reported
            out[f.__name__ + '_error'] = repr(e)[:500]
    return run
threads = [threading.Thread(target=guarded(f)) for f in (build, fill, burst)]
for t in threads: t.start()
for t in threads: t.join(timeout=400)
lab.cleanup()
out['engine_after'] = lab.client.ping()
print(json.dumps(out))
"""


def test_one_learners_loads_do_not_stop_anothers_lesson(room):
    """Fairness: Bob builds with every core, fills his disk and starts a burst of processes (all bounded, all
    stopping by themselves) while Ada runs lesson 01; her lesson finishes."""
    hub = room["hub"]
    s, bob_seat = hubclient.learner_seat(NS, "bob")
    disk = s.dir(bob_seat) / "disk.img"  # Bob's disk on the host: a sparse file of CLASSROOM_SEAT_DISK
    disk0 = os.stat(disk)
    cpu0 = {n: hubclient.learner_cpu_seconds(NS, n) for n in LEARNERS}
    path = "notebooks/01_images_and_containers.ipynb"

    def ada():
        time.sleep(5)  # Bob's loads are under way
        k = Kernel(hub, "ada", room["tokens"]["ada"], path)
        try:
            t0 = time.monotonic()
            res = k.run(code_cells(path), timeout=900)
            return res, time.monotonic() - t0
        finally:
            k.close()

    def bob():
        k = Kernel(hub, "bob", room["tokens"]["bob"], "notebooks/loads.ipynb")
        try:
            t0 = time.monotonic()
            return k.value(BOB_LOADS, timeout=600), time.monotonic() - t0
        finally:
            k.close()

    t0 = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        fa, fb = pool.submit(ada), pool.submit(bob)
        (res, ada_seconds), (loads, _bob_seconds) = fa.result(), fb.result()
    window = time.monotonic() - t0
    disk1 = os.stat(disk)
    bad = [o for o in res if o["status"] != "ok"]
    assert not bad, f"Ada's lesson 01 beside Bob's loads: {bad[0]['error']}\n{bad[0]['traceback']}"
    cpu = {n: hubclient.learner_cpu_seconds(NS, n) - cpu0[n] for n in LEARNERS}
    alone = room["alone"].get("01")
    figure("Ada's lesson 01 beside Bob's loads (build on every core, disk filled, burst of processes)",
           f"{ada_seconds:.0f} s (alone, earlier in this run: {alone:.0f} s)" if alone else f"{ada_seconds:.0f} s")
    figure("CPU while both ran (Bob's loads / Ada's lesson 01)",
           f"Bob {cpu['bob']:.0f} CPU-s, Ada {cpu['ada']:.0f} CPU-s over {window:.0f} s on {os.cpu_count()} cores")
    assert not [k for k in loads if k.endswith("_error")], loads
    b, d, p = loads["build"], loads["disk"], loads["burst"]
    figure("Bob's build with every core", f"exit {b['exit']}, {b['seconds']:.0f} s, {b['cores']} cores busy 40 s each"
                                          + (f" ({b['error']})" if b["exit"] else ""))
    figure("Bob's disk filled", f"{d['free_before'] / 2**30:.1f} GiB reserved in {d['seconds']:.0f} s; one more "
                                f"MiB: {d['one_more_write']}; his disk's file on the host stays "
                                f"{disk1.st_size / 2**30:.0f} GiB (allocated {disk0.st_blocks * 512 / 2**20:.0f} -> "
                                f"{disk1.st_blocks * 512 / 2**20:.0f} MiB)")
    figure("Bob's burst of processes (at most 3000)", f"{p['started']} started, then {p['error'] or 'no error'} "
                                                      f"(the seat's pids limit: {SEAT_PIDS} tasks)")
    assert d["one_more_write"] != "written" and "space" in d["one_more_write"].lower(), d
    assert 0 < p["started"] < 3000 and p["error"], p  # stopped by the seat's pids limit
    assert loads["engine_after"] is True  # Bob's engine answers again once his loads stopped
    assert disk1.st_size == disk0.st_size == 8 * 2**30, "Bob's disk is not the 8 GiB it was made"
    assert disk1.st_blocks * 512 <= disk1.st_size, "Bob's disk took more of the host than its size"


def test_idle_culler_stops_seats_and_work_survives(room):
    hub = room["hub"]
    # One pass of jupyterhub-idle-culler's own cull function, as its service runs it (there every
    # CLASSROOM_CULL_EVERY seconds), with an idle limit of 1 s and the instructor's token.
    script = ("import asyncio, logging, os; from jupyterhub_idle_culler import cull_idle; "
              "logging.basicConfig(level=logging.INFO); "
              f"asyncio.run(cull_idle(url={room['info']['url'] + '/hub/api'!r}, api_token=os.environ['TOKEN'], "
              "inactive_limit=1, logger=logging.getLogger('culler')))")
    time.sleep(3)
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, TOKEN=room["tokens"][INSTRUCTOR]),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    for name in LEARNERS:
        hub.wait_stopped(name, room["tokens"][name])
    figure("idle culler: both seats stopped", f"{time.monotonic() - t0:.1f} s")
    s = seats()
    for name in LEARNERS:
        seat = s.of(name)
        assert not s.alive(seat) and not s.cgroups(seat).pids(), f"{name}'s seat outlived the cull"
        assert (s.home(seat) / "secret.txt").read_text() == "only " + name
    # Ada comes back: her file, her image and the course images are there; nothing is loaded again.
    t0 = time.monotonic()
    assert hub.api("POST", "/users/ada/server", room["tokens"]["ada"]).status_code in (201, 202)
    hub.wait_ready("ada", room["tokens"]["ada"])
    k = Kernel(hub, "ada", room["tokens"]["ada"], "notebooks/probe.ipynb")
    try:
        back = k.value("import json, docker, pathlib, dockerlab\n"
                       "lab = dockerlab.Lesson('99_isolation', quiet=True, clean=False)\n"
                       "print(json.dumps([pathlib.Path.home().joinpath('secret.txt').read_text(),\n"
                       "                  [t for i in docker.from_env().images.list() for t in i.tags]]))")
    finally:
        k.close()
    figure("second sign-in (the learner's seat, stopped by the culler): start to a ready lesson",
           f"{time.monotonic() - t0:.1f} s")
    assert back[0] == "only ada"
    assert "dl-ada/99-mine:latest" in back[1] and ref("python") in back[1], back[1]
    started = [l for l in hub_log(room).splitlines() if "ada: their seat" in l]
    assert started and "no image to load" in started[-1], started
    print("\n" + started[-1].split("] ", 1)[-1])


def test_down_leaves_nothing(room):
    s = seats()
    users = [x.user for x in s.all().values()]
    disks = [str(s.dir(x) / "disk.img") for x in s.all().values()]
    cgroup_dirs = [d for x in s.all().values() for d in s.cgroups(x).dirs()]
    room_cli.down(NS, room["data"], purge=True, quiet=True)
    left = course_objects(ns=NS, kinds=("containers", "networks", "volumes"))
    assert not any(left.values()), {k: [o.name for o in v] for k, v in left.items() if v}
    assert not Path(room["data"]).exists()
    passwd, subuid = Path("/etc/passwd").read_text(), Path("/etc/subuid").read_text()
    assert not [u for u in users if f"\n{u}:" in "\n" + passwd or f"\n{u}:" in "\n" + subuid], users
    loops = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    assert not [d for d in disks if d in loops], loops
    assert not [d for d in cgroup_dirs if d.exists()], cgroup_dirs
    assert str(room["data"]) not in Path("/proc/self/mountinfo").read_text()

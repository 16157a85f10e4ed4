"""The classroom (classroom/, issue 13) on this machine: JupyterHub, two learners, an engine each.

The hub starts as ``make classroom`` starts it (classroom/classroom.py ``up``); two learners sign up through the
hub's login form with the workshop code, sign in through the REST API (a token for name and password), and start
their servers (the course container + their own Docker engine). Then:

- lesson 01's solution runs unchanged in each learner's kernel, both at once, against that learner's engine;
- isolation, both ways: A can neither list, reach nor change B's engine, containers, images or files;
- the instructor's page lists both learners' results; a learner sees only their own;
- jupyterhub-idle-culler (its own cull function, one pass) stops both servers and engines; a learner's files and
  images survive, and come back at the next start;
- ``down --purge`` leaves no container, network or volume behind.

Measured, printed, never asserted: sign-in to a ready lesson, memory of an idle learner (notebook + engine), the
same while both learners run lesson 01 at once, and a second sign-in (engine volume kept).
"""
from __future__ import annotations

import json
import os
import shutil
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

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "classroom"))
import classroom as room_cli  # noqa: E402  (classroom/classroom.py)
from hubclient import Hub, Kernel, PeakSampler, code_cells, upload  # noqa: E402  (classroom/hubclient.py)
from hubclient import learner_containers as _containers, learner_memory as _memory  # noqa: E402

NS = slug(os.environ.get("DOCKERLAB_NAMESPACE", "test") + "-room")
CODE = "test-workshop-" + uuid.uuid4().hex[:6]
INSTRUCTOR, INSTRUCTOR_PASSWORD = "teacher", "pw-" + uuid.uuid4().hex[:12]
LEARNERS = {"ada": "ada-" + uuid.uuid4().hex[:8], "bob": "bob-" + uuid.uuid4().hex[:8]}
SOLUTION = "solutions/01_images_and_containers.ipynb"
EXERCISE = "exercises/01_images_and_containers.ipynb"
FIGURES: dict[str, str] = {}


def learner_containers(user: str) -> dict:
    return _containers(NS, user)


def learner_memory(user: str) -> dict:
    return _memory(NS, user)


def figure(key: str, text: str) -> None:
    FIGURES[key] = text
    print(f"\n[measured] {key}: {text}", flush=True)


# ------------------------------------------------------------------------------------------------ the room
@pytest.fixture(scope="module")
def room():
    data = Path(tempfile.mkdtemp(prefix=f"dockerlab-classroom-{NS}-"))
    port = free_port()
    settings = {
        "CLASSROOM_IMAGES_FIRST": "python",  # lesson 01 needs the Python image only
        "CLASSROOM_IMAGES_LATER": "uv",      # the background path, with a small image
        "CLASSROOM_IDLE_TIMEOUT": "3600",    # the culler runs, but culls only when this test asks it to
        "CLASSROOM_ENGINE_MEM": "1536M",
        "CLASSROOM_NOTEBOOK_MEM": "1G",
    }
    t0 = time.monotonic()
    try:
        info = room_cli.up(NS, data, port=port, code=CODE, instructor=INSTRUCTOR, password=INSTRUCTOR_PASSWORD,
                           settings=settings, quiet=True)
        figure("hub start (images built or kept, hub answering)", f"{time.monotonic() - t0:.1f} s")
        yield {"hub": Hub(info["url"]), "data": data, "tokens": {}, "info": info}
    finally:
        try:
            room_cli.down(NS, data, purge=True, quiet=True)
        finally:
            cleanup(ns=NS, quiet=True)
            shutil.rmtree(data, ignore_errors=True)
            if FIGURES:
                print("\n=== classroom figures (this machine, this run)\n"
                      + "\n".join(f"  {k}: {v}" for k, v in FIGURES.items()), flush=True)


def test_learners_sign_up_sign_in_and_start(room):
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
        r = hub.api("POST", f"/users/{name}/server", token)
        assert r.status_code in (201, 202), f"{name}: {r.status_code} {r.text[:300]}"
        hub.wait_ready(name, token)
        ready = time.monotonic()
        k = Kernel(hub, name, token, "notebooks/01_images_and_containers.ipynb")
        try:
            first = k.value("import json, dockerlab\n"
                            "lab = dockerlab.Lesson('01_images_and_containers', quiet=True)\n"
                            "print(json.dumps(lab.client.images.get(lab.base('python')).tags))")
        finally:
            k.close()
        return ready, time.monotonic(), first

    with ThreadPoolExecutor(2) as pool:
        done = dict(zip(LEARNERS, pool.map(start, LEARNERS)))
    for name, (ready, lesson_ready, tags) in done.items():
        assert ref("python") in tags, tags
        figure(f"sign-in to a ready lesson, {name} (two learners signing in at once)",
               f"{lesson_ready - signed_in[name]:.1f} s (server ready after {ready - signed_in[name]:.1f} s; "
               f"then a kernel, dockerlab.Lesson and the course image in the learner's engine)")
    for name in LEARNERS:
        m = learner_memory(name)
        figure(f"memory of one idle learner, {name}",
               f"{m['total']:.0f} MiB (notebook {m['notebook']:.0f} MiB + engine {m['engine']:.0f} MiB)")
    engine = learner_containers("ada")["engine"]
    du = engine.exec_run(["du", "-sm", "/var/lib/docker"]).output.decode().split()[0]
    figure("disk of one learner's engine after sign-in (the course images it got)", f"{du} MiB in /var/lib/docker")
    limits = {role: c.attrs["HostConfig"] for role, c in learner_containers("ada").items()}
    assert limits["notebook"]["Memory"] == 2**30 and limits["notebook"]["CpuQuota"] > 0
    assert limits["engine"]["Memory"] == 1536 * 2**20 and limits["engine"]["NanoCpus"] > 0
    assert limits["engine"]["Privileged"] and not limits["notebook"]["Privileged"]


def test_lesson_01_solution_runs_in_each_learners_kernel_at_once(room):
    hub = room["hub"]
    cells = code_cells(SOLUTION)
    sampler = PeakSampler(NS, list(LEARNERS))
    sampler.start()

    def run(name):
        token = room["tokens"][name]
        upload(hub, name, token, SOLUTION)
        k = Kernel(hub, name, token, SOLUTION)
        try:
            t0 = time.monotonic()
            out = k.run(cells, timeout=600)
            return out, time.monotonic() - t0
        finally:
            k.close()

    try:
        with ThreadPoolExecutor(2) as pool:
            results = dict(zip(LEARNERS, pool.map(run, LEARNERS)))
    finally:
        sampler.stop()
    for name, (out, seconds) in results.items():
        bad = [o for o in out if o["status"] != "ok"]
        assert not bad and len(out) == len(cells), f"{name}: {bad[0]['error']}\n{bad[0]['traceback']}" if bad else out
        figure(f"lesson 01 solution in {name}'s kernel", f"{seconds:.1f} s ({len(cells)} cells)")
    figure("memory of two learners running lesson 01 at once (peak of the sum)",
           f"{sampler.peak:.0f} MiB ({', '.join(f'{u} {m:.0f} MiB' for u, m in sampler.peak_each.items())}; "
           f"{sampler.samples} samples, about 1 s apart)")
    # Bob then runs the exercise as handed out (unsolved): his latest attempt fails, with the check's reasons.
    k = Kernel(hub, "bob", room["tokens"]["bob"], EXERCISE)
    try:
        out = k.run(code_cells(EXERCISE), timeout=600)
    finally:
        k.close()
    assert out[-1]["error"] and "CheckFailed" in out[-1]["error"], [o["error"] for o in out]


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
            "print(json.dumps({'port': port, 'container': c.name, 'image': lab.image('mine'), 'file': str(secret),\n"
            "                  'env': [os.environ['DOCKER_HOST'], os.environ['DOCKERLAB_HOST_ADDR']]}))",
            timeout=240)
    finally:
        k.close()


def engine_ip(user: str) -> str:
    """The address of a learner's engine (and server: they share its network namespace) on their network."""
    nets = learner_containers(user)["engine"].attrs["NetworkSettings"]["Networks"]
    return nets[room_cli.resource_name("classroom", f"net-{user}", NS)]["IPAddress"]


def test_isolation_both_ways(room):
    probes = {name: _probe(room, name) for name in LEARNERS}
    for name, p in probes.items():
        assert p["env"] == ["tcp://127.0.0.1:2375", "127.0.0.1"], p["env"]  # their engine, as on a laptop
        p["engine"] = engine_ip(name)
        p["host"] = f"tcp://{p['engine']}:2375"
    assert probes["ada"]["engine"] != probes["bob"]["engine"]
    for a, b in (("ada", "bob"), ("bob", "ada")):
        theirs = probes[b]
        bob_home = str(Path(room["info"]["data"]) / "homes" / b)
        k = Kernel(room["hub"], a, room["tokens"][a], "notebooks/probe.ipynb")
        try:
            seen = k.value(f"""
import json, os, pathlib, socket, docker, dockerlab
theirs = {json.dumps(theirs)}
def reach(host, port, timeout=3):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False
me = docker.from_env()
try:
    docker.DockerClient(base_url=theirs['host'], timeout=5).containers.get(theirs['container']).remove(force=True)
    changed = True
except Exception:
    changed = False
lab = dockerlab.Lesson('98_isolation', quiet=True)
inner = lab.run(lab.base('python'), 'reach', ['python', '-c',
    "import socket, sys\\n"
    "for p in (2375, %d):\\n"
    "    try:\\n"
    "        socket.create_connection(('%s', p), timeout=3).close(); sys.exit(1)\\n"
    "    except OSError:\\n"
    "        pass" % (theirs['port'], theirs['engine'])], detach=True)
inner_exit = lab.wait_exit(inner, timeout=60)['ExitCode']
look = lab.run(lab.base('python'), 'look', ['sh', '-c', 'ls -A /theirs /homes 2>&1; cat /theirs/secret.txt 2>&1; true'],
               volumes={{{bob_home!r}: {{'bind': '/theirs', 'mode': 'ro'}}, {str(Path(bob_home).parent)!r}: {{'bind': '/homes', 'mode': 'ro'}}}})
lab.wait_exit(look, timeout=60)
looked = look.logs().decode()
lab.cleanup()
print(json.dumps({{
    'containers': [c.name for c in me.containers.list(all=True)],
    'images': [t for i in me.images.list() for t in i.tags],
    'engine_api': reach(theirs['engine'], 2375),
    'published_port': reach(theirs['engine'], theirs['port']),
    'changed': changed,
    'inner_reach_exit': inner_exit,
    'their_file_here': os.path.exists(theirs['file']) and 'only ' + {b!r} in open(theirs['file']).read(),
    'home': sorted(os.listdir(pathlib.Path.home())),
    'socket': os.path.exists('/var/run/docker.sock'),
    'looked': looked,
}}))""", timeout=300)
        finally:
            k.close()
        assert theirs["container"] not in seen["containers"], f"{a} lists {b}'s container: {seen['containers']}"
        assert theirs["image"] not in seen["images"], f"{a} lists {b}'s image"
        assert not seen["engine_api"], f"{a} reaches {b}'s engine API"
        assert not seen["published_port"], f"{a} reaches the port {b}'s container publishes"
        assert not seen["changed"], f"{a} removed {b}'s container"
        assert seen["inner_reach_exit"] == 0, f"a container in {a}'s engine reaches {b}'s engine or port"
        assert not seen["their_file_here"], f"{a} reads {b}'s file"
        assert "only " + b not in seen["looked"], f"{a}'s engine mounts {b}'s home: {seen['looked']}"
        assert not seen["socket"], f"{a}'s notebook has the host's Docker socket"
        print(f"\n{a} -> {b}: lists {len(seen['containers'])} container(s) of its own only; {b}'s engine API, "
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
    l01 = {l["lesson"]: l for l in data["lessons"]}["01_images_and_containers"]
    assert l01["passed"] == ["ada"] and l01["failing"] == ["bob"], l01
    ada = {l["lesson"]: l for l in data["learners"]["ada"]["lessons"]}["01_images_and_containers"]
    assert ada["status"] == "passed" and ada["checks_passed"] == ada["checks_total"] > 0
    bob = {l["lesson"]: l for l in data["learners"]["bob"]["lessons"]}["01_images_and_containers"]
    assert bob["attempts"] == 2 and bob["status"] == "failing"
    stuck = [c for c in data["checks"] if c["failing_now"]]
    assert stuck and all(c["failing"] == ["bob"] for c in stuck) and all(c["top_reason"] for c in stuck), stuck
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


def test_idle_culler_stops_server_and_engine_and_work_survives(room):
    hub, c = room["hub"], get_client()
    engine_volumes = {n: room_cli.resource_name("classroom", f"engine-{n}", NS) for n in LEARNERS}
    # One pass of jupyterhub-idle-culler's own cull function, in the hub container, as its service runs it
    # (there every CLASSROOM_CULL_EVERY seconds), with an idle limit of 1 s and the instructor's token.
    hub_container = c.containers.get(room["info"]["container"])
    script = ("import asyncio, logging, os; from jupyterhub_idle_culler import cull_idle; "
              "logging.basicConfig(level=logging.INFO); "
              "asyncio.run(cull_idle(url='http://127.0.0.1:8081/hub/api', api_token=os.environ['TOKEN'], "
              "inactive_limit=1, logger=logging.getLogger('culler')))")
    time.sleep(3)
    t0 = time.monotonic()
    res = hub_container.exec_run(["python", "-c", script], environment={"TOKEN": room["tokens"][INSTRUCTOR]})
    assert res.exit_code == 0, res.output.decode()[-2000:]
    for name in LEARNERS:
        hub.wait_stopped(name, room["tokens"][name])
    figure("idle culler: both servers and engines stopped", f"{time.monotonic() - t0:.1f} s")
    for name in LEARNERS:
        for role, thing in (("notebook", "nb"), ("engine", "engine")):
            left = c.containers.list(all=True, filters={"name": room_cli.resource_name("classroom", f"{thing}-{name}", NS)})
            assert not left, f"{name}'s {role} container outlived the cull"
        assert c.volumes.get(engine_volumes[name])  # the engine's images and volumes stay
        assert (Path(room["info"]["data"]) / "homes" / name / "secret.txt").exists()
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
    figure("second sign-in (engine volume kept): start to a ready lesson", f"{time.monotonic() - t0:.1f} s")
    assert back[0] == "only ada"
    assert "dl-ada/99-mine:latest" in back[1] and ref("python") in back[1], back[1]
    started = [l for l in hub_container.logs(tail=400).decode(errors="replace").splitlines() if "ada: server started" in l]
    assert started and "loading none" in started[-1], started  # the course images were still in her engine
    print("\n" + started[-1].split("] ", 1)[-1])


def test_down_leaves_nothing(room):
    room_cli.down(NS, room["data"], purge=True, quiet=True)
    left = course_objects(ns=NS, kinds=("containers", "networks", "volumes"))
    assert not any(left.values()), {k: [o.name for o in v] for k, v in left.items() if v}
    assert not Path(room["data"]).exists()

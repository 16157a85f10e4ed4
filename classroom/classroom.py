"""Run the classroom: JupyterHub on this machine, a seat per learner (their own Docker engine, no privileged container).

    python classroom/classroom.py build        what the seats need (the day before: Debian packages and PyPI):
                                               host packages, the learners' Python environment, the course images
    python classroom/classroom.py up           build what is missing, start the hub, print URL, code, password
    python classroom/classroom.py status       the hub, the warm pool and every learner's seat (memory, CPU)
    python classroom/classroom.py close-signup no new accounts from now on (open-signup undoes it)
    python classroom/classroom.py reset-password NAME   forget NAME's account: they sign up again (files stay)
    python classroom/classroom.py down [--purge]        stop everything; --purge also deletes the seats (learners'
                                                        files and images, Unix users, subordinate ids) and the
                                                        hub's state
    python classroom/classroom.py save FILE    the course images in one tar file (the day before, for a machine
                                               without network on the day); load FILE loads it
    python classroom/classroom.py build-kubernetes   the course and engine images classroom/kubernetes needs
    python classroom/classroom.py lock         regenerate the Kubernetes learner image's locked requirements

``make classroom`` / ``make classroom-down`` run ``up`` / ``down``. The hub runs on the host, as root (it makes the
seats: classroom/hub/dockerlab_hub/seats.py), from the course's environment (.venv, ``make env``). What it makes
on the host's engine (the classroom's networks) is named ``dl-<namespace>-classroom-…`` and carries the course's
labels in the namespace ($DOCKERLAB_NAMESPACE, or ``--namespace``; default ``classroom``), so ``dockerlab clean``
and ``dockerlab leaks`` see it like any lesson's; the seats' disks, Unix users and cgroups are listed by
``status`` and removed by ``down --purge``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "classroom"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE / "hub"))

import docker  # noqa: E402
from docker.errors import APIError, ImageNotFound, NotFound  # noqa: E402

from dockerlab.namespace import COURSE, LABEL_COURSE, LABEL_NAMESPACE, labels as course_labels  # noqa: E402
from dockerlab.namespace import resource_name, slug  # noqa: E402
from dockerlab.cleanup import remove_network  # noqa: E402

LESSON = "classroom"
LABEL_CLASSROOM = "org.dockerlab.classroom"  # on images: which one
LABEL_RECIPE = "org.dockerlab.classroom.recipe"
LABEL_ROLE = "org.dockerlab.classroom.role"
LABEL_USER = "org.dockerlab.classroom.user"
COURSE_IMAGE = "dockerlab/classroom-course:latest"  # the course container: for classroom/kubernetes only
# The course images each seat's engine gets: before the seat is warm (by default every course image: lesson 00's
# doctor asks for all of them), and any in the background after a learner has it (CLASSROOM_IMAGES_LATER).
IMAGES_FIRST = os.environ.get("CLASSROOM_IMAGES_FIRST", "python python-full uv postgres redis registry")
IMAGES_LATER = os.environ.get("CLASSROOM_IMAGES_LATER", "")
ENV_DIR = ROOT / ".dockerlab" / "classroom-env"  # the learners' Python environments, one per recipe
NODE_PATH = "/usr/share/nodejs:/usr/lib/nodejs"  # Debian's proxy's modules, whichever Node.js runs it
WORDS = ("anchor", "harbor", "crane", "cargo", "pier", "tide", "keel", "mast", "buoy", "dock", "ferry", "reef",
         "whale", "coral", "delta", "fjord", "lagoon", "atoll", "cove", "inlet")


def namespace(ns: str | None = None) -> str:
    return slug(ns or os.environ.get("DOCKERLAB_NAMESPACE") or "classroom")


def names(ns: str) -> dict[str, str]:
    return {"hub": resource_name(LESSON, "hub", ns), "front": resource_name(LESSON, "front", ns)}


def default_data(ns: str) -> Path:
    return ROOT / ".dockerlab" / "classroom" / ns


def client() -> docker.DockerClient:
    from dockerlab.engine import get_client

    return get_client()


# ---------------------------------------------------------------------------------------------------- building
def _digest(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def host_setup(quiet: bool = False) -> None:
    """The host's packages the seats need (scripts/install-classroom-host: apt-get, only what is missing)."""
    p = subprocess.run([str(ROOT / "scripts" / "install-classroom-host")], capture_output=True, text=True)
    if not quiet or p.returncode != 0:
        print((p.stdout + p.stderr).strip(), flush=True)
    if p.returncode != 0:
        raise SystemExit(f"classroom: this host cannot run the seats (scripts/install-classroom-host, exit {p.returncode})")


def learner_env(quiet: bool = False) -> Path:
    """The learners' Python environment (read-only at /opt/venv in every seat): the course's locked dependencies and
    jupyterhub-singleuser (the hub's JupyterHub, uv.lock's classroom group), for the host's python3, relocatable.
    ``import dockerlab`` resolves to $DOCKERLAB_ROOT/src (the learner's copy), as in the course container."""
    recipe = _digest([ROOT / "pyproject.toml", ROOT / "uv.lock"], Path("/usr/bin/python3").resolve().name)
    venv = ENV_DIR / f"venv-{recipe}"
    if (venv / ".complete").exists():
        return venv
    import fcntl

    ENV_DIR.mkdir(parents=True, exist_ok=True)
    with open(ENV_DIR / ".lock", "w") as lk:  # two classrooms starting at once (make test) make it once
        fcntl.flock(lk, fcntl.LOCK_EX)
        if (venv / ".complete").exists():
            return venv
        return _make_learner_env(venv, recipe, quiet)


def _make_learner_env(venv: Path, recipe: str, quiet: bool) -> Path:
    uv = str(ROOT / ".venv" / "bin" / "uv")
    if not quiet:
        print(f"making the learners' Python environment {venv} (uv sync --frozen, about a minute the first time)…",
              flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(venv), UV_LINK_MODE="copy", UV_COMPILE_BYTECODE="1",
               UV_PYTHON_DOWNLOADS="never")
    for cmd in ([uv, "venv", "-q", "--relocatable", "--python", "/usr/bin/python3", str(venv)],
                [uv, "sync", "-q", "--frozen", "--no-install-project", "--no-editable", "--group", "classroom"]):
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"classroom: {' '.join(cmd[:3])} failed:\n{(p.stderr or p.stdout)[-2000:]}")
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "dockerlab_mounted_src.pth").write_text(
        "import os, sys; r = os.environ.get('DOCKERLAB_ROOT'); r and os.path.isdir(os.path.join(r, 'src', "
        "'dockerlab')) and sys.path.insert(0, os.path.join(r, 'src'))\n")
    script = venv / "bin" / "dockerlab"
    script.write_text("#!/bin/sh\nexec \"$(dirname -- \"$(realpath -- \"$0\")\")\"/python -c "
                      "'import sys; from dockerlab.ops.commands import main; sys.exit(main())' \"$@\"\n")
    os.chmod(script, 0o755)
    for d, dirs, files in os.walk(venv):  # readable by every seat's users
        os.chmod(d, 0o755)
        for f in files:
            p = os.path.join(d, f)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | 0o444)
    (venv / ".complete").write_text(recipe + "\n")
    for old in ENV_DIR.glob("venv-*"):
        if old != venv:
            shutil.rmtree(old, ignore_errors=True)
    return venv


def build(cli=None, quiet: bool = False) -> dict[str, str]:
    """What the seats need, built or kept: host packages, the learners' environment, the course images
    (``dockerlab prepare``: pulled, or stand-ins built). Returns {what: "kept" | "built" | …}."""
    from dockerlab import images
    from dockerlab.ops import prepare

    cli = cli or client()
    host_setup(quiet=quiet)
    done = {"host packages": "ready"}
    t0 = time.monotonic()
    venv = learner_env(quiet=quiet)
    done[f"learners' Python environment {venv.name}"] = f"ready ({time.monotonic() - t0:.0f} s)"
    known = {i.key for i in images.manifest()}
    keys = [k for k in (IMAGES_FIRST + " " + IMAGES_LATER).split() if k in known]
    if keys:  # the images learners' engines get from this one: pulled, or stand-ins built (dockerlab prepare)
        table = prepare.prepare(keys, client=cli, progress=False)
        for row in table.rows:
            done[row["image"]] = row["action"]
    return done


def build_kubernetes(cli=None, quiet: bool = False) -> dict[str, str]:
    """For classroom/kubernetes: the course container image (the top-level Dockerfile), the engine image and the
    course images (the learner image is built from classroom/kubernetes/Dockerfile on top of the course image)."""
    from dockerlab import images
    from dockerlab.ops import prepare
    from dockerlab.dind import engine_image

    cli = cli or client()
    recipe = _digest([ROOT / "Dockerfile", ROOT / "pyproject.toml", ROOT / "uv.lock"])
    done = {}
    try:
        kept = (cli.images.get(COURSE_IMAGE).labels or {}).get(LABEL_RECIPE) == recipe
    except ImageNotFound:
        kept = False
    if kept:
        done[COURSE_IMAGE] = "kept"
    else:
        cmd = ["docker", "build", "-t", COURSE_IMAGE, "--label", f"{LABEL_COURSE}={COURSE}",
               "--label", f"{LABEL_CLASSROOM}=course", "--label", f"{LABEL_RECIPE}={recipe}", str(ROOT)]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit("classroom: building the course image failed:\n" + (proc.stderr or proc.stdout)[-2000:])
        done[COURSE_IMAGE] = f"built in {time.monotonic() - t0:.0f} s"
    done[engine_image(client=cli, quiet=quiet)] = "ready"
    known = {i.key for i in images.manifest()}
    keys = [k for k in (IMAGES_FIRST + " " + IMAGES_LATER).split() if k in known]
    for row in prepare.prepare(keys, client=cli, progress=False).rows if keys else []:
        done[row["image"]] = row["action"]
    return done


# ---------------------------------------------------------------------------------------------------- secrets
def secrets_file(data: Path) -> Path:
    return data / "hub" / "secrets.json"


def ensure_secrets(data: Path, code: str | None, instructor: str | None, password: str | None) -> dict:
    path = secrets_file(data)
    current = json.loads(path.read_text()) if path.exists() else {}
    new = {
        "workshop_code": code or current.get("workshop_code")
        or f"{secrets.choice(WORDS)}-{secrets.choice(WORDS)}-{secrets.randbelow(90) + 10}",
        "instructor": instructor or current.get("instructor") or "instructor",
        "instructor_password": password or current.get("instructor_password") or secrets.token_urlsafe(12),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(new, indent=1) + "\n")
    os.chmod(path, 0o600)
    return new


# ---------------------------------------------------------------------------------------------------- up / down
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def front_network(cli, ns: str):
    """The classroom's front network on the host's engine (no container on it): its gateway address is where the
    seats reach the hub's API (routed through the host, not on the room's network, not the host's loopback)."""
    name = names(ns)["front"]
    try:
        net = cli.networks.get(name)
    except NotFound:
        net = cli.networks.create(name, driver="bridge", labels={**course_labels(LESSON, ns), LABEL_ROLE: "front"})
    net.reload()
    return net.attrs["IPAM"]["Config"][0]["Gateway"]


def hub_env(ns: str, data: Path, settings: dict) -> dict:
    env = {
        "PATH": f"{ROOT / '.venv' / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(data / "hub"),
        "LANG": "C.UTF-8",
        "NODE_PATH": NODE_PATH,
        "CLASSROOM_NAMESPACE": ns,
        "CLASSROOM_DATA": str(data),
        "CLASSROOM_COURSE": str(ROOT),
        "CLASSROOM_IMAGES_FIRST": IMAGES_FIRST,
        "CLASSROOM_IMAGES_LATER": IMAGES_LATER,
        "PYTHONPATH": f"{HERE / 'hub'}:{ROOT / 'src'}",
        "DOCKERLAB_NAMESPACE": ns,
    }
    if os.environ.get("DOCKER_HOST"):
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    for k, v in os.environ.items():  # every CLASSROOM_* setting of the caller (classroom/README.md lists them)
        if k.startswith("CLASSROOM_") and k not in env:
            env[k] = v
    env.update({k: str(v) for k, v in settings.items()})
    return env


def hub_pid(data: Path) -> int | None:
    """The hub's process, when it runs (its PID file, and a process with that PID that is a jupyterhub)."""
    try:
        pid = int((data / "hub" / "hub.pid").read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"jupyterhub" in cmdline else None


def running(pid: int) -> bool:
    """The process runs (a zombie, e.g. the hub this very process started and has not waited for, does not)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_for_hub(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/hub/api/", timeout=5) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.5)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:]) if log.exists() else ""
    raise SystemExit(f"classroom: the hub did not answer at {url} within {timeout:.0f} s "
                     f"({'exited ' + str(proc.returncode) if proc.poll() is not None else 'running'}; {last}). "
                     f"Its last log lines ({log}):\n{tail}")


def up(ns: str, data: Path, port: int = 8000, bind: str = "127.0.0.1", code: str | None = None,
       instructor: str | None = None, password: str | None = None, build_first: bool = True,
       settings: dict | None = None, quiet: bool = False) -> dict:
    """Start the hub on this machine (building what is missing first); return {url, workshop_code, …}."""
    if os.geteuid() != 0:
        raise SystemExit("classroom: the hub makes the learners' seats (Unix users, user namespaces, disks, "
                         "cgroups): run it as root (sudo make classroom)")
    cli = client()
    if build_first:
        build(cli, quiet=quiet)
    else:
        host_setup(quiet=True)
    venv = learner_env(quiet=quiet)
    data = data.resolve()
    (data / "hub").mkdir(parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    os.chmod(data / "hub", 0o700)
    (data / "homes").mkdir(exist_ok=True)
    creds = ensure_secrets(data, code, instructor, password)
    url = f"http://{'127.0.0.1' if bind in ('0.0.0.0', '') else bind}:{port}"
    if hub_pid(data):
        if not quiet:
            print(f"the classroom's hub is already running (PID {hub_pid(data)}): {url}")
        return {"url": url, "data": str(data), **creds, "password": creds["instructor_password"]}
    hub_ip = front_network(cli, ns)
    env = hub_env(ns, data, {"CLASSROOM_PORT": port, "CLASSROOM_BIND": bind or "0.0.0.0",
                             "CLASSROOM_HUB_IP": hub_ip, "CLASSROOM_LEARNER_ENV": venv,
                             "CLASSROOM_PROXY_API_PORT": free_port(), "CLASSROOM_PROGRESS_PORT": free_port(),
                             **(settings or {})})
    log = data / "hub" / "jupyterhub.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "jupyterhub"), "-f", str(HERE / "hub" / "jupyterhub_config.py")],
                                cwd=data / "hub", env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True)
    (data / "hub" / "hub.pid").write_text(str(proc.pid))
    info = wait_for_hub(url, proc, log)
    out = {"url": url, "data": str(data), "version": info.get("version"), "pid": proc.pid, "hub_ip": hub_ip,
           "log": str(log), **creds, "password": creds["instructor_password"]}
    if not quiet:
        pool = env.get("CLASSROOM_POOL", "2")
        print(f"""
The classroom is up: JupyterHub {info.get('version')} at {url}{' (listening on all interfaces)' if bind in ('0.0.0.0', '') else ''}
  learners:   open the URL, choose a user name and a password, and type the workshop code: {creds['workshop_code']}
  instructor: sign in as {creds['instructor']} with the password {creds['instructor_password']}
              the room's progress: {url}/services/progress/   the admin page: {url}/hub/admin
  seats:      {pool} warm seat(s) being prepared now (CLASSROOM_POOL); python classroom/classroom.py status
  data:       {data} (the seats' disks, the hub's state and these secrets: hub/secrets.json)
  stop:       make classroom-down (learners' files and images stay; --purge deletes them)""")
    return out


def classroom_objects(cli, ns: str) -> dict[str, list]:
    flt = {"label": [f"{LABEL_COURSE}={COURSE}", f"{LABEL_NAMESPACE}={ns}", f"org.dockerlab.lesson={LESSON}"]}
    return {
        "containers": cli.containers.list(all=True, filters=flt, ignore_removed=True),
        "networks": cli.networks.list(filters=flt),
        "volumes": cli.volumes.list(filters=flt),
    }


def seats_of(ns: str, data: Path):
    from dockerlab_hub.seats import Seats, Settings

    return Seats(Settings(ns=ns, data=data, venv="", course_source=str(ROOT)))


def down(ns: str, data: Path | None = None, purge: bool = False, quiet: bool = False) -> dict[str, int]:
    """Stop the hub (it stops every learner's seat first), then every seat left and the classroom's networks, and
    unmount the seats' disks; ``purge``: also delete the seats (disks, Unix users, subordinate ids, cgroups) and
    the data folder (the hub's state)."""
    cli = client()
    data = (data or default_data(ns)).resolve()
    removed = {"hub": 0, "seats stopped": 0, "seats deleted": 0, "networks": 0}
    pid = hub_pid(data)
    if pid:
        if not quiet:
            print(f"stopping the hub (PID {pid}; it stops every learner's seat first)…", flush=True)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and running(pid):
            time.sleep(0.25)
        if running(pid):
            os.killpg(pid, signal.SIGKILL)
        removed["hub"] = 1
    (data / "hub" / "hub.pid").unlink(missing_ok=True)
    for f in ("jupyterhub.pid", "proxy.pid"):  # a proxy left by a hub that was killed
        try:
            ppid = int((data / "hub" / f).read_text())
            if b"configurable-http-proxy" in Path(f"/proc/{ppid}/cmdline").read_bytes():
                os.kill(ppid, signal.SIGTERM)
        except (OSError, ValueError):
            pass
    if data.exists():
        seats = seats_of(ns, data)
        for seat in seats.all().values():
            if seats.alive(seat):
                seats.stop(seat)
                removed["seats stopped"] += 1
            if purge:
                seats.destroy(seat)
                removed["seats deleted"] += 1
            else:
                seats.unmount(seat)
                seats.cgroups(seat).remove()
    for net in classroom_objects(cli, ns)["networks"]:
        try:
            removed["networks"] += remove_network(net)
        except APIError:
            pass
    if purge and data.exists():
        shutil.rmtree(data)
    if not quiet:
        print("done: " + ", ".join(f"{k} {v}" for k, v in removed.items())
              + ("" if purge else " (the seats' disks, with learners' files and images, are kept; --purge deletes them)"))
    return removed


def status(ns: str, data: Path) -> int:
    data = data.resolve()
    pid = hub_pid(data)
    print(f"hub: {'running, PID ' + str(pid) if pid else 'not running (start it: make classroom)'}")
    if not data.exists():
        return 0
    seats = seats_of(ns, data)
    rows = seats.all()
    for slot, seat in sorted(rows.items()):
        alive = seats.alive(seat)
        cg = seats.cgroups(seat)
        mem = cg.memory()["used"] if alive else 0
        state = ("serving " + seat.learner if seats.server_state(seat) == "running" else "warm, engine up") \
            if alive else "stopped"
        print(f"  seat {slot} ({seat.user}, {seat.ip}): {state:<26} learner: {seat.learner or '-':<16} "
              f"memory {mem:.0f} MiB, CPU {cg.cpu_seconds():.0f} s, images {len(seat.images)}")
    if not rows:
        print("  no seat yet")
    return 0


# ---------------------------------------------------------------------------------------------------- accounts
def signup(data: Path, open_: bool) -> None:
    flag = data / "hub" / "signup-closed"
    if open_:
        flag.unlink(missing_ok=True)
        print("sign-up is open: the workshop code makes new accounts")
    else:
        flag.parent.mkdir(parents=True, exist_ok=True)
        flag.touch()
        print("sign-up is closed: learners with an account still sign in; the code makes no new account")


def reset_password(data: Path, name: str) -> int:
    sys.path.insert(0, str(HERE / "hub"))
    from dockerlab_hub.auth import LearnerStore

    if LearnerStore(data / "hub" / "learners.json").remove(name):
        print(f"{name}'s account is gone: they sign up again with the workshop code and a new password "
              f"(their seat, with their files and images, stays theirs: {data / 'homes' / name})")
        return 0
    print(f"no account named {name}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------------------------------- offline
def bundle_refs(cli) -> list[str]:
    """The course images the seats get (build the learners' environment on that machine: it needs PyPI, or copy
    .dockerlab/classroom-env with the course folder)."""
    from dockerlab import images

    known = {i.key: i.ref for i in images.manifest()}
    refs = [known[k] for k in (IMAGES_FIRST + " " + IMAGES_LATER).split() if k in known]
    missing = [r for r in refs if images.local_image(r, client=cli) is None]
    if missing:
        raise SystemExit(f"classroom: not on this engine yet, run `python classroom/classroom.py build`: "
                         f"{', '.join(missing)}")
    return refs


def save(path: Path) -> None:
    refs = bundle_refs(client())
    print(f"docker save -o {path} {' '.join(refs)}", flush=True)
    subprocess.run(["docker", "save", "-o", str(path), *refs], check=True)
    print(f"wrote {path} ({path.stat().st_size / 2**30:.1f} GiB): on the classroom's machine, "
          f"python classroom/classroom.py load {path.name}, then make classroom")


def load(path: Path) -> None:
    print(f"docker load -i {path}", flush=True)
    subprocess.run(["docker", "load", "-i", str(path)], check=True)


# ---------------------------------------------------------------------------------------------------- locks
def lock() -> None:
    """Regenerate classroom/learner/requirements-z2jh.txt, the Kubernetes learner image's (needs PyPI). On one
    machine the seats use uv.lock's classroom group (the learners' environment)."""
    uv = str(ROOT / ".venv" / "bin" / "uv")
    common = ["pip", "compile", "-q", "--python-version", "3.13", "--python-platform", "x86_64-manylinux_2_28",
              "--generate-hashes", "--no-annotate", "--custom-compile-command", "python classroom/classroom.py lock"]
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        out = subprocess.run([uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-header",
                              "--no-annotate"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        constraints.write(out)
        constraints.flush()
        subprocess.run([uv, *common, "-c", constraints.name, "learner/requirements-z2jh.in",
                        "-o", "learner/requirements-z2jh.txt"], cwd=HERE, check=True)
    print("locked: classroom/learner/requirements-z2jh.txt")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="classroom", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--namespace", help="the classroom's namespace (default $DOCKERLAB_NAMESPACE, else classroom)")
    ap.add_argument("--data", help="the classroom's data folder (default .dockerlab/classroom/<namespace>)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="what the seats need: host packages, learners' environment, course images")
    sub.add_parser("build-kubernetes", help="the course and engine images for classroom/kubernetes")
    u = sub.add_parser("up", help="start the hub")
    u.add_argument("--port", type=int, default=int(os.environ.get("CLASSROOM_PORT", "8000")))
    u.add_argument("--bind", default=os.environ.get("CLASSROOM_BIND", "127.0.0.1"),
                   help="address to publish the hub on: 0.0.0.0 for the room's network (default 127.0.0.1)")
    u.add_argument("--code", default=os.environ.get("CLASSROOM_CODE"), help="the workshop code (default: generated)")
    u.add_argument("--instructor", default=os.environ.get("CLASSROOM_INSTRUCTOR"))
    u.add_argument("--password", default=os.environ.get("CLASSROOM_INSTRUCTOR_PASSWORD"))
    u.add_argument("--no-build", action="store_true", help="use what is there (images, the learners' environment)")
    d = sub.add_parser("down", help="stop everything")
    d.add_argument("--purge", action="store_true",
                   help="also delete the seats (learners' files and images, Unix users) and the hub's state")
    sub.add_parser("status", help="the hub and every seat (warm or a learner's), with memory and CPU")
    sub.add_parser("close-signup")
    sub.add_parser("open-signup")
    r = sub.add_parser("reset-password")
    r.add_argument("name")
    sub.add_parser("lock", help="regenerate the Kubernetes learner image's locked requirements")
    for name in ("save", "load"):
        p = sub.add_parser(name, help=f"{name} the classroom's images (one tar file)")
        p.add_argument("file")
    args = ap.parse_args(argv)
    ns = namespace(args.namespace)
    data = Path(args.data) if args.data else default_data(ns)
    try:
        if args.cmd in ("build", "build-kubernetes"):
            for ref, what in (build if args.cmd == "build" else build_kubernetes)(client()).items():
                print(f"  {ref}: {what}")
        elif args.cmd == "up":
            up(ns, data, port=args.port, bind=args.bind, code=args.code, instructor=args.instructor,
               password=args.password, build_first=not args.no_build)
        elif args.cmd == "down":
            down(ns, data, purge=args.purge)
        elif args.cmd == "status":
            return status(ns, data)
        elif args.cmd in ("close-signup", "open-signup"):
            signup(data, open_=args.cmd == "open-signup")
        elif args.cmd == "reset-password":
            return reset_password(data, args.name)
        elif args.cmd == "lock":
            lock()
        elif args.cmd == "save":
            save(Path(args.file))
        elif args.cmd == "load":
            load(Path(args.file))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
        from dockerlab.errors import DockerlabError

        if isinstance(exc, DockerlabError) or isinstance(exc, (APIError, OSError)):
            print(f"classroom: {exc}", file=sys.stderr)
            return 3 if "cannot reach the Docker engine" in str(exc) else 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())

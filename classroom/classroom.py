#!/usr/bin/env python3
"""Run the classroom: JupyterHub on this machine, one course container and one Docker engine per learner.

    python classroom/classroom.py build        the images (the day before: needs Debian packages and PyPI)
    python classroom/classroom.py up           build what is missing, start the hub, print URL, code, password
    python classroom/classroom.py status       the hub and every learner's server and engine (memory, CPU)
    python classroom/classroom.py close-signup no new accounts from now on (open-signup undoes it)
    python classroom/classroom.py reset-password NAME   forget NAME's account: they sign up again (files stay)
    python classroom/classroom.py down [--purge]        stop everything; --purge also deletes learners' files,
                                                        engines' volumes and the hub's state
    python classroom/classroom.py save FILE    the classroom's images in one tar file (the day before, for a
                                               machine without network on the day); load FILE loads it
    python classroom/classroom.py lock         regenerate the hub and learner images' locked requirements

``make classroom`` / ``make classroom-down`` run ``up`` / ``down``. Everything it makes is named
``dl-<namespace>-classroom-…`` and carries the course's labels in the namespace ($DOCKERLAB_NAMESPACE, or
``--namespace``; default ``classroom``), so ``dockerlab clean --namespace classroom`` and ``dockerlab leaks
--namespace classroom`` see it like any lesson's.
The images it builds (``dockerlab/classroom-{course,learner,hub}``, ``dockerlab/engine``) are shared by every
namespace and are kept by ``down`` (``dockerlab clean --all-namespaces`` leaves them too).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shutil
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

import docker  # noqa: E402
from docker.errors import APIError, ImageNotFound, NotFound  # noqa: E402

from dockerlab.namespace import COURSE, LABEL_COURSE, LABEL_NAMESPACE, labels as course_labels  # noqa: E402
from dockerlab.namespace import resource_name, slug  # noqa: E402
from dockerlab.cleanup import remove_network  # noqa: E402
from dockerlab.errors import WaitTimeout  # noqa: E402
from dockerlab.waiting import wait_until  # noqa: E402

LESSON = "classroom"
LABEL_CLASSROOM = "org.dockerlab.classroom"  # on images: which one; on containers (with the user label): role
LABEL_RECIPE = "org.dockerlab.classroom.recipe"
LABEL_ROLE = "org.dockerlab.classroom.role"
LABEL_USER = "org.dockerlab.classroom.user"
COURSE_IMAGE = "dockerlab/classroom-course:latest"
LEARNER_IMAGE = "dockerlab/classroom-learner:latest"
HUB_IMAGE = "dockerlab/classroom-hub:latest"
# The course images each learner's engine gets: before their server is ready (by default every course image:
# lesson 00's doctor asks for all of them), and any in the background after it (CLASSROOM_IMAGES_LATER).
IMAGES_FIRST = os.environ.get("CLASSROOM_IMAGES_FIRST", "python python-full uv postgres redis registry")
IMAGES_LATER = os.environ.get("CLASSROOM_IMAGES_LATER", "")
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


# ---------------------------------------------------------------------------------------------------- images
def _digest(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def recipes(cli) -> list[dict]:
    """The three images the classroom builds, in order, each with the hash of what it is built from."""
    course = {"ref": COURSE_IMAGE, "role": "course", "context": ROOT, "dockerfile": ROOT / "Dockerfile",
              "recipe": _digest([ROOT / "Dockerfile", ROOT / "pyproject.toml", ROOT / "uv.lock"]), "args": {}}
    learner = {"ref": LEARNER_IMAGE, "role": "learner", "context": HERE / "learner",
               "dockerfile": HERE / "learner" / "Dockerfile", "args": {"COURSE_IMAGE": COURSE_IMAGE},
               "recipe": _digest([HERE / "learner" / "Dockerfile", HERE / "learner" / "requirements.txt"],
                                 course["recipe"])}
    hub = {"ref": HUB_IMAGE, "role": "hub", "context": HERE / "hub", "dockerfile": HERE / "hub" / "Dockerfile",
           "args": {}, "recipe": _digest([HERE / "hub" / "Dockerfile", HERE / "hub" / "requirements.txt"])}
    return [course, learner, hub]


def image_ok(cli, ref: str, recipe: str) -> bool:
    try:
        return (cli.images.get(ref).labels or {}).get(LABEL_RECIPE) == recipe
    except ImageNotFound:
        return False


def build_images(cli, force: bool = False, quiet: bool = False) -> dict[str, str]:
    """Build the course, learner and hub images when missing or changed; make the engine image and the course
    images the learners' engines get (``dockerlab prepare``). Returns {ref: "kept" | "built"}."""
    from dockerlab import images
    from dockerlab.dind import engine_image
    from dockerlab.ops import prepare

    done = {}
    for r in recipes(cli):
        if not force and image_ok(cli, r["ref"], r["recipe"]):
            done[r["ref"]] = "kept"
            continue
        cmd = ["docker", "build", "-t", r["ref"], "-f", str(r["dockerfile"]),
               "--label", f"{LABEL_COURSE}={COURSE}", "--label", f"{LABEL_CLASSROOM}={r['role']}",
               "--label", f"{LABEL_RECIPE}={r['recipe']}"]
        for k, v in r["args"].items():
            cmd += ["--build-arg", f"{k}={v}"]
        cmd.append(str(r["context"]))
        if not quiet:
            print(f"building {r['ref']} ({r['role']} image)…", flush=True)
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
            raise SystemExit(f"classroom: building {r['ref']} failed:\n{tail}")
        done[r["ref"]] = f"built in {time.monotonic() - t0:.0f} s"
    done[engine_image(client=cli, quiet=quiet)] = "ready"
    known = {i.key for i in images.manifest()}
    keys = [k for k in (IMAGES_FIRST + " " + IMAGES_LATER).split() if k in known]
    if keys:  # the images learners' engines get from this one: pulled, or stand-ins built (dockerlab prepare)
        table = prepare.prepare(keys, client=cli, progress=False)
        for row in table.rows:
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
def hub_env(ns: str, data: Path, hub_name: str, settings: dict) -> dict:
    env = {
        "CLASSROOM_NAMESPACE": ns,
        "CLASSROOM_DATA": str(data),
        "CLASSROOM_COURSE": str(ROOT),
        "CLASSROOM_HUB_CONTAINER": hub_name,
        "CLASSROOM_LEARNER_IMAGE": LEARNER_IMAGE,
        "CLASSROOM_IMAGES_FIRST": IMAGES_FIRST,
        "CLASSROOM_IMAGES_LATER": IMAGES_LATER,
        "PYTHONPATH": f"{HERE / 'hub'}:{ROOT / 'src'}",
        "DOCKERLAB_NAMESPACE": ns,
    }
    for k, v in os.environ.items():  # every CLASSROOM_* setting of the caller (classroom/README.md lists them)
        if k.startswith("CLASSROOM_") and k not in env:
            env[k] = v
    env.update({k: str(v) for k, v in settings.items()})
    return env


def wait_for_hub(url: str, container, timeout: float = 180) -> dict:
    last = ""

    def no_hub() -> SystemExit:
        logs = container.logs(tail=40).decode(errors="replace")
        return SystemExit(f"classroom: the hub did not answer at {url} within {timeout:.0f} s ({container.status}; "
                          f"{last}). Its last log lines:\n{logs}")

    def answers() -> dict | None:
        nonlocal last
        container.reload()
        if container.status != "running":
            raise no_hub()
        try:
            with urllib.request.urlopen(url + "/hub/api/", timeout=5) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(exc)
            return None

    try:
        return wait_until(answers, timeout=timeout, interval=1)
    except WaitTimeout:
        raise no_hub() from None


def up(ns: str, data: Path, port: int = 8000, bind: str = "127.0.0.1", code: str | None = None,
       instructor: str | None = None, password: str | None = None, build: bool = True,
       settings: dict | None = None, quiet: bool = False) -> dict:
    """Start the hub (building what is missing first); return {url, workshop_code, instructor, password, …}."""
    cli = client()
    if build:
        build_images(cli, quiet=quiet)
    n = names(ns)
    data = data.resolve()
    (data / "homes").mkdir(parents=True, exist_ok=True)
    creds = ensure_secrets(data, code, instructor, password)
    labels = {**course_labels(LESSON, ns), LABEL_ROLE: "hub"}
    try:
        hub = cli.containers.get(n["hub"])
        if hub.status == "running":
            url = f"http://{'127.0.0.1' if bind in ('0.0.0.0', '') else bind}:{port}"
            if not quiet:
                print(f"the classroom hub {n['hub']} is already running")
            return {"url": url, "container": hub.name, "data": str(data), **creds, "password": creds["instructor_password"]}
        hub.remove(force=True)
    except NotFound:
        pass
    try:
        cli.networks.get(n["front"])
    except NotFound:
        cli.networks.create(n["front"], driver="bridge", labels=labels)
    sock = "/var/run/docker.sock"
    hub = cli.containers.run(
        HUB_IMAGE, ["jupyterhub", "-f", str(HERE / "hub" / "jupyterhub_config.py")],
        name=n["hub"], detach=True, init=True, labels=labels, network=n["front"],
        ports={"8000/tcp": (bind, port)},
        volumes={sock: {"bind": sock, "mode": "rw"}, str(ROOT): {"bind": str(ROOT), "mode": "ro"},
                 str(data): {"bind": str(data), "mode": "rw"}},
        working_dir=str(data / "hub"), environment=hub_env(ns, data, n["hub"], settings or {}),
        stop_signal="SIGTERM",
    )
    url = f"http://{'127.0.0.1' if bind in ('0.0.0.0', '') else bind}:{port}"
    info = wait_for_hub(url, hub)
    out = {"url": url, "container": hub.name, "data": str(data), "version": info.get("version"), **creds,
           "password": creds["instructor_password"]}
    if not quiet:
        print(f"""
The classroom is up: JupyterHub {info.get('version')} at {url}{' (listening on all interfaces)' if bind in ('0.0.0.0', '') else ''}
  learners:   open the URL, choose a user name and a password, and type the workshop code: {creds['workshop_code']}
  instructor: sign in as {creds['instructor']} with the password {creds['instructor_password']}
              the room's progress: {url}/services/progress/   the admin page: {url}/hub/admin
  data:       {data} (learners' homes, the hub's state and these secrets: hub/secrets.json)
  stop:       make classroom-down (learners' files and engines' images stay; --purge deletes them)""")
    return out


def classroom_objects(cli, ns: str) -> dict[str, list]:
    flt = {"label": [f"{LABEL_COURSE}={COURSE}", f"{LABEL_NAMESPACE}={ns}", f"org.dockerlab.lesson={LESSON}"]}
    return {
        "containers": cli.containers.list(all=True, filters=flt, ignore_removed=True),
        "networks": cli.networks.list(filters=flt),
        "volumes": cli.volumes.list(filters=flt),
    }


def down(ns: str, data: Path | None = None, purge: bool = False, quiet: bool = False) -> dict[str, int]:
    """Stop the hub (it stops every server and engine first), then remove whatever is left; ``purge``: also the
    engines' volumes and the data folder (learners' files, the hub's state)."""
    cli = client()
    n = names(ns)
    removed = {"containers": 0, "networks": 0, "volumes": 0}
    try:
        hub = cli.containers.get(n["hub"])
        if hub.status == "running":
            if not quiet:
                print(f"stopping the hub {hub.name} (it stops every learner's server and engine first)…", flush=True)
            hub.stop(timeout=180)
        hub.remove(force=True)
        removed["containers"] += 1
    except NotFound:
        pass
    objs = classroom_objects(cli, ns)
    for c in objs["containers"]:  # servers and engines the hub did not get to
        try:
            c.remove(force=True, v=True)
            removed["containers"] += 1
        except (NotFound, APIError):
            pass
    for net in classroom_objects(cli, ns)["networks"]:
        try:
            removed["networks"] += remove_network(net)
        except APIError:
            pass
    if purge:
        for v in classroom_objects(cli, ns)["volumes"]:
            with contextlib.suppress(WaitTimeout):  # still in use after 5 s: left
                removed["volumes"] += wait_until(lambda: _remove_volume(v), timeout=5, interval=0.5,
                                                 ignore=(APIError,)) == "removed"  # APIError: in use a moment more
        data = (data or default_data(ns)).resolve()
        if data.exists():
            purge_dir(cli, data)
    if not quiet:
        print("removed: " + ", ".join(f"{v} {k}" for k, v in removed.items())
              + ("" if purge else " (learners' files and engines' volumes kept; --purge deletes them)"))
    return removed


def _remove_volume(volume) -> str:
    """'removed', or 'gone' when it was already; APIError while a container that went still holds it."""
    try:
        volume.remove(force=True)
        return "removed"
    except NotFound:
        return "gone"


def purge_dir(cli, data: Path) -> None:
    """Delete the data folder; files the learners' containers made belong to other uids, so a container (root)
    empties it when this user cannot."""
    try:
        shutil.rmtree(data)
        return
    except PermissionError:
        pass
    cli.containers.run(HUB_IMAGE, ["sh", "-c", f"rm -rf {data}/* {data}/.[!.]*"], remove=True,
                       volumes={str(data): {"bind": str(data), "mode": "rw"}},
                       labels=course_labels(LESSON, namespace()))
    shutil.rmtree(data, ignore_errors=True)


def status(ns: str) -> int:
    cli = client()
    n = names(ns)
    try:
        hub = cli.containers.get(n["hub"])
        ports = hub.attrs["NetworkSettings"]["Ports"].get("8000/tcp") or [{}]
        print(f"hub {hub.name}: {hub.status}, http://{ports[0].get('HostIp', '?')}:{ports[0].get('HostPort', '?')}")
    except NotFound:
        print(f"no hub {n['hub']} (start it: make classroom)")
    rows = {}
    for c in classroom_objects(cli, ns)["containers"]:
        user, role = c.labels.get(LABEL_USER), c.labels.get(LABEL_ROLE)
        if not user:
            continue
        mem = "-"
        if c.status == "running":
            s = c.stats(stream=False)
            m = s.get("memory_stats", {})
            used = m.get("usage", 0) - (m.get("stats", {}).get("inactive_file") or m.get("stats", {}).get("total_inactive_file") or 0)
            mem = f"{used / 2**20:.0f} MiB of {m.get('limit', 0) / 2**30:.1f} GiB"
        rows.setdefault(user, {})[role] = f"{c.status} ({mem})"
    for user, roles in sorted(rows.items()):
        print(f"  {user:<20} notebook: {roles.get('notebook', '-'):<32} engine: {roles.get('engine', '-')}")
    if not rows:
        print("  no learner's server is running")
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
              f"(their files stay in {data / 'homes' / name})")
        return 0
    print(f"no account named {name}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------------------------------- offline
def bundle_refs(cli) -> list[str]:
    """Every image the classroom needs on the day: its three images, the engine, the learners' course images."""
    from dockerlab import images
    from dockerlab.dind import engine_ref

    known = {i.key: i.ref for i in images.manifest()}
    refs = [COURSE_IMAGE, LEARNER_IMAGE, HUB_IMAGE, engine_ref()]
    refs += [known[k] for k in (IMAGES_FIRST + " " + IMAGES_LATER).split() if k in known]
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
    """Regenerate classroom/hub/requirements.txt and classroom/learner/requirements*.txt (needs PyPI)."""
    uv = str(ROOT / ".venv" / "bin" / "uv")
    common = ["pip", "compile", "-q", "--python-version", "3.13", "--python-platform", "x86_64-manylinux_2_28",
              "--generate-hashes", "--no-annotate", "--custom-compile-command", "python classroom/classroom.py lock"]
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as constraints:
        out = subprocess.run([uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-header",
                              "--no-annotate"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        constraints.write(out)
        constraints.flush()
        subprocess.run([uv, *common, "hub/requirements.in", "-o", "hub/requirements.txt"], cwd=HERE, check=True)
        for name in ("requirements", "requirements-z2jh"):
            subprocess.run([uv, *common, "-c", constraints.name, f"learner/{name}.in", "-o", f"learner/{name}.txt"],
                           cwd=HERE, check=True)
    print("locked: classroom/hub/requirements.txt, classroom/learner/requirements.txt, requirements-z2jh.txt")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="classroom", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--namespace", help="the classroom's namespace (default $DOCKERLAB_NAMESPACE, else classroom)")
    ap.add_argument("--data", help="the classroom's data folder (default .dockerlab/classroom/<namespace>)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the images (the day before)")
    b.add_argument("--force", action="store_true")
    u = sub.add_parser("up", help="start the hub")
    u.add_argument("--port", type=int, default=int(os.environ.get("CLASSROOM_PORT", "8000")))
    u.add_argument("--bind", default=os.environ.get("CLASSROOM_BIND", "127.0.0.1"),
                   help="address to publish the hub on: 0.0.0.0 for the room's network (default 127.0.0.1)")
    u.add_argument("--code", default=os.environ.get("CLASSROOM_CODE"), help="the workshop code (default: generated)")
    u.add_argument("--instructor", default=os.environ.get("CLASSROOM_INSTRUCTOR"))
    u.add_argument("--password", default=os.environ.get("CLASSROOM_INSTRUCTOR_PASSWORD"))
    u.add_argument("--no-build", action="store_true", help="use the images as they are")
    d = sub.add_parser("down", help="stop everything")
    d.add_argument("--purge", action="store_true", help="also delete learners' files, engines' volumes, hub state")
    sub.add_parser("status", help="the hub and each learner's server and engine")
    sub.add_parser("close-signup")
    sub.add_parser("open-signup")
    r = sub.add_parser("reset-password")
    r.add_argument("name")
    sub.add_parser("lock", help="regenerate the locked requirements of the hub and learner images")
    for name in ("save", "load"):
        p = sub.add_parser(name, help=f"{name} the classroom's images (one tar file)")
        p.add_argument("file")
    args = ap.parse_args(argv)
    ns = namespace(args.namespace)
    data = Path(args.data) if args.data else default_data(ns)
    try:
        if args.cmd == "build":
            for ref, what in build_images(client(), force=args.force).items():
                print(f"  {ref}: {what}")
        elif args.cmd == "up":
            up(ns, data, port=args.port, bind=args.bind, code=args.code, instructor=args.instructor,
               password=args.password, build=not args.no_build)
        elif args.cmd == "down":
            down(ns, data, purge=args.purge)
        elif args.cmd == "status":
            return status(ns)
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

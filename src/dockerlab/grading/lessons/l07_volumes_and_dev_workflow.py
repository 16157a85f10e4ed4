"""Lesson 07 exercise: a non-root service keeps its data across containers (``sample_apps/notes_api``).

The lesson kept the counter's count in a named volume. ``notes_api`` runs as uid 10001 and writes
``/data/notes``: a new volume (or a folder of the host) belongs to root unless something says otherwise, and the
service cannot write it. The learner edits the Dockerfile and writes ``start(image, port)``, their own
``client.containers.run`` call. The check builds the image and calls ``start`` twice, removing the first container
in between (``docker rm -f -v``), and judges what it observes:

1. the image builds;
2. the service starts and can write /data (else: the uid it runs as, and the owner and mode of /data as the
   container saw it, read by a helper that mounts the same volumes);
3. it runs as a non-root user (PID 1's uid);
4. three notes saved in the first container are listed by the second (else: what was mounted at /data);
5. /data belongs to the service's user and is not writable by every user;
6. every named volume it used carries the course labels (``lab.cleanup()`` removes it).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from docker.errors import DockerException, NotFound

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker
from dockerlab.namespace import LABEL_NAMESPACE
from dockerlab.run import ContainerExited, WaitTimeout, free_port, http_get, logs_tail, remove
from dockerlab.show import short
from dockerlab.grading.probes import helper, pid1_info

LESSON = "07_volumes_and_dev_workflow"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "Start it once with your start() and read its log (`container.logs()`): which user is denied what? Then look at "
    "/data as the container sees it: `ls -ldn /data` in a container of the image (`--entrypoint`, or a helper "
    "container that mounts the same volume) shows its owner's uid and its mode.",
    "Two problems, two places. Data that must outlive the container needs storage the engine keeps (and that the "
    "next container mounts again). And a new, empty named volume takes the owner and mode of the directory the "
    "image has at the mount point: what does the image have at /data, and who owns it? Root can change that in "
    "the Dockerfile before USER; running as root or opening /data to every user is not the fix.",
    "Lesson 07, sections \"Data: a named volume outlives the container\" and \"Bind mount vs volume\" (a volume is "
    "created empty or from the image's content); who owns what a container writes: lesson 10, section \"Root in a "
    "container, and who owns what it writes\".",
)
APP = "notes_api"
TARGET = "/data"
NOTES = ("first", "second", "third")
LINES = ["the image builds", "the service starts and writes /data", "runs as a non-root user",
         "notes survive replacing the container", "/data belongs to the service's user, not to everyone",
         "volumes carry the course labels"]


def _mounts(container) -> dict[str, dict]:
    """What is mounted where in ``container``: {destination: {"Type", "Name", "Source", …}}, tmpfs included."""
    container.reload()
    mounts = {m["Destination"]: m for m in container.attrs.get("Mounts") or []}
    for dest in (container.attrs.get("HostConfig") or {}).get("Tmpfs") or {}:
        mounts[dest] = {"Type": "tmpfs", "Destination": dest}
    return mounts


def _volume_name(mount: dict) -> str:
    """A volume mount's name (Engine 28 may leave ``Name`` out for anonymous volumes: read it from the path)."""
    m = re.search(r"/volumes/([^/]+)/_data$", mount.get("Source") or "")
    return mount.get("Name") or (m.group(1) if m else "")


def describe_mount(mount: dict | None) -> str:
    if mount is None:
        return "nothing is mounted at /data (it is part of the container's own writable layer)"
    kind = mount.get("Type")
    if kind == "volume":
        name = _volume_name(mount)
        if re.fullmatch(r"[0-9a-f]{64}", name):
            return "/data is an anonymous volume (docker rm -v removes it with its container)"
        return f"/data is the named volume {name}"
    if kind == "bind":
        return f"/data is the host folder {mount.get('Source')} (a bind mount)"
    return f"/data is a {kind} mount"


def data_dir_stat(lab, image: str, container) -> tuple[int, int, int] | None:
    """(uid, gid, mode) of /data as ``container`` saw it: a helper of the same image with the same volumes
    (``--volumes-from``, which works on a stopped container too) reads it as root. None: there is no /data."""
    res = helper(lab, image, ["stat", "-c", "%u %g %a", TARGET], thing="check-stat", system_path=True,
                 volumes_from=[container.id], timeout=30)
    m = re.match(r"^(\d+) (\d+) ([0-7]+)\s*$", res.output.strip().splitlines()[-1] if res.output.strip() else "")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3), 8)) if m else None


def _image_user(lab, image: str) -> str:
    return (lab.client.images.get(image).attrs.get("Config") or {}).get("User") or "root"


def _start(lab, start, image: str, c: Checker):
    """Call the learner's ``start(image, port)``; (container, host port) or (None, port) with the failure recorded."""
    remove(lab.name("notes"), client=lab.client, quiet=True)
    port = free_port()
    try:
        container = start(image, port)
    except (DockerException, RuntimeError, TypeError, ValueError) as exc:
        c.fail(LINES[1], f"start(image, port) raised {type(exc).__name__}: {short(getattr(exc, 'explanation', None) or exc, 240)}",
               "start() must start the container with client.containers.run(…, detach=True) and return it")
        return None, port
    if not hasattr(container, "reload"):
        c.fail(LINES[1], f"start(image, port) returned {short(repr(container), 80)}, not a container",
               "return what client.containers.run(…, detach=True) returns")
        return None, port
    return container, port


def _why_not_started(lab, image: str, container, exc: Exception) -> tuple[str, str]:
    logs = logs_tail(container, 40)
    denied = re.search(r"PermissionError: \[Errno 13\] Permission denied: '([^']+)'", logs)
    container.reload()
    code = container.attrs["State"].get("ExitCode")
    if not denied:
        line = next((l.strip() for l in reversed(logs.splitlines()) if l.strip()), "(no log output)")
        return (f"no answer from the service ({short(exc, 100)}); exit code {code}, last log line: {short(line, 140)}",
                "read its log: start(image, port) must publish container port 8000 on `port`")
    where = describe_mount(_mounts(container).get(TARGET))
    st = data_dir_stat(lab, image, container)
    user = container.attrs["Config"].get("User") or "root"
    seen = (f"the service (user {user}) exited with code {code}: Permission denied: '{denied.group(1)}'. {where}; "
            + (f"/data belongs to uid {st[0]} (mode {st[2]:o})" if st else "the image has no /data, and / belongs to root"))
    if st is None:
        fix = ("/data must exist and belong to the service's user before it starts: create it in the Dockerfile, as "
               "root (before USER), owned by uid 10001")
    else:
        fix = ("a new, empty named volume takes the owner and mode of the image's /data: give the image a /data that "
               "belongs to uid 10001 (in the Dockerfile, before USER); a host folder needs that owner too")
    return seen, fix


def check(lab, app, start) -> Checker:
    """Build ``app`` (notes_api), start it twice with ``start(image, port)`` and judge: non-root, writable /data,
    notes kept across containers, /data's owner and mode, labelled volumes."""
    app = Path(app)
    c = Checker(LESSON, "notes that survive, as a non-root user", planned=LINES)
    try:
        image = lab.build(app, "notes", quiet=True).tag
    except BuildFailed as exc:
        fix = "read the build log (lab.build(app, 'notes'))"
        if "Permission denied" in exc.error or any("Permission denied" in l for l in exc.log_tail):
            fix = "a step after USER runs as that user, who may not write there: do it as root, before USER"
        c.fail(LINES[0], f"the build failed at `{short(exc.step, 70)}`: {short(exc.error, 160)}", fix)
        return c.report()
    c.ok(LINES[0], f"{image} (USER {_image_user(lab, image)})")

    seen_volumes: set[str] = set()
    first, port = _start(lab, start, image, c)
    if first is None:
        return c.report()
    try:
        try:
            http_get(port, "/health", timeout=30, container=first)
            for name in NOTES:
                _put(port, name)
            before = json.loads(http_get(port, "/notes", timeout=10, container=first)[1])["notes"]
        except (WaitTimeout, ContainerExited, OSError, ValueError, KeyError) as exc:
            c.fail(LINES[1], *_why_not_started(lab, image, first, exc))
            return c.report()
        c.ok(LINES[1], f"answered /health and saved {len(NOTES)} notes under /data/notes")
        uid = pid1_info(first, lab).uid
        c.expect(uid not in (None, 0), LINES[2], f"PID 1 runs as uid {uid}: root in the container",
                 fix="keep the image's USER 10001: do not run it as root (no user= / --user 0); fix /data's owner instead",
                 ok=f"PID 1 runs as uid {uid}")
        mount = _mounts(first).get(TARGET)
        if mount and mount.get("Type") == "volume":
            seen_volumes.add(_volume_name(mount))
    finally:
        remove(first, client=lab.client, quiet=True)  # docker rm -f -v: its anonymous volumes go with it

    second, port = _start(lab, start, image, c)
    if second is None:
        return c.report()
    try:
        try:
            after = json.loads(http_get(port, "/notes", timeout=30, container=second)[1])["notes"]
        except (WaitTimeout, ContainerExited, OSError, ValueError, KeyError) as exc:
            c.fail(LINES[3], f"the second container did not answer: {short(exc, 200)}", "start() must be repeatable")
            return c.report()
        mount = _mounts(second).get(TARGET)
        if mount and mount.get("Type") == "volume":
            seen_volumes.add(_volume_name(mount))
        kept = [n for n in NOTES if n in after]
        c.expect(len(kept) == len(NOTES), LINES[3],
                 f"the replacement container lists {after or 'no notes'} instead of {list(NOTES)}: {describe_mount(mount)}",
                 fix=("mount storage the engine keeps at /data, the same in every container: a named volume (created "
                      "with the course labels) or a host folder"),
                 ok=f"the replacement container lists {kept}: {describe_mount(mount)}")
        st = data_dir_stat(lab, image, second)
        uid = pid1_info(second, lab).uid
        if st is None:
            c.skip(LINES[4], "could not read the owner of /data")
        elif st[2] & 0o002:
            c.fail(LINES[4], f"/data has mode {st[2]:o}: every user of every container that mounts it may write there",
                   "make uid 10001 the owner of /data (chown), and leave it 755 or 700")
        elif st[0] != uid:
            c.fail(LINES[4], f"/data belongs to uid {st[0]}, the service runs as uid {uid}",
                   "make the service's user the owner of /data")
        else:
            c.ok(LINES[4], f"/data belongs to uid {st[0]} (the service), mode {st[2]:o}")
    finally:
        remove(second, client=lab.client, quiet=True)

    named = sorted(v for v in seen_volumes if v and not re.fullmatch(r"[0-9a-f]{64}", v))
    unlabelled = []
    for name in named:
        try:
            vol = lab.client.volumes.get(name)
        except NotFound:
            continue
        if (vol.attrs.get("Labels") or {}).get(LABEL_NAMESPACE) != lab.ns:
            unlabelled.append(name)
            try:
                vol.remove()
            except DockerException:
                pass
    if unlabelled:
        c.fail(LINES[5], f"volume {', '.join(unlabelled)} has no course labels: lab.cleanup() would never remove it "
                         "(the check removed it; on a shared engine another learner could mount it too)",
               "create the volume before starting: client.volumes.create(lab.name('notes-data'), labels=lab.labels)")
    elif named:
        c.ok(LINES[5], f"{', '.join(named)}: labelled for namespace {lab.ns}")
    else:
        c.ok(LINES[5], "no named volume used")
    return c.report()


def _put(port: int, name: str) -> None:
    import urllib.request

    from dockerlab.run import host_address
    req = urllib.request.Request(f"http://{host_address()}:{port}/notes/{name}", data=f"note {name}".encode(), method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        if r.status != 201:
            raise WaitTimeout(f"PUT /notes/{name} answered HTTP {r.status}")

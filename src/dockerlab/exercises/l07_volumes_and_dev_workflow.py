"""Lesson 07 exercise: the counter keeps its count when its container is replaced.

The check runs the image with the learner's run arguments, hits it three times, replaces the container (same
arguments) and reads the count. When the count is lost it says what was observed at /data in the container
(nothing, a tmpfs, an anonymous volume …), not what was probably typed.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from docker.errors import DockerException, NotFound

from ..checks import Checker
from ..paths import workspace_root
from ..run import ContainerExited, WaitTimeout, free_port, http_get, logs_tail, remove
from ..show import short
from .probes import pid1_info

LESSON = "07_volumes_and_dev_workflow"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "The app writes its count to /data/count: whatever is at /data must outlive the container.",
    "Which kind of storage does the engine keep when a container is removed (`docker rm -v`), and which is created "
    "new and empty for each container?",
    "Lesson 07, sections \"Data: a named volume outlives the container\" and \"Bind mount vs volume\".",
)
HITS = 3
TARGET = "/data"


def mount_specs(run_kwargs: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) of what the run arguments mount: ``volumes`` as a dict or as ``src:dst[:mode]`` /
    ``dst`` strings, and ``mounts`` (docker.types.Mount). Source "" is an anonymous volume."""
    out = []
    vols = run_kwargs.get("volumes") or {}
    items = ([(str(k), str(v.get("bind", "")) if isinstance(v, dict) else str(v)) for k, v in vols.items()]
             if isinstance(vols, dict) else [])
    if not isinstance(vols, dict):
        for spec in vols:
            parts = str(spec).split(":")
            items.append(("", parts[0]) if len(parts) == 1 else (parts[0], parts[1]))
    for src, dst in items:
        kind = "volume" if not src or "/" not in src else "bind"
        out.append((kind, src, dst))
    for m in run_kwargs.get("mounts") or []:
        out.append((str(m.get("Type", "volume")), str(m.get("Source") or ""), str(m.get("Target", ""))))
    return out


def _volume_name(mount: dict) -> str:
    """A volume mount's name (Engine 28 may leave ``Name`` out for anonymous volumes: read it from the path)."""
    m = re.search(r"/volumes/([^/]+)/_data$", mount.get("Source") or "")
    return mount.get("Name") or (m.group(1) if m else "")


def _count(port, container) -> int:
    return json.loads(http_get(port, "/", timeout=30, container=container)[1])["count"]


def _why_it_failed(container, exc: Exception) -> tuple[str, str]:
    """What the counter did, from its logs and its process: (detail, fix)."""
    logs = logs_tail(container, 30)
    if "Permission denied" in logs or "Read-only file system" in logs:
        uid = pid1_info(container).uid if container.status == "running" else None
        who = f"uid {uid}" if uid is not None else "its user"
        line = next((l.strip() for l in reversed(logs.splitlines()) if "rror" in l), "")
        return (f"the counter runs as {who} and cannot write {TARGET} ({short(line, 140)})",
                f"let {who} write {TARGET}: a named volume (Docker copies the image's /data ownership into it), or "
                f"chown/chmod the bind-mounted folder for {who}")
    return (short(exc, 300), f"the counter must answer on port 8000 and be able to write {TARGET}")


def check(lab, image: str, run_kwargs: dict) -> Checker:
    """Run ``image`` with ``run_kwargs``, hit it 3 times, replace the container (same kwargs), read the count."""
    c = Checker(LESSON, "counter-volume")
    run_kwargs = dict(run_kwargs or {})
    root = workspace_root(lab.ns).resolve()
    specs = mount_specs(run_kwargs)
    for kind, src, _ in specs:
        if kind == "bind" and not Path(src).is_absolute():
            c.fail("bind mount source is absolute", f"{src!r} is a relative path",
                   "use an absolute path under lab.workspace(...), or a named volume like lab.name('counter-data')")
        elif kind == "bind" and not Path(src).resolve().is_relative_to(root):
            c.fail("bind mount source is in your workspace", f"{src} is outside {root}",
                   "bind-mount a folder under lab.workspace(...) (or use a named volume)")
    if c.failures:
        return c.report()
    for kind, src, _ in specs:  # a named volume the engine would create unlabelled: create it labelled
        if kind == "volume" and src:
            try:
                lab.client.volumes.get(src)
            except NotFound:
                lab.client.volumes.create(src, labels=lab.labels)

    counts = []
    mounts: dict = {}
    start = 0
    for round_ in ("first", "replacement"):
        port = free_port()
        kwargs = dict(run_kwargs, ports={"8000/tcp": port})
        try:
            container = lab.run(image, "exercise", **kwargs)
        except (DockerException, RuntimeError, TypeError) as exc:  # report whatever the engine refused
            c.fail("container starts", f"{type(exc).__name__}: {short(exc, 250)}", "check the run options")
            return c.report()
        try:
            if round_ == "first":
                start = _count(port, container)  # a volume from an earlier run may hold a count already
                for _ in range(HITS):
                    http_get(port, "/hit", timeout=30, container=container)
            counts.append(_count(port, container))
            container.reload()
            mounts = {m["Destination"]: m for m in container.attrs.get("Mounts") or []}
            for dest in (container.attrs.get("HostConfig") or {}).get("Tmpfs") or {}:
                mounts[dest] = {"Type": "tmpfs", "Destination": dest}
        except (WaitTimeout, ContainerExited, KeyError, ValueError) as exc:
            container.reload()
            detail, fix = _why_it_failed(container, exc)
            c.fail("counter answers", detail, fix)
            remove(container, client=lab.client, quiet=True)
            return c.report()
        remove(container, client=lab.client, quiet=True)  # docker rm -f -v: the container and its anonymous volumes go

    before, after = counts
    c.expect(before == start + HITS, f"counter counts {HITS} hits", f"from {start}, {HITS} hits showed {before}",
             fix="GET /hit must add one each time", ok=f"{HITS} hits → count {start} → {before}")
    if after == before:
        c.ok("count survives replacing the container", f"the replacement container still shows {after}")
        return c.report()
    data = mounts.get(TARGET)
    if data is None:
        seen = ", ".join(f"{m.get('Type')} at {d}" for d, m in mounts.items()) or "nothing mounted"
        fix = "mount a named volume at /data: volumes={lab.name('counter-data'): {'bind': '/data', 'mode': 'rw'}}"
        detail = f"nothing is mounted at /data ({seen}), so the count lived in the container and was removed with it"
    elif data.get("Type") == "tmpfs":
        fix, detail = "a tmpfs lives in memory and dies with the container: use a named volume", "/data is a tmpfs"
    elif data.get("Type") == "volume" and re.fullmatch(r"[0-9a-f]{64}", _volume_name(data)):
        fix = "give the volume a name (lab.name('counter-data')) so the next container mounts the same one"
        detail = "/data is an anonymous volume: the replacement got a new, empty one"
    else:
        fix, detail = "mount the same volume at /data in both containers", f"/data is a {data.get('Type')} mount"
    c.fail("count survives replacing the container",
           f"the replacement container shows count {after} instead of {before}: {detail}", fix)
    return c.report()

"""Lesson 07 exercise: the counter keeps its count when its container is replaced."""
from __future__ import annotations

import json
from pathlib import Path

from docker.errors import NotFound

from ..checks import Checker
from ..paths import workspace_root
from ..run import ContainerExited, WaitTimeout, free_port, http_get, remove

LESSON = "07_volumes_and_dev_workflow"
HITS = 3


def _bind_sources(run_kwargs: dict) -> list[str]:
    vols = run_kwargs.get("volumes") or {}
    if isinstance(vols, dict):
        return [str(k) for k in vols]
    return [str(v).split(":", 1)[0] for v in vols]


def _count(port, container) -> int:
    return json.loads(http_get(port, "/", timeout=30, container=container)[1])["count"]


def check_counter(lab, image: str, run_kwargs: dict) -> Checker:
    """Run ``image`` with ``run_kwargs``, hit it 3 times, replace the container (same kwargs), read the count."""
    c = Checker(LESSON, "counter-volume")
    run_kwargs = dict(run_kwargs or {})
    root = workspace_root(lab.ns).resolve()
    for src in _bind_sources(run_kwargs):
        if "/" in src and not Path(src).is_absolute():
            c.fail("bind mount source is absolute", f"{src!r} is a relative path",
                   "use an absolute path under lab.workspace(...), or a named volume like lab.name('counter-data')")
        elif Path(src).is_absolute() and not Path(src).resolve().is_relative_to(root):
            c.fail("bind mount source is in your workspace", f"{src} is outside {root}",
                   "bind-mount a folder under lab.workspace(...) (or use a named volume)")
    if c.failures:
        return c.report()
    for src in _bind_sources(run_kwargs):  # a named volume the engine would create unlabelled: create it labelled
        if "/" not in src:
            try:
                lab.client.volumes.get(src)
            except NotFound:
                lab.client.volumes.create(src, labels=lab.labels)

    counts = []
    for round_ in ("first", "replacement"):
        port = free_port()
        kwargs = dict(run_kwargs, ports={"8000/tcp": port})
        try:
            container = lab.run(image, "exercise", **kwargs)
        except Exception as exc:  # noqa: BLE001 - report whatever the engine refused
            c.fail("container starts", f"{type(exc).__name__}: {str(exc)[:250]}", "check the run options")
            return c.report()
        try:
            if round_ == "first":
                for _ in range(HITS):
                    http_get(port, "/hit", timeout=30, container=container)
            counts.append(_count(port, container))
            container.reload()
            mounts = {m["Destination"]: m for m in container.attrs.get("Mounts") or []}
            for dest in (container.attrs.get("HostConfig") or {}).get("Tmpfs") or {}:
                mounts[dest] = {"Type": "tmpfs", "Destination": dest}
        except (WaitTimeout, ContainerExited, KeyError, ValueError) as exc:
            c.fail("counter answers", str(exc)[:300], "the counter must answer on port 8000 and be able to write /data")
            remove(container, client=lab.client, quiet=True)
            return c.report()
        remove(container, client=lab.client, quiet=True)  # docker rm -f -v: the container and its anonymous volumes go

    before, after = counts
    c.expect(before == HITS, f"counter counts to {HITS}", f"after {HITS} hits it showed {before}",
             "GET /hit must add one each time", detail_ok=f"{HITS} hits → count {before}")
    if after == before:
        c.ok("count survives replacing the container", f"the replacement container still shows {after}")
    else:
        data = mounts.get("/data")
        if data is None:
            seen = ", ".join(f"{m.get('Type')} at {d}" for d, m in mounts.items()) or "nothing mounted"
            fix = "mount a named volume at /data: volumes={lab.name('counter-data'): {'bind': '/data', 'mode': 'rw'}}"
            detail = f"nothing is mounted at /data ({seen}), so the count lived in the container and was removed with it"
        elif data.get("Type") == "tmpfs":
            fix, detail = "a tmpfs lives in memory and dies with the container: use a named volume", "/data is a tmpfs"
        elif data.get("Type") == "volume" and len(data.get("Name", "")) == 64:
            fix = "give the volume a name (lab.name('counter-data')) so the next container mounts the same one"
            detail = "/data is an anonymous volume: the replacement got a new, empty one"
        else:
            fix, detail = "mount the same volume at /data in both containers", f"/data is a {data.get('Type')} mount"
        c.fail("count survives replacing the container",
               f"the replacement container shows count {after} instead of {before}: {detail}", fix)
    return c.report()

"""The learner's own code and containers, as a check meets them: what they do is an answer to judge, never a traceback.

* :func:`call_start`: call the learner's ``start(image, port)`` on a free host port (once more on another port when
  the check's own port was taken in between); whatever it raises or returns becomes a failed line.
* :func:`gone`: the line of a container that disappeared while the check looked at it.
* :func:`taken_port`: the host port an engine error says is taken; :func:`published`: what a container publishes;
  :func:`mounts`, :func:`mount_kind`: what it mounts where.
"""
from __future__ import annotations

import re

from docker.errors import DockerException

from dockerlab.grading.checker import Verdict, failed
from dockerlab.run import free_port, remove
from dockerlab.show import short

PORT_TAKEN = re.compile(r"port is already allocated|address already in use|host port asked for is taken")
ANONYMOUS = re.compile(r"[0-9a-f]{64}")  # the name of an anonymous volume
START_FIX = "start(image, port) must start the container with client.containers.run(…, detach=True) and return it"


def taken_port(message: str) -> int | None:
    """The host port an engine error says is taken (0: taken, number not said); None: not that error."""
    if not PORT_TAKEN.search(message):
        return None
    m = re.search(r"(?:host port for|Bind for|listen tcp\d?) (?:\[[^\]]*\]|[\d.]+):(\d+)", message)
    return int(m.group(1)) if m else 0


def published(container) -> list[str]:
    """``HOSTPORT->8000/tcp`` for each published port (as last read: reload first)."""
    ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
    return sorted(f"{b['HostPort']}->{p}" for p, bs in ports.items() for b in bs or [])


def mounts(container) -> dict[str, dict]:
    """What is mounted where in ``container`` (reloaded): {destination: {"Type", "Name", "Source", …}}, tmpfs too."""
    container.reload()
    found = {m["Destination"]: m for m in container.attrs.get("Mounts") or []}
    for dest in (container.attrs.get("HostConfig") or {}).get("Tmpfs") or {}:
        found[dest] = {"Type": "tmpfs", "Destination": dest}
    return found


def volume_name(mount: dict) -> str:
    """A volume mount's name (Engine 28 may leave ``Name`` out for anonymous volumes: read it from the path)."""
    m = re.search(r"/volumes/([^/]+)/_data$", mount.get("Source") or "")
    return mount.get("Name") or (m.group(1) if m else "")


def mount_kind(mount: dict | None) -> str:
    """none, anonymous, volume, bind or tmpfs: what a mount (one value of :func:`mounts`) is."""
    if mount is None:
        return "none"
    if mount.get("Type") == "volume":
        return "anonymous" if ANONYMOUS.fullmatch(volume_name(mount)) else "volume"
    return str(mount.get("Type"))


def gone(container, doing: str) -> Verdict:
    """A container (or its name) that disappeared while the check ``doing`` (e.g. "asked /health")."""
    name = getattr(container, "name", container)
    return failed("exited", f"the container {name} disappeared while the check {doing}: it was removed (by "
                  "auto_remove=True / --rm once it exited, or by someone else)",
                  "run the check again, without auto_remove, and remove nothing of the lesson while it runs",
                  status="removed")


def call_start(lab, start, image: str, name: str) -> tuple[object | None, int, Verdict | None]:
    """``start(image, port)`` on a free port: (container, port, None), or (None, port, the failed verdict).

    The container ``name`` (the one the task asks for) is removed first, so every call starts from scratch."""
    for attempt in range(2):
        remove(name, client=lab.client, quiet=True)
        port = free_port()
        try:
            container = start(image, port)
        except Exception as exc:  # noqa: BLE001 - the learner's code: any error is an answer to judge
            full = str(getattr(exc, "explanation", None) or exc)
            said, taken = short(full, 240), taken_port(full)
            if taken in (port, 0) and attempt == 0:
                continue  # the check's own free port was taken in between: ask again on another one
            if taken is not None:
                return None, port, failed(
                    "wrong-value", f"start(image, {port}) could not start the container: the engine could not bind host "
                    f"port {taken or '?'}, already in use", "publish container port 8000 on the `port` the check passes: "
                    "ports={'8000/tcp': port}", port=port, port_taken=taken)
            return None, port, failed("exited" if isinstance(exc, DockerException) else "wrong-value",
                                      f"start(image, port) raised {type(exc).__name__}: {said}", START_FIX,
                                      error=type(exc).__name__)
        if not hasattr(container, "reload"):
            return None, port, failed("wrong-value", f"start(image, port) returned {short(repr(container), 80)}, not a "
                                      "container", "return what client.containers.run(…, detach=True) returns",
                                      returned=type(container).__name__)
        return container, port, None
    raise AssertionError("unreachable")  # the loop returns on its second pass

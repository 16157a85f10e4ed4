"""`dockerlab doctor`: is this machine ready for the course? One report, rendered in a notebook or a terminal."""
from __future__ import annotations

import dataclasses
import html
import platform
import shutil
import subprocess

from . import images
from .engine import engine_address, get_client
from .namespace import namespace
from .show import human_size

MIN_FREE_DISK = 10 * 1000**3  # the course's images and builds need a few GB; warn below 10 GB


@dataclasses.dataclass
class Item:
    name: str
    value: str
    ok: bool = True
    hint: str = ""


@dataclasses.dataclass
class Report:
    items: list[Item]

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.items)

    @property
    def problems(self) -> list[Item]:
        return [i for i in self.items if not i.ok]

    def as_dict(self) -> dict:
        return {i.name: {"value": i.value, "ok": i.ok, "hint": i.hint} for i in self.items}

    def __str__(self) -> str:
        w = max(len(i.name) for i in self.items)
        lines = [f"{'ok ' if i.ok else 'NO '} {i.name.ljust(w)}  {i.value}" + (f"  ({i.hint})" if i.hint and not i.ok else "")
                 for i in self.items]
        lines.append("ready for the course" if self.ok else f"{len(self.problems)} problem(s): see the NO lines")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'✅' if i.ok else '❌'}</td><td>{html.escape(i.name)}</td><td>{html.escape(i.value)}</td>"
            f"<td>{html.escape(i.hint if not i.ok else '')}</td></tr>" for i in self.items)
        verdict = "ready for the course" if self.ok else f"{len(self.problems)} problem(s)"
        return f"<table><caption style='text-align:left'><b>dockerlab doctor: {verdict}</b></caption><tbody>{rows}</tbody></table>"


def _cli_version(args: list[str]) -> str | None:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def doctor(check_registry: bool = True) -> Report:
    """Engine and API version, buildx, compose, architecture, free disk, registry, course images, namespace.

    Raises EngineUnavailable (within ~5 s) when no engine answers.
    """
    client = get_client()
    items: list[Item] = []
    v = client.version()
    info = client.info()
    items.append(Item("engine", f"{v.get('Version')} (API {v.get('ApiVersion')}) at {engine_address()}"))
    items.append(Item("SDK", f"docker {__import__('docker').__version__}, API used {client.api.api_version}"))
    items.append(Item("architecture", f"{info.get('Architecture')} ({info.get('OSType')}), host {platform.machine()}"))
    items.append(Item("storage driver", str(info.get("Driver"))))
    cli_v = _cli_version(["docker", "version", "--format", "{{.Client.Version}}"])
    items.append(Item("docker CLI", cli_v or "missing", bool(cli_v), "install the docker CLI: lessons show and run its commands"))
    bx = _cli_version(["docker", "buildx", "version"])
    items.append(Item("buildx (BuildKit)", bx or "missing", bool(bx),
                      "install the buildx plugin (Debian: docker-buildx): lessons 03, 05, 06 need BuildKit"))
    cp = _cli_version(["docker", "compose", "version", "--short"])
    items.append(Item("compose v2", cp or "missing", bool(cp),
                      "install the compose plugin (Debian: docker-compose): lessons 06, 08, 13 need it"))
    root = info.get("DockerRootDir") or "/"
    try:
        free = shutil.disk_usage(root).free
        where = root
    except OSError:  # a remote engine: its disk is not ours to measure
        free, where = None, "remote engine"
    if free is None:
        items.append(Item("free disk", f"unknown ({where})"))
    else:
        items.append(Item("free disk", f"{human_size(free)} at {where}", free >= MIN_FREE_DISK,
                          f"free at least {human_size(MIN_FREE_DISK)}: `docker system df`, then `dockerlab clean`"))
    if check_registry:
        reach = images.registry_reachable(client=client)
        items.append(Item("registry", "reachable" if reach else "not reachable (stand-in images are built instead)"))
    status = images.status(client)
    missing = [r["image"] for r in status if r["present"] == "no"]
    standins = [r["image"] for r in status if r["kind"] == "stand-in"]
    value = f"{len(status) - len(missing)}/{len(status)} present"
    if standins:
        value += f", {len(standins)} stand-in(s)"
    items.append(Item("course images", value, not missing, "run `dockerlab prepare` (or `make images`)"))
    items.append(Item("namespace", namespace()))
    return Report(items)

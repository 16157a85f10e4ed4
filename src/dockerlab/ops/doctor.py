"""`dockerlab doctor`: is this machine ready for the course? One report, rendered in a notebook or a terminal."""
from __future__ import annotations

import dataclasses
import platform
import shutil

from dockerlab import tools
from dockerlab.errors import ToolFailed
from dockerlab.ops import prepare
from dockerlab.engine import engine_address, get_client, image_store
from dockerlab.namespace import namespace
from dockerlab.show import TINTS, html_table, human_size, inline_code, verdict

MIN_FREE_DISK = 10 * 1000**3  # the course's images and builds need a few GB; warn below 10 GB


@dataclasses.dataclass
class Item:
    name: str
    value: str
    ok: bool = True
    hint: str = ""
    warning: str = ""  # works, but differs from what learners commonly run: the reason


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
        lines = [f"{'ok ' if i.ok and not i.warning else '!! ' if i.ok else 'NO '} {i.name.ljust(w)}  {i.value}"
                 + (f"  ({i.hint})" if i.hint and not i.ok else "") + (f"  (warning: {i.warning})" if i.warning else "")
                 for i in self.items]
        lines.append("ready for the course" if self.ok else f"{len(self.problems)} problem(s): see the NO lines")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The table: per item "✔ ok", "⚠ warning" or "✘ NO" in words (any font) on a green, amber or red row."""
        kinds = ["fail" if not i.ok else "warn" if i.warning else "ok" for i in self.items]
        words = {"ok": "✔ ok", "warn": "⚠ warning", "fail": "✘ NO"}
        rows = [[verdict(words[k], k), i.name, i.value, inline_code(i.hint if not i.ok else i.warning)]
                for k, i in zip(kinds, self.items)]
        summary = "ready for the course" if self.ok else f"{len(self.problems)} problem(s): see the NO lines"
        return html_table(["status", "item", "value", "hint"], rows, f"dockerlab doctor: {summary}",
                          row_backgrounds=[TINTS[k] for k in kinds])


def _cli_version(args: list[str]) -> str | None:
    try:
        out = tools.run(args, timeout=15)
    except ToolFailed:
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


# What learners commonly run in 2026 (Docker Desktop 4.4x, Docker Engine 28/29). Older still works for most
# lessons, but shows other output and lacks what some lessons teach; the doctor says which.
CURRENT = {
    "engine": ((27, 0), "engines before 27 ship an older BuildKit: no `docker build --check`, no `RUN --mount=type=secret,env=`"),
    "buildx": ((0, 17), "buildx before 0.17 lacks `docker build --check` and prints other progress output"),
    "compose": ((2, 22), "Compose before 2.22 has no `docker compose watch` (`develop.watch`)"),
}


def version_tuple(text: str | None) -> tuple[int, ...]:
    """'28.5.2+dfsg4' -> (28, 5, 2); 'github.com/docker/buildx v0.29.1 …' -> (0, 29, 1); None -> ()."""
    import re

    m = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(x) for x in m.groups() if x is not None) if m else ()


def below_current(kind: str, text: str | None) -> tuple[int, ...] | None:
    """The least version learners commonly run (:data:`CURRENT`) when ``text`` names an older one; else None."""
    minimum = CURRENT[kind][0]
    v = version_tuple(text)
    return minimum if v and v < minimum else None


def older_than_current(kind: str, text: str | None) -> str:
    """The reason a version is older than what learners commonly run, or ''."""
    minimum = below_current(kind, text)
    return f"older than {'.'.join(map(str, minimum))}: {CURRENT[kind][1]}" if minimum else ""


def doctor(check_registry: bool = True) -> Report:
    """Engine and API version, buildx, compose, architecture, free disk, registry, course images, namespace.

    Raises EngineUnavailable (within ~5 s) when no engine answers.
    """
    client = get_client()
    items: list[Item] = []
    v = client.version()
    info = client.info()
    items.append(Item("engine", f"{v.get('Version')} (API {v.get('ApiVersion')}) at {engine_address()}",
                      warning=older_than_current("engine", v.get("Version"))))
    items.append(Item("SDK", f"docker {__import__('docker').__version__}, API used {client.api.api_version}"))
    items.append(Item("architecture", f"{info.get('Architecture')} ({info.get('OSType')}), host {platform.machine()}"))
    store = image_store(info)
    items.append(Item("image store", "containerd (image ID = manifest digest; multi-platform images)" if store == "containerd"
                      else f"classic ({store}; image ID = config digest)"))
    cli_v = _cli_version(["docker", "version", "--format", "{{.Client.Version}}"])
    items.append(Item("docker CLI", cli_v or "missing", bool(cli_v), "install the docker CLI: lessons show and run its commands"))
    bx = _cli_version(["docker", "buildx", "version"])
    items.append(Item("buildx (BuildKit)", bx or "missing", bool(bx),
                      "install the buildx plugin (Debian: docker-buildx): every build of the course uses BuildKit",
                      warning=older_than_current("buildx", bx)))
    cp = _cli_version(["docker", "compose", "version", "--short"])
    items.append(Item("compose v2", cp or "missing", bool(cp),
                      "install the compose plugin (Debian: docker-compose): lessons 06, 08, 13 need it",
                      warning=older_than_current("compose", cp)))
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
        reach = prepare.registry_reachable(client=client)
        items.append(Item("registry", "reachable" if reach else "not reachable (stand-in images are built instead)"))
    status = prepare.status(client=client)
    missing = [r["image"] for r in status if r["present"] == "no"]
    standins = [r["image"] for r in status if r["kind"] == "stand-in"]
    value = f"{len(status) - len(missing)}/{len(status)} present"
    if standins:
        value += f", {len(standins)} stand-in(s)"
    items.append(Item("course images", value, not missing, "run `dockerlab prepare` (or `make images`)"))
    items.append(Item("namespace", namespace()))
    return Report(items)

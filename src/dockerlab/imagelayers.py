"""Reading an image's layers: the base image apart from what the Dockerfile added, as a table and as a chart.

``docker history`` lists every entry of an image's history, the base image's included, and writes some of them
the way the builder stores them (``/bin/sh -c``, ``# buildkit``, ``EXPOSE [8000/tcp]``, a Go struct for
``HEALTHCHECK``). :func:`layers` reads the same history through the SDK (``image.history()``), finds the base
image it starts with (the longest history of a course image that the image's history begins with, or ``base=``),
folds the base into one row and the metadata-only steps (0-byte ``ENV``, ``WORKDIR``, ``CMD``, ``LABEL`` …) into
another, and writes each step as its Dockerfile line would read.
"""
from __future__ import annotations

import json
import re

from docker.errors import ImageNotFound

from dockerlab.engine import get_client
from dockerlab.figures import record, short_name
from dockerlab.show import Table, cli, human_size
from dockerlab.show import short as _short

KEYWORDS = ("RUN", "COPY", "ADD", "WORKDIR", "ENV", "CMD", "ENTRYPOINT", "EXPOSE", "LABEL", "USER", "ARG",
            "HEALTHCHECK", "STOPSIGNAL", "SHELL", "VOLUME", "ONBUILD", "MAINTAINER")
# Instructions that only change the image's settings: with 0 bytes they are folded into one row.
METADATA = frozenset(KEYWORDS) - {"RUN", "COPY", "ADD"}
BASE = "base image"
ADDED = "added by the Dockerfile"


def instruction_of(created_by: str) -> str:
    """The Dockerfile keyword behind a history entry's CreatedBy."""
    s = (created_by or "").strip()
    m = re.search(r"#\(nop\)\s+([A-Z]+)", s)
    if m:
        return m.group(1)
    m = re.match(r"^([A-Z]+)\s", s)  # BuildKit writes "RUN /bin/sh -c …", "COPY … # buildkit"
    if m:
        return m.group(1)
    if "/bin/sh -c" in s or s.startswith("|"):
        return "RUN"
    return "FROM" if not s else "?"


def _healthcheck(go_struct: str) -> str:
    """BuildKit's ``&{["CMD" "python" "-c" "…"] "1s" "3s" "10s" "0s" '\\x03'}`` as the Dockerfile line reads."""
    m = re.match(r'^&\{\[(?P<test>.*)\]\s+"(?P<i>[^"]*)"\s+"(?P<t>[^"]*)"\s+"(?P<sp>[^"]*)"\s+"(?P<si>[^"]*)"\s+'
                 r"'(?P<r>[^']*)'\}$", go_struct.strip(), re.S)
    if not m:
        return go_struct
    words = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group("test"))
    opts = [f"--{name}={m.group(key)}" for name, key in (("interval", "i"), ("timeout", "t"), ("start-period", "sp"),
                                                          ("start-interval", "si")) if m.group(key) not in ("", "0s")]
    retries = m.group("r")
    try:
        n = ord(retries.encode().decode("unicode_escape")) if retries.startswith("\\") else ord(retries)
    except (TypeError, ValueError):
        n = 0
    if n:
        opts.append(f"--retries={n}")
    if not words or words[0] == "NONE":
        return "NONE"
    form = words.pop(0)  # CMD (exec form) or CMD-SHELL
    test = " ".join(words) if form == "CMD-SHELL" else json.dumps(words)
    return " ".join(opts + ["CMD", test])


def step_of(created_by: str) -> tuple[str, str]:
    """(keyword, what it did) of a history entry, as the Dockerfile line reads: without ``/bin/sh -c``,
    ``#(nop)``, ``# buildkit``, the ``|N NAME=value`` build-arg prefix, and with Go structs written as values."""
    s = " ".join((created_by or "").split())
    if not s:
        return "FROM", "(the root filesystem)"
    s = re.sub(r"^/bin/sh -c #\(nop\)\s*", "", s)
    s = re.sub(r"\s*# buildkit$", "", s)
    keyword = instruction_of(created_by)
    if keyword == "RUN":
        s = re.sub(r"^RUN\s+", "", s)
        s = re.sub(r"^\|\d+(\s+\S+=\S*)*\s+", "", s)  # |1 INDEX_TOKEN=… (build args the RUN saw)
        s = re.sub(r"^/bin/(ba|da)?sh -c\s+", "", s)
        return "RUN", s
    if keyword in ("?", "FROM"):
        return ("FROM", f"(the root filesystem: {s.lstrip('# ')})") if s.startswith("#") else ("?", s)
    rest = re.sub(rf"^{keyword}\s*", "", s)
    if keyword == "EXPOSE":
        rest = re.sub(r"^map\[(.*)\]$", r"\1", rest)
        rest = " ".join(p.split(":")[0] for p in re.sub(r"^\[(.*)\]$", r"\1", rest).split())
    elif keyword == "HEALTHCHECK":
        rest = _healthcheck(rest)
    elif keyword in ("COPY", "ADD"):
        rest = re.sub(r"^(file|dir|multi):[0-9a-f]{12,}\s+in\s+", "", rest)  # the classic builder's content hash
    elif keyword in ("SHELL", "VOLUME") and rest.startswith("[") and not rest.startswith('["'):
        rest = json.dumps(rest[1:-1].split())  # [/bin/bash -c] -> ["/bin/bash", "-c"]
    return keyword, rest


def unpacked_size(image, client=None) -> int:
    """Bytes the image takes on disk unpacked (its layers' sum), on either image store: the measure to compare with
    ``du`` inside a container, and with the sizes ``docker history`` gives each layer.

    The classic store's ``Size`` (``docker image inspect -f '{{.Size}}'``) is that sum. On the containerd image
    store (Docker Desktop's default) ``Size`` is the *content*: the compressed layers a registry sends; the unpacked
    size of this engine's platform is read from ``GET /images/ID/json?manifests=1`` (API 1.48+). CLI twin:
    ``docker history IMAGE`` (each layer's unpacked size: their sum); on the containerd store also
    ``docker image ls --tree IMAGE``, whose DISK USAGE of a platform is its CONTENT SIZE plus the unpacked bytes."""
    attrs = getattr(image, "attrs", None) or {}
    if not attrs.get("Descriptor"):  # the classic store: Size is the layers' sum
        return attrs.get("Size", 0)
    client = client or get_client()
    try:
        data = client.api._result(client.api._get(client.api._url("/images/{0}/json", image.id),
                                                   params={"manifests": 1}), True)
        version = client.version()
        want = (version.get("Os", "linux"), version.get("Arch", ""))
        for m in data.get("Manifests") or []:
            plat = (m.get("ImageData") or {}).get("Platform") or {}
            unpacked = ((m.get("ImageData") or {}).get("Size") or {}).get("Unpacked")
            if m.get("Kind") == "image" and m.get("Available") and unpacked and (plat.get("os"), plat.get("architecture")) == want:
                return int(unpacked)
    except Exception:  # noqa: BLE001 - an engine without the manifests API: the layers' sum from the history
        pass
    return sum(h.get("Size", 0) for h in image.history())


def _entries(image) -> list[dict]:
    """The image's history, oldest entry first."""
    return list(reversed(image.history()))


def _key(entry: dict) -> tuple:
    return entry.get("Created"), entry.get("CreatedBy"), entry.get("Size")


def find_base(image, client=None, base: str | None = None) -> tuple[str | None, int]:
    """(reference, number of history entries) of the base image ``image`` starts with: ``base`` if given, else the
    course image (``images.toml``) whose history is the longest beginning of the image's own; (None, 0) if none."""
    from dockerlab.images import manifest

    client = client or get_client()
    own = _entries(image)
    best: tuple[str | None, int] = (None, 0)
    for ref in [base] if base else [i.ref for i in manifest()]:
        try:
            candidate = client.images.get(ref)
        except ImageNotFound:
            continue
        if candidate.id == image.id:
            continue
        theirs = _entries(candidate)
        if len(theirs) <= len(own) and all(_key(a) == _key(b) for a, b in zip(own, theirs)) and len(theirs) > best[1]:
            best = (ref, len(theirs))
    return best


class Layers(Table):
    """An image's history as a table: the base image in one row, each step of the Dockerfile with its bytes, the
    metadata-only steps folded into one row. ``.chart()`` draws the same as bars; ``.base_bytes``,
    ``.added_bytes`` and ``.steps`` (dicts: keyword, what, bytes) hold the values."""

    def __init__(self, ref: str, size: int, base_ref: str | None, base_entries: list[dict], steps: list[dict]):
        self.ref, self.size, self.base_ref, self.steps = ref, size, base_ref, steps
        self.base_bytes = sum(e.get("Size", 0) for e in base_entries)
        self.added_bytes = sum(s["bytes"] for s in steps)
        rows = []
        if base_ref:
            rows.append({"part": "base", "step": "FROM", "what it did": f"{base_ref}: {len(base_entries)} history entries",
                         "size": human_size(self.base_bytes), "bytes": self.base_bytes})
        shown = [s for s in steps if not (s["keyword"] in METADATA and s["bytes"] == 0)]
        folded = [s for s in steps if s not in shown]
        for s in shown:
            rows.append({"part": "added", "step": s["keyword"], "what it did": _short(s["what"], 90),
                         "size": human_size(s["bytes"]), "bytes": s["bytes"]})
        if folded:
            rows.append({"part": "added", "step": f"{len(folded)} settings",
                         "what it did": _short("; ".join(f"{s['keyword']} {s['what']}" for s in folded), 90),
                         "size": human_size(0), "bytes": 0})
        self.folded = folded
        title = (f"{ref}: {human_size(size)} = {base_ref} {human_size(self.base_bytes)} + {human_size(self.added_bytes)} "
                 f"added by {len(steps)} steps" if base_ref else f"{ref}: {human_size(size)} in {len(steps)} steps")
        if folded:
            title += f" ({len(folded)} of them settings only, 0 B, folded into one row)"
        super().__init__(rows, columns=["part", "step", "what it did", "size"] if base_ref else
                         ["step", "what it did", "size"], title=title)

    def bars(self) -> dict[str, tuple[int, int]]:
        """What :meth:`chart` draws: a label per bar (``FROM base``, each step that is not a setting) and its bytes,
        as (base bytes, added bytes)."""
        items: dict[str, tuple[int, int]] = {}
        if self.base_ref:
            items[f"FROM {self.base_ref}"] = (self.base_bytes, 0)
        for n, s in enumerate(self.steps, 1):
            if s["keyword"] in METADATA and s["bytes"] == 0:
                continue
            label = f"{s['keyword']} {_short(s['what'], 48)}"
            items[label if label not in items else f"{label} ({n})"] = (0, s["bytes"])
        return items

    def chart(self, title: str = ""):
        """Bars: the base image (grey) and each step that added bytes (blue), in bytes; the settings are left out."""
        from dockerlab.widgets import size_bars

        return size_bars(self.bars(), title=title or f"{self.ref}: bytes per layer",
                         parts=(BASE, ADDED) if self.base_ref else None)


def layers(image, client=None, base: str | None = None) -> Layers:
    """``docker history IMAGE`` as a :class:`Layers` table: the base image (found among the course images, or
    ``base=``) in one row, then each step the Dockerfile added, metadata-only steps folded.

    ``image`` is an Image or a reference.
    """
    client = client or get_client()
    if isinstance(image, str):
        ref = image
        image = client.images.get(image)
    else:
        ref = (image.tags or [image.short_id])[0]
    cli("docker", "history", ref)
    entries = _entries(image)
    base_ref, n_base = find_base(image, client, base)
    steps = []
    for e in entries[n_base:]:
        keyword, what = step_of(e.get("CreatedBy") or "")
        steps.append({"keyword": keyword, "what": what, "bytes": e.get("Size", 0)})
    table = Layers(ref, unpacked_size(image, client), base_ref, entries[:n_base], steps)
    record(f"image {short_name(ref)}", table.size, "bytes",
           f"base {base_ref} {human_size(table.base_bytes)}, added {human_size(table.added_bytes)} in {len(steps)} steps"
           if base_ref else f"{len(steps)} history entries")
    return table

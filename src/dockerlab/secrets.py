"""Finding a secret in an image: everywhere `docker inspect`, `docker history` and `docker save` can reach.

An image is not only its last filesystem. Anyone who can pull it can read

* its **config** (``docker inspect``): ``Env``, ``Labels``, ``Cmd``, ``Entrypoint`` …, so an ``ENV TOKEN=…`` is public;
* its **history** (``docker history --no-trunc``): the command line of every ``RUN``, with the build args it used;
* every **layer** (``docker save``): one tar per layer, so a file copied in one layer and deleted in a later
  one is still there, in the earlier layer, byte for byte.

:func:`find_secrets` looks in all three and returns one line per finding, ``"where: what"``.
"""
from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from typing import Iterable, Iterator

from .engine import get_client
from .show import cli

CONFIG_KEYS = ("Env", "Labels", "Cmd", "Entrypoint", "WorkingDir", "User", "Volumes", "ExposedPorts",
               "OnBuild", "Healthcheck", "Shell", "StopSignal")


def redact(text: str, value: str) -> str:
    """``text`` with every occurrence of ``value`` shortened to its first 3 characters and ``***``."""
    return text.replace(value, value[:3] + "***") if value else text


class _ChunkReader(io.RawIOBase):
    """A file-like view of an iterator of byte chunks (what ``client.api.get_image`` streams)."""

    def __init__(self, chunks: Iterable[bytes]):
        self._it: Iterator[bytes] = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _as_tar(data: bytes) -> tarfile.TarFile | None:
    try:
        return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
    except (tarfile.TarError, EOFError, OSError):
        return None


@dataclasses.dataclass
class LayerFile:
    """A file (or directory) found in one layer of an image, wherever later layers put or deleted things."""

    layer: int  # 1-based, oldest first
    layers: int
    step: str  # the history entry that made the layer ("" when unknown)
    path: str  # "/app/.env"
    deleted_later: bool = False

    def __str__(self) -> str:
        step = f" ({self.step})" if self.step else ""
        note = ", deleted by a later layer but still in this one" if self.deleted_later else ""
        return f"layer {self.layer}/{self.layers}{step}: file {self.path}{note}"


def layer_files(stream, match, history: list[str] | None = None) -> list[LayerFile]:
    """Every member of every layer of a ``docker save`` tar (a file object, read once) for which
    ``match(path, member, read)`` is true (``read()`` returns a regular file's bytes), oldest layer first.

    Works with both layouts ``docker save`` writes (``<id>/layer.tar``, or OCI ``blobs/sha256/<digest>``).
    ``history`` (the CreatedBy of each *non-empty* layer, oldest first) names the step that made each layer;
    by default it is read from the image config inside the tar (its ``history`` without ``empty_layer`` entries).
    """
    hits: dict[str, list[str]] = {}          # blob name -> matching paths
    whiteouts: dict[str, set[str]] = {}      # blob name -> paths it deletes
    manifest = None
    small: dict[str, bytes] = {}             # JSON blobs (the image config among them)
    with tarfile.open(fileobj=stream, mode="r|") as outer:
        for member in outer:
            if not member.isfile():
                continue
            data = outer.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                continue
            inner = _as_tar(data) if member.size > 1024 else None
            if inner is None:
                if member.size < (4 << 20):
                    small[member.name] = data  # a config or index JSON
                continue
            found, deleted = [], set()
            with inner:
                for f in inner:
                    path = f.name.removeprefix("./").lstrip("/")  # "./.env" -> ".env" (lstrip("./") would eat its dot)
                    base = path.rsplit("/", 1)
                    if base[-1].startswith(".wh."):  # a whiteout: deletes the file, or (opaque) a directory's content
                        deleted.add(base[0] if base[-1] == ".wh..wh..opq" and len(base) > 1
                                    else "/".join(base[:-1] + [base[-1][4:]]))
                        continue
                    if match(path, f, lambda f=f: (inner.extractfile(f).read() if f.isfile() else b"")):
                        found.append(path)
            if found:
                hits[member.name] = found
            whiteouts[member.name] = deleted
    layers = manifest[0].get("Layers", []) if manifest else sorted(hits)
    if history is None and manifest:
        try:
            config = json.loads(small[manifest[0]["Config"]])
            history = [h.get("created_by", "") for h in config.get("history", []) if not h.get("empty_layer")]
        except (KeyError, ValueError):
            history = None
    out = []
    for i, name in enumerate(layers):
        for path in hits.get(name, []):
            gone = any(path in whiteouts.get(n, set()) or any(path.startswith(d + "/") for d in whiteouts.get(n, set()))
                       for n in layers[i + 1:])
            step = ""
            if history and i < len(history):
                step = " ".join(history[i].replace("/bin/sh -c ", "").replace(" # buildkit", "").split())[:70]
            out.append(LayerFile(i + 1, len(layers), step, "/" + path, gone))
    for name, paths in hits.items():
        if name not in layers:
            out.extend(LayerFile(0, len(layers), name, "/" + p) for p in paths)
    return out


def saved_image(image, *, client=None) -> io.BufferedReader:
    """``docker save IMAGE`` as a stream (read it once)."""
    client = client or get_client()
    return io.BufferedReader(_ChunkReader(client.api.get_image(image.id)), buffer_size=1 << 20)


def scan_saved_image(stream, value: str | bytes, history: list[str] | None = None) -> list[str]:
    """Look for ``value`` in the files of every layer of a ``docker save`` tar (a file object, read once).

    Returns ``"layer N/M (STEP): PATH"`` lines; a file deleted by a later layer says so.
    """
    needle = value.encode() if isinstance(value, str) else value
    files = layer_files(stream, lambda _path, member, read: member.isfile() and needle in read(), history)
    return [str(f) if f.layer else f"{f.step}: file {f.path}" for f in files]


def find_secrets(image, value: str, client=None, layers: bool = True, quiet: bool = False) -> list[str]:
    """Every place in ``image`` (an Image or a reference) where ``value`` can be read; ``[]`` if none.

    Searches the config (``docker inspect``: Env, Labels, Cmd …), the history (``docker history --no-trunc``:
    each step's command line) and, with ``layers=True``, every file of every layer (``docker save``).
    Findings are ``"where: what"`` with the value itself redacted to its first 3 characters.
    """
    if not value:
        raise ValueError("find_secrets needs the value to look for")
    client = client or get_client()
    if isinstance(image, str):
        image = client.images.get(image)
    ref = (image.tags or [image.id])[0]
    findings: list[str] = []

    if not quiet:
        cli("docker", "inspect", ref)
    config = image.attrs.get("Config") or {}
    for key in CONFIG_KEYS:
        v = config.get(key)
        if v is None:
            continue
        items = (v if isinstance(v, list) else [f"{k}={x}" for k, x in v.items()] if isinstance(v, dict)
                 else [json.dumps(v)])
        for item in items:
            text = item if isinstance(item, str) else json.dumps(item)
            if value in text:
                findings.append(f"config {key}: {redact(text, value)}")

    if not quiet:
        cli("docker", "history", "--no-trunc", ref)
    entries = list(reversed(image.history()))  # oldest first
    for i, h in enumerate(entries):
        created_by = h.get("CreatedBy") or ""
        if value in created_by or value in (h.get("Comment") or ""):
            findings.append(f"history step {i + 1}/{len(entries)}: {redact(' '.join(created_by.split()), value)[:160]}")

    if layers:
        if not quiet:
            cli("docker", "save", ref, "|", "tar", "-x", "  # then search every layer tar")
        findings.extend(scan_saved_image(saved_image(image, client=client), value))
    if not quiet:
        print(f"{len(findings)} place(s) in {ref} hold the value" + (":" if findings else ""))
        for f in findings:
            print("  " + f)
    return findings

"""Finding a secret in an image: everywhere `docker inspect`, `docker history` and `docker save` can reach.

An image is not only its last filesystem. Anyone who can pull it can read

* its **config** (``docker inspect``): ``Env``, ``Labels``, ``Cmd``, ``Entrypoint`` …, so an ``ENV TOKEN=…`` is public;
* its **history** (``docker history --no-trunc``): the command line of every ``RUN``, with the build args it used;
* every **layer** (``docker save``): one tar per layer, so a file copied in one layer and deleted in a later
  one is still there, in the earlier layer, byte for byte.

:func:`find_secrets` looks in all three and returns one line per finding, ``"where: what"``.
"""
from __future__ import annotations

import collections
import dataclasses
import io
import json
import tarfile
from typing import Iterable, Iterator

from dockerlab.engine import get_client
from dockerlab.show import cli

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

    DELETED_NOTE = ", deleted by a later layer but still in this one"  # how the line ends for a file deleted later

    def __str__(self) -> str:
        step = f" ({self.step})" if self.step else ""
        note = self.DELETED_NOTE if self.deleted_later else ""
        return f"layer {self.layer}/{self.layers}{step}: file {self.path}{note}"


@dataclasses.dataclass
class ImageIndex:
    """What one read of a ``docker save`` tar shows: every path of every layer (oldest first), what each layer
    deletes (whiteouts), and which files hold each of the byte strings (``needles``) asked for while reading."""

    layers: list[str]                                  # layer blob names, oldest first
    history: list[str] | None                          # the step that made each non-empty layer
    paths: dict[str, list[tuple[str, bool]]]           # blob -> [(path, is a regular file)]
    whiteouts: dict[str, set[str]]                     # blob -> paths it deletes
    holds: dict[bytes, dict[str, list[str]]]           # needle -> blob -> paths whose content holds it

    def _found(self, hits: dict[str, list[str]]) -> list[LayerFile]:
        out = []
        for i, name in enumerate(self.layers):
            for path in hits.get(name, []):
                gone = any(path in self.whiteouts.get(n, set())
                           or any(path.startswith(d + "/") for d in self.whiteouts.get(n, set()))
                           for n in self.layers[i + 1:])
                step = ""
                if self.history and i < len(self.history):
                    step = " ".join(self.history[i].replace("/bin/sh -c ", "").replace(" # buildkit", "").split())[:70]
                out.append(LayerFile(i + 1, len(self.layers), step, "/" + path, gone))
        for name, paths in hits.items():
            if name not in self.layers:
                out.extend(LayerFile(0, len(self.layers), name, "/" + p) for p in paths)
        return out

    def files(self, match) -> list[LayerFile]:
        """Every path of every layer for which ``match(path, is_file)`` is true, oldest layer first."""
        hits = {name: [p for p, is_file in paths if match(p, is_file)] for name, paths in self.paths.items()}
        return self._found({k: v for k, v in hits.items() if v})

    def holding(self, needle: bytes) -> list[LayerFile]:
        """The regular files whose content holds ``needle`` (it must have been asked for when reading)."""
        return self._found(self.holds[needle])


def index_saved_image(stream, needles: Iterable[bytes] = (), history: list[str] | None = None) -> ImageIndex:
    """Read a ``docker save`` tar (a file object, read once) into an :class:`ImageIndex`, looking for each of
    ``needles`` in the content of every regular file of every layer.

    Works with both layouts ``docker save`` writes (``<id>/layer.tar``, or OCI ``blobs/sha256/<digest>``).
    ``history`` (the CreatedBy of each *non-empty* layer, oldest first) names the step that made each layer;
    by default it is read from the image config inside the tar (its ``history`` without ``empty_layer`` entries).
    """
    needles = list(dict.fromkeys(needles))
    paths: dict[str, list[tuple[str, bool]]] = {}
    whiteouts: dict[str, set[str]] = {}
    holds: dict[bytes, dict[str, list[str]]] = {n: {} for n in needles}
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
            # A layer is a tar (gzip-compressed on the containerd store, where a layer that only deletes a file is
            # a blob of a hundred bytes); a config or an index is JSON.
            inner = None if data[:1] in (b"{", b"[") else _as_tar(data)
            if inner is None:
                if member.size < (4 << 20):
                    small[member.name] = data  # a config or index JSON
                continue
            listed, deleted = [], set()
            with inner:
                for f in inner:
                    path = f.name.removeprefix("./").lstrip("/")  # "./.env" -> ".env" (lstrip("./") would eat its dot)
                    base = path.rsplit("/", 1)
                    if base[-1].startswith(".wh."):  # a whiteout: deletes the file, or (opaque) a directory's content
                        deleted.add(base[0] if base[-1] == ".wh..wh..opq" and len(base) > 1
                                    else "/".join(base[:-1] + [base[-1][4:]]))
                        continue
                    if not path:
                        continue
                    listed.append((path, f.isfile()))
                    if needles and f.isfile():
                        content = inner.extractfile(f).read()
                        for n in needles:
                            if n in content:
                                holds[n].setdefault(member.name, []).append(path)
            paths[member.name] = listed
            whiteouts[member.name] = deleted
    layers = manifest[0].get("Layers", []) if manifest else sorted(paths)
    if history is None and manifest:
        try:
            config = json.loads(small[manifest[0]["Config"]])
            history = [h.get("created_by", "") for h in config.get("history", []) if not h.get("empty_layer")]
        except (KeyError, ValueError):
            history = None
    return ImageIndex(layers, history, paths, whiteouts, holds)


_INDEXES: "collections.OrderedDict[str, ImageIndex]" = collections.OrderedDict()
_INDEXES_KEPT = 8


def image_index(image, *, client=None, needles: Iterable[str | bytes] = ()) -> ImageIndex:
    """The :class:`ImageIndex` of ``image`` (one ``docker save``), kept for the last few images so that the
    checks that look for files and for secrets in the same image read it once. Asking for a needle the kept
    index was not read for reads the image again, for every needle asked so far."""
    client = client or get_client()
    if isinstance(image, str):
        image = client.images.get(image)
    want = {n.encode() if isinstance(n, str) else n for n in needles}
    kept = _INDEXES.get(image.id)
    if kept is None or not want <= set(kept.holds):
        want |= set(kept.holds) if kept else set()
        kept = index_saved_image(saved_image(image, client=client), sorted(want))
        _INDEXES[image.id] = kept
    _INDEXES.move_to_end(image.id)
    while len(_INDEXES) > _INDEXES_KEPT:
        _INDEXES.popitem(last=False)
    return kept


def saved_image(image, *, client=None) -> io.BufferedReader:
    """``docker save IMAGE`` as a stream (read it once)."""
    client = client or get_client()
    return io.BufferedReader(_ChunkReader(client.api.get_image(image.id)), buffer_size=1 << 20)


def scan_saved_image(stream, value: str | bytes, history: list[str] | None = None) -> list[str]:
    """Look for ``value`` in the files of every layer of a ``docker save`` tar (a file object, read once).

    Returns ``"layer N/M (STEP): PATH"`` lines; a file deleted by a later layer says so.
    """
    needle = value.encode() if isinstance(value, str) else value
    return _lines(index_saved_image(stream, [needle], history).holding(needle))


def _lines(files: list[LayerFile]) -> list[str]:
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
        findings.extend(_lines(image_index(image, client=client, needles=[value]).holding(value.encode())))
    if not quiet:
        print(f"{len(findings)} place(s) in {ref} hold the value" + (":" if findings else ""))
        for f in findings:
            print("  " + f)
    return findings

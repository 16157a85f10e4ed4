"""find_secrets' layer scanning, on a `docker save`-shaped tar made in memory (no engine needed)."""
from __future__ import annotations

import io
import json
import tarfile

from dockerlab.secrets import LayerFile, index_saved_image, redact, scan_saved_image

TOKEN = "tok-unit-3141592653"


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _saved_image() -> bytes:
    """Three layers: base files, a token file copied in, then a layer deleting it (a whiteout)."""
    base = _tar({"etc/os-release": b"ID=debian\n" * 200, "usr/bin/tool": b"\x7fELF" + b"\0" * 2000})
    copied = _tar({"app/run.py": b"print('hi')\n" * 100, "run/secrets/token": TOKEN.encode() + b"\n" * 1500})
    deleted = _tar({"run/secrets/.wh.token": b"", "app/notes.txt": b"x" * 2000})
    config = json.dumps({"history": [
        {"created_by": "ADD rootfs.tar /"},
        {"created_by": "CMD [\"python\"]", "empty_layer": True},
        {"created_by": "COPY token /run/secrets/token # buildkit"},
        {"created_by": "RUN /bin/sh -c rm /run/secrets/token # buildkit"},
    ]}).encode()
    layers = ["blobs/sha256/aaa", "blobs/sha256/bbb", "blobs/sha256/ccc"]
    manifest = json.dumps([{"Config": "blobs/sha256/cfg", "Layers": layers}]).encode()
    return _tar({layers[0]: base, layers[1]: copied, layers[2]: deleted, "blobs/sha256/cfg": config,
                 "manifest.json": manifest})


def holding(saved: bytes, value: str, history=None) -> list[LayerFile]:
    return index_saved_image(io.BytesIO(saved), [value.encode()], history).holding(value.encode())


def test_finds_the_file_in_the_layer_that_added_it_even_after_deletion():
    (f,) = holding(_saved_image(), TOKEN)
    # layer 2 of 3, named by its step (BuildKit's "# buildkit" and the shell prefix gone), deleted by layer 3
    assert (f.layer, f.layers, f.step, f.path, f.deleted_later) == (2, 3, "COPY token /run/secrets/token",
                                                                    "/run/secrets/token", True)
    assert scan_saved_image(io.BytesIO(_saved_image()), TOKEN) == [str(f)] and str(f).endswith(LayerFile.DELETED_NOTE)


def test_nothing_found_for_another_value():
    assert scan_saved_image(io.BytesIO(_saved_image()), "not-in-there-at-all") == []


def test_explicit_history_and_bytes_value():
    history = ["base", "step two", "step three"]
    findings = scan_saved_image(io.BytesIO(_saved_image()), TOKEN.encode(), history=history)
    (f,) = holding(_saved_image(), TOKEN, history)
    assert (f.layer, f.step, f.path) == (2, history[1], "/run/secrets/token") and findings == [str(f)]


def test_redact_keeps_only_a_prefix():
    assert redact(f"TOKEN={TOKEN}", TOKEN) == "TOKEN=tok***"


def test_a_compressed_layer_that_only_deletes_is_read():
    """The containerd image store saves layers gzip-compressed: a layer that only deletes the file is a blob of about
    a hundred bytes, and its whiteout still says the file was deleted later."""
    import gzip

    base = _tar({"etc/os-release": b"ID=debian\n" * 200})
    copied = _tar({"app/.env": TOKEN.encode() + b"\n"})
    deleted = gzip.compress(_tar({"app/.wh..env": b""}))
    assert len(deleted) < 1024
    layers = ["blobs/sha256/aaa", "blobs/sha256/bbb", "blobs/sha256/ccc"]
    manifest = json.dumps([{"Config": "blobs/sha256/cfg", "Layers": layers}]).encode()
    config = json.dumps({"history": [{"created_by": "ADD rootfs.tar /"}, {"created_by": "COPY . . # buildkit"},
                                     {"created_by": "RUN /bin/sh -c rm .env # buildkit"}]}).encode()
    saved = _tar({layers[0]: gzip.compress(base), layers[1]: gzip.compress(copied), layers[2]: deleted,
                  "blobs/sha256/cfg": config, "manifest.json": manifest})
    assert [(f.layer, f.path, f.deleted_later) for f in holding(saved, TOKEN)] == [(2, "/app/.env", True)]

"""Lesson 14's helpers without an engine: SBOM comparison, the riscv64 program, the OCI layout of an image index,
binfmt_misc descriptions, pip-audit tables (live vs recorded), provenance summaries, the TCP forward, names."""
from __future__ import annotations

import base64
import io
import json
import socket
import struct
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from dockerlab import dind
from dockerlab.supply import platforms
from dockerlab.supply import provenance
from dockerlab.supply import sbom
from dockerlab.supply import stores
from dockerlab.supply import vulns
from dockerlab.grading.lessons import l14_supply_chain as ex

ROOT = Path(__file__).resolve().parents[2]


def _bom(*pairs):
    return {"bomFormat": "CycloneDX", "specVersion": "1.6",
            "components": [{"type": "library", "name": n, "version": v,
                            "licenses": [{"license": {"id": "MIT"}}]} for n, v in pairs]}


def test_sbom_names_are_compared_the_pep_503_way_and_copies_count():
    bom = _bom(("Flask", "3.1.3"), ("typing_extensions", "4.16.0"), ("packaging", "26.3"))
    installed = [("flask", "3.1.3"), ("typing-extensions", "4.16.0"), ("packaging", "26.3"), ("packaging", "25.0"),
                 ("pip", "25.1.1")]
    assert sbom.missing(sbom.pairs(bom), installed) == [("packaging", "25.0"), ("pip", "25.1.1")]
    assert sbom.missing(sbom.pairs(bom), installed[:3]) == []


def test_sbom_diff_says_added_removed_and_changed():
    before = _bom(("flask", "3.1.0"), ("jinja2", "3.1.4"), ("six", "1.16.0"))
    after = _bom(("Flask", "3.1.3"), ("jinja2", "3.1.4"), ("blinker", "1.9.0"))
    rows = {r["distribution"]: r for r in sbom.compare(before, after)}
    assert rows["flask"]["change"] == "changed" and rows["flask"]["after"] == "3.1.3"
    assert rows["six"]["change"] == "removed" and rows["blinker"]["change"] == "added"
    assert "jinja2" not in rows


def test_sbom_components_read_licence_ids_expressions_and_names():
    bom = {"components": [{"name": "a", "version": "1", "licenses": [{"expression": "MIT OR Apache-2.0"}]},
                          {"name": "b", "version": "2", "licenses": [{"license": {"name": "BSD License"}}]},
                          {"name": "c", "version": "3"}]}
    assert [r["licence"] for r in sbom.components(bom)] == ["MIT OR Apache-2.0", "BSD License", "-"]


def test_riscv64_program_is_a_static_riscv64_elf():
    prog = platforms.riscv64_program("hi\n")
    assert prog[:4] == b"\x7fELF" and prog[4] == 2 and prog[5] == 1  # 64-bit, little endian
    e_type, e_machine = struct.unpack_from("<HH", prog, 16)
    entry, phoff = struct.unpack_from("<QQ", prog, 24)
    assert (e_type, e_machine) == (2, 0xF3) and phoff == 64 and entry == 0x10000 + 64 + 56
    p_type, p_flags, _, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", prog, 64)
    assert (p_type, p_flags, vaddr, filesz) == (1, 5, 0x10000, len(prog))
    assert prog.endswith(b"hi\n")


def _saved(arch: str, payload: bytes) -> bytes:
    """A docker-save-like OCI layout of one single-platform image."""
    layer = payload
    config = json.dumps({"architecture": arch, "os": "linux"}).encode()
    digest = lambda b: "sha256:" + __import__("hashlib").sha256(b).hexdigest()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"digest": digest(config), "size": len(config)},
                           "layers": [{"digest": digest(layer), "size": len(layer)}]}).encode()
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                "digest": digest(manifest), "size": len(manifest),
                                                "annotations": {"io.containerd.image.name": "x"}}]}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in [("index.json", json.dumps(index).encode())] + [
                (f"blobs/sha256/{digest(b).split(':')[1]}", b) for b in (layer, config, manifest)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_index_layout_lists_both_platforms_under_the_official_name():
    layout = platforms.index_layout({"linux/amd64": _saved("amd64", b"a"), "linux/arm64": _saved("arm64", b"b")},
                                    "python:3.13.5-slim")
    with tarfile.open(fileobj=io.BytesIO(layout)) as tar:
        names = tar.getnames()
        top = json.load(tar.extractfile("index.json"))
        desc = top["manifests"][0]
        inner = json.load(tar.extractfile("blobs/sha256/" + desc["digest"].split(":")[1]))
    assert desc["annotations"]["io.containerd.image.name"] == "docker.io/library/python:3.13.5-slim"
    assert [m["platform"]["architecture"] for m in inner["manifests"]] == ["amd64", "arm64"]
    assert all("blobs/sha256/" + m["digest"].split(":")[1] in names for m in inner["manifests"])
    assert "oci-layout" in names


def test_full_name_keeps_registry_hosts():
    assert platforms.full_name("python:3.13.5-slim") == ("docker.io/library/python", "3.13.5-slim")
    assert platforms.full_name("dockerlab/python-arm64:3.13.5-slim")[0] == "docker.io/dockerlab/python-arm64"
    assert platforms.full_name("127.0.0.1:5000/app:1") == ("127.0.0.1:5000/app", "1")


def test_binfmt_registration_follows_debians_description(tmp_path, monkeypatch):
    desc = tmp_path / "binfmts"
    desc.mkdir()
    (desc / "qemu-aarch64").write_text("package qemu-user-static\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n"
                                       "magic \\x7f\\x45\nmask \\xff\\xff\noffset 0\ncredentials no\nfix_binary yes\n"
                                       "preserve yes\n")
    monkeypatch.setattr(platforms, "DEBIAN_BINFMTS", desc)
    line = platforms.registration("arm64")
    assert line.startswith(":qemu-aarch64:M:0:\\x7f\\x45:\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:")
    assert line.endswith(":FP")  # F: the kernel opens the emulator now, so it works inside containers
    with pytest.raises(platforms.EmulationUnavailable, match="qemu-user-static|tonistiigi"):
        platforms.registration("s390x")


def test_binfmt_entry_is_read_and_an_absent_one_is_none(tmp_path, monkeypatch):
    monkeypatch.setattr(platforms, "BINFMT", tmp_path)
    assert platforms.registered("arm64") is None
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: F\noffset 0\n")
    entry = platforms.registered("arm64")
    assert entry["enabled"] and entry["flags"] == "F"
    assert platforms.unregister_emulation("riscv64", quiet=True) is False  # nothing to remove


def test_pip_audit_tables_say_live_or_recorded():
    recorded = vulns.table(vulns.RECORDED, live=False)
    assert recorded.title.startswith(vulns.TITLES[False]) and vulns.RECORDED["source"] in recorded.title
    assert {r["advisory"] for r in recorded} == {"GHSA-q2x7-8rv6-6q7h", "GHSA-gmj6-6f8f-6699", "GHSA-cpwx-vrp4-4pq7"}
    live = vulns.table({"dependencies": [{"name": "x", "version": "1", "vulns": []}]}, live=True)
    assert live.title.startswith(vulns.TITLES[True]) and len(live) == 0
    assert vulns.usable([{"key": "pypi", "usable": "no"}, {"key": "osv", "usable": "yes"}]) == "osv"
    assert vulns.usable([{"key": "pypi", "usable": "no"}]) is None


def test_provenance_summary_reads_args_base_images_and_the_dockerfile():
    text = "FROM a\nRUN b\n"
    pred = {"buildType": "https://mobyproject.org/buildkit@v1",
            "invocation": {"configSource": {"entryPoint": "Dockerfile"}, "environment": {"platform": "linux/amd64"},
                           "parameters": {"frontend": "dockerfile.v0", "args": {"build-arg:APP_VERSION": "1.0.0",
                                                                                 "target": "x"}}},
            "materials": [{"uri": "pkg:docker/python@3.13.5-slim?platform=linux%2Farm64",
                           "digest": {"sha256": "ab" * 32}}],
            "metadata": {"https://mobyproject.org/buildkit@v1#metadata": {
                "source": {"infos": [{"filename": "Dockerfile", "data": base64.b64encode(text.encode()).decode()}]},
                "vcs": {"revision": "abc", "localdir:context": "app"}}}}
    s = provenance.summary(pred)
    assert s["build args"] == "APP_VERSION=1.0.0"
    assert s["base images"].startswith("pkg:docker/python@3.13.5-slim?platform=linux%2Farm64@sha256:abababab")
    assert s["Dockerfile"].split()[:2] == ["Dockerfile", "(2"] and s["revision"] == "abc"  # its name, its lines
    assert provenance.dockerfile(pred) == text
    assert "mode=min" in provenance.summary({"invocation": {"configSource": {"entryPoint": "Dockerfile"}}})["Dockerfile"]


def test_forward_relays_both_ways():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def echo():
        conn, _ = server.accept()
        data = conn.recv(100)
        conn.sendall(data.upper())
        conn.close()

    threading.Thread(target=echo, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
    fwd = stores.Forward(local, "127.0.0.1", port)
    try:
        with socket.create_connection(("127.0.0.1", local), timeout=5) as c:
            c.sendall(b"registry")
            c.shutdown(socket.SHUT_WR)
            assert c.recv(100) == b"REGISTRY"
    finally:
        fwd.close()
        server.close()


def test_exercise_answers_split_by_digest_or_tag():
    d = "sha256:" + "a" * 64
    assert ex.split(f"127.0.0.1:5000/shipped@{d}") == ("127.0.0.1:5000/shipped", d)
    assert ex.split("127.0.0.1:5000/shipped:1.0") == ("127.0.0.1:5000/shipped", "1.0")
    assert ex.split("127.0.0.1:5000/shipped") == ("127.0.0.1:5000/shipped", "latest")


def test_daemon_config_turns_the_containerd_store_on_and_merges():
    assert dind.daemon_config(True) == {"features": {"containerd-snapshotter": True}}
    merged = dind.daemon_config(False, {"features": {"x": True}, "insecure-registries": ["r:5000"]})
    assert merged == {"features": {"containerd-snapshotter": False, "x": True}, "insecure-registries": ["r:5000"]}


def test_the_suite_registers_emulation_only_for_lesson_14():
    sys.path.insert(0, str(ROOT / "tests"))
    import run_suite

    others = [u for u in run_suite.units("t") if u.group == "notebooks" and not u.name.startswith("14")]
    assert run_suite.emulation_for(others) is False
    mine = [u for u in run_suite.units("t") if u.name.startswith(("14_", "test_l14_"))]
    assert {"14_supply_chain", "test_l14_supply_chain"} <= {u.name for u in mine}

"""Other platforms: QEMU user emulation (binfmt_misc), and multi-platform images (an image index) for lesson 14.

An amd64 kernel runs an arm64 program only when binfmt_misc hands arm64 ELF files to an emulator. Docker Desktop
has that built in; on a Linux engine someone registers QEMU (``docker run --privileged tonistiigi/binfmt --install
arm64``, or Debian's qemu-user-static registered by hand as below). The registration is **kernel-wide** (every
container and every engine on the machine sees it), so whoever registers it removes it again:

    >>> with emulation("arm64"):      # registers qemu-aarch64 unless it is already there; removes it only if it did
    ...     ...

The F flag ("fix binary") makes the kernel open the emulator when it is registered, so it works inside containers
whose file system has no QEMU. From a shell: ``dockerlab platforms status|register|unregister [ARCH…]``.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

from dockerlab import settings, tools
from dockerlab.errors import DockerlabError, ToolFailed
from dockerlab.show import cli

BINFMT = Path(settings.BINFMT_DIR.get())  # read at import: a path the module keeps (tests set platforms.BINFMT)
DEBIAN_BINFMTS = Path("/usr/share/binfmts")  # Debian's qemu-user-static describes each format here
QEMU_ARCH = {"arm64": "aarch64", "aarch64": "aarch64", "riscv64": "riscv64", "s390x": "s390x", "ppc64le": "ppc64le",
             "arm": "arm", "amd64": "x86_64"}
UNAME = {"amd64": "x86_64", "arm64": "aarch64", "riscv64": "riscv64", "s390x": "s390x", "ppc64le": "ppc64le",
         "arm": "armv7l"}


class EmulationUnavailable(DockerlabError, RuntimeError):
    """QEMU emulation cannot be registered here (not root, no qemu-user-static, no binfmt_misc); says which."""


def entry_name(arch: str) -> str:
    """``arm64`` -> ``qemu-aarch64``: the binfmt_misc entry Debian (and tonistiigi/binfmt) use."""
    return f"qemu-{QEMU_ARCH.get(arch, arch)}"


def registered(arch: str = "arm64") -> dict | None:
    """The kernel's binfmt_misc entry for ``arch`` (``{"enabled": True, "interpreter": …, "flags": "PF"}``), or None."""
    path = BINFMT / entry_name(arch)
    try:
        text = path.read_text()
    except OSError:
        return None
    out: dict = {"enabled": text.startswith("enabled")}
    for line in text.splitlines()[1:]:
        key, _, value = line.partition(" ")
        out[key.rstrip(":")] = value.strip()
    return out


def _mount_binfmt() -> None:
    if (BINFMT / "register").exists():
        return
    try:
        said = tools.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], timeout=30).stderr.strip()
    except ToolFailed as exc:
        said = exc.reason
    if not (BINFMT / "register").exists():
        raise EmulationUnavailable(f"binfmt_misc is not mounted at {BINFMT} and mounting it failed: "
                                   f"{said or 'not permitted'}")


def registration(arch: str = "arm64") -> str:
    """The line written to binfmt_misc/register: Debian's qemu-user-static description of the format, with F."""
    desc = DEBIAN_BINFMTS / entry_name(arch)
    if not desc.exists():
        raise EmulationUnavailable(f"no {desc}: install qemu-user-static (scripts/install-supply-chain-tools), "
                                   "or on any Linux engine: docker run --privileged --rm tonistiigi/binfmt --install "
                                   f"{arch}")
    fields = dict(line.split(" ", 1) for line in desc.read_text().splitlines() if " " in line)
    flags = "F" + ("P" if fields.get("preserve") == "yes" else "") + ("C" if fields.get("credentials") == "yes" else "")
    return (f":{entry_name(arch)}:M:{fields.get('offset', '0')}:{fields['magic']}:{fields['mask']}:"
            f"{fields['interpreter']}:{flags}")


def register_emulation(arch: str = "arm64", quiet: bool = False) -> bool:
    """Register QEMU for ``arch`` with the kernel; True if this call registered it, False if it was there already."""
    if registered(arch):
        return False
    if os.geteuid() != 0:
        raise EmulationUnavailable("registering QEMU with the kernel needs root: run "
                                   f"`sudo .venv/bin/dockerlab platforms register {arch}`, or "
                                   f"`docker run --privileged --rm tonistiigi/binfmt --install {arch}`")
    line = registration(arch)
    _mount_binfmt()
    if not quiet:
        cli(f"echo '{line}' > {BINFMT}/register")
    try:
        (BINFMT / "register").write_text(line)
    except FileExistsError:  # someone registered it a moment ago
        return False
    except OSError as exc:
        raise EmulationUnavailable(f"the kernel refused the binfmt_misc registration of {entry_name(arch)}: {exc}") from None
    return True


def unregister_emulation(arch: str = "arm64", quiet: bool = False) -> bool:
    """Remove the kernel's binfmt_misc entry for ``arch`` (``echo -1 > …/qemu-aarch64``); False if there was none."""
    path = BINFMT / entry_name(arch)
    if not path.exists():
        return False
    if not quiet:
        cli(f"echo -1 > {path}")
    try:
        path.write_text("-1")
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def emulation(arch: str = "arm64", quiet: bool = True):
    """Emulation of ``arch`` inside the block: registered if missing, and then removed again at the end."""
    mine = register_emulation(arch, quiet=quiet)
    try:
        yield
    finally:
        if mine:
            unregister_emulation(arch, quiet=quiet)


# --- multi-platform images -------------------------------------------------------------------------------------

INDEX = "application/vnd.oci.image.index.v1+json"


def _blob_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def full_name(name: str) -> tuple[str, str]:
    """``python:3.13.5-slim`` -> (``docker.io/library/python``, ``3.13.5-slim``); a registry host is kept."""
    repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    first = repo.split("/")[0]
    if "/" not in repo:
        return f"docker.io/library/{repo}", tag
    if "." in first or ":" in first or first == "localhost":
        return repo, tag
    return f"docker.io/{repo}", tag


def index_layout(variants: dict[str, bytes], name: str) -> bytes:
    """One OCI image layout (as a tar) holding an image index for ``name`` that lists each variant's manifest.

    ``variants`` maps a platform (``linux/arm64``) to the ``docker save`` tar of a single-platform image built for
    it (Docker 25+ writes OCI layouts). ``docker load`` of the result on the containerd image store gives one image
    ``name`` with every platform: what a registry pull of a multi-platform image gives.
    """
    blobs: dict[str, bytes] = {}
    manifests = []
    for platform, saved in variants.items():
        with tarfile.open(fileobj=io.BytesIO(saved)) as tar:
            index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
            desc = dict(index["manifests"][0])
            for member in tar.getmembers():
                if member.isfile() and member.name.startswith("blobs/sha256/"):
                    blobs[member.name] = tar.extractfile(member).read()  # type: ignore[union-attr]
        os_, arch = platform.split("/")[:2]
        desc.pop("annotations", None)
        desc["platform"] = {"os": os_, "architecture": arch}
        manifests.append(desc)
    image_index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests},
                             separators=(",", ":")).encode()
    digest = _blob_digest(image_index)
    blobs["blobs/sha256/" + digest.split(":")[1]] = image_index
    full, tag = full_name(name)
    top = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [{
        "mediaType": INDEX, "digest": digest, "size": len(image_index),
        "annotations": {"io.containerd.image.name": f"{full}:{tag}", "org.opencontainers.image.ref.name": tag}}]}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        def add(path: str, data: bytes) -> None:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(top).encode())
        for path, data in sorted(blobs.items()):
            add(path, data)
    return out.getvalue()


def _save(ref: str, host: str | None = None, platform: str | None = None) -> bytes:
    """``docker save REF`` (``--platform P``: only that variant of a multi-platform image, API 1.48+)."""
    args = ["docker", "save", *(["--platform", platform] if platform else []), ref]
    try:
        return tools.run(args, env={"DOCKER_HOST": host} if host else None, text=False, check=True).stdout
    except ToolFailed as exc:
        raise DockerlabError(f"docker save {ref} failed: {(exc.stderr.strip() or exc.reason)[:300]}") from None


def load_index(name: str, variants: dict[str, str], *, source_host: str, target_host: str, quiet: bool = False) -> None:
    """Make ``name`` a multi-platform image on the engine at ``target_host`` (containerd image store) from
    single-platform images on the engine at ``source_host``: ``{"linux/amd64": "python:3.13.5-slim", "linux/arm64":
    "dockerlab/python-arm64:3.13.5-slim"}``. Nothing is pulled: their layers go in one OCI layout through
    ``docker load``."""
    if not quiet:
        for platform, ref in variants.items():
            cli(["docker", "save", ref, "-o", f"{platform.replace('/', '-')}.tar"])
        cli(f"# one OCI layout: index.json -> an image index listing both manifests, named {name}")
        cli(f"DOCKER_HOST={target_host} docker load -i {name.replace('/', '-').replace(':', '-')}-index.tar")
    layout = index_layout({p: _save(r, source_host, p) for p, r in variants.items()}, name)
    try:
        tools.run(["docker", "load", "-q"], input=layout, env={"DOCKER_HOST": target_host}, text=False, check=True)
    except ToolFailed as exc:
        said = (exc.stderr.strip() or exc.reason)[:300]
        raise DockerlabError(f"docker load of the {name} index failed: {said}") from None


def can_run(image: str, platform: str, *, command: list[str] | None = None, client, labels: dict | None = None,
            timeout: float = 120) -> dict:
    """Run ``command`` (default ``uname -m``; ``[]``: the image's own entrypoint) in the ``platform`` variant of
    ``image``: ``{"ok", "result"}`` where result is its output, or the error the engine or the kernel gave (``exec
    format error`` when that CPU's programs cannot run here). CLI twin: ``docker run --rm --platform P IMAGE CMD``."""
    from docker.errors import APIError, ContainerError

    cmd = ["uname", "-m"] if command is None else command
    cli(["docker", "run", "--rm", "--platform", platform, image, *cmd])
    container = None
    try:
        container = client.containers.create(image, cmd or None, platform=platform, labels=labels or {})
        container.start()
        code = container.wait(timeout=timeout).get("StatusCode", -1)
        out = container.logs().decode(errors="replace").strip()
    except (APIError, ContainerError) as exc:
        text = str(getattr(exc, "explanation", None) or exc)
        return {"ok": False, "result": _why(text)}
    finally:
        if container is not None:
            try:
                container.remove(force=True)
            except APIError:
                pass
    if code != 0:
        return {"ok": False, "result": _why(out) + f" (exit {code})"}
    return {"ok": True, "result": out}


def _why(text: str) -> str:
    low = text.lower()
    if "exec format error" in low:
        line = next((l for l in text.splitlines() if "exec format error" in l.lower()), text)
        return "exec format error: " + line.strip()[-120:]
    return text.strip().splitlines()[-1][-200:] if text.strip() else "(no output)"


# --- a program for a CPU nobody emulates here -------------------------------------------------------------------

def _rv_addi(rd: int, rs1: int, imm: int) -> int:
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (rd << 7) | 0x13


def riscv64_program(message: str = "hello from riscv64\n") -> bytes:
    """A complete static Linux program for riscv64 (an ELF file of about 150 bytes): it writes ``message`` and exits 0.

    Written out here instruction by instruction (write(1, msg, len); exit(0)), so no riscv64 toolchain or download
    is needed. On an amd64 or arm64 machine it runs only where QEMU emulates riscv64 (Docker Desktop does);
    elsewhere the kernel refuses it: ``exec format error``.
    """
    import struct

    msg = message.encode()
    a0, a1, a2, a7 = 10, 11, 12, 17
    code_words = [
        _rv_addi(a7, 0, 64),                 # a7 = 64 (write)
        _rv_addi(a0, 0, 1),                  # a0 = 1 (stdout)
        (a1 << 7) | 0x17,                    # auipc a1, 0
        _rv_addi(a1, a1, 9 * 4 - 2 * 4),     # a1 += offset of msg from the auipc
        _rv_addi(a2, 0, len(msg)),           # a2 = len
        0x00000073,                          # ecall
        _rv_addi(a7, 0, 93),                 # a7 = 93 (exit)
        _rv_addi(a0, 0, 0),                  # a0 = 0
        0x00000073,                          # ecall
    ]
    code = b"".join(struct.pack("<I", w) for w in code_words) + msg
    base, ehsize, phsize = 0x10000, 64, 56
    size = ehsize + phsize + len(code)
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + struct.pack(
        "<HHIQQQIHHHHHH", 2, 0xF3, 1, base + ehsize + phsize, ehsize, 0, 0, ehsize, phsize, 1, 64, 0, 0)
    program_header = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return header + program_header + code


if __name__ == "__main__":
    raise SystemExit("python -m dockerlab.supply.platforms is now `dockerlab platforms` (or python -m dockerlab platforms)")

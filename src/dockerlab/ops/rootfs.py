"""Root filesystems for the stand-in images: debootstrap, the slim images' trimming, and ``docker import``.

Shared by :mod:`dockerlab.ops.standins` (the Debian base the stand-ins build on) and :mod:`dockerlab.ops.foreign`
(a stand-in for another architecture, assembled from its packages).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from dockerlab import tools
from dockerlab.errors import ToolFailed, last_lines
from dockerlab.images import DEBIAN_SUITE, LABEL_STANDIN, STANDINS
from dockerlab.show import cli

STANDIN_TIMEOUT = 3600  # seconds for debootstrap and docker import

def need_debootstrap() -> None:
    if os.geteuid() != 0:
        raise RuntimeError(
            "no registry answers and building stand-in images needs root (debootstrap). "
            "Run `sudo make images`, or `dockerlab images load FILE` with a bundle from your instructor."
        )
    if not shutil.which("debootstrap"):
        print("installing debootstrap (apt-get)", flush=True)
        tools.run(["apt-get", "install", "-y", "-qq", "debootstrap"])
        if not shutil.which("debootstrap"):
            tools.run(["apt-get", "update", "-qq"], check=True)
            tools.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True)


def run_debootstrap(rootfs: Path, mirror: str, *extra: str) -> None:
    try:
        proc = tools.run(["debootstrap", "--variant=minbase", *extra, DEBIAN_SUITE, str(rootfs), mirror], merge=True,
                         timeout=STANDIN_TIMEOUT)
    except ToolFailed as exc:
        raise RuntimeError(f"debootstrap failed: {exc}") from None
    if proc.returncode != 0:
        raise RuntimeError("debootstrap failed:\n" + "\n".join(last_lines(proc.stdout, 20)))


def slim(rootfs: Path, mirror: str) -> None:
    """What the official Debian slim images do: their apt and dpkg settings (standins/base/), no man pages, locales,
    package lists or downloaded packages."""
    (rootfs / "etc/apt/sources.list").write_text(f"deb {mirror} {DEBIAN_SUITE} main\n")
    for sub in ("apt.conf.d", "dpkg.cfg.d"):
        target = rootfs / ("etc/apt" if sub.startswith("apt") else "etc/dpkg") / sub
        target.mkdir(parents=True, exist_ok=True)
        for f in (STANDINS / "base" / sub).iterdir():
            shutil.copy(f, target / f.name)
    for pattern in ("usr/share/man/*", "usr/share/info/*", "usr/share/locale/*", "usr/share/lintian/*"):
        for p in rootfs.glob(pattern):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    for junk in ("var/lib/apt/lists", "var/cache/apt/archives", "var/cache/apt"):
        for p in (rootfs / junk).glob("*"):
            if p.is_file():
                p.unlink()


# The base's own settings: the machine's trust store, for pip and uv (it may hold a TLS-intercepting proxy's CA).
BASE_ENV = {"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt", "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
            "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"}


def import_rootfs(rootfs: Path, ref: str, *, labels: dict[str, str], env: dict[str, str], cmd: str,
            platform: str | None = None) -> None:
    """``tar -C ROOTFS -c . | docker import -c LABEL… -c ENV… -c CMD… - REF``."""
    plat = ["--platform", platform] if platform else []
    cli("docker", "import", *plat, "-c", f"LABEL {LABEL_STANDIN}=true", "-", ref)
    docker_import = ["docker", "import", *plat,
                     *[arg for k, v in labels.items() for arg in ("-c", f"LABEL {k}={json.dumps(v)}")],
                     "-c", "ENV " + " ".join(f"{k}={v}" for k, v in env.items()),
                     "-c", f"CMD {cmd}", "-", ref]
    try:
        tools.pipe(["tar", "-C", str(rootfs), "-c", "."], docker_import, merge=True, timeout=STANDIN_TIMEOUT)
    except ToolFailed as exc:
        raise RuntimeError("docker import failed: " + ("\n".join(exc.tail) or exc.reason)) from None

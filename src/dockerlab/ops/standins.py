"""Stand-ins: the course images built from Debian packages where no container registry answers.

A debootstrap root filesystem (Debian 13, "trixie") is imported as ``dockerlab/standin-base:trixie``; then one
small Dockerfile per image in ``standins/<key>/`` is built with BuildKit under the official name. Every stand-in
carries ``org.dockerlab.standin=true``, says which image it replaces, and stores a hash of its recipe, so a
changed recipe is rebuilt. The uv stand-in carries the static ``uv`` binary of the PyPI wheel.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from dockerlab import recipes, settings, tools
from dockerlab.build import BuildFailed, build
from dockerlab.engine import get_client
from dockerlab.images import (BASE_REF, DEBIAN_SUITE, HOST_CA_BUNDLE, LABEL_RECIPE, LABEL_STANDIN, LABEL_STANDIN_FOR, STANDINS,
                     CourseImage)
from dockerlab.errors import ToolFailed, last_lines
from dockerlab.show import cli


# Stand-ins for another platform: key -> (the recipe folder they share, Debian architecture). Built on an engine of
# another architecture under QEMU user emulation (dockerlab.supply.platforms), only when asked for (lesson 14).
PLATFORM_VARIANTS = {"python-arm64": ("python", "arm64")}
STANDIN_TIMEOUT = 3600  # seconds for debootstrap and docker import (under QEMU, debootstrap's second stage is slow)


def base_ref(arch: str | None = None) -> str:
    """The Debian base of the stand-ins: ``dockerlab/standin-base:trixie``, or ``…:trixie-arm64`` for another arch."""
    return BASE_REF if arch is None else f"{BASE_REF}-{arch}"


def recipe_hash(key: str) -> str:
    """A short hash of a stand-in's recipe folder: a changed recipe makes `prepare` rebuild that stand-in."""
    recipe, arch = PLATFORM_VARIANTS.get(key, (key, None))
    folders = [STANDINS / recipe] if recipe in ("uv", "base") else [STANDINS / "base", STANDINS / recipe]
    files = [(str(p.relative_to(STANDINS)), p) for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()]
    return recipes.digest(files, DEBIAN_SUITE + (arch or ""))


def debootstrap_base(*, client=None, arch: str | None = None) -> None:
    """Build dockerlab/standin-base:trixie: a minimal Debian 13 root filesystem that trusts the host's CAs.

    ``arch="arm64"`` builds ``…:trixie-arm64`` on another machine's architecture: debootstrap ``--foreign``
    unpacks the packages, then its second stage runs the arm64 binaries under QEMU (dockerlab.supply.platforms).
    """
    client = client or get_client()
    recipes.build_if_changed(base_ref(arch), LABEL_RECIPE, recipe_hash("base"), lambda labels: _debootstrap(arch, labels),
                             client=client)


def _debootstrap(arch: str | None, labels: dict[str, str]) -> None:
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
    mirror = settings.DEBIAN_MIRROR.get()
    with tempfile.TemporaryDirectory(prefix="dockerlab-rootfs-") as tmp, contextlib.ExitStack() as stack:
        if arch:  # the second stage and update-ca-certificates run arm64 binaries
            from dockerlab.supply.platforms import emulation

            stack.enter_context(emulation(arch))
        rootfs = Path(tmp) / "rootfs"
        print(f"debootstrap {DEBIAN_SUITE}{' for ' + arch if arch else ''} (about a minute"
              f"{'; its second stage runs under QEMU: a few minutes' if arch else ''})", flush=True)
        t0 = time.monotonic()
        foreign = [f"--arch={arch}", "--foreign"] if arch else []
        try:  # the second stage runs arm64 binaries under QEMU: minutes, not seconds
            proc = tools.run(["debootstrap", "--variant=minbase", *foreign, "--include=ca-certificates", DEBIAN_SUITE,
                              str(rootfs), mirror], merge=True, timeout=STANDIN_TIMEOUT)
            if proc.returncode == 0 and arch:
                proc = tools.run(["chroot", str(rootfs), "/debootstrap/debootstrap", "--second-stage"], merge=True,
                                 timeout=STANDIN_TIMEOUT)
        except ToolFailed as exc:
            raise RuntimeError(f"debootstrap failed: {exc}") from None
        if proc.returncode != 0:
            raise RuntimeError("debootstrap failed:\n" + "\n".join(last_lines(proc.stdout, 20)))
        # The machine's trust store (it may hold a TLS-intercepting proxy's CA): pip and uv need it.
        if HOST_CA_BUNDLE.exists():
            extra = rootfs / "usr/local/share/ca-certificates/dockerlab-host-bundle.crt"
            shutil.copy(HOST_CA_BUNDLE, extra)
            tools.run(["chroot", str(rootfs), "update-ca-certificates"])
        (rootfs / "etc/apt/sources.list").write_text(f"deb {mirror} {DEBIAN_SUITE} main\n")
        # The apt and dpkg settings of the official Debian slim images (standins/base/).
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
        platform = ["--platform", f"linux/{arch}"] if arch else []
        cli("docker", "import", *platform, "-c", f"LABEL {LABEL_STANDIN}=true", "-", base_ref(arch))
        docker_import = ["docker", "import", *platform,
                         "-c", f"LABEL {LABEL_STANDIN}=true",
                         "-c", f"LABEL {LABEL_STANDIN_FOR}=debian:{DEBIAN_SUITE}-slim",
                         *[arg for k, v in labels.items() for arg in ("-c", f"LABEL {k}={v}")],
                         "-c", "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt "
                               "PIP_CERT=/etc/ssl/certs/ca-certificates.crt "
                               "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
                         "-c", 'CMD ["bash"]',
                         "-", base_ref(arch)]
        try:  # tar -C ROOTFS -c . | docker import …
            tools.pipe(["tar", "-C", str(rootfs), "-c", "."], docker_import, merge=True, timeout=STANDIN_TIMEOUT)
        except ToolFailed as exc:
            raise RuntimeError("docker import failed: " + ("\n".join(exc.tail) or exc.reason)) from None
        print(f"  base root filesystem ready in {time.monotonic() - t0:.0f} s", flush=True)


def _uv_binaries(version: str, arch: str, dest: Path) -> tuple[Path, Path]:
    """Static uv and uvx binaries for the engine's architecture, from the musllinux `uv` wheel on PyPI.

    The official image holds exactly these (the x86_64/aarch64-unknown-linux-musl build); the manylinux
    wheel a host installs is dynamically linked against glibc and would not run in a scratch image.
    Wheels are cached in ~/.cache/dockerlab.
    """
    import json
    import ssl
    import urllib.parse
    import urllib.request
    import zipfile

    plat = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(arch, arch)
    cache = settings.cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob(f"uv-{version}-*musllinux*{plat}.whl"))
    if not wheels:
        ctx = ssl.create_default_context(cafile=settings.SSL_CERT_FILE.get())
        index = settings.PYPI_JSON.get()
        with urllib.request.urlopen(f"{index}/uv/json", timeout=60, context=ctx) as r:
            files = json.load(r)["releases"].get(version, [])
        match = [f for f in files if "musllinux" in f["filename"] and f["filename"].endswith(f"{plat}.whl")]
        if not match:
            raise RuntimeError(f"PyPI has no musllinux wheel of uv {version} for {plat}")
        target = cache / match[0]["filename"]
        print(f"downloading {match[0]['filename']}", flush=True)
        url = urllib.parse.urljoin(f"{index}/uv/json", match[0]["url"])  # some mirrors answer relative URLs
        with urllib.request.urlopen(url, timeout=300, context=ctx) as r:
            target.write_bytes(r.read())
        wheels = [target]
    out = []
    with zipfile.ZipFile(wheels[-1]) as z:
        for name in ("uv", "uvx"):
            member = next(n for n in z.namelist() if n.endswith(f".data/scripts/{name}"))
            path = dest / name
            path.write_bytes(z.read(member))
            path.chmod(0o755)
            out.append(path)
    return out[0], out[1]


def build_standin(img: CourseImage, client=None) -> None:
    """Build a stand-in for one course image under its official name (needs the engine, and root for the base)."""
    client = client or get_client()
    recipe, arch = PLATFORM_VARIANTS.get(img.key, (img.key, None))
    src = STANDINS / recipe
    if not (src / "Dockerfile").exists():
        raise RuntimeError(f"no stand-in recipe for {img.ref} (expected {src}/Dockerfile)")
    recipes.build_if_changed(img.ref, LABEL_RECIPE, recipe_hash(img.key),
                             lambda labels: _build_standin(img, recipe, arch, labels, client), client=client)


def _build_standin(img: CourseImage, recipe: str, arch: str | None, recipe_label: dict[str, str], client) -> None:
    src = STANDINS / recipe
    labels = {
        LABEL_STANDIN: "true",
        LABEL_STANDIN_FOR: img.ref,
        **recipe_label,
        "org.opencontainers.image.description": f"dockerlab stand-in for {img.ref}, built from Debian {DEBIAN_SUITE} packages",
    }
    with tempfile.TemporaryDirectory(prefix=f"dockerlab-standin-{img.key}-") as tmp:
        ctx = Path(tmp)
        for p in src.iterdir():
            shutil.copy(p, ctx / p.name)
        buildargs = {}
        if img.key == "uv":
            _uv_binaries(img.ref.rsplit(":", 1)[1], client.info().get("Architecture", "x86_64"), ctx)
        else:
            debootstrap_base(client=client, arch=arch)
            buildargs["BASE"] = base_ref(arch)
        platform = f"linux/{arch}" if arch else None
        cli("docker", "build", *([f"--platform={platform}"] if platform else []),
            *[f"--build-arg={k}={v}" for k, v in buildargs.items()], "-t", img.ref, f"standins/{recipe}")
        t0 = time.monotonic()
        try:
            if arch:
                from dockerlab.supply.platforms import emulation

                with emulation(arch):
                    build(ctx, img.ref, buildargs=buildargs, labels=labels, platform=platform, quiet=True, client=client)
            else:
                build(ctx, img.ref, buildargs=buildargs, labels=labels, quiet=True, client=client)
        except BuildFailed as exc:
            raise RuntimeError(f"building the stand-in for {img.ref} failed: {exc}") from None
        print(f"  stand-in {img.ref} built in {time.monotonic() - t0:.0f} s", flush=True)

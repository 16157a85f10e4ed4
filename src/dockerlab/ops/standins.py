"""Stand-ins: the course images built from Debian packages where no container registry answers.

A debootstrap root filesystem (Debian 13, "trixie") is imported as ``dockerlab/standin-base:trixie``; then one
small Dockerfile per image in ``standins/<key>/`` is built with BuildKit under the official name. Every stand-in
carries ``org.dockerlab.standin=true``, says which image it replaces, and stores a hash of its recipe, so a
changed recipe is rebuilt. The uv stand-in carries the static ``uv`` binary of the PyPI wheel. The arm64 variant of
the Python stand-in (lesson 14) is assembled from the same recipe's arm64 packages without emulating them.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
import time
from pathlib import Path

from dockerlab import recipes, settings, tools
from dockerlab.build import BuildFailed, build
from dockerlab.engine import get_client
from dockerlab.images import (BASE_REF, DEBIAN_SUITE, HOST_CA_BUNDLE, LABEL_PACKAGE, LABEL_RECIPE, LABEL_STANDIN,
                              LABEL_STANDIN_FOR, LABEL_SUITE, STANDINS, CourseImage)
from dockerlab.errors import ToolFailed, last_lines
from dockerlab.show import cli


# Stand-ins for another platform: key -> (the recipe folder they share, Debian architecture). Assembled from that
# architecture's packages without emulating them (_assemble_foreign), only when asked for (lesson 14).
PLATFORM_VARIANTS = {"python-arm64": ("python", "arm64")}
STANDIN_TIMEOUT = 3600  # seconds for debootstrap and docker import
FOREIGN_RECIPE = "assembled-2"  # how a foreign-architecture stand-in is made (part of its recipe hash): see _assemble_foreign


def base_ref(arch: str | None = None) -> str:
    """The Debian base of the stand-ins: ``dockerlab/standin-base:trixie``."""
    return BASE_REF if arch is None else f"{BASE_REF}-{arch}"


def recipe_hash(key: str) -> str:
    """A short hash of a stand-in's recipe folder: a changed recipe makes `prepare` rebuild that stand-in."""
    recipe, arch = PLATFORM_VARIANTS.get(key, (key, None))
    folders = [STANDINS / recipe] if recipe in ("uv", "base") else [STANDINS / "base", STANDINS / recipe]
    files = [(str(p.relative_to(STANDINS)), p) for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()]
    return recipes.digest(files, DEBIAN_SUITE + (f"{arch}/{FOREIGN_RECIPE}" if arch else ""))


def debootstrap_base(*, client=None) -> None:
    """Build dockerlab/standin-base:trixie: a minimal Debian 13 root filesystem that trusts the host's CAs."""
    client = client or get_client()
    recipes.build_if_changed(base_ref(), LABEL_RECIPE, recipe_hash("base"), _debootstrap, client=client)


def _need_debootstrap() -> None:
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


def _run_debootstrap(rootfs: Path, mirror: str, *extra: str) -> None:
    try:
        proc = tools.run(["debootstrap", "--variant=minbase", *extra, DEBIAN_SUITE, str(rootfs), mirror], merge=True,
                         timeout=STANDIN_TIMEOUT)
    except ToolFailed as exc:
        raise RuntimeError(f"debootstrap failed: {exc}") from None
    if proc.returncode != 0:
        raise RuntimeError("debootstrap failed:\n" + "\n".join(last_lines(proc.stdout, 20)))


def _slim(rootfs: Path, mirror: str) -> None:
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


def _import(rootfs: Path, ref: str, *, labels: dict[str, str], env: dict[str, str], cmd: str,
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


def _debootstrap(labels: dict[str, str]) -> None:
    _need_debootstrap()
    mirror = settings.DEBIAN_MIRROR.get()
    with tempfile.TemporaryDirectory(prefix="dockerlab-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        print(f"debootstrap {DEBIAN_SUITE} (about a minute)", flush=True)
        t0 = time.monotonic()
        _run_debootstrap(rootfs, mirror, "--include=ca-certificates")
        if HOST_CA_BUNDLE.exists():
            extra = rootfs / "usr/local/share/ca-certificates/dockerlab-host-bundle.crt"
            shutil.copy(HOST_CA_BUNDLE, extra)
            tools.run(["chroot", str(rootfs), "update-ca-certificates"])
        _slim(rootfs, mirror)
        _import(rootfs, base_ref(), labels={LABEL_STANDIN: "true", LABEL_STANDIN_FOR: f"debian:{DEBIAN_SUITE}-slim",
                                            **labels}, env=BASE_ENV, cmd='["bash"]')
        print(f"  base root filesystem ready in {time.monotonic() - t0:.0f} s", flush=True)


# --- a stand-in for another architecture, assembled without running its programs ---------------------------------

def recipe_packages(recipe: str) -> list[str]:
    """The Debian packages a stand-in recipe installs: the ``apt-get install`` line of ``standins/<recipe>/Dockerfile``."""
    text = (STANDINS / recipe / "Dockerfile").read_text()
    m = re.search(r"apt-get install ((?:-\S+ )*)([^&\\\n]+)", text)
    if not m:
        raise RuntimeError(f"standins/{recipe}/Dockerfile installs no package (no `apt-get install` line)")
    return m.group(2).split()


def recipe_config(recipe: str) -> tuple[dict[str, str], str]:
    """The ENV settings and the CMD of ``standins/<recipe>/Dockerfile`` (what the image carries besides its files)."""
    env, cmd = {}, '["bash"]'
    for line in (STANDINS / recipe / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        if line.startswith("ENV "):
            env.update(dict(kv.split("=", 1) for kv in shlex.split(line[4:])))
        elif line.startswith("CMD "):
            cmd = line[4:].strip()
    return env, cmd


def _control(deb: Path) -> dict[str, str]:
    fields, key = {}, None
    for line in tools.run(["dpkg-deb", "-f", str(deb)], check=True).stdout.splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def _unpack(deb: Path, rootfs: Path) -> list[str]:
    """``dpkg-deb --fsys-tarfile DEB | tar -x`` into ``rootfs``, keeping the merged-/usr symlinks (/bin -> usr/bin) as
    debootstrap does; returns the paths it holds (dpkg's .list)."""
    proc = tools.pipe(["dpkg-deb", "--fsys-tarfile", str(deb)],
                      ["tar", "--keep-directory-symlink", "-x", "-v", "-f", "-", "-C", str(rootfs)], timeout=300)
    paths = []
    for line in proc.stdout.splitlines():
        path = "/" + line.strip().removeprefix("./").rstrip("/")
        paths.append("/." if path == "/" else path)
    return paths


def _assemble_foreign(img: CourseImage, recipe: str, arch: str, recipe_label: dict[str, str], client) -> None:
    """The stand-in ``img`` for ``arch`` (another machine's architecture), without running a program of that
    architecture for its packages: debootstrap ``--foreign`` downloads the base and the recipe's packages (its own
    dependency resolution, no Recommends, as ``--no-install-recommends``), each package is unpacked here and recorded
    in dpkg's status as installed, and what their maintainer scripts would have done for this image is done here
    (users and groups from base-passwd, the trust store, the directories Python's postinst makes); then the recipe's
    own steps (``standins/<recipe>/Dockerfile``: no EXTERNALLY-MANAGED, python/pip in /usr/local/bin, its ENV and CMD).
    Under QEMU, debootstrap's second stage and ``apt-get install`` took 9 minutes on 2 cores; this takes under one.
    Two programs run under QEMU, briefly: ``ldconfig`` and a smoke test of the result (python imports ssl, venv, pip).
    No .pyc is written (the official image ships none for the standard library either)."""
    from dockerlab.supply.platforms import emulation

    _need_debootstrap()
    mirror = settings.DEBIAN_MIRROR.get()
    packages = recipe_packages(recipe)
    with tempfile.TemporaryDirectory(prefix=f"dockerlab-rootfs-{arch}-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        print(f"debootstrap --foreign {DEBIAN_SUITE} for {arch} with {', '.join(packages)} (unpacked here: no emulation)",
              flush=True)
        t0 = time.monotonic()
        _run_debootstrap(rootfs, mirror, f"--arch={arch}", "--foreign",
                         "--include=" + ",".join(["ca-certificates", *packages]))
        status, info = [], rootfs / "var/lib/dpkg/info"
        info.mkdir(parents=True, exist_ok=True)
        versions = {}
        for deb in sorted((rootfs / "var/cache/apt/archives").glob("*.deb")):
            try:
                fields = _control(deb)
                paths = _unpack(deb, rootfs)
            except ToolFailed as exc:
                raise RuntimeError(f"unpacking {deb.name} failed: {exc}") from None
            name = fields["Package"]
            versions[name] = fields.get("Version", "")
            qualified = f"{name}:{fields['Architecture']}" if fields.get("Multi-Arch") == "same" else name
            (info / f"{qualified}.list").write_text("\n".join(paths) + "\n")
            entry = [f"Package: {name}", "Status: install ok installed"]
            entry += [f"{k}: {v}" for k, v in fields.items() if k not in ("Package", "Status", "Description")]
            entry.append(f"Description: {fields.get('Description', '')}")
            status.append("\n".join(entry))
        (rootfs / "var/lib/dpkg/status").write_text("\n\n".join(status) + "\n")
        shutil.rmtree(rootfs / "debootstrap", ignore_errors=True)
        # what the maintainer scripts would have done, for this image
        for table in ("passwd", "group"):  # base-passwd's postinst
            shutil.copy(rootfs / f"usr/share/base-passwd/{table}.master", rootfs / f"etc/{table}")
        users = [line.split(":", 1)[0] for line in (rootfs / "etc/passwd").read_text().splitlines() if line]
        groups = [line.split(":", 1)[0] for line in (rootfs / "etc/group").read_text().splitlines() if line]
        (rootfs / "etc/shadow").write_text("".join(f"{u}:*:20000:0:99999:7:::\n" for u in users))  # shadowconfig on
        (rootfs / "etc/gshadow").write_text("".join(f"{g}:*::\n" for g in groups))
        for f in ("etc/shadow", "etc/gshadow"):
            (rootfs / f).chmod(0o640)
        certs = rootfs / "etc/ssl/certs"
        certs.mkdir(parents=True, exist_ok=True)
        bundle = HOST_CA_BUNDLE if HOST_CA_BUNDLE.exists() else Path("/etc/ssl/certs/ca-certificates.crt")
        shutil.copy(bundle, certs / "ca-certificates.crt")  # update-ca-certificates' output: the host's own bundle
        for lib in rootfs.glob("usr/lib/python3.*"):
            if lib.name[len("python"):].replace(".", "").isdigit():  # python3.X-minimal's postinst
                (rootfs / "usr/local/lib" / lib.name / "dist-packages").mkdir(parents=True, exist_ok=True)
        # the recipe's own RUN step (standins/python/Dockerfile)
        for pattern in ("usr/lib/python3*/EXTERNALLY-MANAGED", "usr/lib/python3*/config-*/*.a"):
            for p in rootfs.glob(pattern):
                p.unlink()
        local_bin = rootfs / "usr/local/bin"
        local_bin.mkdir(parents=True, exist_ok=True)
        for link, target in (("python", "python3"), ("python3", "python3"), ("pip", "pip3"), ("pip3", "pip3")):
            (local_bin / link).unlink(missing_ok=True)
            (local_bin / link).symlink_to(f"/usr/bin/{target}")
        _slim(rootfs, mirror)
        with emulation(arch):  # two short programs of that architecture: the loader's cache, then a smoke test
            tools.run(["chroot", str(rootfs), "/sbin/ldconfig"], timeout=300)
            smoke = tools.run(["chroot", str(rootfs), "/usr/local/bin/python", "-c",
                               "import ssl, venv, ensurepip, pip, sqlite3, platform; print(platform.machine())"],
                              merge=True, timeout=300)
        if smoke.returncode != 0:
            raise RuntimeError(f"the assembled {arch} stand-in does not run Python:\n" + "\n".join(last_lines(smoke.stdout, 10)))
        env, cmd = recipe_config(recipe)
        package = img.standin_package
        labels = {LABEL_STANDIN: "true", LABEL_STANDIN_FOR: img.ref, **recipe_label,
                  "org.opencontainers.image.description": f"dockerlab stand-in for {img.ref}, assembled from Debian "
                                                          f"{DEBIAN_SUITE} {arch} packages",
                  **({LABEL_PACKAGE: f"{package}={versions.get(package, '')}", LABEL_SUITE: DEBIAN_SUITE}
                     if package else {})}
        _import(rootfs, img.ref, labels=labels, env={**BASE_ENV, **env}, cmd=cmd, platform=f"linux/{arch}")
        print(f"  stand-in {img.ref} assembled in {time.monotonic() - t0:.0f} s ({smoke.stdout.strip()})", flush=True)


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
    if arch:  # another machine's architecture: assembled, not built under emulation
        recipes.build_if_changed(img.ref, LABEL_RECIPE, recipe_hash(img.key),
                                 lambda labels: _assemble_foreign(img, recipe, arch, labels, client), client=client)
        return
    recipes.build_if_changed(img.ref, LABEL_RECIPE, recipe_hash(img.key),
                             lambda labels: _build_standin(img, recipe, labels, client), client=client)


def _build_standin(img: CourseImage, recipe: str, recipe_label: dict[str, str], client) -> None:
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
            debootstrap_base(client=client)
            buildargs["BASE"] = base_ref()
        cli("docker", "build", *[f"--build-arg={k}={v}" for k, v in buildargs.items()], "-t", img.ref,
            f"standins/{recipe}")
        t0 = time.monotonic()
        try:
            build(ctx, img.ref, buildargs=buildargs, labels=labels, quiet=True, client=client)
        except BuildFailed as exc:
            raise RuntimeError(f"building the stand-in for {img.ref} failed: {exc}") from None
        if img.standin_package:
            _record_package(img, ctx, client)
        print(f"  stand-in {img.ref} built in {time.monotonic() - t0:.0f} s", flush=True)


def _record_package(img: CourseImage, ctx: Path, client) -> None:
    """Label the stand-in with the Debian version of the package its recipe installed (``python3=3.13.5-1``) and the
    suite: with the recipe hash, what the stand-in is pinned by. A label-only rebuild ``FROM`` the image (no layer).
    CLI twin: ``docker run --rm --entrypoint dpkg-query REF -W -f '${Version}' PKG``."""
    box = client.containers.create(img.ref, ["-W", "-f", "${Version}", img.standin_package], entrypoint="dpkg-query",
                                   user="0")
    try:  # removed with its anonymous volumes (postgres, registry and engine declare a VOLUME), as `--rm` does
        box.start()
        box.wait(timeout=STANDIN_TIMEOUT)
        version = box.logs(stderr=False).decode().strip()
    finally:
        box.remove(v=True, force=True)
    (ctx / "Dockerfile.record").write_text(f"FROM {img.ref}\n")
    build(ctx, img.ref, dockerfile="Dockerfile.record", quiet=True, client=client,
          labels={LABEL_PACKAGE: f"{img.standin_package}={version}", LABEL_SUITE: DEBIAN_SUITE})

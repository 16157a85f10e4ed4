"""Stand-ins: the course images built from Debian packages where no container registry answers.

A debootstrap root filesystem (Debian 13, "trixie") is imported as ``dockerlab/standin-base:trixie``; then one
small Dockerfile per image in ``standins/<key>/`` is built with BuildKit under the official name. Every stand-in
carries ``org.dockerlab.standin=true``, says which image it replaces, and stores a hash of its recipe, so a
changed recipe is rebuilt. The uv stand-in carries the static ``uv`` binary of the PyPI wheel. The arm64 variant of
the Python stand-in (lesson 14) is assembled from the same recipe's arm64 packages without emulating them.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from dockerlab import recipes, settings, tools
from dockerlab.build import BuildFailed, build
from dockerlab.engine import get_client
from dockerlab.images import (BASE_REF, DEBIAN_SUITE, HOST_CA_BUNDLE, LABEL_PACKAGE, LABEL_RECIPE, LABEL_STANDIN,
                              LABEL_STANDIN_FOR, LABEL_SUITE, STANDINS, CourseImage, local_image, manifest, ref)
from dockerlab.ops import foreign
from dockerlab.ops.rootfs import BASE_ENV, STANDIN_TIMEOUT, import_rootfs, need_debootstrap, run_debootstrap, slim
from dockerlab.show import cli


# Stand-ins for another platform: key -> (the recipe folder they share, Debian architecture). Assembled from that
# architecture's packages without emulating them (dockerlab.ops.foreign), only when asked for (lesson 14).
PLATFORM_VARIANTS = {"python-arm64": ("python", "arm64")}


def recipe_hash(key: str) -> str:
    """A short hash of a stand-in's recipe folder: a changed recipe makes `prepare` rebuild that stand-in."""
    recipe, arch = PLATFORM_VARIANTS.get(key, (key, None))
    folders = [STANDINS / recipe] if recipe in ("uv", "base") else [STANDINS / "base", STANDINS / recipe]
    files = [(str(p.relative_to(STANDINS)), p) for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()]
    return recipes.digest(files, DEBIAN_SUITE + (f"{arch}/{foreign.RECIPE}" if arch else ""))


def debootstrap_base(*, client=None) -> None:
    """Build dockerlab/standin-base:trixie: a minimal Debian 13 root filesystem that trusts the host's CAs."""
    client = client or get_client()
    recipes.build_if_changed(BASE_REF, LABEL_RECIPE, recipe_hash("base"), _debootstrap, client=client)


def _debootstrap(labels: dict[str, str]) -> None:
    need_debootstrap()
    mirror = settings.DEBIAN_MIRROR.get()
    with tempfile.TemporaryDirectory(prefix="dockerlab-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        print(f"debootstrap {DEBIAN_SUITE} (about a minute)", flush=True)
        t0 = time.monotonic()
        run_debootstrap(rootfs, mirror, "--include=ca-certificates")
        if HOST_CA_BUNDLE.exists():
            extra = rootfs / "usr/local/share/ca-certificates/dockerlab-host-bundle.crt"
            shutil.copy(HOST_CA_BUNDLE, extra)
            tools.run(["chroot", str(rootfs), "update-ca-certificates"])
        slim(rootfs, mirror)
        import_rootfs(rootfs, BASE_REF, labels={LABEL_STANDIN: "true", LABEL_STANDIN_FOR: f"debian:{DEBIAN_SUITE}-slim",
                                            **labels}, env=BASE_ENV, cmd='["bash"]')
        print(f"  base root filesystem ready in {time.monotonic() - t0:.0f} s", flush=True)


def _uv_binaries(version: str, arch: str, dest: Path) -> tuple[Path, Path]:
    """Static uv and uvx binaries for the engine's architecture, from the musllinux `uv` wheel on PyPI.

    The official image holds exactly these (the x86_64/aarch64-unknown-linux-musl build); the manylinux
    wheel a host installs is dynamically linked against glibc and would not run in a scratch image.
    Wheels are cached in ~/.cache/dockerlab.
    """
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
        native = next(i for i in manifest(on_demand=True) if i.key == recipe)  # it compiles the bytecode
        if local_image(ref(recipe), client=client) is None:
            build_standin(native, client)
        recipes.build_if_changed(img.ref, LABEL_RECIPE, recipe_hash(img.key),
                                 lambda labels: foreign.assemble(img, recipe, arch, labels, native=ref(recipe),
                                                                 client=client), client=client)
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
            buildargs["BASE"] = BASE_REF
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

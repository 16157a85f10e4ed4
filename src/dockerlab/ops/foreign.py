"""A stand-in for another machine's architecture (the arm64 Python of lesson 14), assembled, not emulated.

Building ``standins/python`` for arm64 on an amd64 machine runs every arm64 program of debootstrap's second stage and
of ``apt-get install`` under QEMU: 9 minutes on 2 cores. :func:`assemble` makes the same image in about one: the
packages are unpacked here and recorded as installed, and what their maintainer scripts would have done for this image
is done here. Only ``ldconfig`` and a smoke test of the result run under QEMU.
"""
from __future__ import annotations

import re
import shlex
import shutil
import tempfile
import time
from pathlib import Path

from dockerlab import settings, tools
from dockerlab.errors import ToolFailed, last_lines
from dockerlab.images import (DEBIAN_SUITE, HOST_CA_BUNDLE, LABEL_PACKAGE, LABEL_STANDIN, LABEL_STANDIN_FOR, LABEL_SUITE,
                              STANDINS, CourseImage)
from dockerlab.ops.rootfs import BASE_ENV, import_rootfs, need_debootstrap, run_debootstrap, slim

RECIPE = "assembled-3"  # how a foreign-architecture stand-in is made: part of its recipe hash (a change rebuilds it)

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


def _pythons(rootfs: Path) -> list[str]:
    """The Python versions the root filesystem holds: ``["python3.13"]`` for ``/usr/lib/python3.13``."""
    return sorted(p.name for p in rootfs.glob("usr/lib/python3.*") if p.name[len("python"):].replace(".", "").isdigit())


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


def assemble(img: CourseImage, recipe: str, arch: str, recipe_label: dict[str, str], *, native: str, client) -> None:
    """The stand-in ``img`` for ``arch`` (another machine's architecture), without running a program of that
    architecture for its packages: debootstrap ``--foreign`` downloads the base and the recipe's packages (its own
    dependency resolution, no Recommends, as ``--no-install-recommends``), each package is unpacked here and recorded
    in dpkg's status as installed, and what their maintainer scripts would have done for this image is done here
    (users and groups from base-passwd, the trust store, the directories Python's postinst makes); then the recipe's
    own steps (``standins/<recipe>/Dockerfile``: no EXTERNALLY-MANAGED, python/pip in /usr/local/bin, its ENV and CMD).
    Under QEMU, debootstrap's second stage and ``apt-get install`` took 9 minutes on 2 cores; this takes under one.
    Two programs run under QEMU, briefly: ``ldconfig`` and a smoke test of the result (python imports ssl, venv, pip).
    Python's bytecode is compiled by ``native``, the same Debian Python built for this machine (:func:`_byte_compile`).
    The root filesystem is bind-mounted into that container: the engine must be this machine's, as for debootstrap."""
    from dockerlab.supply.platforms import emulation

    need_debootstrap()
    mirror = settings.DEBIAN_MIRROR.get()
    packages = recipe_packages(recipe)
    with tempfile.TemporaryDirectory(prefix=f"dockerlab-rootfs-{arch}-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        print(f"debootstrap --foreign {DEBIAN_SUITE} for {arch} with {', '.join(packages)} (unpacked here: no emulation)",
              flush=True)
        t0 = time.monotonic()
        run_debootstrap(rootfs, mirror, f"--arch={arch}", "--foreign",
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
        for lib in _pythons(rootfs):  # python3.X-minimal's postinst
            (rootfs / "usr/local/lib" / lib / "dist-packages").mkdir(parents=True, exist_ok=True)
        # the recipe's own RUN step (standins/python/Dockerfile)
        for pattern in ("usr/lib/python3*/EXTERNALLY-MANAGED", "usr/lib/python3*/config-*/*.a"):
            for p in rootfs.glob(pattern):
                p.unlink()
        local_bin = rootfs / "usr/local/bin"
        local_bin.mkdir(parents=True, exist_ok=True)
        for link, target in (("python", "python3"), ("python3", "python3"), ("pip", "pip3"), ("pip3", "pip3")):
            (local_bin / link).unlink(missing_ok=True)
            (local_bin / link).symlink_to(f"/usr/bin/{target}")
        slim(rootfs, mirror)
        compiled = _byte_compile(rootfs, native, client)
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
        import_rootfs(rootfs, img.ref, labels=labels, env={**BASE_ENV, **env}, cmd=cmd, platform=f"linux/{arch}")
        print(f"  stand-in {img.ref} assembled in {time.monotonic() - t0:.0f} s ({smoke.stdout.strip()}; {compiled})",
              flush=True)


def _byte_compile(rootfs: Path, native: str, client) -> str:
    """What the Python packages' postinst scripts do (py_compile of the standard library, py3compile of
    dist-packages), done by ``native``, the same Debian Python for this machine's architecture: bytecode depends on
    Python's version, not on the CPU, so the .pyc files it writes are the ones arm64's Python would write. Without
    them every first import under QEMU compiles its module: ``pip --version`` ran past a 120 s timeout on a busy
    2-core machine. Paths in the .pyc files are the image's (``-s /target -p /``)."""
    libs = _pythons(rootfs)
    if not libs:
        raise RuntimeError("no /usr/lib/python3.X in the assembled root filesystem")
    code = ("import compileall, sys\n"
            "have = f'python{sys.version_info[0]}.{sys.version_info[1]}'\n"
            "if have != sys.argv[1]: sys.exit(f'{have} in the native image, {sys.argv[1]} in the assembled one')\n"
            "bad = [d for d in sys.argv[2:] if not compileall.compile_dir(d, quiet=2, stripdir='/target', "
            "prependdir='/', workers=0)]\n"
            "print('bytecode compiled' + (f' (some files of {bad} did not compile)' if bad else ''))\n")
    dirs = [f"/target/usr/lib/{lib}" for lib in libs] + ["/target/usr/lib/python3/dist-packages"]
    box = client.containers.create(native, ["python3", "-c", code, libs[-1], *dirs], user="0",
                                   labels={LABEL_STANDIN: "true"}, network_disabled=True,
                                   volumes={str(rootfs): {"bind": "/target", "mode": "rw"}})
    try:
        box.start()
        status = box.wait(timeout=600).get("StatusCode", -1)
        said = box.logs().decode(errors="replace").strip()
    finally:
        box.remove(force=True)
    if status != 0:
        raise RuntimeError(f"compiling Python's bytecode with {native} failed (exit {status}): {said[-500:]}")
    return said.splitlines()[-1] if said else "bytecode compiled"


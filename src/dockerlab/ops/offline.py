"""A classroom without network: a wheelhouse of every Python package the course's images install.

The day before (with network): ``dockerlab wheelhouse build DIR`` downloads, inside a container from the
course's Python image (so platform and Python version match), every package the sample apps pin.
On the day: ``dockerlab wheelhouse enable DIR`` builds a classroom variant of the Python image, holding the
wheels in ``/wheels`` and a ``pip.conf`` that installs from them only (no index), under the same tag, so every
sample app builds unchanged with no network. ``dockerlab wheelhouse disable`` puts the original image back.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from dockerlab import tools
from dockerlab.build import build
from dockerlab.engine import get_client
from dockerlab.images import ref
from dockerlab.paths import repo_root

LABEL_WHEELHOUSE = "org.dockerlab.wheelhouse"
ORIGINAL_SUFFIX = "-dockerlab-original"


def course_requirement_sets() -> dict[str, list[str]]:
    """The pinned requirements of each sample app, one set per file (``requirements*.txt``, ``requirements*.lock``,
    and ``uv.lock`` through ``uv export``): {path relative to sample_apps: [requirement, …]}. Each set resolves on
    its own; two apps may pin different versions of one package."""
    root = repo_root() / "sample_apps"
    sets: dict[str, list[str]] = {}
    for f in sorted([*root.glob("**/requirements*.txt"), *root.glob("**/requirements*.lock")]):
        reqs = []
        for line in f.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                reqs.append(line)
        if reqs:
            sets[str(f.relative_to(root))] = reqs
    for lock in sorted(root.glob("**/uv.lock")):
        uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
        proc = tools.run([uv, "export", "--frozen", "--no-hashes", "--no-dev", "--no-emit-project", "--no-header",
                          "--no-annotate"], cwd=lock.parent)
        reqs = [l.split(";", 1)[0].strip() for l in proc.stdout.splitlines()]
        reqs = [l for l in reqs if l and not l.startswith(("-", "#"))]
        if reqs:
            sets[str(lock.relative_to(root))] = reqs
    return sets


def course_requirements() -> list[str]:
    """Every pinned requirement of the sample apps, all sets together (sorted, without repeats)."""
    return sorted({r for reqs in course_requirement_sets().values() for r in reqs})


def build_wheelhouse(dest: str | Path, requirements: list[str] | None = None, lesson: str = "wheelhouse") -> list[str]:
    """Download wheels for ``requirements`` (default: every sample app's set, each resolved on its own, since
    two apps may pin different versions of one package) into ``dest``; return the file names.

    CLI twin: ``docker run --rm -v DEST:/wheels python:3.13-slim-trixie pip download -d /wheels -r requirements.txt``
    """
    from dockerlab.lesson import Lesson

    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    sets = {"requirements": requirements} if requirements is not None else course_requirement_sets()
    lists = dest / "requirements"
    lists.mkdir(exist_ok=True)
    names = []
    for i, reqs in enumerate(sets.values()):
        (lists / f"{i:02d}.txt").write_text("\n".join(reqs) + "\n")
        names.append(f"/wheels/requirements/{i:02d}.txt")
    script = " && ".join(f"pip download --only-binary=:all: -d /wheels -r {n}" for n in names)
    lab = Lesson(lesson, quiet=True)
    try:
        c = lab.run(ref("python"), "download", ["sh", "-c", script],
                    volumes={str(dest): {"bind": "/wheels", "mode": "rw"}})
        state = lab.wait_exit(c, timeout=900)
        if state["ExitCode"] != 0:
            raise RuntimeError("pip download failed:\n" + c.logs(tail=20).decode(errors="replace"))
    finally:
        lab.cleanup(quiet=True)
    return sorted(p.name for p in dest.glob("*.whl"))


def variant_dockerfile(base: str) -> str:
    return f"""FROM {base}
COPY *.whl /wheels/
RUN printf '[global]\\nno-index = true\\nfind-links = /wheels\\n' > /etc/pip.conf
ENV PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheels UV_NO_INDEX=1 UV_FIND_LINKS=/wheels
"""


def build_variant(wheelhouse: str | Path, base: str, tag: str, labels: dict | None = None, client=None):
    """Build ``tag``: ``base`` plus the wheelhouse and a pip configuration that uses only it."""
    client = client or get_client()
    wheelhouse = Path(wheelhouse)
    wheels = list(wheelhouse.glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"no wheels in {wheelhouse}: run `dockerlab wheelhouse build {wheelhouse}` first (with network)")
    with tempfile.TemporaryDirectory(prefix="dockerlab-wheelhouse-") as tmp:
        for w in wheels:
            shutil.copy(w, tmp)
        (Path(tmp) / "Dockerfile").write_text(variant_dockerfile(base))
        result = build(tmp, tag, labels={LABEL_WHEELHOUSE: "true", **(labels or {})}, client=client)
    return result.image


def enable(wheelhouse: str | Path, client=None) -> str:
    """Replace the course's Python image by its wheelhouse variant (the original is kept under another tag)."""
    client = client or get_client()
    py = ref("python")
    current = client.images.get(py)
    original = py + ORIGINAL_SUFFIX
    if (current.labels or {}).get(LABEL_WHEELHOUSE) != "true":  # keep the real original, not an earlier variant
        repo, tag = original.rsplit(":", 1)
        current.tag(repo, tag)
    build_variant(wheelhouse, original, py, client=client)
    return py


def disable(*, client=None) -> str:
    """Put the original Python image back under its tag."""
    client = client or get_client()
    py = ref("python")
    original = client.images.get(py + ORIGINAL_SUFFIX)
    repo, tag = py.rsplit(":", 1)
    original.tag(repo, tag)
    client.images.remove(py + ORIGINAL_SUFFIX)
    return py

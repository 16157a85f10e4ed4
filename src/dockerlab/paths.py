"""Where the course's files are: the repo root, sample apps, and per-learner workspaces."""
from __future__ import annotations

import shutil
from pathlib import Path

from dockerlab import settings


def repo_root() -> Path:
    """The course checkout: $DOCKERLAB_ROOT, else the folder above src/ holding sample_apps/, else a parent of cwd."""
    env = settings.ROOT.get()
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2]
    if (here / "sample_apps").is_dir():
        return here
    for p in [Path.cwd(), *Path.cwd().parents]:
        if (p / "sample_apps").is_dir():
            return p
    raise RuntimeError("cannot find the course folder (with sample_apps/): set DOCKERLAB_ROOT")


def sample_app(name: str) -> Path:
    p = repo_root() / "sample_apps" / name
    if not p.is_dir():
        raise FileNotFoundError(f"no sample app {name!r} in {p.parent}")
    return p


def workspace_root(ns: str) -> Path:
    return repo_root() / ".dockerlab" / "work" / ns


def workspace(ns: str, lesson_id: str, app: str, fresh: bool = True) -> Path:
    """A private copy of ``sample_apps/<app>`` for one learner and lesson (gitignored), to edit and build.

    Lives at ``.dockerlab/work/<ns>/<lesson>/<app>`` inside the course folder, so bind mounts work the same
    from the course container and from the host.
    """
    dest = workspace_root(ns) / lesson_id / app
    if fresh and dest.exists():
        shutil.rmtree(dest)
    if not dest.exists():
        shutil.copytree(sample_app(app), dest, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return dest

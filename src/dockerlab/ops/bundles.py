"""Offline bundles of the course images: ``dockerlab images save FILE`` the day before, ``load`` on the day."""
from __future__ import annotations

import os
from pathlib import Path

from dockerlab import tools
from dockerlab.engine import get_client
from dockerlab.images import local_image, manifest
from dockerlab.show import cli

BUNDLE_TIMEOUT = 3600  # seconds: gigabytes of images to write or read (a ToolFailed after that)


def save(path: str | os.PathLike, keys: list[str] | None = None, client=None) -> Path:
    """Write the course images (all, or ``keys``) into one tar file, for a classroom without network.

    CLI: ``docker save -o FILE IMAGE…``
    """
    client = client or get_client()
    refs = [i.ref for i in manifest(on_demand=keys is not None) if keys is None or i.key in keys]  # named: on-demand too
    missing = [r for r in refs if local_image(r, client=client) is None]
    if missing:
        raise RuntimeError(f"not present, run `dockerlab prepare` first: {', '.join(missing)}")
    path = Path(path)
    cli("docker", "save", "-o", str(path), *refs)
    tools.run(["docker", "save", "-o", str(path), *refs], check=True, timeout=BUNDLE_TIMEOUT)
    return path


def load(path: str | os.PathLike) -> list[str]:
    """Load a bundle written by `save`. CLI: ``docker load -i FILE``"""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no bundle at {path}")
    cli("docker", "load", "-i", str(path))
    proc = tools.run(["docker", "load", "-i", str(path)], check=True, timeout=BUNDLE_TIMEOUT)
    return [l.split(":", 1)[1].strip() for l in proc.stdout.splitlines() if l.startswith("Loaded image")]

"""Offline bundles of the course images: ``dockerlab images save FILE`` the day before, ``load`` on the day."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dockerlab.engine import get_client
from dockerlab.images import local_image, manifest
from dockerlab.show import cli


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
    proc = subprocess.run(["docker", "save", "-o", str(path), *refs], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"docker save failed: {proc.stderr.strip()}")
    return path


def load(path: str | os.PathLike) -> list[str]:
    """Load a bundle written by `save`. CLI: ``docker load -i FILE``"""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no bundle at {path}")
    cli("docker", "load", "-i", str(path))
    proc = subprocess.run(["docker", "load", "-i", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"docker load failed: {proc.stderr.strip()}")
    return [l.split(":", 1)[1].strip() for l in proc.stdout.splitlines() if l.startswith("Loaded image")]

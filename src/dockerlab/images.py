"""The images the course uses: the manifest (``images.toml``, the one list of pinned references) and what a stand-in is.

Where no container registry answers (a classroom behind a firewall, CI here), ``dockerlab.ops.prepare`` builds a
stand-in under the official name from Debian 13 packages (``dockerlab.ops.standins``): a debootstrap root file system
imported as ``dockerlab/standin-base:trixie``, then one small Dockerfile per image in ``standins/<key>/``. Every
stand-in carries the label ``org.dockerlab.standin=true`` and says which image it replaces.
"""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from docker.errors import ImageNotFound

from dockerlab import settings
from dockerlab.engine import get_client

HERE = Path(__file__).parent
STANDINS = HERE / "standins"
LABEL_STANDIN = "org.dockerlab.standin"
LABEL_STANDIN_FOR = "org.dockerlab.standin.for"
LABEL_RECIPE = "org.dockerlab.standin.recipe"
BASE_REF = "dockerlab/standin-base:trixie"
DEBIAN_SUITE = "trixie"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclasses.dataclass(frozen=True)
class CourseImage:
    key: str
    ref: str
    why: str
    on_demand: bool = False  # made only when asked for by key (`dockerlab prepare --only KEY`), never by default
    pull: bool = True  # False: the course's own image (no registry has it): always built here
    lazy: bool = False  # made when a lesson first asks for it (``lab.base(key)``), not by the preflight: the doctor warns only


def manifest(*, on_demand: bool = False) -> list[CourseImage]:
    """The course images, from images.toml (the one list of pinned tags); ``on_demand=True`` adds the images that
    are made only when something asks for them (the engine image, the arm64 Python of lesson 14)."""
    data = tomllib.loads((HERE / "images.toml").read_text())
    out = [CourseImage(key, v["ref"], v.get("why", ""), bool(v.get("on_demand", False)), bool(v.get("pull", True)),
                       bool(v.get("lazy", False)))
           for key, v in data.items()]
    return out if on_demand else [i for i in out if not i.on_demand]


def override_var(key: str) -> str:
    """The environment variable that overrides a course image: ``python-full`` -> ``DOCKERLAB_IMAGE_PYTHON_FULL``."""
    return settings.image_var(key)


def ref(key: str) -> str:
    """The pinned reference of a course image: ``ref("python")`` -> ``python:3.13.5-slim``.

    ``DOCKERLAB_IMAGE_<KEY>`` (dashes as underscores) overrides it (``dockerlab run-all --image python=…``).
    """
    override = settings.image_override(key)
    if override:
        return override
    for img in manifest(on_demand=True):
        if img.key == key:
            return img.ref
    raise KeyError(f"no course image {key!r}; known: {', '.join(i.key for i in manifest(on_demand=True))}")


def is_standin(image) -> bool:
    return (image.labels or {}).get(LABEL_STANDIN) == "true"


def local_image(reference: str, *, client=None):
    """The local image ``reference`` names, or None."""
    client = client or get_client()
    try:
        return client.images.get(reference)
    except ImageNotFound:
        return None

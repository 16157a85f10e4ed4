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
LABEL_PACKAGE = "org.dockerlab.standin.debian-package"  # e.g. "python3=3.13.5-1": what the recipe installed
LABEL_SUITE = "org.dockerlab.standin.debian-suite"
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
    digest: str = ""  # the manifest digest a registry answered for ref ("sha256:…"), moved by the bot; "" = none
    standin_package: str = ""  # the Debian package whose version a stand-in records (its label LABEL_PACKAGE)

    @property
    def pinned_ref(self) -> str:
        """``ref@digest`` where the manifest holds a digest (what a registry is asked for), else ``ref``."""
        return f"{self.ref}@{self.digest}" if self.digest else self.ref


def manifest(*, on_demand: bool = False) -> list[CourseImage]:
    """The course images, from images.toml (the one list of pinned tags); ``on_demand=True`` adds the images that
    are made only when something asks for them (the engine image, the arm64 Python of lesson 14)."""
    data = tomllib.loads((HERE / "images.toml").read_text())
    out = [CourseImage(key, v["ref"], v.get("why", ""), bool(v.get("on_demand", False)), bool(v.get("pull", True)),
                       lazy=bool(v.get("lazy", False)), digest=v.get("digest", ""),
                       standin_package=v.get("standin_package", ""))
           for key, v in data.items()]
    return out if on_demand else [i for i in out if not i.on_demand]


def override_var(key: str) -> str:
    """The environment variable that overrides a course image: ``python-full`` -> ``DOCKERLAB_IMAGE_PYTHON_FULL``."""
    return settings.image_var(key)


def ref(key: str) -> str:
    """The pinned reference of a course image: ``ref("python")`` -> ``python:3.13-slim-trixie``.

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


def pin_facts(img: CourseImage, image) -> dict[str, str]:
    """How the local image of ``img`` is pinned: ``kind`` (stand-in, official or missing) and, for a stand-in, the
    ``recipe`` folder, the Debian ``package`` version and ``suite`` it recorded and the ``recipe_hash``; for an
    official image the manifest's ``digest`` ("" when it holds none)."""
    if image is None:
        return {"kind": "missing"}
    labels = image.labels or {}
    if not is_standin(image):
        return {"kind": "official", "digest": img.digest}
    return {"kind": "stand-in", "recipe": "standins/python" if img.key == "python-arm64" else f"standins/{img.key}",
            "package": labels.get(LABEL_PACKAGE, ""), "suite": labels.get(LABEL_SUITE, ""),
            "recipe_hash": labels.get(LABEL_RECIPE, "")}


def pinned_by(img: CourseImage, image) -> str:
    """:func:`pin_facts` in words: "stand-in, built from standins/python, pinned by recipe (python3=3.13.5-1, …)",
    "official, pinned by digest sha256:…", "official, tag only (no digest in images.toml)" or "missing"."""
    f = pin_facts(img, image)
    if f["kind"] == "missing":
        return "missing"
    if f["kind"] == "official":
        return f"official, pinned by digest {f['digest']}" if f["digest"] else "official, tag only (no digest in images.toml)"
    recorded = ", ".join(v for v in (f["package"], f"Debian {f['suite']}" if f["suite"] else "",
                                     f"recipe {f['recipe_hash']}" if f["recipe_hash"] else "") if v)
    return f"stand-in, built from {f['recipe']}, pinned by recipe" + (f" ({recorded})" if recorded else "")


def standin_version_gap(img: CourseImage, image) -> str:
    """Where a stand-in's recorded Debian package is of another version line than its tag names (``registry:3``
    served by Debian's docker-registry 2.8.3): that, in words; else ''."""
    recorded = ((image.labels or {}).get(LABEL_PACKAGE, "") if image is not None and is_standin(image) else "")
    if not recorded:
        return ""
    package, _, version = recorded.partition("=")
    upstream = version.split(":", 1)[-1]  # drop a Debian epoch ("5:8.0.2-3" -> "8.0.2-3")
    line = img.ref.rsplit(":", 1)[-1].split("-")[0]  # "3.13-slim-trixie" -> "3.13", "3" -> "3"
    if not line[:1].isdigit() or upstream == line or upstream.startswith(line + "."):
        return ""
    return f"the stand-in serves {package} {upstream}, not {line}.x: Debian has no {line}.x package"

"""The images the course uses: the manifest (images.toml), and `prepare` (pull, or build a stand-in).

Where no container registry answers (a classroom behind a firewall, CI here), `prepare` builds a
stand-in under the official name from Debian 13 packages: a debootstrap root filesystem imported as
``dockerlab/standin-base:trixie``, then one small Dockerfile per image in ``standins/<key>/``.
Every stand-in carries the label ``org.dockerlab.standin=true`` and says which image it replaces.
"""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor, as_completed
import os
import tomllib
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from .progressbar import StepProgress
from .engine import get_client
from .show import Table, cli, human_size

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


def manifest(*, on_demand: bool = False) -> list[CourseImage]:
    """The course images, from images.toml (the one list of pinned tags); ``on_demand=True`` adds the images that
    are made only when something asks for them (the engine image, the arm64 Python of lesson 14)."""
    data = tomllib.loads((HERE / "images.toml").read_text())
    out = [CourseImage(key, v["ref"], v.get("why", ""), bool(v.get("on_demand", False)), bool(v.get("pull", True)))
           for key, v in data.items()]
    return out if on_demand else [i for i in out if not i.on_demand]


def override_var(key: str) -> str:
    """The environment variable that overrides a course image: ``python-full`` -> ``DOCKERLAB_IMAGE_PYTHON_FULL``."""
    return "DOCKERLAB_IMAGE_" + key.upper().replace("-", "_")


def ref(key: str) -> str:
    """The pinned reference of a course image: ``ref("python")`` -> ``python:3.13.5-slim``.

    ``DOCKERLAB_IMAGE_<KEY>`` (dashes as underscores) overrides it (``dockerlab run-all --image python=…``).
    """
    override = os.environ.get(override_var(key))
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


def registry_reachable(reference: str | None = None, client=None, timeout: int = 10) -> bool:
    """True when the engine can reach the registry that serves ``reference`` (asks for its manifest)."""
    client = client or get_client()
    reference = reference or ref("python")
    try:
        api = docker.APIClient(base_url=client.api.base_url, timeout=timeout, version=client.api.api_version)
        api.inspect_distribution(reference)
        return True
    except Exception:  # DNS, TLS, HTTP or API errors: all mean "not reachable from here"
        return False


def _pull(client, reference: str, timeout: int = 600) -> bool:
    cli("docker", "pull", reference)
    try:
        repo, _, tag = reference.rpartition(":")
        client.images.pull(repo, tag=tag)
        return True
    except (APIError, DockerException) as exc:
        print(f"  pull failed: {str(exc).splitlines()[0][:160]}", flush=True)
        return False


def prepare(keys: list[str] | None = None, client=None, pull: bool = True, progress: bool = True,
            jobs: int = 3) -> Table:
    """Make every course image present: keep what is there, pull what can be pulled, build stand-ins for the rest.

    Stand-ins are built ``jobs`` at a time (BuildKit runs builds side by side; most of their time is apt
    downloading), after the shared Debian base. Returns a table: image, official or stand-in, size, what was done.
    CLI: ``docker pull IMAGE`` for each (``dockerlab prepare`` from a terminal).
    """
    client = client or get_client()
    images = [i for i in manifest(on_demand=keys is not None) if keys is None or i.key in keys]
    reachable = None
    actions: dict[str, str] = {}
    to_build = []
    bar = _progress(len(images), "preparing course images") if progress else None
    for img in images:
        present = local_image(img.ref, client=client)
        if present is not None and is_standin(present) and present.labels.get(LABEL_RECIPE) != debian_standins.recipe_hash(img.key):
            print(f"the stand-in recipe for {img.ref} changed: rebuilding it", flush=True)
            to_build.append(img)
            actions[img.key] = "rebuilt stand-in"
        elif present is None:
            if reachable is None and img.pull:
                reachable = pull and registry_reachable(img.ref, client)
                if not reachable:
                    print("no container registry answers: building stand-ins from Debian packages", flush=True)
            if bar is not None:
                bar.update(running=img.ref)
            if reachable and img.pull and _pull(client, img.ref):
                actions[img.key] = "pulled"
            else:
                to_build.append(img)
                actions[img.key] = "built stand-in" if img.pull else "built"
        else:
            actions[img.key] = "present"
        if img not in to_build and bar is not None:
            bar.update(done=bar.done + 1)
    if to_build:
        if any(i.key != "uv" for i in to_build):
            debian_standins.debootstrap_base(client=client)
        if bar is not None:
            bar.update(running=f"building {len(to_build)} stand-in(s), {min(jobs, len(to_build))} at a time")
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for done in as_completed([pool.submit(debian_standins.build_standin, img, client) for img in to_build]):
                done.result()  # a failed stand-in build raises here, with its step and log
                if bar is not None:
                    bar.update(done=bar.done + 1)
    rows = []
    for img in images:
        image = client.images.get(img.ref)
        rows.append({
            "image": img.ref,
            "kind": "stand-in" if is_standin(image) else "official",
            "size": human_size(image.attrs.get("Size")),
            "action": actions[img.key],
            "used for": img.why,
        })
    if bar is not None:
        bar.finish(ok=True)
    return Table(rows, title="Course images")


def status(*, client=None) -> Table:
    """Which course images are present, and whether each is official or a stand-in."""
    client = client or get_client()
    rows = []
    for img in manifest():
        image = local_image(img.ref, client=client)
        rows.append({
            "image": img.ref,
            "present": "yes" if image else "no",
            "kind": "-" if image is None else ("stand-in" if is_standin(image) else "official"),
            "size": human_size(image.attrs.get("Size")) if image else "-",
        })
    return Table(rows, title="Course images")


def _progress(total: int, desc: str) -> StepProgress:
    return StepProgress(desc, total=total)


from . import debian_standins  # noqa: E402  (it imports the manifest from here)

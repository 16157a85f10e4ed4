"""Making the course images present: keep what is there, pull what a registry serves, build stand-ins for the rest.

``prepare()`` is what ``dockerlab prepare`` and the preflight notebook run; ``status()`` what the doctor shows. The
list of images and their pins is :mod:`dockerlab.images` (``images.toml``); stand-ins are built by
:mod:`dockerlab.ops.standins`.
"""
from __future__ import annotations

import contextvars
import dataclasses
from concurrent.futures import ThreadPoolExecutor, as_completed

import docker
from docker.errors import APIError, DockerException

from dockerlab.engine import get_client
from dockerlab.imagelayers import unpacked_size
from dockerlab.images import (LABEL_RECIPE, CourseImage, is_standin, local_image, manifest, pinned_by, ref,
                              standin_version_gap)
from dockerlab.ops import standins as debian_standins
from dockerlab.progressbar import StepProgress
from dockerlab.show import Table, cli, human_size


FETCHED_LATER = "when a lesson needs it"  # status()'s "fetched" value for a lazy image (the doctor only warns)


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


def _pull(client, img: CourseImage, timeout: int = 600) -> bool:
    """Pull ``img`` by its digest where the manifest holds one (then tag it with its tag), else by its tag."""
    cli("docker", "pull", img.pinned_ref)
    try:
        repo, _, tag = img.ref.rpartition(":")
        pulled = client.images.pull(repo, tag=img.digest or tag)
        if img.digest:
            pulled.tag(repo, tag)
        return True
    except (APIError, DockerException) as exc:
        print(f"  pull failed: {str(exc).splitlines()[0][:160]}", flush=True)
        return False


def prepare(keys: list[str] | None = None, client=None, pull: bool = True, progress: bool = True,
            jobs: int = 3, lazy: bool = True) -> Table:
    """Make every course image present: keep what is there, pull what can be pulled, build stand-ins for the rest.

    ``lazy=False`` (the preflight) leaves an absent *lazy* image (``lazy = true`` in images.toml: the 1 GB full
    Python image) for the lesson that first asks for it (:func:`when_needed`, through ``lab.base(key)``).

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
    for n, img in enumerate(images):
        if img.lazy and not lazy and keys is None and local_image(ref(img.key), client=client) is None:
            img = images[n] = dataclasses.replace(img, ref=ref(img.key))  # the reference the lessons will use
            actions[img.key] = "left for later: " + _needed_by(img)
            if bar is not None:
                bar.update(done=bar.done + 1)
            continue
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
            if reachable and img.pull and _pull(client, img):
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
            # each in a copy of this context: a quiet block and a target engine reach the workers (dockerlab.settings)
            builds = [pool.submit(contextvars.copy_context().run, debian_standins.build_standin, img, client)
                     for img in to_build]
            for done in as_completed(builds):
                done.result()  # a failed stand-in build raises here, with its step and log
                if bar is not None:
                    bar.update(done=bar.done + 1)
    rows = []
    for img in images:
        image = None if actions[img.key].startswith("left for later") else client.images.get(img.ref)
        rows.append({
            "image": img.ref,
            "kind": "-" if image is None else "stand-in" if is_standin(image) else "official",
            "size (unpacked)": "-" if image is None else human_size(unpacked_size(image, client)),
            "action": actions[img.key],
            "used for": img.why,
        })
    if bar is not None:
        bar.finish(ok=True)
    return Table(rows, title="Course images")


def _needed_by(img) -> str:
    """'lesson 02 fetches it when it needs it', from the image's ``why`` in images.toml."""
    import re

    lessons = re.findall(r"lesson \d\d", img.why)
    return f"{lessons[0] if lessons else 'the lesson that needs it'} fetches it when it needs it"


def when_needed(key: str, *, client=None) -> str:
    """The reference of course image ``key``, made present first if it is not (pulled, or a stand-in built).

    What ``lab.base(key)`` calls for a lazy image: the preflight leaves the full Python image (about 1 GB) out, and
    the first lesson that asks for it fetches it here. CLI: ``docker pull REF`` (or ``dockerlab prepare --only KEY``).
    """
    client = client or get_client()
    reference = ref(key)
    if local_image(reference, client=client) is None:
        print(f"{reference} is not on this engine yet: fetching it now (the preflight left it for this lesson)", flush=True)
        prepare([key], client=client, progress=False)
    return reference


def status(*, client=None) -> Table:
    """Which course images are present, and whether each is official or a stand-in.

    Each row names the reference the lessons use (``ref(key)``: ``DOCKERLAB_IMAGE_<KEY>`` overrides the manifest)
    and whether the image is ``lazy`` (fetched by the lesson that first needs it, so its absence is no problem yet).
    """
    client = client or get_client()
    rows = []
    for img in manifest():
        reference = ref(img.key)
        image = local_image(reference, client=client)
        rows.append({
            "image": reference,
            "present": "yes" if image else "no",
            "kind": "-" if image is None else ("stand-in" if is_standin(image) else "official"),
            "size (unpacked)": human_size(unpacked_size(image, client)) if image else "-",
            "fetched": FETCHED_LATER if img.lazy else "by the preflight",
            "pinned by": pinned_by(img, image),
            "version gap": standin_version_gap(img, image),
        })
    return Table(rows, title="Course images")


def _progress(total: int, desc: str) -> StepProgress:
    return StepProgress(desc, total=total)

"""Rebuild only when the recipe changed: an image keeps, in a label, a hash of what it was built from.

The next build from the same files finds that label and keeps the image. The checks' builds of a learner's app
(:func:`dockerlab.grading.rebuild.build_reusing`) and the course's stand-in images (:mod:`dockerlab.ops.standins`)
work this way::

    >>> recipe = digest([("Dockerfile", app / "Dockerfile"), ("app.py", app / "app.py")])
    >>> build_if_changed("dl-ada-05-app:latest", "org.dockerlab.check.inputs", recipe,
    ...                  lambda labels: lab.build(app, "app", labels=labels).image, client=lab.client)
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from docker.errors import APIError


def digest(files: Iterable[tuple[str, Path]], salt: str = "", *, length: int = 16) -> str:
    """A short SHA-256 of ``salt``, then each file's name and bytes in the order given (names are part of the
    recipe: a renamed file is a changed recipe)."""
    h = hashlib.sha256(salt.encode())
    for name, path in files:
        h.update(name.encode())
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:length]


def current(ref: str, label: str, recipe: str, *, client):
    """The image ``ref`` when its ``label`` says it was built from ``recipe``; None when it is missing or older."""
    try:
        image = client.images.get(ref)
    except APIError:  # ImageNotFound among them: nothing to keep
        return None
    return image if (image.labels or {}).get(label) == recipe else None


def build_if_changed(ref: str, label: str, recipe: str, build: Callable[[dict[str, str]], object], *, client,
                     force: bool = False):
    """The image ``ref`` when it was built from ``recipe``; otherwise (or with ``force``) what ``build(labels)``
    returns. ``build`` must put ``labels`` (``{label: recipe}``) on the image it makes, so that the next call keeps it."""
    if not force and (image := current(ref, label, recipe, client=client)) is not None:
        return image
    with _building(ref):  # one build of a ref at a time on this machine; a second asker takes the first one's image
        if not force and (image := current(ref, label, recipe, client=client)) is not None:
            return image
        return build({label: recipe})


@contextlib.contextmanager
def _building(ref: str):
    """An exclusive lock per image reference, across processes. Two builds of one tag side by side (two test units
    needing the engine image at once) would each tag their own image; on the containerd image store the engine then
    deletes the first one's image, and its builder finds its own image ID gone (HTTP 404)."""
    folder = Path(tempfile.gettempdir()) / "dockerlab-build-locks"
    folder.mkdir(exist_ok=True)
    with open(folder / hashlib.sha256(ref.encode()).hexdigest()[:16], "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

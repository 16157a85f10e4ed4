"""Rebuild only when the recipe changed: an image keeps, in a label, a hash of what it was built from.

The next build from the same files finds that label and keeps the image. The checks' builds of a learner's app
(:func:`dockerlab.grading.rebuild.build_reusing`) and the course's stand-in images (:mod:`dockerlab.ops.standins`)
work this way::

    >>> recipe = digest([("Dockerfile", app / "Dockerfile"), ("app.py", app / "app.py")])
    >>> build_if_changed("dl-ada-05-app:latest", "org.dockerlab.check.inputs", recipe,
    ...                  lambda labels: lab.build(app, "app", labels=labels).image, client=lab.client)
"""
from __future__ import annotations

import hashlib
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
    return build({label: recipe})

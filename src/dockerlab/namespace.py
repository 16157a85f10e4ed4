"""The learner namespace: names and labels for everything the course creates.

Every image, container, network and volume the course creates is named ``dl-<namespace>-<lesson>-<thing>``
(images: ``dl-<namespace>/<lesson>-<thing>``) and carries three labels, so that cleanup removes exactly
what the course made for one learner, and two learners on one engine never collide.
"""
from __future__ import annotations

import getpass
import re

from dockerlab import settings

COURSE = "docker-python-course"
LABEL_COURSE = "org.dockerlab.course"
LABEL_LESSON = "org.dockerlab.lesson"
LABEL_NAMESPACE = "org.dockerlab.namespace"
ENV_VAR = settings.NAMESPACE.name

_override: str | None = None


def slug(text: str, max_len: int = 30) -> str:
    """Lower-case ``text`` and keep only characters valid in every Docker object name."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:max_len].strip("-") or "learner"


def set_namespace(name: str | None) -> str:
    """Use ``name`` as the namespace for this process (a papermill parameter, say); None resets."""
    global _override
    _override = slug(name) if name else None
    return namespace()


def namespace() -> str:
    """The current namespace: set_namespace(), else $DOCKERLAB_NAMESPACE, else the user name."""
    if _override:
        return _override
    env = settings.NAMESPACE.get()
    if env:
        return slug(env)
    try:
        user = getpass.getuser()
    except Exception:  # no user name (some containers)
        user = "learner"
    return slug(user)


def lesson_id(lesson: str) -> str:
    """'03_layers_and_cache' -> '03'; any other text is slugged."""
    m = re.match(r"^(\d+)", lesson)
    return m.group(1) if m else slug(lesson, 12)


def labels(lesson: str, ns: str | None = None) -> dict[str, str]:
    """The labels every course-made object carries."""
    return {
        LABEL_COURSE: COURSE,
        LABEL_LESSON: lesson_id(lesson),
        LABEL_NAMESPACE: ns or namespace(),
    }


def resource_name(lesson: str, thing: str, ns: str | None = None) -> str:
    """Name of a container, network or volume: ``dl-<ns>-<lesson>-<thing>``."""
    return f"dl-{ns or namespace()}-{lesson_id(lesson)}-{slug(thing, 40)}"


def image_name(lesson: str, thing: str, tag: str = "latest", ns: str | None = None) -> str:
    """Name of an image: ``dl-<ns>/<lesson>-<thing>:<tag>``."""
    return f"dl-{ns or namespace()}/{lesson_id(lesson)}-{slug(thing, 40)}:{tag}"


def label_filters(lesson: str | None = None, ns: str | None = None, all_namespaces: bool = False) -> list[str]:
    """Label filters (``key=value``) selecting course objects of a namespace (and lesson). ``all_namespaces``
    selects every object that is in *a* namespace (the label is there, any value): what belongs to no namespace
    (the classroom's images, shared by every learner) is left alone."""
    out = [f"{LABEL_COURSE}={COURSE}"]
    out.append(LABEL_NAMESPACE if all_namespaces else f"{LABEL_NAMESPACE}={ns or namespace()}")
    if lesson is not None:
        out.append(f"{LABEL_LESSON}={lesson_id(lesson)}")
    return out

"""The Lesson object: one place in a notebook for its namespace, names, labels, builds, runs and cleanup."""
from __future__ import annotations

import os
from pathlib import Path

import importlib

from . import paths

_build = importlib.import_module("dockerlab.build")
_cleanup = importlib.import_module("dockerlab.cleanup")
_ns = importlib.import_module("dockerlab.namespace")
_run = importlib.import_module("dockerlab.run")
from .engine import get_client
from .images import ref as image_ref


class Lesson:
    """Everything one notebook creates goes through here, so it is named and labelled for cleanup.

    >>> lab = Lesson("02_first_dockerfile", namespace=namespace)   # cleans what a previous run left
    >>> app = lab.workspace("flask_hello")                          # a private copy to edit
    >>> result = lab.build(app, "flask-hello")                      # dl-<ns>/02-flask-hello:latest
    >>> web = lab.run(result.tag, "web", ports={"8000/tcp": lab.free_port()})
    >>> lab.cleanup()
    """

    def __init__(self, lesson: str, namespace: str | None = None, clean: bool = True, quiet: bool = False):
        if namespace:
            _ns.set_namespace(namespace)
        self.lesson = lesson
        self.id = _ns.lesson_id(lesson)
        self.client = get_client()
        self.ns = _ns.namespace()
        if not quiet:
            print(f"lesson {lesson} · namespace {self.ns} · engine {self.client.version().get('Version', '?')}")
        if clean:
            _cleanup.cleanup(lesson, client=self.client, quiet=True)

    # names and labels
    @property
    def labels(self) -> dict[str, str]:
        return _ns.labels(self.lesson)

    def name(self, thing: str) -> str:
        """Container, network or volume name: ``dl-<ns>-<lesson>-<thing>``."""
        return _ns.resource_name(self.lesson, thing)

    def image(self, thing: str, tag: str = "latest") -> str:
        """Image name: ``dl-<ns>/<lesson>-<thing>:<tag>``."""
        return _ns.image_name(self.lesson, thing, tag)

    @staticmethod
    def base(key: str = "python") -> str:
        """A course image's pinned reference, e.g. ``lab.base("python")`` -> ``python:3.13.5-slim``."""
        return image_ref(key)

    def workspace(self, app: str, fresh: bool = True) -> Path:
        """A private, writable copy of ``sample_apps/<app>`` for this learner and lesson."""
        return paths.workspace(self.ns, self.id, app, fresh=fresh)

    # acting
    def build(self, path, thing: str, tag: str = "latest", buildkit: bool = False, **kwargs) -> _build.BuildResult:
        """Build ``path`` as ``lab.image(thing, tag)`` with the course labels (``buildkit=True``: the CLI path)."""
        labels = dict(self.labels)
        labels.update(kwargs.pop("labels", None) or {})
        fn = _build.buildkit_build if buildkit else _build.build
        return fn(path, self.image(thing, tag), labels=labels, client=self.client, **kwargs)

    def run(self, image: str, thing: str, command=None, **kwargs):
        """Start a container ``lab.name(thing)`` with the course labels (kwargs as ``containers.run``)."""
        return _run.run(image, self.lesson, thing, command, client=self.client, **kwargs)

    def network(self, thing: str, **kwargs):
        """Create (or reuse) a labelled network. CLI: ``docker network create NAME``."""
        from docker.errors import NotFound
        from .show import cli

        name = self.name(thing)
        try:
            return self.client.networks.get(name)
        except NotFound:
            cli("docker", "network", "create", name)
            return self.client.networks.create(name, labels=self.labels, **kwargs)

    def volume(self, thing: str, **kwargs):
        """Create (or reuse) a labelled named volume. CLI: ``docker volume create NAME``."""
        from .show import cli

        name = self.name(thing)
        cli("docker", "volume", "create", name)
        return self.client.volumes.create(name, labels=self.labels, **kwargs)

    stop = staticmethod(_run.stop)
    wait_for_health = staticmethod(_run.wait_for_health)
    http_get = staticmethod(_run.http_get)
    free_port = staticmethod(_run.free_port)
    published_port = staticmethod(_run.published_port)
    wait_exit = staticmethod(_run.wait_exit)

    def __enter__(self) -> "Lesson":
        return self

    def __exit__(self, *exc) -> None:
        """``with Lesson(...) as lab:`` removes what the block created, even when it fails."""
        self.cleanup(quiet=True)

    def cleanup(self, quiet: bool = False) -> dict[str, int]:
        """Remove everything this lesson created in this namespace (idempotent)."""
        return _cleanup.cleanup(self.lesson, client=self.client, quiet=quiet)

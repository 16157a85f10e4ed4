"""The Lesson object: one place in a notebook for its namespace, names, labels, builds, runs and cleanup."""
from __future__ import annotations

from pathlib import Path

from dockerlab import paths
from dockerlab.build import BuildResult, build
from dockerlab.cleanup import cleanup
from dockerlab.namespace import image_name, labels, lesson_id, namespace as current_namespace, resource_name, set_namespace
from dockerlab.health import wait_for_health
from dockerlab.run import free_port, http_get, published_port, run, stop, wait_exit, wait_for_answer
from dockerlab.engine import get_client
from dockerlab.images import ref as image_ref


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
            set_namespace(namespace)
        self.lesson = lesson
        self.id = lesson_id(lesson)
        self.client = get_client()
        self.ns = current_namespace()
        if not quiet:
            print(f"lesson {lesson} · namespace {self.ns} · engine {self.client.version().get('Version', '?')}")
        from dockerlab.grading import reaper# not at the top: the watcher runs as ``python -m dockerlab.grading.reaper``

        reaper.settle(lesson, self.ns, timeout=30)  # a previous kernel's cleanup finishes before this run starts
        if clean:
            cleanup(lesson, client=self.client, quiet=True)

    # names and labels
    @property
    def labels(self) -> dict[str, str]:
        return labels(self.lesson)

    def name(self, thing: str) -> str:
        """Container, network or volume name: ``dl-<ns>-<lesson>-<thing>``."""
        return resource_name(self.lesson, thing)

    def image(self, thing: str, tag: str = "latest") -> str:
        """Image name: ``dl-<ns>/<lesson>-<thing>:<tag>``."""
        return image_name(self.lesson, thing, tag)

    @staticmethod
    def base(key: str = "python") -> str:
        """A course image's pinned reference, e.g. ``lab.base("python")`` -> ``python:3.13.5-slim``."""
        return image_ref(key)

    def workspace(self, app: str, fresh: bool = True) -> Path:
        """A private, writable copy of ``sample_apps/<app>`` for this learner and lesson."""
        return paths.workspace(self.ns, self.id, app, fresh=fresh)

    # acting
    def build(self, path, thing: str, tag: str = "latest", **kwargs) -> BuildResult:
        """Build ``path`` with BuildKit as ``lab.image(thing, tag)``, with the course labels (kwargs as :func:`build`)."""
        labels = dict(self.labels)
        labels.update(kwargs.pop("labels", None) or {})
        return build(path, self.image(thing, tag), labels=labels, client=self.client, **kwargs)

    def run(self, image: str, thing: str, command=None, **kwargs):
        """Start a container ``lab.name(thing)`` with the course labels (kwargs as ``containers.run``)."""
        return run(image, self.lesson, thing, command, client=self.client, **kwargs)

    def network(self, thing: str, **kwargs):
        """Create (or reuse) a labelled network. CLI: ``docker network create NAME``."""
        from docker.errors import NotFound
        from dockerlab.show import cli

        name = self.name(thing)
        try:
            return self.client.networks.get(name)
        except NotFound:
            cli("docker", "network", "create", name)
            return self.client.networks.create(name, labels=self.labels, **kwargs)

    def volume(self, thing: str, **kwargs):
        """Create (or reuse) a labelled named volume. CLI: ``docker volume create NAME``."""
        from dockerlab.show import cli

        name = self.name(thing)
        cli("docker", "volume", "create", name)
        return self.client.volumes.create(name, labels=self.labels, **kwargs)

    # The run helpers, reachable as lab.stop(…) etc. (the module-level functions of dockerlab.run).
    stop = staticmethod(stop)
    wait_for_health = staticmethod(wait_for_health)
    http_get = staticmethod(http_get)
    wait_for_answer = staticmethod(wait_for_answer)
    free_port = staticmethod(free_port)
    published_port = staticmethod(published_port)
    wait_exit = staticmethod(wait_exit)

    def __enter__(self) -> "Lesson":
        return self

    def __exit__(self, *exc) -> None:
        """``with Lesson(...) as lab:`` removes what the block created, even when it fails."""
        self.cleanup(quiet=True)

    def cleanup(self, quiet: bool = False) -> dict[str, int]:
        """Remove everything this lesson created in this namespace (idempotent)."""
        return cleanup(self.lesson, client=self.client, quiet=quiet)

"""dockerlab: helpers for the hands-on course "Shipping Python applications in Docker".

Notebooks use it through a Lesson object::

    from dockerlab import Lesson
    lab = Lesson("01_images_and_containers", namespace=namespace)
    lab.run(...), lab.build(...), lab.cleanup()

Modules keep their names: ``import dockerlab.build`` is the build module (``dockerlab.build.check``), and
``dockerlab.cli(...)`` is always the helper that prints a CLI twin (the command line tool is
``dockerlab.ops.commands``). The functions behind ``lab.*`` live in their modules (``dockerlab.run.run``).
"""
from dockerlab.build import BuildFailed, BuildResult, Step, context_files, context_size
from dockerlab.grading.checker import CheckFailed, Checker
from dockerlab.cleanup import leaks
from dockerlab.engine import EngineUnavailable, get_client, image_store
from dockerlab.figures import figure, ratio
from dockerlab.images import ref as image_ref
from dockerlab.imagelayers import layers, unpacked_size
from dockerlab.lesson import Lesson
from dockerlab.namespace import image_name, labels, resource_name, set_namespace
from dockerlab.health import wait_for_health
from dockerlab.run import (ContainerExited, StopResult, WaitTimeout, free_port, http_get, published_port, stop,
                           wait_exit)
from dockerlab.show import Table, cli, human_size
from dockerlab.widgets import hints, size_bars

__all__ = [
    "BuildFailed", "BuildResult", "Step", "context_files", "context_size",
    "CheckFailed", "Checker", "leaks", "EngineUnavailable", "get_client", "image_store", "image_ref", "layers",
    "unpacked_size", "Lesson", "image_name", "labels", "resource_name", "set_namespace", "ContainerExited",
    "StopResult", "WaitTimeout", "free_port", "http_get", "published_port", "stop", "wait_exit",
    "wait_for_health", "Table", "cli", "human_size", "hints", "size_bars", "figure", "ratio",
]
__version__ = "0.1.0"

from dockerlab import _moved  # noqa: E402  (old module names, e.g. dockerlab.checks, still import)

_moved.install()


def __getattr__(name: str):
    return _moved.attribute(name)

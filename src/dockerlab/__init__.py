"""dockerlab: helpers for the hands-on course "Shipping Python applications in Docker".

Notebooks use it through a Lesson object::

    from dockerlab import Lesson
    lab = Lesson("01_images_and_containers", namespace=namespace)
    lab.run(...), lab.build(...), lab.cleanup()
"""
from .build import BuildFailed, BuildResult, Step, build, context_files, context_size
from .checks import CheckFailed, Checker
from .cleanup import cleanup, leaks
from .engine import EngineUnavailable, get_client
from .figures import figure, ratio
from .images import ref as image_ref
from .layers import layers
from .lesson import Lesson
from .namespace import image_name, labels, namespace, resource_name, set_namespace
from .run import (ContainerExited, StopResult, WaitTimeout, free_port, http_get, published_port, run, stop,
                  wait_exit, wait_for_health)
from .show import Table, cli, human_size
from .widgets import hints, size_bars

__all__ = [
    "BuildFailed", "BuildResult", "Step", "build", "context_files", "context_size",
    "CheckFailed", "Checker", "cleanup", "leaks", "EngineUnavailable", "get_client", "image_ref", "layers",
    "Lesson", "image_name", "labels", "namespace", "resource_name", "set_namespace", "ContainerExited",
    "StopResult", "WaitTimeout", "free_port", "http_get", "published_port", "run", "stop", "wait_exit",
    "wait_for_health", "Table", "cli", "human_size", "hints", "size_bars", "figure", "ratio",
]
__version__ = "0.1.0"

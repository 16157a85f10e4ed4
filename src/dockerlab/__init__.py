"""dockerlab: helpers for the hands-on course "Shipping Python applications in Docker".

Notebooks use it through a Lesson object::

    from dockerlab import Lesson
    lab = Lesson("01_images_and_containers")
    lab.run(...), lab.build(...), lab.cleanup()
"""
from .engine import EngineUnavailable, get_client
from .namespace import image_name, labels, namespace, resource_name, set_namespace
from .show import Table, cli, human_size

__all__ = [
    "EngineUnavailable", "get_client", "image_name", "labels", "namespace", "resource_name",
    "set_namespace", "Table", "cli", "human_size",
]
__version__ = "0.1.0"

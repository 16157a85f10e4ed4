"""dockerlab: helpers for the hands-on course "Shipping Python applications in Docker".

Notebooks use it through a Lesson object::

    from dockerlab import Lesson
    lab = Lesson("01_images_and_containers", namespace=namespace)
    lab.run(...), lab.build(...), lab.cleanup()

The top level holds what a learner calls in a notebook, and nothing else; the rest sits in its module
(``dockerlab.run.run`` behind ``lab.run``) or in the folder of its audience (``dockerlab.grading``,
``dockerlab.supply``, ``dockerlab.ops``). Modules keep their names: ``import dockerlab.build`` is the build module
(``dockerlab.build.check``), and ``dockerlab.cli(...)`` is always the helper that prints a CLI twin (the command
line tool is ``dockerlab.ops.commands``). A name that left the top level still resolves, and says where it went.
"""
from dockerlab.build import BuildFailed, context_files, context_size
from dockerlab.engine import image_store
from dockerlab.grading.checker import CheckFailed
from dockerlab.imagelayers import layers, unpacked_size
from dockerlab.lesson import Lesson
from dockerlab.namespace import set_namespace
from dockerlab.run import ContainerExited, WaitTimeout
from dockerlab.show import Table, cli, human_size
from dockerlab.widgets import hints, size_bars

__all__ = [
    "Lesson",                                       # every notebook: lab = Lesson("NN_topic", namespace=namespace)
    "cli", "Table", "human_size",                   # a CLI twin printed, a table shown, a size in words
    "hints",                                        # the exercise's hints, one button press at a time
    "layers", "size_bars",                          # lessons 02-05: what each layer of an image adds
    "unpacked_size",                                # lessons 01-04, 11, 13, 14: an image's size, its layers unpacked
    "context_files", "context_size",                # lesson 02: what the build context sends
    "image_store",                                  # lesson 11: which image store the engine uses
    "set_namespace",                                # lesson 00: the namespace of what the course creates
    "BuildFailed", "ContainerExited", "WaitTimeout",  # errors a learner's cell catches (lessons 04, 05, 07, 12)
    "CheckFailed",                                  # what a failing exercise check raises (its name is in the output)
]
__version__ = "0.1.0"

from dockerlab import _moved  # noqa: E402  (old names, e.g. dockerlab.checks or dockerlab.free_port, still work)

_moved.install()


def __getattr__(name: str):
    return _moved.attribute(name)

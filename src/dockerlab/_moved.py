"""Old names that still work: the package was regrouped by audience (the learner's API at the top,
``dockerlab.grading``, ``dockerlab.supply``, ``dockerlab.ops``), and a notebook or a learner's own code may still say
``import dockerlab.checks`` or ``from dockerlab.exercises import l05_uv``.

Each old module name gives a stand-in module that forwards to the new one, and each name that left the package's
top level (:data:`NAMES`) resolves to the module that has it; each says once, as a DeprecationWarning, where it went
(as docker-py's moved APIs say where they went). Nothing else imports from here.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

MOVED = {  # old name under dockerlab. -> new name under dockerlab.
    "checks": "grading.checker",
    "report": "grading.report",
    "reaper": "grading.reaper",
    "exercises": "grading.lessons",
    "exercises.probes": "grading.probes",
    "exercises.contents": "grading.contents",
    "exercises.common": "grading.rebuild",
    "sbom": "supply.sbom",
    "signing": "supply.signing",
    "provenance": "supply.provenance",
    "vulns": "supply.vulns",
    "platforms": "supply.platforms",
    "stores": "supply.stores",
    "debian_standins": "ops.standins",
    "bundles": "ops.bundles",
    "offline": "ops.offline",
    "doctor": "ops.doctor",
    "runall": "ops.runall",
    "bench": "ops.bench",
    "commands": "ops.commands",
    "authoring": "ops.authoring",
    "classroom": "ops.room",
}


NAMES = {  # names that left the package's top level (no notebook calls them) -> the module that has them
    "BuildResult": "build", "Step": "build", "Checker": "grading.checker", "leaks": "cleanup",
    "EngineUnavailable": "engine", "get_client": "engine", "image_ref": "images:ref",
    "image_name": "namespace", "labels": "namespace", "resource_name": "namespace", "StopResult": "run",
    "free_port": "run", "http_get": "run", "published_port": "run", "stop": "run", "wait_exit": "run",
    "wait_for_health": "run", "figure": "figures", "ratio": "figures",
}


def new_name(old: str) -> str | None:
    """``dockerlab.exercises.l05_uv`` -> ``dockerlab.grading.lessons.l05_uv``; None for a name that did not move."""
    rest = old.removeprefix("dockerlab.")
    if rest in MOVED:
        return "dockerlab." + MOVED[rest]
    head, _, leaf = rest.partition(".")
    if head == "exercises" and leaf:
        return f"dockerlab.{MOVED['exercises']}.{leaf}"
    return None


def _forwarding(old: str, new: str) -> types.ModuleType:
    warnings.warn(f"{old} is now {new} (the old name still works)", DeprecationWarning, stacklevel=4)
    real = importlib.import_module(new)
    proxy = types.ModuleType(old, real.__doc__)

    def __getattr__(name: str):
        try:
            return getattr(real, name)
        except AttributeError:
            if name.startswith("__") or not hasattr(real, "__path__"):
                raise
            return importlib.import_module(f"{new}.{name}")  # a submodule of a moved package

    proxy.__getattr__ = __getattr__  # type: ignore[attr-defined]
    if hasattr(real, "__path__"):
        proxy.__path__ = []  # a package: its old submodule names are found by this module's finder
    proxy.__dict__["__all__"] = getattr(real, "__all__", [n for n in dir(real) if not n.startswith("_")])
    return proxy


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        new = new_name(fullname) if fullname.startswith("dockerlab.") else None
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=hasattr(importlib.import_module(new), "__path__"))

    def create_module(self, spec):
        return _forwarding(spec.name, new_name(spec.name))

    def exec_module(self, module):
        pass


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())


def attribute(name: str):
    """``dockerlab.doctor`` (an attribute of the package) for an old module name, ``dockerlab.free_port`` for a name
    that left the top level (it says once where it went); AttributeError otherwise."""
    if name in NAMES:
        module, _, attr = NAMES[name].partition(":")
        warnings.warn(f"dockerlab.{name} is now dockerlab.{module}.{attr or name} (the old name still works)",
                      DeprecationWarning, stacklevel=3)
        return getattr(importlib.import_module(f"dockerlab.{module}"), attr or name)
    new = new_name(f"dockerlab.{name}")
    if new is None:
        raise AttributeError(f"module 'dockerlab' has no attribute {name!r}")
    return importlib.import_module(f"dockerlab.{name}")

"""Every setting the package reads from the environment, each with its doc line, and the two switches that are
explicit state instead of environment flips.

A variable is read when a module asks for it (:meth:`Var.get`), never at import time, so tests, notebooks and
``dockerlab run-all`` may set it later. An empty value counts as unset. The ``docker`` CLI and the Docker SDK read
``DOCKER_HOST`` and its TLS settings themselves; :data:`DOCKER_HOST` is here so the package asks this module too.

Two settings are also *context variables* (:mod:`contextvars`), set for a block and reset after it, in this thread
or task only; the process environment is left as it is:

* whether the CLI twins are printed: :func:`show_cli`, default ``$DOCKERLAB_SHOW_CLI``, silenced by :func:`quiet_cli`;
* the engine the ``docker`` commands of the package go to: :func:`target_engine` (lesson 14's helper engine), whose
  variables :mod:`dockerlab.tools` gives every program it starts, and whose address :func:`host_addr` answers.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
from pathlib import Path
from typing import Iterator, Mapping


@dataclasses.dataclass(frozen=True)
class Var:
    """One environment variable the package reads: its name, the value when unset (or empty), what it does."""

    name: str
    default: str | None
    doc: str

    def get(self) -> str | None:
        """The value now (read at each call), else the default."""
        return os.environ.get(self.name) or self.default


NAMESPACE = Var("DOCKERLAB_NAMESPACE", None,
                "the learner namespace in every name and label (else set_namespace(), then the user name)")
ROOT = Var("DOCKERLAB_ROOT", None, "the course checkout (else found above the package or the working folder)")
PROGRESS = Var("DOCKERLAB_PROGRESS", None,
               "the file check results are appended to (else ~/.dockerlab/progress-<namespace>.json)")
SHOW_CLI = Var("DOCKERLAB_SHOW_CLI", "1", "0: do not print the CLI twins (the default of show_cli())")
HOST_ADDR = Var("DOCKERLAB_HOST_ADDR", "127.0.0.1",
                "where published ports are reached from this process (the course container: the host's address)")
FIGURES = Var("DOCKERLAB_FIGURES", None, "a JSON-lines file the measured figures go to (run-all sets it per notebook)")
RETRIES = Var("DOCKERLAB_RETRIES", None, "a file each retry past an engine bug is appended to (the test suite's)")
DEBIAN_MIRROR = Var("DOCKERLAB_DEBIAN_MIRROR", "http://deb.debian.org/debian", "the Debian mirror of the stand-ins")
PYPI_JSON = Var("DOCKERLAB_PYPI_JSON", "https://pypi.org/pypi", "PyPI's JSON API (the uv stand-in's wheel)")
BINFMT_DIR = Var("DOCKERLAB_BINFMT_DIR", "/proc/sys/fs/binfmt_misc", "where the kernel's binfmt_misc is mounted")
DOCKER_HOST = Var("DOCKER_HOST", None, "the engine the SDK and the docker CLI talk to (else the unix socket)")
DOCKER_TLS_VERIFY = Var("DOCKER_TLS_VERIFY", None, "1: TLS to DOCKER_HOST, verified (the SDK and the CLI)")
DOCKER_CERT_PATH = Var("DOCKER_CERT_PATH", None, "the TLS certificates for DOCKER_HOST (the SDK and the CLI)")
XDG_CACHE_HOME = Var("XDG_CACHE_HOME", None, "the cache folder (else ~/.cache); the package keeps its own under it")
SSL_CERT_FILE = Var("SSL_CERT_FILE", None, "a CA bundle for downloads made from Python (else the system's)")
XDG_RUNTIME_DIR = Var("XDG_RUNTIME_DIR", None, "where docker compose watch may keep its project locks (read, not set)")
IMAGE_PREFIX = "DOCKERLAB_IMAGE_"  # DOCKERLAB_IMAGE_<KEY>: see image_override()

VARS = [NAMESPACE, ROOT, PROGRESS, SHOW_CLI, HOST_ADDR, FIGURES, RETRIES, DEBIAN_MIRROR, PYPI_JSON, BINFMT_DIR,
        DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, XDG_CACHE_HOME, SSL_CERT_FILE, XDG_RUNTIME_DIR]
DOCKER_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")  # what the SDK reads (docker.from_env)
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def image_var(key: str) -> str:
    """The variable that overrides a course image: ``python-full`` -> ``DOCKERLAB_IMAGE_PYTHON_FULL``."""
    return IMAGE_PREFIX + key.upper().replace("-", "_")


def image_override(key: str) -> str | None:
    """``$DOCKERLAB_IMAGE_<KEY>``: another reference for the course image ``key`` (``run-all --image``), or None."""
    return os.environ.get(image_var(key)) or None


def docker_host() -> str:
    """The address this process's Docker client uses: ``$DOCKER_HOST``, else the default unix socket."""
    return DOCKER_HOST.get() or DEFAULT_DOCKER_HOST


def docker_env() -> dict[str, str | None]:
    """The Docker client variables of this process (:data:`DOCKER_ENV`) as they are now (None: unset)."""
    return {name: os.environ.get(name) for name in DOCKER_ENV}


def cache_dir() -> Path:
    """The package's cache folder: ``$XDG_CACHE_HOME/dockerlab``, else ``~/.cache/dockerlab``."""
    return Path(XDG_CACHE_HOME.get() or Path.home() / ".cache") / "dockerlab"


# --- explicit state: context variables ------------------------------------------------------------------------

_show_cli: contextvars.ContextVar[bool | None] = contextvars.ContextVar("dockerlab_show_cli", default=None)
_engine: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("dockerlab_engine", default=None)


def show_cli() -> bool:
    """Print the CLI twins? Not inside a :func:`quiet_cli` block; else ``$DOCKERLAB_SHOW_CLI`` (0: no)."""
    chosen = _show_cli.get()
    return chosen if chosen is not None else SHOW_CLI.get() != "0"


@contextlib.contextmanager
def quiet_cli(quiet: bool = True) -> Iterator[None]:
    """Silence the CLI twins inside the block (a check whose table is the output), whatever ``$DOCKERLAB_SHOW_CLI``
    says; reset after it. Explicit state, not an environment flip: a context variable of this thread or task (a
    worker thread gets it through :func:`contextvars.copy_context`). ``quiet=False``: the block changes nothing."""
    if not quiet:
        yield
        return
    token = _show_cli.set(False)
    try:
        yield
    finally:
        _show_cli.reset(token)


def engine_env() -> dict[str, str]:
    """The variables of the target engine (``DOCKER_HOST``, ``DOCKERLAB_HOST_ADDR``) that the programs the package
    starts get on top of this process's environment; {} when no target engine is set (they inherit this process's)."""
    return dict(_engine.get() or {})


def set_target_engine(env: Mapping[str, str] | None) -> contextvars.Token:
    """Send the package's ``docker`` commands to the engine ``env`` describes (``dind.Engine.env()``) until
    :func:`reset_target_engine` with the token returned; ``None``: back to this process's engine."""
    return _engine.set(dict(env) if env else None)


def reset_target_engine(token: contextvars.Token) -> None:
    """Undo :func:`set_target_engine`: the engine before it is the target again (in a context other than the one
    that set it, such as a notebook cell run elsewhere, the value before it is set back)."""
    try:
        _engine.reset(token)
    except ValueError:
        _engine.set(None if token.old_value is contextvars.Token.MISSING else token.old_value)


@contextlib.contextmanager
def target_engine(env: Mapping[str, str] | None) -> Iterator[None]:
    """Inside the block the package's ``docker`` commands go to the engine ``env`` describes."""
    token = set_target_engine(env)
    try:
        yield
    finally:
        _engine.reset(token)


def host_addr() -> str:
    """Where published ports are reached from here: the target engine's address, else ``$DOCKERLAB_HOST_ADDR``,
    else 127.0.0.1."""
    return engine_env().get(HOST_ADDR.name) or HOST_ADDR.get() or "127.0.0.1"

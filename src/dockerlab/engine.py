"""Connecting to the Docker engine, with a clear message instead of a hang or a traceback."""
from __future__ import annotations

import docker
from docker.errors import DockerException
from dockerlab import settings
from dockerlab.errors import EngineUnavailable  # noqa: F401 (raised here; defined with the others)

CONNECT_TIMEOUT = 5  # seconds: a dead or hung engine is reported well under 10 s
DEFAULT_TIMEOUT = 300  # seconds for ordinary API calls (builds stream, so this is per read)

HOW_TO_START = (
    "start Docker Desktop / run `sudo systemctl start docker` / `make engine`"
)


def engine_address() -> str:
    """The address the SDK will use: DOCKER_HOST, or the default unix socket."""
    return settings.docker_host()


# The variables the SDK reads (docker.from_env): the engine's address and its TLS settings.
DOCKER_ENV = settings.DOCKER_ENV

_client = None
_client_env: dict[str, str | None] | None = None  # DOCKER_ENV as they were when the cached client was made


def get_client(timeout: int = DEFAULT_TIMEOUT, fresh: bool = False) -> docker.DockerClient:
    """Return a connected DockerClient (cached), or raise EngineUnavailable within ~5 s.

    CLI: ``docker version``
    """
    global _client, _client_env
    if _client is not None and not fresh:
        return _client
    address = engine_address()
    try:
        probe = docker.from_env(timeout=CONNECT_TIMEOUT)
        probe.ping()
        probe.close()
        client = docker.from_env(timeout=timeout)
    except (DockerException, OSError) as exc:
        kind = _reason(exc)
        text = str(exc)
        said = REASONS.get(kind) or (text.splitlines()[0][:200] if text else type(exc).__name__)
        raise EngineUnavailable(f"cannot reach the Docker engine at {address}: {HOW_TO_START}. ({said})",
                                address=address, reason=kind) from None
    if not fresh:
        _client, _client_env = client, settings.docker_env()
    return client


def client_env() -> dict[str, str | None]:
    """The ``DOCKER_*`` variables (:data:`DOCKER_ENV`) that reach the engine this process's client talks to: as
    they were when :func:`get_client` made it (the environment may change since: a test, a notebook cell), else as
    they are now. ``None``: unset. Give them to a process that must talk to the same engine: they also override a
    target engine (:func:`dockerlab.settings.target_engine`), which is not this client's."""
    return dict(_client_env) if _client_env is not None else settings.docker_env()


# Why no engine answered, by kind (EngineUnavailable.reason), as the message says it.
REASONS = {
    "permission": "permission denied on the socket: add your user to the `docker` group, then log in again",
    "no-socket": "no socket there",
    "timeout": "the engine did not answer in time",
}


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "Permission denied" in text:
        return "permission"
    if "No such file" in text or "FileNotFoundError" in text:
        return "no-socket"
    if "timed out" in text.lower():
        return "timeout"
    return "other"


def image_store(info: dict) -> str:
    """'containerd' when the engine stores images in containerd (Docker Desktop's and Engine 29's default), else the
    graph driver ('overlay2', the classic store)."""
    status = dict((k, v) for k, v in (info.get("DriverStatus") or []) if isinstance(k, str))
    if "containerd" in str(status.get("driver-type", "")) or str(info.get("Driver", "")).startswith("overlayfs"):
        return "containerd"
    return str(info.get("Driver") or "?")

"""A Docker engine in a container (Docker-in-Docker): a second engine next to the host's, e.g. with the containerd
image store on while the host keeps the classic one, or one engine per learner in a classroom.

    >>> eng = Engine(lab.name("engine"), labels=lab.labels, containerd_store=True).start()
    >>> eng.load([lab.base("python")])            # docker save python:3.13-slim-trixie | DOCKER_HOST=… docker load
    >>> eng.client().images.list()                # the inner engine, through the Docker SDK
    >>> tools.run(["docker", "info"], env=eng.env())   # the CLI, through DOCKER_HOST (dockerlab.tools)
    >>> eng.remove()                              # the container and its data volume (lab.cleanup() does it too)

The engine image ``dockerlab/engine:28.5.2`` (images.toml key ``engine``) is Debian 13 with Docker Engine 28.5,
Buildx 0.29, Compose 2.40 and containerd 2.1 from Debian testing's packages (what scripts/install-engine puts on a
host); the course builds it from ``standins/engine/`` the first time something asks (:func:`engine_image`).
The container runs privileged (dockerd needs to mount, create cgroups and network namespaces), keeps
/var/lib/docker on a volume (an engine's data cannot live on the overlay file system of its own container), and
serves the Docker API without TLS on TCP port 2375 of its bridge address: reachable from this machine only.
"""
from __future__ import annotations

import contextlib
import json

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from dockerlab import settings, tools
from dockerlab.engine import get_client
from dockerlab.errors import DockerlabError, ToolFailed, WaitTimeout, indent
from dockerlab.show import cli
from dockerlab.waiting import wait_until

ENGINE_KEY = "engine"
ENGINE_REF = "dockerlab/engine:28.5.2"  # the images.toml entry's ref (kept here for engines without that entry)
API_PORT = 2375
LABEL_ENGINE = "org.dockerlab.engine"  # on the container: "containerd" or "classic" (its image store)


class EngineFailed(DockerlabError, RuntimeError):
    """The engine in a container did not start or did not answer; the message holds its last log lines."""


def engine_ref() -> str:
    from dockerlab import images

    try:
        return images.ref(ENGINE_KEY)
    except KeyError:
        return settings.image_override(ENGINE_KEY) or ENGINE_REF


def engine_image(*, client=None, quiet: bool = False) -> str:
    """The engine image's reference, built first when it is missing (or its recipe changed). Building it needs
    root the first time (the course's Debian base is made with debootstrap) and takes about a minute."""
    from dockerlab import images
    from dockerlab.ops import standins as debian_standins

    client = client or get_client()
    ref = engine_ref()
    try:
        present = client.images.get(ref)
    except ImageNotFound:
        present = None
    if present is not None and (not images.is_standin(present)
                                or present.labels.get(images.LABEL_RECIPE) == debian_standins.recipe_hash(ENGINE_KEY)):
        return ref
    if not quiet:
        print(f"building the engine image {ref} from Debian packages (once, about a minute)", flush=True)
    debian_standins.build_standin(images.CourseImage(ENGINE_KEY, ref, "a Docker engine in a container", True, False),
                                  client)
    return ref


def daemon_config(containerd_store: bool = False, extra: dict | None = None) -> dict:
    """The inner engine's daemon.json: ``{"features": {"containerd-snapshotter": true}}`` turns the containerd
    image store on (Docker Engine 28's setting; Engine 29 has it on by default for new installs)."""
    config: dict = {"features": {"containerd-snapshotter": bool(containerd_store)}}
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(config.get(k), dict):
            config[k] = {**config[k], **v}
        else:
            config[k] = v
    return config


def _remove_volume(client, name: str) -> bool:
    """Remove a volume; True once it is gone (APIError while a container that went still holds it)."""
    try:
        client.volumes.get(name).remove(force=True)
    except NotFound:
        pass
    return True


def docker_host_of(*, client) -> str:
    """The DOCKER_HOST value that reaches the engine ``client`` talks to (``unix:///var/run/docker.sock``, ``tcp://…``)."""
    base = client.api.base_url
    if base.startswith("http+docker://"):
        path = getattr(getattr(client.api, "_custom_adapter", None), "socket_path", None) or "/var/run/docker.sock"
        return "unix://" + path
    return base.replace("http://", "tcp://", 1).replace("https://", "tcp://", 1)


class Engine:
    """A Docker engine in a privileged, course-labelled container, reached over TCP on its container IP.

    ``binds`` maps host paths to container paths (mount a workspace at the same path, so that bind mounts of the
    lessons work against the inner engine); ``volume`` names a volume for /var/lib/docker that outlives the
    container (its images persist); without it the data volume is anonymous and goes with the container.
    ``ports`` publishes ports of the engine container on this machine (``{5000: ("127.0.0.1", 5000)}``, as
    ``containers.run`` takes them): a port the inner engine publishes on that number is then reached here too.
    ``daemon`` adds keys to the inner daemon.json (e.g. ``{"insecure-registries": [...]}``).
    """

    def __init__(self, name: str, *, labels: dict, containerd_store: bool = False, volume: str | None = None,
                 binds: dict | None = None, network: str | None = None, cpus: float | None = None,
                 mem_limit: str | None = None, ports: dict | None = None, daemon: dict | None = None, client=None):
        self.name, self.labels = name, dict(labels)
        self.containerd_store = containerd_store
        self.volume, self.binds, self.network = volume, dict(binds or {}), network
        self.cpus, self.mem_limit, self.ports = cpus, mem_limit, dict(ports or {})
        self.config = daemon_config(containerd_store, daemon)
        self.outer = client or get_client()
        self.container = None
        self.ip: str | None = None
        self._client = None

    def __repr__(self) -> str:
        state = self.host if self.ip else "not started"
        return f"Engine({self.name}, {'containerd' if self.containerd_store else 'classic'} image store, {state})"

    # where it is
    @property
    def host(self) -> str:
        """``tcp://<container ip>:2375``: the DOCKER_HOST of the inner engine."""
        self._started()
        return f"tcp://{self.ip}:{API_PORT}"

    @property
    def addr(self) -> str:
        """Where the ports the inner engine publishes are reached from here (DOCKERLAB_HOST_ADDR)."""
        self._started()
        return self.ip  # type: ignore[return-value]

    def env(self) -> dict:
        """``{"DOCKER_HOST": …, "DOCKERLAB_HOST_ADDR": …}``: the environment of a process that uses the inner engine."""
        return {"DOCKER_HOST": self.host, "DOCKERLAB_HOST_ADDR": self.addr}

    def client(self, timeout: int = 300) -> docker.DockerClient:
        """A Docker SDK client of the inner engine."""
        if self._client is None:
            self._client = docker.DockerClient(base_url=self.host, timeout=timeout)
        return self._client

    def _started(self) -> None:
        if not self.ip:
            raise EngineFailed(f"the engine {self.name} is not started: call start() first")

    # life cycle
    def run_args(self, image: str) -> list[str]:
        """The ``docker run`` twin of :meth:`start`."""
        args = ["docker", "run", "-d", "--privileged", "--name", self.name]
        args += ["-v", f"{self.volume}:/var/lib/docker" if self.volume else "/var/lib/docker"]
        for src, dst in self.binds.items():
            args += ["-v", f"{src}:{dst}"]
        for cport, hport in self.ports.items():
            hp = f"{hport[0]}:{hport[1]}" if isinstance(hport, tuple) else str(hport)
            args += ["-p", f"{hp}:{str(cport).replace('/tcp', '')}"]
        if self.network:
            args += ["--network", self.network]
        if self.cpus:
            args += ["--cpus", f"{self.cpus:g}"]
        if self.mem_limit:
            args += ["--memory", str(self.mem_limit)]
        args += ["-e", f"DOCKERLAB_ENGINE_CONFIG={json.dumps(self.config, separators=(',', ':'))}", image]
        return args

    def start(self, timeout: float = 90, quiet: bool = False) -> "Engine":
        """Start the container and wait until the inner engine answers (EngineFailed with its log on a timeout)."""
        image = engine_image(client=self.outer, quiet=quiet)
        if not quiet:
            cli(self.run_args(image))
        try:  # a container of that name left by an interrupted run: it is ours (same name), start afresh
            self.outer.containers.get(self.name).remove(force=True, v=True)
        except NotFound:
            pass
        mounts = [docker.types.Mount("/var/lib/docker", self.volume, type="volume")] if self.volume else []
        volumes = {src: {"bind": dst, "mode": "rw"} for src, dst in self.binds.items()}
        if self.volume:
            try:
                self.outer.volumes.get(self.volume)
            except NotFound:
                self.outer.volumes.create(self.volume, labels=self.labels)
        labels = {**self.labels, LABEL_ENGINE: "containerd" if self.containerd_store else "classic"}
        kwargs: dict = dict(detach=True, privileged=True, name=self.name, labels=labels, mounts=mounts, volumes=volumes,
                            environment={"DOCKERLAB_ENGINE_CONFIG": json.dumps(self.config)}, ports=self.ports or None)
        if self.network:
            kwargs["network"] = self.network
        if self.cpus:
            kwargs["nano_cpus"] = int(self.cpus * 1e9)
        if self.mem_limit:
            kwargs["mem_limit"] = self.mem_limit
        try:
            self.container = self.outer.containers.run(image, **kwargs)
        except APIError as exc:
            raise EngineFailed(f"the engine container {self.name} did not start: {exc.explanation or exc}") from None
        self.container.reload()
        nets = self.container.attrs["NetworkSettings"]["Networks"]
        self.ip = (nets.get(self.network) or next(iter(nets.values()), {})).get("IPAddress") if nets else None
        if not self.ip:
            self.remove()
            raise EngineFailed(f"the engine container {self.name} has no IP address on a bridge network "
                               f"(networks: {list(nets or {})}): give it a bridge network")
        last = ""

        def answers():
            nonlocal last
            self.container.reload()
            if self.container.status not in ("created", "running"):
                state, tail = self.container.attrs["State"], self._log_tail()
                self.remove()
                raise EngineFailed(f"the engine container {self.name} stopped ({state.get('Status')}, exit "
                                   f"{state.get('ExitCode')}); its last log lines:\n{tail}")
            try:
                probe = docker.DockerClient(base_url=f"tcp://{self.ip}:{API_PORT}", timeout=5)
                probe.ping()
                info = probe.info()
                probe.close()
                return info
            except (DockerException, OSError) as exc:
                last = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
                return None

        try:
            info = wait_until(answers, timeout=timeout, interval=0.5)
        except WaitTimeout:
            tail = self._log_tail()
            self.remove()
            raise EngineFailed(f"the engine {self.name} did not answer at tcp://{self.ip}:{API_PORT} within "
                               f"{timeout:.0f} s (last: {last}); its last log lines:\n{tail}") from None
        if self.containerd_store and "snapshotter" not in json.dumps(info.get("DriverStatus") or []):
            raise EngineFailed(f"the engine {self.name} answered without the containerd image store "
                               f"(storage driver {info.get('Driver')})")
        if not quiet:
            print(f"engine {self.name} answers at {self.host}: Docker {info.get('ServerVersion')}, "
                  f"image store {'containerd' if self.containerd_store else info.get('Driver')}", flush=True)
        return self

    def _log_tail(self, n: int = 20) -> str:
        try:
            text = self.container.logs(tail=n).decode(errors="replace") if self.container else ""
        except (APIError, NotFound):
            text = ""
        return indent(text.strip()) or "  | (no log)"

    def load(self, refs: list[str], quiet: bool = False, timeout: float = 600, platform: str | None = None) -> None:
        """Copy images from the outer engine into this one: ``docker save REFS | DOCKER_HOST=… docker load``.
        ``platform`` saves only that variant of a multi-platform image (``docker save --platform``, API 1.48+)."""
        refs = list(refs)
        if not refs:
            return
        outer_host = docker_host_of(client=self.outer)
        save_args = ["docker", "save", *(["--platform", platform] if platform else []), *refs]
        if not quiet:
            cli(save_args, "|", f"DOCKER_HOST={self.host}", "docker load")
        try:
            tools.pipe(save_args, ["docker", "load", "-q"], source_env={"DOCKER_HOST": outer_host}, sink_env=self.env(),
                       timeout=timeout)
        except ToolFailed as exc:
            said = "\n".join(exc.tail) if exc.exit_code is not None else exc.reason
            raise EngineFailed(f"copying {', '.join(refs)} into {self.name} failed: {said.strip()[:400]}") from None

    def remove(self, volumes: bool = True, quiet: bool = True) -> None:
        """Remove the container (its inner containers and images go with it) and its data volume unless
        ``volumes=False``. Idempotent."""
        if not quiet:
            cli(["docker", "rm", "-f", "-v", self.name])
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001 - closing a connection to an engine that is going away
                pass
            self._client = None
        try:
            self.outer.containers.get(self.name).remove(force=True, v=volumes)
        except NotFound:
            pass
        except APIError as exc:  # "removal already in progress"
            if "in progress" not in str(exc):
                raise
        if volumes and self.volume:
            with contextlib.suppress(WaitTimeout):  # still in use after 5 s: left, as before
                wait_until(lambda: _remove_volume(self.outer, self.volume), timeout=5, interval=0.5,
                           ignore=(APIError,))  # APIError: still in use for a moment after the container went
        self.container, self.ip = None, None

    def __enter__(self) -> "Engine":
        return self if self.ip else self.start()

    def __exit__(self, *exc) -> None:
        self.remove()

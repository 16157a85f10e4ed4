"""Image stores (lesson 14): which one an engine uses, and an engine with the containerd image store to work on.

Multi-platform images, build attestations (provenance, SBOM) kept with the image, and ``docker load`` of an image
index need the **containerd image store** (Docker Desktop's default, and new Docker Engine 29 installs'). An engine
on the classic store (graph drivers such as overlay2) refuses them. :func:`containerd_target` gives the lesson an
engine with that store: the learner's own when it already uses it, else a throwaway one in a container
(:class:`dockerlab.dind.Engine`, labelled, removed by ``lab.cleanup()``), with the course images copied in.

    >>> target = stores.containerd_target(lab)     # prints which engine, and why
    >>> target.client                              # Docker SDK client of that engine
    >>> reg = target.registry(lab)                 # a registry on it, reached as 127.0.0.1:PORT from here too
    >>> target.close()                             # the helper engine goes; docker commands go to yours again

With a helper engine, the target is *the target engine* of the package (:func:`dockerlab.settings.target_engine`)
until :meth:`Target.close` (or the end of ``with containerd_target(lab) as target:``): every ``docker`` command the
package runs for the lesson (builds, buildx imagetools, docker load) gets its ``DOCKER_HOST``, as after ``export
DOCKER_HOST=…`` in a terminal, and published ports are reached at its address. This process's own environment is
left as it is: a command of your own (``!docker …`` in a cell) reaches the helper with ``DOCKER_HOST=…`` in front
(``target.env()`` holds it).
"""
from __future__ import annotations

import contextlib
import socket
import threading
import time

from docker.errors import APIError, NotFound

from dockerlab import images, settings
from dockerlab.ops import prepare
from dockerlab.dind import Engine, docker_host_of
from dockerlab.engine import image_store
from dockerlab.registry import Registry
from dockerlab.run import WaitTimeout, free_port, host_address, http_get
from dockerlab.show import Table, cli, human_size

SWITCH_DAEMON_JSON = '{"features": {"containerd-snapshotter": true}}'
HOW_TO_SWITCH = (
    "Docker Engine: add " + SWITCH_DAEMON_JSON + " to /etc/docker/daemon.json and restart dockerd "
    "(images of the classic store are not shown on the containerd store until you switch back, or pull/load them again). "
    "Docker Desktop: Settings → General → \"Use containerd for pulling and storing images\"."
)


def store_of(*, client) -> str:
    """``containerd`` or the classic graph driver's name (``overlay2``) of the engine ``client`` talks to."""
    return image_store(client.info())


class Forward:
    """A TCP relay in this process: connections to 127.0.0.1:PORT go to HOST:TARGET_PORT (as ``ssh -L`` does).

    Used when the engine runs elsewhere (a helper engine in a container): its registry then has the same name,
    ``127.0.0.1:PORT``, for the engine (which pushes to its own loopback) and for the tools run here (cosign, buildx
    imagetools), so one image reference works on both sides.
    """

    def __init__(self, port: int, host: str, target_port: int | None = None):
        self.port, self.host, self.target_port = port, host, target_port or port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name=f"forward-{port}").start()

    def __repr__(self) -> str:
        return f"Forward(127.0.0.1:{self.port} -> {self.host}:{self.target_port})"

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
                try:
                    s.shutdown(how)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


class Target:
    """The engine the lesson's containerd-store part runs on: the learner's own, or a helper engine in a container."""

    def __init__(self, *, client, helper: Engine | None = None, outer=None):
        self.client, self.helper, self.outer = client, helper, outer
        self.forwards: list[Forward] = []
        self._token = None  # set while the helper engine is the package's target engine

    def activate(self) -> "Target":
        """Make a helper engine the package's target engine (:func:`dockerlab.settings.set_target_engine`) until
        :meth:`close`; the learner's own engine needs nothing."""
        if self.helper is not None and self._token is None:
            self._token = settings.set_target_engine(self.helper.env())
        return self

    def env(self) -> dict:
        """``{"DOCKER_HOST": …}`` (and ``DOCKERLAB_HOST_ADDR`` for a helper engine): the environment of a program of
        your own that must talk to this engine."""
        return self.helper.env() if self.helper else {"DOCKER_HOST": self.host}

    def __enter__(self) -> "Target":
        return self.activate()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Target({'helper engine ' + self.helper.name if self.helper else 'this engine'}, {self.host})"

    @property
    def host(self) -> str:
        """The DOCKER_HOST value of this engine."""
        return self.helper.host if self.helper else docker_host_of(client=self.client)

    @property
    def remote(self) -> bool:
        """True when its published ports are not on this machine's 127.0.0.1 (helper engine, or DOCKERLAB_HOST_ADDR)."""
        return host_address() != "127.0.0.1"

    def registry(self, lab, thing: str = "registry", timeout: float = 30) -> Registry:
        """A registry (the course's registry image) on this engine, reached as ``127.0.0.1:PORT`` from this process and
        from the engine alike. CLI twin: ``docker run -d -p 127.0.0.1:PORT:5000 registry:3``."""
        port = free_port()
        ref = images.ref("registry")
        publish = port if self.remote else ("127.0.0.1", port)
        cli(["docker", "run", "-d", "--name", lab.name(thing), "-p",
             f"{port}:5000" if self.remote else f"127.0.0.1:{port}:5000", ref])
        try:
            self.client.containers.get(lab.name(thing)).remove(force=True, v=True)
        except NotFound:
            pass
        container = self.client.containers.run(ref, detach=True, name=lab.name(thing), labels=lab.labels,
                                               ports={"5000/tcp": publish})
        if self.remote:
            self.forwards.append(Forward(port, host_address()))
        reg = Registry(container, port)
        try:
            http_get(f"http://{reg.host}/v2/", timeout=timeout, container=container)
        except WaitTimeout as exc:
            raise WaitTimeout(f"the registry did not answer on {reg.host}/v2/: {exc}") from None
        return reg

    def close(self) -> None:
        """Stop the forwards, remove the helper engine (with everything in it); the package's docker commands go to
        the learner's engine again. Idempotent."""
        for f in self.forwards:
            f.close()
        self.forwards.clear()
        if self._token is not None:
            settings.reset_target_engine(self._token)
            self._token = None
        if self.helper is not None:
            self.helper.remove()


def has_platform(ref: str, platform: str, *, client) -> bool:
    """True when the local image ``ref`` holds a variant for ``platform`` (``linux/arm64``) with its content."""
    return any(m["platform"] == platform and m["available"] for m in manifests(ref, client=client))


def manifests(ref: str, *, client) -> list[dict]:
    """The variants of a local image (containerd store: one per platform, plus attestation manifests), from
    ``GET /images/REF/json?manifests=1`` (API 1.48+): platform, kind, digest, content size, available."""
    try:
        data = client.api._result(client.api._get(client.api._url("/images/{0}/json", ref),
                                                   params={"manifests": 1}), True)
    except (APIError, NotFound):
        return []
    out = []
    for m in data.get("Manifests") or []:
        desc = m.get("Descriptor") or {}
        plat = (desc.get("platform") or (m.get("ImageData") or {}).get("Platform") or {})
        kind = m.get("Kind", "")
        out.append({
            "platform": f"{plat.get('os', '?')}/{plat.get('architecture', '?')}" + (f"/{plat['variant']}" if plat.get("variant") else ""),
            "kind": kind, "digest": desc.get("digest", ""), "media type": desc.get("mediaType", ""),
            "content": (m.get("Size") or {}).get("Content", 0),
            "available": bool(m.get("Available")),
            "for": ((m.get("AttestationData") or {}).get("For") or ""),
        })
    return out


def manifests_table(ref: str, *, client) -> Table:
    """The image index of a local image as a table (what ``docker image inspect --format '{{json .Manifests}}'``
    shows on the containerd store)."""
    rows = [{"platform": m["platform"] if m["kind"] == "image" else f"({m['kind']} for {m['for'][:19]}…)",
             "kind": m["kind"], "manifest digest": m["digest"][:19] + "…", "content": human_size(m["content"]),
             "here": "yes" if m["available"] else "no"} for m in manifests(ref, client=client)]
    return Table(rows, columns=["platform", "kind", "manifest digest", "content", "here"],
                 title=f"{ref}: an image index of {len(rows)} manifest(s)")


def containerd_target(lab, *, load: tuple[str, ...] = ("python", "registry"), arm64: bool = True,
                      quiet: bool = False) -> Target:
    """An engine with the containerd image store for the lesson (see the module's text).

    The learner's engine when it uses that store already (nothing is started). Otherwise a helper engine in a
    container with the course images ``load`` copied in; with ``arm64`` the Python image becomes a multi-platform
    image there (amd64 + the arm64 stand-in; :mod:`dockerlab.supply.platforms`), unless a registry can serve the real one.
    """
    outer = lab.client
    store = store_of(client=outer)
    if store == "containerd":
        if not quiet:
            print(f"this engine uses the containerd image store: the lesson uses it as it is ({docker_host_of(client=outer)})")
        return Target(client=outer)
    if not quiet:
        print(f"this engine uses the classic image store ({store}). To switch: {HOW_TO_SWITCH}\n"
              "Switching restarts the engine, so the lesson does not do it: it starts a second engine with the containerd "
              "store in a container instead (removed by lab.cleanup()).", flush=True)
    refs = [images.ref(k) for k in load]
    arm64_variant = None
    if arm64 and "python" in load and not prepare.registry_reachable(images.ref("python"), client=outer):
        arm64_variant = images.ref("python-arm64")
        if images.local_image(arm64_variant, client=outer) is None:
            print(f"no registry answers: building {arm64_variant}, the arm64 variant of the Python image, as a stand-in "
                  "(once per machine: Debian's arm64 packages unpacked, about a minute)", flush=True)
            prepare.prepare(["python-arm64"], client=outer, progress=False)
    engine = Engine(lab.name("engine"), labels=lab.labels, containerd_store=True, client=outer)
    t0 = time.monotonic()
    engine.start(quiet=quiet)
    try:
        plain = [r for r in refs if not (arm64_variant and r == images.ref("python"))]
        engine.load(plain, quiet=quiet)
        if arm64_variant:
            from dockerlab.supply.platforms import load_index

            load_index(images.ref("python"), {"linux/amd64": images.ref("python"), "linux/arm64": arm64_variant},
                       source_host=docker_host_of(client=outer), target_host=engine.host, quiet=quiet)
    except Exception:
        engine.remove()
        raise
    target = Target(client=engine.client(), helper=engine, outer=outer).activate()
    if not quiet:
        print(f"helper engine ready in {time.monotonic() - t0:.0f} s, with {', '.join(refs)}"
              + (" (Python for linux/amd64 and linux/arm64)" if arm64_variant else ""))
        cli(f"export DOCKER_HOST={engine.host}   # every docker command below talks to the helper engine")
    return target


def prepare_lesson(*, client=None) -> list[str]:
    """What lesson 14 needs on this engine, made now (``make supply-chain``): the engine image when the engine uses the
    classic store (the lesson then runs a containerd-store engine in a container), and the arm64 Python stand-in when
    no registry can serve the real arm64 variant; on the containerd store the Python image then becomes an index of
    both platforms, as a pull from a registry gives it (no helper engine needed). Returns the image keys it prepared."""
    from dockerlab.engine import get_client

    client = client or get_client()
    keys = []
    containerd = store_of(client=client) == "containerd"
    if not containerd:
        keys.append("engine")
    if not prepare.registry_reachable(images.ref("python"), client=client):
        keys.append("python-arm64")
    if keys:
        print(prepare.prepare(keys, client=client, progress=False))
    if containerd and "python-arm64" in keys:
        python = images.ref("python")
        if has_platform(python, "linux/arm64", client=client):
            print(f"{python} already holds linux/amd64 and linux/arm64")
        else:  # as a registry pull of a multi-platform image gives it: one name, every platform
            from dockerlab.dind import docker_host_of
            from dockerlab.supply.platforms import load_index

            host = docker_host_of(client=client)
            before = client.images.get(python).id
            load_index(python, {"linux/amd64": python, "linux/arm64": images.ref("python-arm64")},
                       source_host=host, target_host=host, quiet=True)
            with contextlib.suppress(APIError, NotFound):  # the single-platform image it replaces, now untagged
                if not client.images.get(before).tags:
                    client.images.remove(before)
            print(f"{python} is now an image index of linux/amd64 and linux/arm64 on this engine (lesson 14 builds both)")
    if not keys:
        print("lesson 14 needs nothing more on this engine (containerd image store, registry reachable)")
    return keys


if __name__ == "__main__":
    raise SystemExit("python -m dockerlab.supply.stores is now `dockerlab supply prepare` (make supply-chain)")

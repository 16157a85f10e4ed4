"""A local registry (the registry:3 image) for lesson 11: start it, tag, push, pull, ask it what it holds.

    >>> reg = registry.start(lab)                       # a container of lab, on 127.0.0.1:<free port>
    >>> ref = registry.tag(image, f"{reg.host}/ci-service", "1.0", client=lab.client)
    >>> digest = registry.push(ref, client=lab.client)         # sha256:… (the manifest digest)
    >>> registry.remove_local(ref, client=lab.client)
    >>> registry.pull(f"{reg.host}/ci-service@{digest}", client=lab.client)

The engine treats 127.0.0.1:PORT and localhost:PORT as insecure registries: plain HTTP works without config.
The registry's storage is an anonymous volume of its container: lab.cleanup() removes both.
Every helper prints its CLI twin.
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from docker.errors import APIError, ImageNotFound, NotFound

from dockerlab.engine import get_client
from dockerlab.run import WaitTimeout, free_port, host_address, http_get
from dockerlab.show import cli
from dockerlab.errors import PushFailed  # noqa: F401 (raised here; defined with the others)

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


class Registry:
    """A running registry container and its address ``127.0.0.1:PORT``."""

    def __init__(self, container, port: int):
        self.container, self.port = container, port
        self.host = f"127.0.0.1:{port}"  # the engine's name for it (pushes and pulls are the engine's requests)
        # where this kernel asks it over HTTP: the same, unless the engine's published ports are elsewhere
        # (the course container on Docker Desktop: DOCKERLAB_HOST_ADDR)
        self.url = f"http://{host_address()}:{port}"

    def __repr__(self) -> str:
        return f"Registry({self.host}, container {self.container.name})"

    def _get(self, path: str, method: str = "GET", headers: dict | None = None):
        req = urllib.request.Request(f"{self.url}{path}", method=method, headers=headers or {})
        return urllib.request.urlopen(req, timeout=10)

    def catalog(self) -> list[str]:
        """Repository names the registry holds. CLI: ``curl http://HOST/v2/_catalog``."""
        with self._get("/v2/_catalog") as r:
            return sorted(json.load(r).get("repositories") or [])

    def tags(self, repo: str) -> list[str]:
        """Tags of one repository (``ci-service`` or ``HOST/ci-service``); [] if it has none."""
        try:
            with self._get(f"/v2/{self.path(repo)}/tags/list") as r:
                return sorted(json.load(r).get("tags") or [])
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return []
            raise

    def manifest_digest(self, repo: str, reference: str) -> str | None:
        """The digest a tag (or digest) resolves to in ``repo``, from the registry; None if it has none."""
        try:
            with self._get(f"/v2/{self.path(repo)}/manifests/{reference}", "HEAD", {"Accept": MANIFEST_TYPES}) as r:
                return r.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError as e:
            if e.code in (400, 404, 500):  # 500: the digest names a blob (an image ID), not a manifest
                return None
            raise

    def path(self, repo: str) -> str:
        """``127.0.0.1:PORT/ci-service`` -> ``ci-service``."""
        prefix = self.host + "/"
        return repo[len(prefix):] if repo.startswith(prefix) else repo

    def ref(self, name: str, tag: str = "latest") -> str:
        return f"{self.host}/{name}:{tag}"


def bind_address() -> str:
    """Where a registry's port is published: loopback only, unless this kernel reaches the engine's ports at another
    address (the course container on Docker Desktop, a helper engine): then the port must listen there too. The
    engine itself still pushes to 127.0.0.1:PORT, which it treats as an insecure registry."""
    return "127.0.0.1" if host_address() in ("127.0.0.1", "localhost") else "0.0.0.0"


def start(lab, thing: str = "registry", timeout: float = 30) -> Registry:
    """Run the course's registry image on a free port (:func:`bind_address`), and wait until /v2/ answers."""
    port = free_port()
    bind = bind_address()
    container = lab.run(lab.base("registry"), thing, ports={"5000/tcp": (bind, port)})
    reg = Registry(container, port)
    cli("curl", f"{reg.url}/v2/")
    try:
        http_get(f"{reg.url}/v2/", timeout=timeout, container=container)
    except WaitTimeout as exc:
        raise WaitTimeout(f"the registry did not answer on {reg.host}/v2/: {exc}") from None
    return reg


def split(ref: str) -> tuple[str, str | None, str | None]:
    """``host:5000/name:tag`` -> (``host:5000/name``, ``tag``, None); ``…/name@sha256:…`` -> (repo, None, digest)."""
    if "@" in ref:
        repo, digest = ref.split("@", 1)
        return repo, None, digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag, None
    return ref, None, None


def tag(image, repository: str, tag: str = "latest", *, client=None) -> str:
    """Give ``image`` (object, id or reference) the name ``repository:tag``; return that reference."""
    client = client or get_client()
    img = image if hasattr(image, "tag") else client.images.get(image)
    src = next(iter(img.tags), img.short_id)
    cli("docker", "tag", src, f"{repository}:{tag}")
    img.tag(repository, tag)
    return f"{repository}:{tag}"


def push(ref: str, *, client=None, quiet: bool = False) -> str:
    """Push ``repo:tag``; read the stream for errors; return the manifest digest the registry answered."""
    client = client or get_client()
    repo, tg, _ = split(ref)
    cli("docker", "push", ref)
    digest = None
    for chunk in client.images.push(repo, tag=tg or "latest", stream=True, decode=True):
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("error") or chunk["errorDetail"].get("message")
            raise PushFailed(f"pushing {ref} failed: {detail}")
        aux = chunk.get("aux") or {}
        if aux.get("Digest"):  # the classic store says it in an aux message
            digest = aux["Digest"]
        elif m := re.search(r"digest: (sha256:[0-9a-f]{64})", chunk.get("status") or ""):
            digest = digest or m.group(1)  # the containerd store only in the last status line, as the CLI prints it
    if not digest:
        raise PushFailed(f"pushing {ref}: the engine reported no digest")
    if not quiet:
        print(f"{ref}: digest: {digest}")
    return digest


def pull(ref: str, *, client=None):
    """Pull a ``repo:tag`` or ``repo@sha256:…`` reference; return the image."""
    client = client or get_client()
    repo, tg, digest = split(ref)
    cli("docker", "pull", ref)
    if digest:
        return client.images.pull(f"{repo}@{digest}")
    return client.images.pull(repo, tag=tg or "latest")


def remove_local(ref: str, *, client=None, quiet: bool = False) -> bool:
    """Remove one local reference (untag; the image goes when its last name does). CLI: ``docker rmi REF``."""
    client = client or get_client()
    if not quiet:
        cli("docker", "rmi", ref)
    try:
        client.images.remove(ref)
        return True
    except (ImageNotFound, NotFound):
        return False


def remove_image(image, *, client=None, quiet: bool = False) -> bool:
    """Remove an image with all its names (``docker rmi -f ID``)."""
    client = client or get_client()
    img_id = image.id if hasattr(image, "id") else image
    if not quiet:
        cli("docker", "rmi", "-f", img_id[7:19] if img_id.startswith("sha256:") else img_id)
    try:
        client.images.remove(img_id, force=True)
        return True
    except (ImageNotFound, NotFound):
        return False
    except APIError:
        return False

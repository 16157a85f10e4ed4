"""Removing what the course created: only labelled objects, of one namespace (and lesson), idempotently."""
from __future__ import annotations

import time

from docker.errors import APIError, NotFound

from dockerlab.engine import get_client
from dockerlab.namespace import label_filters
from dockerlab.show import cli


KINDS = ("containers", "networks", "volumes", "images")


def _images(client, flt) -> list:
    out = []
    for summary in client.api.images(all=True, filters=flt):
        try:  # another process may remove an image between the list and the inspect
            out.append(client.images.get(summary["Id"]))
        except NotFound:
            pass
    return out


def course_objects(lesson: str | None = None, ns: str | None = None, all_namespaces: bool = False, client=None,
                   kinds: tuple[str, ...] = KINDS) -> dict[str, list]:
    """The course-labelled containers, networks, volumes and images of a namespace (and lesson)."""
    client = client or get_client()
    flt = {"label": label_filters(lesson, ns, all_namespaces)}
    listers = {
        "containers": lambda: client.containers.list(all=True, filters=flt, ignore_removed=True),
        "networks": lambda: client.networks.list(filters=flt),
        "volumes": lambda: client.volumes.list(filters=flt),
        "images": lambda: _images(client, flt),
    }
    return {k: _listed(listers[k]) for k in kinds}


def _listed(lister, attempts: int = 5) -> list:
    """A list call, asked again when the engine answers 404 for the whole list: on the containerd image store,
    ``GET /images/json`` fails with "content digest … not found" when another process removes an image while the
    engine lists (a shared classroom engine, a test suite's side-by-side units)."""
    for attempt in range(attempts):
        try:
            return lister()
        except NotFound:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    return []


def remove_network(network) -> bool:
    """Disconnect whatever is still attached (``docker network disconnect -f``) and remove the network; False
    if it was already gone. An API error other than "not found" is raised (the caller decides)."""
    try:
        network.reload()
        for cid in list(network.attrs.get("Containers") or {}):
            try:
                network.disconnect(cid, force=True)
            except APIError:
                pass
        network.remove()
        return True
    except NotFound:
        return False


def cleanup(lesson: str | None = None, ns: str | None = None, all_namespaces: bool = False, client=None,
            quiet: bool = False, kinds: tuple[str, ...] = KINDS) -> dict[str, int]:
    """Remove the course's containers, networks, volumes and images (of one namespace, and one lesson if given).

    Only objects with the course labels are touched; running it twice is harmless. ``kinds`` limits it (e.g. no
    images, for a quick cleanup).
    CLI: ``docker rm -f $(docker ps -aq --filter label=org.dockerlab.namespace=NS)`` and the same for
    ``docker network rm``, ``docker volume rm``, ``docker rmi``.
    """
    client = client or get_client()
    flt = " ".join(f"--filter label={f}" for f in label_filters(lesson, ns, all_namespaces))
    if not quiet:
        cli(f"docker rm -f -v $(docker ps -aq {flt})  # and the same for networks, volumes, images")
    objs = {k: [] for k in KINDS} | course_objects(lesson, ns, all_namespaces, client, kinds=kinds)
    removed = {k: 0 for k in kinds}
    for c in objs["containers"]:
        try:
            c.remove(force=True, v=True)
            removed["containers"] += 1
        except NotFound:
            pass
        except APIError as exc:  # 409: the engine is removing it already (an auto-remove, another cleanup)
            if exc.status_code != 409:
                raise
    for n in objs["networks"]:
        removed["networks"] += remove_network(n)
    for v in objs["volumes"]:
        try:
            v.remove(force=True)
            removed["volumes"] += 1
        except NotFound:
            pass
    # Images last (containers that used them are gone); children before parents, retry a few rounds.
    pending = list(objs["images"])
    for _ in range(4):
        left = []
        for img in pending:
            try:
                client.images.remove(img.id, force=True, noprune=False)
                removed["images"] += 1
            except NotFound:
                pass
            except APIError:
                left.append(img)
        if not left:
            break
        pending = left
    if not quiet:
        print("removed: " + ", ".join(f"{n} {k}" for k, n in removed.items()))
    return removed


def prune_build_cache(*, client=None, quiet: bool = False) -> dict:
    """Remove BuildKit's unused build cache (``docker builder prune --all --force``): the next builds start cold.

    ``cleanup`` keeps this cache on purpose, so that running a lesson again takes its steps from the cache.
    BuildKit's cache carries no labels, so this prunes every unused cache record of the engine, not only the
    course's: on an engine shared by a room, leave it to the instructor.
    """
    client = client or get_client()
    if not quiet:
        cli("docker builder prune --all --force")
    result = client.api.prune_builds(all=True) or {}
    reclaimed = int(result.get("SpaceReclaimed") or 0)
    records = len(result.get("CachesDeleted") or [])
    if not quiet:
        from dockerlab.show import human_size
        print(f"build cache: {records} record(s) removed, {human_size(reclaimed)} reclaimed")
    return {"records": records, "bytes": reclaimed}


def leaks(ns: str | None = None, all_namespaces: bool = False, client=None) -> dict[str, list[str]]:
    """Names of course-labelled containers, networks and volumes still on the engine (empty lists: no leak)."""
    objs = course_objects(None, ns, all_namespaces, client, kinds=("containers", "networks", "volumes"))
    return {k: [o.name for o in objs[k]] for k in objs}


def leaks_by_namespace(*, client=None) -> dict[str, dict[str, list[str]]]:
    """Every namespace's leaks on the engine: ``{namespace: {"containers": [names], "networks": …, "volumes": …}}``,
    only namespaces with something left."""
    from dockerlab.namespace import LABEL_NAMESPACE

    kinds = ("containers", "networks", "volumes")
    objs = course_objects(None, None, True, client, kinds=kinds)
    out: dict[str, dict[str, list[str]]] = {}
    for kind in kinds:
        for o in objs[kind]:  # networks and volumes carry Labels at the top, containers in Config
            labels = o.attrs.get("Labels") or (o.attrs.get("Config") or {}).get("Labels") or {}
            space = labels.get(LABEL_NAMESPACE) or "?"
            out.setdefault(space, {k: [] for k in kinds})[kind].append(o.name)
    return dict(sorted(out.items()))

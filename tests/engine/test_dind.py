"""dockerlab.dind: a Docker engine in a container starts, answers, has the image store asked for, takes images from
the host engine, sees bind-mounted host paths at the same path, and leaves nothing behind when removed."""
from __future__ import annotations

import subprocess

import pytest

from dockerlab import dind, images
from dockerlab.namespace import LABEL_NAMESPACE
from dockerlab.engine import image_store

LESSON = "dind"


def _volumes_of(container) -> list[str]:
    return [m["Name"] for m in container.attrs["Mounts"] if m["Type"] == "volume"]


def _gone(client, container_name: str, volumes: list[str]) -> list[str]:
    left = [c.name for c in client.containers.list(all=True, filters={"name": container_name})]
    names = {v.name for v in client.volumes.list()}
    return left + [v for v in volumes if v in names]


def test_classic_engine_answers_and_remove_leaves_nothing(lab):
    eng = dind.Engine(lab.name("classic"), labels=lab.labels).start(quiet=True)
    try:
        inner = eng.client()
        info = inner.info()
        assert inner.ping()
        assert image_store(info) == "overlay2", info.get("DriverStatus")
        assert info["ServerVersion"].startswith("28.")
        assert eng.env() == {"DOCKER_HOST": f"tcp://{eng.ip}:2375", "DOCKERLAB_HOST_ADDR": eng.ip}
        # the CLI reaches it through DOCKER_HOST
        out = subprocess.run(["docker", "info", "--format", "{{.Driver}}"], capture_output=True, text=True,
                             env={"PATH": "/usr/local/bin:/usr/bin:/bin", **eng.env()}, timeout=30)
        assert out.stdout.strip() == "overlay2", out.stderr
        container = lab.client.containers.get(eng.name)
        assert container.labels[LABEL_NAMESPACE] == lab.ns
        assert container.labels[dind.LABEL_ENGINE] == "classic"
        volumes = _volumes_of(container)
        assert volumes, "the engine's /var/lib/docker must be a volume"
    finally:
        eng.remove()
    assert _gone(lab.client, eng.name, volumes) == []
    eng.remove()  # idempotent


def test_containerd_store_engine_loads_an_image_and_runs_it(lab, tmp_path):
    (tmp_path / "hello.txt").write_text("from the host\n")
    ref = images.ref("python")
    with dind.Engine(lab.name("containerd"), labels=lab.labels, containerd_store=True,
                     binds={str(tmp_path): str(tmp_path)}) as eng:
        inner = eng.client()
        assert image_store(inner.info()) == "containerd"
        eng.load([ref], quiet=True)
        image = inner.images.get(ref)
        # the containerd store names an image by the digest of its manifest (or index), not of its config
        assert image.id == (image.attrs.get("Descriptor") or {}).get("digest"), image.attrs.get("Descriptor")
        # a path bind-mounted at the same path is seen by the inner engine's containers: lessons' bind mounts work
        out = inner.containers.run(ref, ["sh", "-c", "cat /data/hello.txt && python -c 'print(6 * 7)'"],
                                   volumes={str(tmp_path): {"bind": "/data", "mode": "ro"}}, remove=True)
        assert out.decode().split() == ["from", "the", "host", "42"]
        volumes = _volumes_of(lab.client.containers.get(eng.name))
    assert _gone(lab.client, eng.name, volumes) == []


def test_named_volume_keeps_the_images_until_removed(lab):
    vol = lab.name("engine-data")
    eng = dind.Engine(lab.name("persist"), labels=lab.labels, volume=vol).start(quiet=True)
    try:
        eng.load([images.ref("registry")], quiet=True)
        eng.remove(volumes=False)
        assert lab.client.volumes.get(vol).attrs["Labels"][LABEL_NAMESPACE] == lab.ns
        eng.start(quiet=True)  # the same volume: the image is still there
        assert images.ref("registry") in [t for i in eng.client().images.list() for t in i.tags]
    finally:
        eng.remove()
    assert _gone(lab.client, eng.name, [vol]) == []


def test_an_engine_that_cannot_start_says_why_and_leaves_nothing(lab):
    eng = dind.Engine(lab.name("broken"), labels=lab.labels, daemon={"storage-driver": "no-such-driver"})
    with pytest.raises(dind.EngineFailed) as info:
        eng.start(timeout=60, quiet=True)
    assert "no-such-driver" in str(info.value)
    assert _gone(lab.client, eng.name, []) == []


def test_lab_cleanup_removes_a_running_engine(lab):
    eng = dind.Engine(lab.name("forgotten"), labels=lab.labels).start(quiet=True)
    volumes = _volumes_of(lab.client.containers.get(eng.name))
    lab.cleanup(quiet=True)
    assert _gone(lab.client, eng.name, volumes) == []

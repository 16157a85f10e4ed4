"""Volumes that keep an inner engine's data between runs: outside every namespace (cleanup and the leak check leave
them), removed by `dockerlab clean --build-cache`; an engine holding an image with the same content gets no copy."""
from docker.errors import APIError, ImageNotFound, NotFound

from dockerlab import dind
from dockerlab.cleanup import remove_kept_engine_data
from dockerlab.namespace import LABEL_NAMESPACE


class FakeVolume:
    def __init__(self, name, in_use=False):
        self.name, self.in_use, self.removed = name, in_use, False

    def remove(self):
        if self.in_use:
            raise APIError("volume is in use")
        self.removed = True


class FakeVolumes:
    def __init__(self, vols):
        self.vols, self.filters = vols, None

    def list(self, filters=None):
        self.filters = filters
        return self.vols

    def get(self, name):
        for v in self.vols:
            if v.name == name:
                return v
        raise NotFound(name)

    def create(self, name, labels=None):
        v = FakeVolume(name)
        v.labels = labels
        self.vols.append(v)
        return v


class FakeImage:
    def __init__(self, layers, config=None, created="2026-11-21T00:00:00Z"):
        self.attrs = {"RootFS": {"Layers": layers}, "Config": config or {"Cmd": ["python3"]}, "Created": created}


class FakeImages:
    def __init__(self, by_ref):
        self.by_ref = by_ref

    def get(self, ref):
        if ref not in self.by_ref:
            raise ImageNotFound(ref)
        return self.by_ref[ref]


class FakeClient:
    def __init__(self, vols=(), images=None):
        self.volumes, self.images = FakeVolumes(list(vols)), FakeImages(images or {})


def test_kept_data_labels_carry_no_namespace():
    labels = dind.kept_data_labels("a test")
    assert labels[dind.LABEL_KEPT] == "a test" and LABEL_NAMESPACE not in labels


def test_clean_build_cache_removes_kept_volumes_but_not_one_in_use():
    free, busy = FakeVolume("a"), FakeVolume("b", in_use=True)
    client = FakeClient([free, busy])
    assert remove_kept_engine_data(client=client, quiet=True) == 1
    assert free.removed and not busy.removed
    assert client.volumes.filters == {"label": dind.LABEL_KEPT}


def _engine(inner_images, outer_images):
    eng = dind.Engine("e", labels={}, client=FakeClient(images=outer_images))
    eng._client = FakeClient(images=inner_images)
    return eng


def test_an_image_with_the_same_content_is_not_copied_again():
    same = FakeImage(["sha256:a", "sha256:b"])
    eng = _engine({"python:3": FakeImage(["sha256:a", "sha256:b"])}, {"python:3": same, "redis:8": FakeImage(["sha256:c"])})
    assert eng.holds_same("python:3")
    assert not eng.holds_same("redis:8")  # not there: copied
    assert eng.load(["python:3"], quiet=True, only_missing=True) == []


def test_an_image_rebuilt_under_the_same_name_is_copied_again():
    eng = _engine({"python:3": FakeImage(["sha256:a"])}, {"python:3": FakeImage(["sha256:a", "sha256:new"])})
    assert not eng.holds_same("python:3")
    eng2 = _engine({"python:3": FakeImage(["sha256:a"], created="2026-01-01T00:00:00Z")}, {"python:3": FakeImage(["sha256:a"])})
    assert not eng2.holds_same("python:3")


def test_kept_volume_is_made_once_with_the_kept_labels():
    client = FakeClient()
    assert dind.kept_volume("data", "a test", client=client) == "data"
    assert dind.kept_volume("data", "a test", client=client) == "data"
    assert [v.name for v in client.volumes.vols] == ["data"]
    assert client.volumes.vols[0].labels == dind.kept_data_labels("a test")

"""The course's helpers that read an image differently on each image store, proven on the engine DOCKER_HOST names.

tests/engine/test_image_stores.py runs this file twice: on the host engine (the containerd image store, Docker
Desktop's and new Engine 29 installs' default) and on a helper engine with the classic overlay2 store. On the
containerd store an image's ID is its manifest (or index) digest and ``docker images`` counts unpacked and packed
bytes; on the classic store the ID is the config digest; an image whose only tag moves to a new build is deleted on
one and left dangling on the other. What the lessons read must not depend on it:

* layer reading (``dockerlab.layers``: the base image apart from each step's bytes);
* ``docker save`` content checks (a file in one layer and deleted in the next is found, and said deleted);
* size budgets (``contents.size_budget``) and ``BuildResult.size``;
* image IDs: every ID the helpers hand out can be inspected and saved again;
* a code-change rebuild (``rebuild_after_code_change``) leaves the first image readable;
* a multi-platform index load: made on the containerd store, refused with a clear message on the classic one.
"""
from __future__ import annotations

import json

import pytest

from dockerlab import Lesson, images
from dockerlab.engine import image_store
from dockerlab.errors import DockerlabError
from dockerlab.grading.rebuild import rebuild_after_code_change
from dockerlab.grading.contents import size_budget
from dockerlab.imagelayers import layers
from dockerlab.secrets import image_index

BLOB = 300_000  # bytes the image's own step writes


@pytest.fixture(scope="module")
def lab():
    with Lesson("95_image_store", quiet=True) as lesson:
        yield lesson


@pytest.fixture(scope="module")
def store(lab):
    return image_store(lab.client.info())


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    d = tmp_path_factory.mktemp("store-app")
    (d / "Dockerfile").write_text(
        f"FROM {images.ref('python')}\n"
        "WORKDIR /app\n"
        "COPY requirements.txt .\n"
        "RUN pip install --no-index --no-cache-dir -r requirements.txt\n"
        f"RUN head -c {BLOB} /dev/urandom > /app/blob.bin && echo token-4f1d > /app/.secret\n"
        "RUN rm /app/.secret\n"
        "COPY app.py .\n"
        'CMD ["python", "app.py"]\n')
    (d / "requirements.txt").write_text("")
    (d / "app.py").write_text("print('hello')\n")
    return d


@pytest.fixture(scope="module")
def built(lab, app):
    return lab.build(app, "store", quiet=True)


def test_the_store_is_the_one_asked_for(store):
    import os

    assert store == os.environ.get("DOCKERLAB_EXPECT_STORE", store), f"this engine has the {store} store"


def test_layers_show_the_base_apart_from_each_step(lab, built):
    table = layers(built.image, client=lab.client)
    assert table.base_ref == images.ref("python"), table.title
    written = [s for s in table.steps if "blob.bin" in s["what"]]
    assert len(written) == 1 and BLOB <= written[0]["bytes"] < BLOB + 64_000, table.steps
    assert table.base_bytes > 50_000_000


def test_a_deleted_file_is_found_in_its_layer(lab, built):
    found = image_index(built.image, client=lab.client, needles=["token-4f1d"]).holding(b"token-4f1d")
    assert [f.path for f in found] == ["/app/.secret"], found
    assert found[0].deleted_later and found[0].layer < found[0].layers


def test_sizes_and_budgets(lab, built, store):
    """Budgets compare like with like: the unpacked bytes (what du and docker history measure) on both stores."""
    from dockerlab.imagelayers import unpacked_size

    size = unpacked_size(built.image, lab.client)
    layers_sum = sum(h.get("Size", 0) for h in built.image.history())
    assert abs(size - layers_sum) <= 0.02 * layers_sum, (size, layers_sum)
    base = lab.client.images.get(images.ref("python"))
    budget = size_budget(lab, built.image, images.ref("python"), slack=1_000_000)
    assert budget.base_bytes == unpacked_size(base, lab.client) > 50_000_000, budget
    assert size <= budget.limit, (size, budget)
    assert built.size == size  # BuildResult.size: the unpacked bytes, as the budgets and docker history count them
    assert built.inspect_size == built.image.attrs["Size"] > 0
    if store == "containerd":  # inspect's Size is the packed content there: smaller than the layers take unpacked
        assert built.inspect_size < size, (built.inspect_size, size)
    else:
        assert built.inspect_size == size


def test_image_ids_can_be_inspected_and_saved(lab, built, store):
    image = lab.client.images.get(built.image.id)
    config = image.attrs.get("Config") or {}
    assert config.get("Cmd") == ["python", "app.py"]
    # the ID is the config digest on the classic store, the manifest's (or index's) digest on containerd
    saved = b"".join(lab.client.api.get_image(image.id))
    index = json.loads(_member(saved, "index.json") or b"{}")
    assert index.get("manifests"), "docker save by ID gave no OCI index"


def test_a_code_change_rebuild_leaves_the_first_image(lab, app, built):
    change = rebuild_after_code_change(lab, app, "store")
    assert change.error == "" and change.cached, (change.error, change.why())
    found = image_index(built.image, client=lab.client, needles=["token-4f1d"]).holding(b"token-4f1d")
    assert found, "the first image could not be read after the rebuild"


def test_a_multi_platform_index(lab, store):
    from dockerlab.dind import docker_host_of
    from dockerlab.supply.platforms import load_index
    from dockerlab.supply.stores import has_platform

    host = docker_host_of(client=lab.client)
    python = images.ref("python")
    name = lab.image("index")
    variants = {"linux/amd64": python, "linux/arm64": python}  # content is not checked: the platforms are named
    if store == "containerd":
        load_index(name, variants, source_host=host, target_host=host, quiet=True)
        assert has_platform(name, "linux/arm64", client=lab.client) and has_platform(name, "linux/amd64", client=lab.client)
        lab.client.images.remove(name)
    else:
        with pytest.raises(DockerlabError) as info:  # the classic store keeps one platform per name
            load_index(name, variants, source_host=host, target_host=host, quiet=True)
        assert "linux/arm64" in str(info.value), info.value


def _member(tar_bytes: bytes, name: str) -> bytes | None:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        try:
            return tar.extractfile(name).read()
        except KeyError:
            return None

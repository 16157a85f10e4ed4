"""Rebuild only when the recipe changed (dockerlab.recipes): the checks' app builds and the course's stand-ins."""
from types import SimpleNamespace

from docker.errors import ImageNotFound

from dockerlab import recipes
from dockerlab.grading import rebuild
from dockerlab.ops import foreign, standins

LABEL = "org.dockerlab.test.recipe"


class Images:
    def __init__(self, **labels_by_ref):
        self.by_ref = {ref: SimpleNamespace(labels=labels, ref=ref) for ref, labels in labels_by_ref.items()}

    def get(self, ref):
        if ref not in self.by_ref:
            raise ImageNotFound(ref)
        return self.by_ref[ref]


def test_digest_covers_names_bytes_order_and_salt(tmp_path):
    (tmp_path / "a").write_text("one")
    (tmp_path / "b").write_text("two")
    files = [("a", tmp_path / "a"), ("b", tmp_path / "b")]
    first = recipes.digest(files)
    assert len(first) == 16 and recipes.digest(files, length=24)[:16] == first
    assert recipes.digest(files) == first  # the same files: the same recipe
    assert len({first, recipes.digest(files[::-1]), recipes.digest([("A", tmp_path / "a"), files[1]]),
                recipes.digest(files, "arm64")}) == 4
    (tmp_path / "b").write_text("two!")
    assert recipes.digest(files) != first


def test_build_if_changed_keeps_a_current_image_and_builds_otherwise():
    client = SimpleNamespace(images=Images(kept={LABEL: "r1"}, old={LABEL: "r0"}, bare={}))
    built = []

    def build(labels):
        built.append(labels)
        return "new image"

    assert recipes.build_if_changed("kept", LABEL, "r1", build, client=client) is client.images.by_ref["kept"]
    assert built == []
    for ref in ("old", "bare", "missing"):
        assert recipes.build_if_changed(ref, LABEL, "r1", build, client=client) == "new image"
    assert recipes.build_if_changed("kept", LABEL, "r1", build, client=client, force=True) == "new image"
    assert built == [{LABEL: "r1"}] * 4


def test_build_reusing_labels_what_it_builds_with_the_inputs_hash(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM python\nCOPY app.py .\n")
    (tmp_path / "app.py").write_text("print(1)\n")
    built = []

    class Lab:
        client = SimpleNamespace(images=Images())

        def image(self, thing, tag):
            return f"dl-t-13-{thing}:{tag}"

        def build(self, path, thing, tag, quiet, labels):
            built.append(labels)
            self.client.images.by_ref[self.image(thing, tag)] = image = SimpleNamespace(labels=labels)
            return SimpleNamespace(image=image)

    lab = Lab()
    first = rebuild.build_reusing(lab, tmp_path, "app")
    assert rebuild.build_reusing(lab, tmp_path, "app") is first and len(built) == 1  # same inputs: kept
    (tmp_path / "app.py").write_text("print(2)\n")
    assert rebuild.build_reusing(lab, tmp_path, "app") is not first and len(built) == 2
    assert rebuild.build_reusing(lab, tmp_path, "app", reuse=False) and len(built) == 3
    assert built[0][rebuild.INPUTS_LABEL] != built[1][rebuild.INPUTS_LABEL] == built[2][rebuild.INPUTS_LABEL]


def test_a_stand_in_recipe_covers_its_folder_and_the_shared_base(tmp_path, monkeypatch):
    for folder, name in (("base", "apt.conf"), ("python", "Dockerfile"), ("uv", "Dockerfile")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(folder)
    monkeypatch.setattr(standins, "STANDINS", tmp_path)
    before = {k: standins.recipe_hash(k) for k in ("base", "python", "uv", "python-arm64")}
    assert len(set(before.values())) == 4  # the arm64 variant shares python's folder, not its hash
    (tmp_path / "base" / "apt.conf").write_text("changed")
    after = {k: standins.recipe_hash(k) for k in before}
    assert [k for k in before if before[k] != after[k]] == ["base", "python", "python-arm64"]  # uv has no base


def test_the_foreign_stand_in_takes_packages_env_and_cmd_from_the_recipe():
    """The arm64 Python stand-in is assembled, not built: what it installs, its ENV and its CMD are read from the
    same standins/python/Dockerfile the amd64 one is built from (one recipe, no copy that can drift)."""
    assert foreign.recipe_packages("python") == ["python3", "python3-pip", "python3-venv", "python3-dev"]
    env, cmd = foreign.recipe_config("python")
    assert env == {"LANG": "C.UTF-8", "PIP_ROOT_USER_ACTION": "ignore"} and cmd == '["python3"]'

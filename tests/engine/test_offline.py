"""Offline classroom: images bundle, and a lesson's app builds from the wheelhouse with no index and no network."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dockerlab import Lesson, images
from dockerlab.build import BuildFailed
from dockerlab.namespace import set_namespace
from dockerlab.ops import offline

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
NS = os.environ.get("DOCKERLAB_NAMESPACE", "test") + "-offline"
APP = "flask_hello"


@pytest.fixture
def lab():
    set_namespace(NS)
    lab = Lesson("91_offline", quiet=True)
    try:
        yield lab
    finally:
        lab.cleanup(quiet=True)
        set_namespace(None)


def test_course_requirements_are_pinned():
    reqs = offline.course_requirements()
    assert reqs, "no sample app requirements found"
    unpinned = [r for r in reqs if "==" not in r]
    assert not unpinned, f"sample apps must pin exact versions: {unpinned}"


def test_app_builds_from_the_wheelhouse_with_no_index_and_no_network(lab, tmp_path):
    app = ROOT / "sample_apps" / APP
    if not (app / "requirements.txt").exists():
        pytest.skip(f"sample_apps/{APP} has no requirements.txt yet")
    wheels = offline.build_wheelhouse(tmp_path / "wheels", (app / "requirements.txt").read_text().split(), lesson="91_offline")
    assert any(w.lower().startswith("flask-") for w in wheels), wheels
    variant = lab.image("python-wheelhouse")
    offline.build_variant(tmp_path / "wheels", images.ref("python"), variant, labels=lab.labels)
    # The app unchanged but for its FROM line (the test must not replace the shared base image).
    work = tmp_path / "app"
    shutil.copytree(app, work)
    df = (work / "Dockerfile").read_text()
    assert f"FROM {images.ref('python')}" in df
    (work / "Dockerfile").write_text(df.replace(f"FROM {images.ref('python')}", f"FROM {variant}"))
    result = lab.build(work, "offline-app", network="none", nocache=True, quiet=True)
    out = lab.client.containers.run(result.tag, ["python", "-c", "import flask; print(flask.__name__)"],
                                    remove=True, network="none", labels=lab.labels)
    assert out.decode().strip() == "flask"


def test_the_same_build_fails_without_the_wheelhouse_when_there_is_no_network(lab, tmp_path):
    app = ROOT / "sample_apps" / APP
    if not (app / "requirements.txt").exists():
        pytest.skip(f"sample_apps/{APP} has no requirements.txt yet")
    work = tmp_path / "app"
    shutil.copytree(app, work)
    (work / "Dockerfile").write_text((work / "Dockerfile").read_text().replace("pip install", "pip install --retries 0 --timeout 3"))
    with pytest.raises(BuildFailed) as info:
        lab.build(work, "no-network-app", network="none", nocache=True, quiet=True)
    assert "pip install" in info.value.step

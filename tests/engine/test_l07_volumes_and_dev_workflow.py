"""Lesson 07: the counter-volume check fails on the starter and on wrong answers, passes on correct ones."""
import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.exercises.l07_volumes_and_dev_workflow import check_counter

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def lab():
    lab = Lesson("07_volumes_and_dev_workflow", quiet=True)
    try:
        lab.image_tag = lab.build(lab.workspace("counter_service"), "counter", show=False).tag
        yield lab
    finally:
        lab.cleanup(quiet=True)


def failing(lab, kwargs):
    with pytest.raises(CheckFailed) as exc:
        check_counter(lab, lab.image_tag, kwargs)
    return str(exc.value)


def test_starter_fails(lab):
    msg = failing(lab, {})
    assert "nothing is mounted at /data" in msg and "shows count 0 instead of 3" in msg


def test_volume_at_wrong_path_fails(lab):
    msg = failing(lab, {"volumes": {lab.volume("wrong").name: {"bind": "/app/data", "mode": "rw"}}})
    assert "nothing is mounted at /data (volume at /app/data" in msg


def test_tmpfs_fails(lab):
    msg = failing(lab, {"tmpfs": {"/data": "uid=10001"}})
    assert "/data is a tmpfs" in msg


def test_relative_bind_source_fails(lab):
    msg = failing(lab, {"volumes": {"./data": {"bind": "/data", "mode": "rw"}}})
    assert "'./data' is a relative path" in msg


def test_solution_passes(lab):
    vol = lab.volume("counter-data")
    assert check_counter(lab, lab.image_tag, {"volumes": {vol.name: {"bind": "/data", "mode": "rw"}}}).passed


def test_bind_mount_in_workspace_passes(lab):
    data = lab.workspace("counter_service") / "data"
    data.mkdir()
    data.chmod(0o777)
    assert check_counter(lab, lab.image_tag, {"volumes": [f"{data}:/data:rw"]}).passed

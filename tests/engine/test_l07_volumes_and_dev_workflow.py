"""Lesson 07: the counter-volume check fails on the starter and on wrong answers, passes on correct ones."""
import pytest

from dockerlab import CheckFailed, Lesson
from docker.types import Mount

from dockerlab.exercises.l07_volumes_and_dev_workflow import check

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def lab():
    lab = Lesson("07_volumes_and_dev_workflow", quiet=True)
    try:
        lab.image_tag = lab.build(lab.workspace("counter_service"), "counter", quiet=True).tag
        yield lab
    finally:
        lab.cleanup(quiet=True)


def failing(lab, kwargs):
    with pytest.raises(CheckFailed) as exc:
        check(lab, lab.image_tag, kwargs)
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
    assert check(lab, lab.image_tag, {"volumes": {vol.name: {"bind": "/data", "mode": "rw"}}}).passed


def test_bind_mount_in_workspace_passes(lab):
    data = lab.workspace("counter_service") / "data"
    data.mkdir()
    data.chmod(0o777)
    assert check(lab, lab.image_tag, {"volumes": [f"{data}:/data:rw"]}).passed


# --- issue 10: the kind of mount observed, another spelling, a non-root app ----------------------------------

def test_equivalent_spellings_pass(lab):
    """A Mount object and a `name:/data` string: the same named volume."""
    vol = lab.volume("counter-data")
    assert check(lab, lab.image_tag, {"mounts": [Mount("/data", vol.name, type="volume")]}).passed
    assert check(lab, lab.image_tag, {"volumes": [f"{lab.name('counter-other')}:/data"]}).passed


def test_anonymous_volume_is_named_as_such(lab):
    """`/data` alone is an anonymous volume (observed in the container), not a bind mount outside the workspace."""
    msg = failing(lab, {"volumes": ["/data"]})
    assert "/data is an anonymous volume" in msg and "outside" not in msg


def test_bind_mount_the_non_root_app_cannot_write_gets_a_verdict(lab):
    data = lab.workspace("counter_service") / "data"
    data.mkdir()
    data.chmod(0o755)  # root's: the counter runs as uid 10001
    msg = failing(lab, {"volumes": [f"{data}:/data:rw"]})
    assert "the counter runs as uid 10001 and cannot write /data" in msg


def test_checking_twice_with_the_same_volume_passes(lab):
    """The volume keeps the first run's count: the check judges the hits it made, not an absolute 3."""
    vol = lab.volume("counter-twice")
    kwargs = {"volumes": {vol.name: {"bind": "/data", "mode": "rw"}}}
    assert check(lab, lab.image_tag, kwargs).passed
    assert check(lab, lab.image_tag, kwargs).passed

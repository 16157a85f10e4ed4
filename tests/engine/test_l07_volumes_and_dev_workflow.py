"""Lesson 07 exercise check (notes_api: a non-root service that keeps its notes in /data), real engine.

The learner edits the Dockerfile and writes start(image, port), their own containers.run call. Proofs: the unsolved
exercise and plausible wrong answers fail with the observed cause; the solution and a correct answer written
differently (another Dockerfile line, a bind mount of a folder given to uid 10001) pass.
"""
import json
import os

import pytest
from docker.errors import NotFound
from docker.types import Mount

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons import l07_volumes_and_dev_workflow as ex

pytestmark = pytest.mark.engine

OWNED = "RUN install -d -o 10001 -g 10001 -m 755 /data"


@pytest.fixture(scope="module")
def lab():
    with Lesson(ex.LESSON, quiet=True) as lesson:
        yield lesson


@pytest.fixture
def app(lab):
    return lab.workspace(ex.APP)


def before_user(app, line: str) -> None:
    """Add a Dockerfile line just before USER (where root still runs the steps)."""
    df = app / "Dockerfile"
    df.write_text(df.read_text().replace("USER 10001", f"{line}\nUSER 10001"))


def starter(lab, **run_kwargs):
    """The exercise's start(): the course's name and labels, the port published, plus ``run_kwargs``."""
    def start(image, port):
        return lab.client.containers.run(image, name=lab.name("notes"), labels=lab.labels, detach=True,
                                         ports={"8000/tcp": port}, **run_kwargs)
    return start


def volume(lab, thing="notes-data"):
    try:
        lab.client.volumes.get(lab.name(thing)).remove(force=True)
    except NotFound:
        pass
    return lab.client.volumes.create(lab.name(thing), labels=lab.labels)


def mounted(vol):
    return {"volumes": {vol.name: {"bind": "/data", "mode": "rw"}}}


def failure(lab, app, start) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, app, start)
    return info.value


def names(err) -> list[str]:
    return [r.name for r in err.failures]


def test_starter_fails_with_the_observed_cause(lab, app, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "progress.json"))
    err = failure(lab, app, starter(lab))
    assert names(err) == ["the service starts and writes /data"]
    assert "Permission denied: '/data'" in str(err) and "the image has no /data" in str(err)
    lines = json.loads((tmp_path / "progress.json").read_text())["attempts"][-1]["results"]
    assert [r["passed"] for r in lines] == [True, False, None, None, None, None]  # the rest: not evaluated


def test_a_volume_alone_is_owned_by_root(lab, app):
    err = failure(lab, app, starter(lab, **mounted(volume(lab))))
    assert names(err) == ["the service starts and writes /data"]
    assert "Permission denied: '/data/notes'" in str(err)
    assert "/data is the named volume" in str(err) and "/data belongs to uid 0 (mode 755)" in str(err)


def test_an_owned_directory_without_a_volume_loses_the_notes(lab, app):
    before_user(app, OWNED)
    err = failure(lab, app, starter(lab))
    assert names(err) == ["notes survive replacing the container"]
    assert "nothing is mounted at /data" in str(err)


def test_running_as_root_fails(lab, app):
    err = failure(lab, app, starter(lab, user="0", **mounted(volume(lab))))
    assert names(err) == ["runs as a non-root user"]
    assert "PID 1 runs as uid 0" in str(err)


def test_a_world_writable_data_dir_fails(lab, app):
    before_user(app, "RUN mkdir /data && chmod 777 /data")
    err = failure(lab, app, starter(lab, **mounted(volume(lab))))
    assert names(err) == ["/data belongs to the service's user, not to everyone"]
    assert "/data has mode 777" in str(err)


def test_an_anonymous_volume_loses_the_notes(lab, app):
    before_user(app, OWNED)
    err = failure(lab, app, starter(lab, volumes=["/data"]))
    assert names(err) == ["notes survive replacing the container"]
    assert "/data is an anonymous volume" in str(err)


def test_an_unlabelled_volume_fails_and_is_removed(lab, app):
    before_user(app, OWNED)
    raw = lab.name("raw-notes")
    err = failure(lab, app, starter(lab, volumes={raw: {"bind": "/data", "mode": "rw"}}))
    assert names(err) == ["volumes carry the course labels"]
    with pytest.raises(NotFound):
        lab.client.volumes.get(raw)


def test_creating_data_after_user_fails_the_build(lab, app):
    df = app / "Dockerfile"
    df.write_text(df.read_text().replace("EXPOSE 8000", "RUN mkdir /data\nEXPOSE 8000"))
    err = failure(lab, app, starter(lab, **mounted(volume(lab))))
    assert names(err) == ["the image builds"]
    assert "do it as root, before USER" in str(err)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a host folder to uid 10001 needs root")
def test_other_correct_answer_passes(lab, app):
    """chown by user name in the image, and a bind mount (docker.types.Mount) of a host folder owned by uid 10001."""
    before_user(app, "RUN mkdir -p /data && chown app:app /data")
    folder = app.parent / "notes-data"
    folder.mkdir(exist_ok=True)
    os.chown(folder, 10001, 10001)
    start = starter(lab, mounts=[Mount(target="/data", source=str(folder), type="bind")])
    assert ex.check(lab, app, start).passed
    assert sorted(p.name for p in (folder / "notes").iterdir()) == ["first.txt", "second.txt", "third.txt"]

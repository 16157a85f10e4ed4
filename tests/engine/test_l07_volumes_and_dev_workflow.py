"""Lesson 07 exercise check (notes_api: a non-root service that keeps its notes in /data), real engine.

The learner edits the Dockerfile and writes start(image, port), their own containers.run call. The unsolved exercise
is run by tests/test_exercises.py (UNSOLVED_FAILS) and the solution by its notebook. Here: plausible wrong answers
lose exactly their line, with its cause and the values seen; correct answers written differently pass (the directory
given by user name, a bind mount of a host folder; a pasted `docker run --mount`); and the check ends in a verdict on
an empty answer, a port already taken, an image that does not build and a container that disappears mid-check.
"""
import os
import socket

import pytest
from docker.errors import NotFound
from docker.types import Mount

from dockerlab import CheckFailed, tools
from dockerlab.grading import learner
from dockerlab.grading.lessons import l07_volumes_and_dev_workflow as ex

pytestmark = pytest.mark.engine

OWNED = "RUN install -d -o 10001 -g 10001 -m 755 /data"
IDS = [c.id for c in ex.CRITERIA]


@pytest.fixture
def app(lab):
    return lab.workspace(ex.APP)


def before_user(app, line: str) -> None:
    """Add a Dockerfile line just before USER (where root still runs the steps)."""
    df = app / "Dockerfile"
    df.write_text(df.read_text().replace("USER 10001", f"{line}\nUSER 10001"))


def start_with(lab, **run_kwargs):
    """A start(): the course's name and labels, the port published, plus ``run_kwargs``."""
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


def mounted(vol, at="/data"):
    return {"volumes": {vol.name: {"bind": at, "mode": "rw"}}}


def graded(lab, app, start, **kwargs):
    sc = ex.grade(lab, app, start, **kwargs)
    with pytest.raises(CheckFailed):  # check() is grade() + raise_unless_passed()
        sc.raise_unless_passed()
    return sc


def verdicts(sc) -> dict:
    return {r.id: r.passed for r in sc.lines}


# --- wrong answers: one line each, its cause and what was seen ------------------------------------------------

def test_a_volume_alone_is_owned_by_root(lab, app):
    sc = graded(lab, app, start_with(lab, **mounted(volume(lab))))
    assert sc.failed_ids == ["l07.writes-data"], str(sc)
    line = sc.by_id("l07.writes-data")
    assert line.cause == "wrong-value" and line.fix
    assert {k: line.observed[k] for k in ("owner", "mode", "mount", "denied", "user")} == {
        "owner": 0, "mode": "755", "mount": "volume", "denied": "/data/notes", "user": "10001"}
    assert verdicts(sc) == {"l07.builds": True, "l07.writes-data": False, "l07.non-root": None, "l07.notes-kept": None,
                            "l07.data-owner": None, "l07.labelled-volumes": True}  # the rest could not be judged


def test_a_volume_at_another_path_leaves_no_data_dir(lab, app):
    sc = graded(lab, app, start_with(lab, **mounted(volume(lab), at="/app/data")))
    assert sc.failed_ids == ["l07.writes-data"], str(sc)
    line = sc.by_id("l07.writes-data")
    assert line.cause == "missing" and line.observed["data_dir"] is None
    assert line.observed["mount"] == "none" and line.observed["denied"] == "/data"


def test_an_owned_directory_without_a_volume_loses_the_notes(lab, app):
    before_user(app, OWNED)
    sc = graded(lab, app, start_with(lab))
    assert sc.failed_ids == ["l07.notes-kept"], str(sc)
    line = sc.by_id("l07.notes-kept")
    assert line.cause == "missing" and line.observed == {"notes": [], "mount": "none"}
    assert sc.by_id("l07.writes-data").observed["notes"] == list(ex.NOTES)
    assert sc.by_id("l07.data-owner").observed == {"owner": 10001, "uid": 10001, "mode": "755"}
    assert sc.by_id("l07.labelled-volumes").observed == {"volumes": []}


def test_an_anonymous_volume_loses_the_notes(lab, app):
    before_user(app, OWNED)
    sc = graded(lab, app, start_with(lab, volumes=["/data"]))
    assert sc.failed_ids == ["l07.notes-kept"], str(sc)
    assert sc.by_id("l07.notes-kept").observed["mount"] == "anonymous"


def test_running_as_root_fails(lab, app):
    sc = graded(lab, app, start_with(lab, user="0", **mounted(volume(lab))))
    assert sc.failed_ids == ["l07.non-root"], str(sc)
    assert sc.by_id("l07.non-root").cause == "unsafe" and sc.by_id("l07.non-root").observed == {"uid": 0}


def test_a_world_writable_data_dir_fails(lab, app):
    before_user(app, "RUN mkdir /data && chmod 777 /data")
    sc = graded(lab, app, start_with(lab, **mounted(volume(lab))))
    assert sc.failed_ids == ["l07.data-owner"], str(sc)
    line = sc.by_id("l07.data-owner")
    assert line.cause == "unsafe" and line.observed == {"owner": 0, "mode": "777"}


def test_an_unlabelled_volume_fails_and_is_removed(lab, app):
    before_user(app, OWNED)
    raw = lab.name("raw-notes")
    sc = graded(lab, app, start_with(lab, volumes={raw: {"bind": "/data", "mode": "rw"}}))
    assert sc.failed_ids == ["l07.labelled-volumes"], str(sc)
    assert sc.by_id("l07.labelled-volumes").cause == "missing"
    assert sc.by_id("l07.labelled-volumes").observed == {"volumes": [raw], "unlabelled": [raw]}
    with pytest.raises(NotFound):
        lab.client.volumes.get(raw)


# --- a verdict on every input -----------------------------------------------------------------------------------

def test_creating_data_after_user_fails_the_build(lab, app):
    df = app / "Dockerfile"
    df.write_text(df.read_text().replace("EXPOSE 8000", "RUN mkdir /data\nEXPOSE 8000"))
    sc = graded(lab, app, start_with(lab, **mounted(volume(lab))))
    assert sc.failed_ids == ["l07.builds"], str(sc)
    line = sc.by_id("l07.builds")
    assert line.cause == "build-failed" and line.observed["permission_denied"] is True
    assert line.observed["step"].endswith("RUN mkdir /data")
    assert all(r.passed is None for r in sc.lines[1:])


def test_an_empty_answer_gets_a_verdict(lab, app):
    """start() that does nothing: the line says what it returned."""
    sc = graded(lab, app, lambda image, port: None)
    assert sc.failed_ids == ["l07.writes-data"], str(sc)
    assert sc.by_id("l07.writes-data").cause == "wrong-value"
    assert sc.by_id("l07.writes-data").observed == {"returned": "NoneType"}
    assert verdicts(sc)["l07.labelled-volumes"] is None


@pytest.fixture
def taken_port():
    """A host port some other program listens on."""
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        yield s.getsockname()[1]


def test_a_port_already_taken_is_the_answers_when_it_ignores_port(lab, app, taken_port):
    before_user(app, OWNED)
    sc = graded(lab, app, lambda image, port: start_with(lab)(image, taken_port))
    assert sc.failed_ids == ["l07.writes-data"], str(sc)
    line = sc.by_id("l07.writes-data")
    assert line.cause == "wrong-value" and line.observed["port_taken"] == taken_port


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a host folder to uid 10001 needs root")
def test_other_correct_answer_passes(lab, app):
    """chown by user name in the image, and a bind mount (docker.types.Mount) of a host folder owned by uid 10001."""
    before_user(app, "RUN mkdir -p /data && chown app:app /data")
    folder = app.parent / "notes-data"
    folder.mkdir(exist_ok=True)
    os.chown(folder, 10001, 10001)
    sc = ex.check(lab, app, start_with(lab, mounts=[Mount(target="/data", source=str(folder), type="bind")]))
    assert sc.passed and [r.id for r in sc.lines] == IDS
    assert sc.by_id("l07.notes-kept").observed == {"notes": list(ex.NOTES), "mount": "bind"}
    assert sorted(p.name for p in (folder / "notes").iterdir()) == ["first.txt", "second.txt", "third.txt"]


def test_a_pasted_docker_run_passes_even_when_the_checks_port_was_taken(lab, app, taken_port, monkeypatch):
    """`docker volume create` + `docker run --mount` from the CLI; the check's first free port is taken by another
    program in between, so it calls start() again on another one."""
    before_user(app, "RUN mkdir -p /data && chown 10001:10001 /data && chmod 700 /data")
    ports = iter([taken_port])
    real = learner.free_port
    monkeypatch.setattr(learner, "free_port", lambda: next(ports, None) or real())
    data = lab.name("cli-notes")
    label = [f"--label={k}={v}" for k, v in lab.labels.items()]
    tools.run(["docker", "volume", "create", *label, data], check=True)

    def start(image, port):
        tools.run(["docker", "run", "-d", "--name", lab.name("notes"), *label, "-p", f"{port}:8000",
                   "--mount", f"type=volume,src={data},dst=/data", image], check=True)
        return lab.client.containers.get(lab.name("notes"))

    sc = ex.check(lab, app, start)
    assert sc.passed, str(sc)
    assert sc.by_id("l07.data-owner").observed["mode"] == "700"
    assert sc.by_id("l07.labelled-volumes").observed == {"volumes": [data]}


def test_a_container_that_disappears_mid_check_gets_a_verdict(lab, app, monkeypatch):
    """The first container is removed (by someone else) just before the check reads PID 1's uid."""
    before_user(app, OWNED)
    real, removed = ex.pid1_info, []

    def pid1_info(container, lab_):
        if not removed:
            removed.append(container.name)
            container.remove(force=True)
        return real(container, lab_)

    monkeypatch.setattr(ex, "pid1_info", pid1_info)
    sc = graded(lab, app, start_with(lab, **mounted(volume(lab))))
    assert sc.failed_ids == ["l07.non-root"], str(sc)
    line = sc.by_id("l07.non-root")
    assert line.cause == "exited" and line.observed == {"status": "removed"}
    assert sc.by_id("l07.notes-kept").passed and removed == [lab.name("notes")]

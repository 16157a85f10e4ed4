"""A newcomer without the 1 GB full Python image passes the preflight with a warning (issue 21, deliverable 6).

A fake engine that holds every course image but ``python-full``: the doctor's "course images" line is ok with a
warning, the preflight's ``prepare(lazy=False)`` leaves the image for lesson 02 without pulling or building anything,
and ``lab.base("python-full")`` (through ``when_needed``) fetches it the first time a lesson asks for it.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from docker.errors import ImageNotFound

from dockerlab import images, lesson
from dockerlab.ops import doctor, prepare


class FakeImages:
    def __init__(self, present: set[str]):
        self.present = set(present)

    def get(self, reference):
        if reference not in self.present:
            raise ImageNotFound(f"No such image: {reference}")
        return SimpleNamespace(labels={}, attrs={"Size": 150_000_000}, tags=[reference])


class FakeClient:
    def __init__(self, present):
        self.images = FakeImages(present)
        self.api = SimpleNamespace(api_version="1.51", base_url="http+docker://fake")

    def version(self):
        return {"Version": "28.5.2", "ApiVersion": "1.51"}

    def info(self):
        return {"Architecture": "x86_64", "OSType": "linux", "Driver": "overlay2", "DriverStatus": [],
                "DockerRootDir": "/"}


def everything_but_full():
    return FakeClient({images.ref(i.key) for i in images.manifest() if i.key != "python-full"})


@pytest.fixture
def no_tools(monkeypatch):
    """No pull, no stand-in build, no CLI: any attempt is recorded (and must not happen on the warning path)."""
    tried = []
    monkeypatch.setattr(prepare, "_pull", lambda client, ref: tried.append(("pull", ref)) or False)
    monkeypatch.setattr(prepare, "registry_reachable", lambda *a, **k: tried.append(("registry", a)) or False)
    monkeypatch.setattr(prepare.debian_standins, "debootstrap_base", lambda **k: tried.append(("debootstrap",)))
    monkeypatch.setattr(prepare.debian_standins, "build_standin", lambda img, client: tried.append(("build", img.ref)))
    monkeypatch.setattr(doctor, "_cli_version", lambda args: "28.5.2")
    return tried


def test_the_manifest_marks_only_the_full_python_image_lazy():
    assert [i.key for i in images.manifest() if i.lazy] == ["python-full"]


def test_doctor_warns_and_stays_ok_without_the_full_image(monkeypatch, no_tools):
    client = everything_but_full()
    monkeypatch.setattr(doctor, "get_client", lambda: client)
    report = doctor.doctor(check_registry=False)
    line = next(i for i in report.items if i.name == "course images")
    total = len(images.manifest())
    assert (line.ok, line.value) == (True, f"{total - 1}/{total} present")
    assert images.ref("python-full") in line.warning
    assert report.ok and report.problems == []


def test_doctor_still_stops_on_an_absent_image_the_lessons_need_at_once(monkeypatch, no_tools):
    present = {images.ref(i.key) for i in images.manifest() if i.key not in ("python-full", "python")}
    monkeypatch.setattr(doctor, "get_client", lambda: FakeClient(present))
    line = next(i for i in doctor.doctor(check_registry=False).items if i.name == "course images")
    assert line.ok is False and images.ref("python") in line.hint and images.ref("python-full") in line.warning


def test_the_override_variable_points_the_check_at_another_reference(monkeypatch, no_tools):
    """What the live proof uses: DOCKERLAB_IMAGE_PYTHON_FULL names an image no engine has, the shared one stays."""
    monkeypatch.setenv(images.override_var("python-full"), "python:0.0-absent")
    client = FakeClient({i.ref for i in images.manifest()})  # the shared full image is present
    rows = {r["image"]: r for r in prepare.status(client=client)}
    assert rows["python:0.0-absent"]["present"] == "no" and rows["python:0.0-absent"]["fetched"] == prepare.FETCHED_LATER
    assert doctor.images_item(prepare.status(client=client)).ok is True


def test_preflight_prepare_leaves_the_full_image_for_lesson_02(no_tools):
    table = prepare.prepare(client=everything_but_full(), progress=False, lazy=False)
    actions = {r["image"]: r["action"] for r in table}
    assert actions.pop(images.ref("python-full")).startswith("left for later: lesson 02")
    assert set(actions.values()) == {"present"}
    assert no_tools == []  # nothing pulled, nothing built


def test_the_lesson_that_asks_for_it_fetches_it(monkeypatch, no_tools):
    client = everything_but_full()
    monkeypatch.setattr(prepare, "get_client", lambda: client)
    monkeypatch.setattr(prepare, "registry_reachable", lambda *a, **k: True)

    def pull(c, img):  # prepare's _pull(client, CourseImage): pulls img.pinned_ref, tags it img.ref
        no_tools.append(("pull", img.ref))
        c.images.present.add(img.ref)
        return True

    monkeypatch.setattr(prepare, "_pull", pull)
    full = images.ref("python-full")
    assert lesson.Lesson.base("python-full") == full
    assert no_tools == [("pull", full)]
    assert lesson.Lesson.base("python-full") == full and len(no_tools) == 1  # present now: not fetched again
    assert lesson.Lesson.base("python") == images.ref("python")  # not lazy: no engine call at all


def test_preflight_prepare_judges_the_reference_the_lessons_use(monkeypatch, no_tools):
    monkeypatch.setenv(images.override_var("python-full"), "python:0.0-absent")
    table = prepare.prepare(client=FakeClient({i.ref for i in images.manifest()}), progress=False, lazy=False)
    assert {r["image"]: r["size (unpacked)"] for r in table}["python:0.0-absent"] == "-" and no_tools == []


def test_make_lab_prepares_without_the_lazy_image(monkeypatch):
    """`make lab` runs `dockerlab prepare --skip-lazy`; `make images` (plain `dockerlab prepare`) still makes all."""
    import subprocess

    from dockerlab.ops import commands
    from dockerlab.show import Table

    asked = []
    monkeypatch.setattr(prepare, "prepare", lambda **kw: asked.append(kw["lazy"]) or Table([]))
    assert commands.main(["prepare", "--skip-lazy"]) == commands.EXIT_OK
    assert commands.main(["prepare"]) == commands.EXIT_OK
    assert asked == [False, True]
    dry = subprocess.run(["make", "-n", "--no-print-directory", "lab"], capture_output=True, text=True, timeout=60,
                         cwd=images.HERE.parents[1])
    assert [line.split()[1:] for line in dry.stdout.splitlines() if line.endswith("/dockerlab prepare --skip-lazy")] == [
        ["prepare", "--skip-lazy"]]

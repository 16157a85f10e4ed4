"""What several lessons' verdict tests share: the module's lesson (``lab``) and capstone database (``db``), what they do
to a check (take its port, remove its container mid-check), and the record of every line a test grades."""
from __future__ import annotations

import os
import socket

import pytest

from dockerlab import Lesson
from dockerlab.grading import serving


@pytest.fixture(scope="module")
def lab(request):
    """The Lesson of the test module (its ``LESSON``, or its check module's ``ex.LESSON``), removed with everything it
    created once the module's tests ran. A module that needs a fresh one per test defines its own ``lab``."""
    module = request.module
    lesson = getattr(module, "LESSON", None) or module.ex.LESSON
    with Lesson(lesson, quiet=True) as lesson_lab:
        yield lesson_lab


@pytest.fixture(scope="module")
def db(lab):
    """Lesson 13's Postgres, shared by the module's gradings, removed after them."""
    from dockerlab.grading.lessons.l13_capstone import Database

    database = Database(lab)
    try:
        yield database
    finally:
        database.remove()


@pytest.fixture
def held_port():
    """A port something else (this test) listens on, on every address, for the test's length."""
    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        yield held.getsockname()[1]


@pytest.fixture
def port_taken(held_port, monkeypatch):
    """A port already taken, handed to the check as the free port it asked for."""
    monkeypatch.setattr(serving, "free_port", lambda: held_port)
    return held_port


@pytest.fixture
def removed_on_first_get(monkeypatch):
    """The check's container is removed just before the check's first HTTP request to it."""
    real = serving.http_get

    def removed_first(*args, container=None, **kwargs):
        container.remove(force=True)
        return real(*args, container=container, **kwargs)

    monkeypatch.setattr(serving, "http_get", removed_first)


@pytest.fixture(autouse=True)
def graded_lines_are_recorded(monkeypatch):
    """Under the suite (DOCKERLAB_PROGRESS set per unit), every line a test grades goes to the unit's progress file,
    as a learner's check does: the full run reads them to prove each line id failing and passing (tests/wording.py).
    Tests grade with Checker.grade and assert ids; they need not call report()."""
    if not os.environ.get("DOCKERLAB_PROGRESS"):
        yield
        return
    from dockerlab.grading import checker
    from dockerlab.grading.progress import record_progress

    real_grade, real_report = checker.Checker.grade, checker.Checker.report

    def grade(self, *args, **kwargs):
        out = real_grade(self, *args, **kwargs)
        record_progress(self.lesson, self.exercise, self.results, self.seconds, "test")
        self._recorded_lines = len(self.results)
        return out

    def report(self, *args, **kwargs):  # the lines grade() recorded are not recorded a second time
        if getattr(self, "_recorded_lines", None) != len(self.results):
            return real_report(self, *args, **kwargs)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(checker, "record_progress", lambda *a, **k: None)
            return real_report(self, *args, **kwargs)

    monkeypatch.setattr(checker.Checker, "grade", grade)
    monkeypatch.setattr(checker.Checker, "report", report)
    yield

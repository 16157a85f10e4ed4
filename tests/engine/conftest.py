"""What several lessons' verdict tests do to a check (take its port, remove its container mid-check), and the record of
every line a test grades."""
from __future__ import annotations

import os
import socket

import pytest

from dockerlab.grading import serving


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
    from dockerlab.grading.checker import Checker
    from dockerlab.grading.progress import record_progress

    real = Checker.grade

    def grade(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        record_progress(self.lesson, self.exercise, self.results, self.seconds, "test")
        return out

    monkeypatch.setattr(Checker, "grade", grade)
    yield

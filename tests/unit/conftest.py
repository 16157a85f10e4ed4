"""Unit tests run without an engine: a check that fails in one starts no watcher process (dockerlab.grading.reaper), which
would clean the runner's namespace on the engine once pytest ends. ``watchers_started`` lists what would have run."""
import pytest

from dockerlab.grading import reaper


class _Running:
    def poll(self):
        return None


@pytest.fixture(autouse=True)
def watchers_started(monkeypatch):
    started = []  # (command line, environment) of each watcher a failed check would have started
    monkeypatch.setattr(reaper, "_WATCHERS", {})
    monkeypatch.setattr(reaper, "_spawn", lambda cmd, env: started.append((cmd, env)) or _Running())
    return started

"""StepProgress without an engine: tqdm's terminal bar (what a terminal receives) and its notebook widgets (their state)."""
from __future__ import annotations

import re

import pytest

import dockerlab.progressbar as pb

GREEN, RED = "\x1b[32m", "\x1b[31m"


def drawn(out: str) -> list[str]:
    """The successive states of a terminal status line (each draw starts with a carriage return)."""
    return [s for s in re.split(r"[\r\n]", out) if s.strip()]


@pytest.fixture
def terminal(monkeypatch):
    monkeypatch.setattr(pb, "in_notebook", lambda: False)


@pytest.fixture
def notebook(monkeypatch):
    monkeypatch.setattr(pb, "in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)


def test_a_log_gets_nothing(terminal, capsys):
    p = pb.StepProgress("build app", total=3, enabled=False)
    p.update(done=1, running="RUN pip install flask", elapsed=2)
    p.clear_line()
    p.finish(ok=True)
    assert capsys.readouterr().out == "" and p.bar is None


def test_terminal_shows_the_running_step_and_ends_full_and_green(terminal, capsys):
    p = pb.StepProgress("build app", enabled=True)  # BuildKit has not said how many steps yet
    long_step = "RUN pip install --no-cache-dir -r requirements.txt && echo done"
    p.update(done=0, total=4, running=long_step, elapsed=3.2)
    first = p.text
    p.update(done=2, total=6, running="COPY . .", elapsed=0.1)  # the total grows while the build runs
    second = p.text
    p.finish(ok=True)
    lines = drawn(capsys.readouterr().out)
    assert lines[0].startswith(p.title) and "0/? steps" in lines[0], lines
    cut = pb.short(long_step, 45)
    assert (len(cut), cut[-1], first, second) == (45, "…", f"{cut} (3 s)", "COPY . . (0 s)")  # cut, whole seconds
    assert any(f"0/4 steps, {first}" in l for l in lines) and any(f"2/6 steps, {second}" in l for l in lines), lines
    assert GREEN in lines[-1] and re.search(r"6/6 steps, done in \d+\.\d s", lines[-1]), lines[-1]
    assert (p.bar.n, p.bar.total) == (6, 6)


def test_terminal_failure_is_red_and_names_the_step(terminal, capsys):
    p = pb.StepProgress("build app", total=5, enabled=True)
    p.update(done=2, running="RUN false")
    p.finish(ok=False, text="build app failed at RUN false")
    last = drawn(capsys.readouterr().out)[-1]
    assert RED in last and last.endswith("2/5 steps, failed at RUN false"), last


def test_clear_line_lets_a_normal_line_through_and_the_bar_comes_back(terminal, capsys):
    p = pb.StepProgress("build app", total=2, enabled=True)
    p.update(done=1, running="RUN a", elapsed=1)
    p.clear_line()
    print("  [1/2] RUN a  ... 1.0 s")
    p.update(done=1, running="RUN a", elapsed=1)  # nothing changed, yet the line was cleared: drawn again
    before, after = capsys.readouterr().out.split("  [1/2] RUN a  ... 1.0 s\n")
    assert before.endswith("\r") and f"1/2 steps, {p.text}" in after and p.text.startswith("RUN a")  # cleared, printed, drawn again


def test_finish_is_once(terminal, capsys):
    p = pb.StepProgress("x", total=1, enabled=True)
    p.finish(ok=True)
    p.finish(ok=False)
    p.update(done=0, running="late")
    assert "failed" not in capsys.readouterr().out and p.bar.colour == "green"


def test_notebook_widget_success_is_full_and_green_although_the_total_grew(notebook):
    p = pb.StepProgress("build app", enabled=True)
    title, bar, text = p.widget.children
    assert (bar.value, bar.bar_style) == (0, "") and bar.layout.width is None  # not tqdm's 20 px "unknown" bar
    p.update(done=1, total=3, running="RUN pip install -r requirements.txt", elapsed=2)
    assert (bar.value, bar.max) == (1, 3) and "1/3\u2007steps" in text.value
    p.update(done=3, total=7)  # BuildKit found more steps; the build then succeeds with n < the last total
    p.finish(ok=True)
    assert bar.bar_style == "success" and bar.value == bar.max == 7
    assert "done\u2007in" in text.value and p.widget.layout.visibility != "hidden"


def test_notebook_widget_failure_is_danger_even_when_every_step_counted(notebook):
    p = pb.StepProgress("course run", total=2, enabled=True)
    p.update(done=2)
    p.finish(ok=False, text="course run: 1/2 notebooks passed")
    bar, text = p.widget.children[1:]
    assert bar.bar_style == "danger" and text.value.endswith("1/2\u2007notebooks\u2007passed")


def test_notebook_label_keeps_to_one_line(notebook):
    """The text widget does not shrink (so it never wraps at a hyphen); what is too long is cut at the edge."""
    p = pb.StepProgress("build app", total=3, enabled=True)
    title, _, text = p.widget.children
    assert title.layout.flex == text.layout.flex == "0 0 auto" and p.widget.layout.overflow == "hidden"
    p.update(done=1, running="RUN apt-get update && apt-get install -y --no-install-recommends curl", elapsed=12)
    assert p.widget.children[2].value.count("…") == 1 and "\n" not in p.widget.children[2].value

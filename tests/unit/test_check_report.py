"""A check's report: one table shown once, lines never reached marked "not evaluated", cleanup once the kernel is gone."""
import os

import pytest

from dockerlab.grading import reaper
from dockerlab.grading.checker import NOT_EVALUATED, Checker
from dockerlab.errors import CheckFailed


@pytest.fixture(autouse=True)
def progress(tmp_path, monkeypatch, watchers_started):
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "progress.json"))
    return watchers_started  # (command line, environment) of the watchers a failed check started (conftest.py)


def test_lines_never_reached_are_not_evaluated_not_failed(capsys):
    c = Checker("03_layers_and_cache", "x", planned=["builds", "cached", "serves"])
    c.fail("builds", "the build failed", "fix it")
    with pytest.raises(CheckFailed) as info:
        c.report()
    assert [(r.name, r.passed) for r in c.results] == [("builds", False), ("cached", None), ("serves", None)]
    assert all(r.detail == f"{NOT_EVALUATED}: {c.stopped_because()}" for r in c.results[1:])
    assert f'"{c.failures[0].name}"' in c.stopped_because()  # where the check stopped: at the failed line
    assert [r.name for r in info.value.failures] == ["builds"]  # not-evaluated lines are not failures
    out = capsys.readouterr().out
    assert out.count("the build failed") == 1 and "… " not in out  # the table once, nothing left pending


def test_the_error_in_a_notebook_is_one_line_not_the_table_again():
    c = Checker("01_images_and_containers", planned=["a", "b"])
    c.fail("a", "seen this", "do that")
    c.fail("b", "seen that", "do this")
    with pytest.raises(CheckFailed) as info:
        c.report()
    shown = info.value._render_traceback_()
    assert len(shown) == 1 and shown[0].startswith("CheckFailed:") and c.lesson in shown[0]
    assert not any(r.detail in shown[0] or r.fix in shown[0] for r in c.results)  # the table is not repeated
    assert "seen this" in str(info.value)  # the full text stays in the exception (papermill, logs, tests)


def test_a_failed_check_cleans_its_lesson_when_the_process_ends(progress):
    c = Checker("07_volumes_and_dev_workflow")
    c.fail("x", "y")
    for _ in range(2):
        with pytest.raises(CheckFailed):
            c.report()
    # one watcher (not one per failure), for this lesson, waiting for this process (the kernel) to end
    assert [cmd[2:] for cmd, _env in progress] == [["dockerlab.grading.reaper", "--pid", str(os.getpid()),
                                              "--lesson", "07_volumes_and_dev_workflow", "--ns", reaper.namespace()]]


def test_a_passed_check_starts_no_watcher(progress):
    c = Checker("07_volumes_and_dev_workflow")
    c.ok("x", "fine")
    assert c.report().passed and progress == []


def test_a_demonstration_is_not_recorded(tmp_path, capsys):
    """A lesson's own demonstration grade (lesson 13 on the folder as shipped) leaves the learner's progress alone."""
    from dockerlab.grading.progress import progress_file

    demo = Checker("13_capstone", "capstone", planned=["1. builds"])
    demo.fail("1. builds", "no Dockerfile", "write one")
    assert demo.report(raise_on_failure=False, record=False).passed is False
    assert not progress_file().exists() and "recorded" not in capsys.readouterr().out
    attempt = Checker("13_capstone", "capstone", planned=["1. builds"])
    attempt.fail("1. builds", "no Dockerfile", "write one")
    attempt.report(raise_on_failure=False)
    assert progress_file().exists()


@pytest.mark.parametrize("instruction,path,copied", [
    ("COPY . .", "src/wordstats/text.py", True),
    ("COPY src/ src/", "src/wordstats/text.py", True),
    ("COPY ./src ./src", "src/wordstats/text.py", True),
    ("COPY requirements.lock .", "src/wordstats/text.py", False),
    ("COPY --chown=app:app app.py .", "app.py", True),
    ("COPY requirements.txt app.py ./", "app.py", True),
    ("COPY *.py ./", "app.py", True),
    ("COPY *.py ./", "src/wordstats/text.py", False),
    ("COPY --from=builder /app /app", "app.py", False),
    ("RUN pip install .", "app.py", False),
])
def test_which_step_copies_the_changed_file(instruction, path, copied):
    """A rebuild is tried again only when the first step that re-ran does not copy the changed file (a flake)."""
    from dockerlab.build import Step
    from dockerlab.grading.rebuild import copies

    assert copies(Step(1, 1, instruction, False, 0.0), path) is copied

"""Every exercise notebook, run unsolved with papermill, must fail its checks (CheckFailed, not another error).

And the way it fails is what a learner sees: the check cell shows one table of what was seen and how to fix it,
once (the error under it is one line, not the same lines again), and once the kernel has ended after "Run All"
stopped at the check, what the exercise started is removed (its last cell, lab.cleanup(), never ran): by the watcher
the failed check started (dockerlab.grading.reaper), which this test waits for.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import papermill as pm
import pytest

from dockerlab.grading import reaper
from dockerlab.cleanup import cleanup, leaks

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
WATCHER_TIMEOUT = 60  # seconds for the failed check's watcher to clean once the kernel has ended (a busy engine)
FAILED_LINE = re.compile(r"(?m)^\s*FAIL ")  # a failed line as text: "FAIL name: what was seen → fix" (checks.MARKS)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _check_cell_outputs(out: Path) -> list[dict]:
    """The outputs of the cell that raised."""
    nb = json.loads(out.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"
             and any(o["output_type"] == "error" for o in c.get("outputs", []))]
    assert len(cells) == 1, f"{len(cells)} cells raised"
    return cells[0]["outputs"]


# What the unsolved exercise must fail, by line id (the starter comes from the exercise notebook itself, so no test keeps
# a hand-written copy of it). A lesson whose check has no ids yet is not listed.
UNSOLVED_FAILS = {
    "01_images_and_containers": ["l01.env", "l01.port", "l01.memory", "l01.cpus", "l01.restart"],
    "02_first_dockerfile": ["l02.exec-form", "l02.health", "l02.no-env", "l02.no-git"],
    "03_layers_and_cache": ["l03.deps-cached"],
    "04_multi_stage": ["l04.no-compiler", "l04.size"],
    "05_uv": ["l05.lock", "l05.deps-cached"],
    "06_config_and_secrets": ["l06.password-file", "l06.not-in-inspect", "l06.no-secret"],
    "07_volumes_and_dev_workflow": ["l07.writes-data"],
    "08_compose": ["l08.db-check", "l08.up", "l08.order", "l08.volume"],
    "09_health_and_shutdown": ["l09.stops"],
    "11_registries_and_ci": ["l11.actionlint", "l11.pinned", "l11.cache", "l11.tests", "l11.push-digest"],
    "12_debugging": ["l12.starts"],
    "13_capstone": ["l13.builds"],
    "14_supply_chain": ["l14.platforms", "l14.provenance", "l14.signed", "l14.sbom"],
}


def _last_attempt(progress: Path, lesson: str) -> dict:
    data = json.loads(progress.read_text()) if progress.exists() else {"attempts": []}
    return next((a for a in reversed(data["attempts"]) if a["lesson"] == lesson), {})


@pytest.mark.engine
@pytest.mark.parametrize("nb", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_unsolved_exercise_fails_its_checks(nb: Path, tmp_path: Path, monkeypatch):
    ns = f"{os.environ.get('DOCKERLAB_NAMESPACE', 'test')}-ex"
    out = tmp_path / nb.name
    progress = tmp_path / "progress.json"
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(progress))  # the kernel papermill starts inherits it
    try:
        with pytest.raises(pm.PapermillExecutionError) as info:
            pm.execute_notebook(str(nb), str(out), parameters={"namespace": ns}, cwd=str(nb.parent),
                                progress_bar=False, kernel_name="python3", execution_timeout=600,
                                start_timeout=240)  # a kernel can take over a minute to start on a busy 2-core machine
        # The kernel has ended: the watcher the check's failure started removes what the exercise left.
        still_cleaning = reaper.settle(ns=ns, timeout=WATCHER_TIMEOUT)
        left = {k: v for k, v in leaks(ns=ns).items() if v}
    finally:
        cleanup(ns=ns, quiet=True)  # whatever happened, leave nothing behind
    assert info.value.ename == "CheckFailed", (
        f"{nb.name} unsolved stopped with {info.value.ename}: {info.value.evalue[:300]} "
        "(expected the exercise check to fail with CheckFailed)")
    # The failure message names at least one concrete fix.
    assert FAILED_LINE.search(info.value.evalue)
    assert not left, (f"{nb.name}: left after the kernel ended: {left}"
                      + (f" (its watcher had not finished after {WATCHER_TIMEOUT} s: {still_cleaning})"
                         if still_cleaning else ""))

    attempt = _last_attempt(progress, nb.stem)
    # the check knew the cell that ran it was the exercise's own check cell (dockerlab.grading.checkcell)
    assert attempt.get("check_cell") == "as written", f"{nb.name}: check cell recorded as {attempt.get('check_cell')!r}"
    if nb.stem in UNSOLVED_FAILS:
        failed = [r["id"] for r in attempt.get("results", []) if r["passed"] is False]
        assert failed == UNSOLVED_FAILS[nb.stem], (f"{nb.name} unsolved failed {failed}, expected "
                                                   f"{UNSOLVED_FAILS[nb.stem]}: {attempt.get('results')}")
        assert all(r["cause"] for r in attempt["results"] if r["passed"] is False), "a failed line without its cause"

    outputs = _check_cell_outputs(out)
    error = next(o for o in outputs if o["output_type"] == "error")
    assert len(error["traceback"]) == 1 and not FAILED_LINE.search(error["traceback"][0]), (
        f"the error repeats the table: {error['traceback']}")
    # The table: a display of the check's lines (ok/FAIL/--), or the live scorecard's widget (an HTML table); a
    # build's progress bar is a widget too, but no table of results.
    tables = [o for o in outputs if o["output_type"] in ("display_data", "execute_result")
              and (FAILED_LINE.search(_text(o.get("data", {}).get("text/plain")))
                   or "<table" in _text(o.get("data", {}).get("text/plain")))]
    assert len(tables) == 1, f"{nb.name}: {len(tables)} tables of results in the check cell (one, shown once)"
    streamed = "".join(_text(o.get("text")) for o in outputs if o["output_type"] == "stream")
    assert not FAILED_LINE.search(streamed), f"{nb.name}: the results are printed again as text: {streamed[:300]}"


def test_every_lesson_has_an_exercise():
    lessons = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")} - {"00_preflight"}
    missing = sorted(l for l in lessons if not (ROOT / "exercises" / f"{l}.ipynb").exists())
    assert not missing, f"lessons without an exercise: {missing}"

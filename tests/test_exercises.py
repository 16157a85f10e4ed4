"""Every exercise notebook, run unsolved with papermill, must fail its checks (CheckFailed, not another error)."""
from __future__ import annotations

import os
from pathlib import Path

import papermill as pm
import pytest

from dockerlab.cleanup import cleanup

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


@pytest.mark.engine
@pytest.mark.parametrize("nb", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_unsolved_exercise_fails_its_checks(nb: Path, tmp_path: Path):
    ns = f"{os.environ.get('DOCKERLAB_NAMESPACE', 'test')}-ex"
    out = tmp_path / nb.name
    try:
        with pytest.raises(pm.PapermillExecutionError) as info:
            pm.execute_notebook(str(nb), str(out), parameters={"namespace": ns}, cwd=str(nb.parent),
                                progress_bar=False, kernel_name="python3", execution_timeout=600)
    finally:
        # A failed check stops the notebook before its last cell (lab.cleanup()): clean for it.
        cleanup(ns=ns, quiet=True)
    assert info.value.ename == "CheckFailed", (
        f"{nb.name} unsolved stopped with {info.value.ename}: {info.value.evalue[:300]} "
        "(expected the exercise check to fail with CheckFailed)")
    # The failure message names at least one concrete fix.
    assert "✗" in info.value.evalue or "check(s) failed" in info.value.evalue


def test_every_lesson_has_an_exercise():
    lessons = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")} - {"00_preflight"}
    missing = sorted(l for l in lessons if not (ROOT / "exercises" / f"{l}.ipynb").exists())
    assert not missing, f"lessons without an exercise: {missing}"

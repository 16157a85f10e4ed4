"""`dockerlab run-all`: run the whole course headless with papermill and write an instructor's report.

Executes the lessons (and their solutions) with parameters, writes the executed notebooks to a gitignored
folder (``runs/<stamp>/``), and produces ``report.md`` and ``report.html``: per notebook pass/fail, duration,
the figures its helpers measured (builds, sizes, stops, health: see :mod:`dockerlab.figures`), and the
machine's doctor report. It is the "will my machine work on the day" check.
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from dockerlab.progressbar import StepProgress
from dockerlab.figures import describe, read_figures
from dockerlab.images import override_var
from dockerlab.paths import repo_root


@dataclasses.dataclass
class NotebookRun:
    notebook: str
    passed: bool
    seconds: float
    error: str = ""
    figures: list = dataclasses.field(default_factory=list)
    output: str = ""


def select(lessons: list[str] | None, solutions: bool = True) -> list[Path]:
    """Notebook paths for the given lesson numbers or names (all when None), lesson before its solution."""
    root = repo_root()
    out = []
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        if lessons and not any(nb.stem == l or nb.stem.startswith(f"{l}_") or nb.stem.split("_")[0] == l.zfill(2) for l in lessons):
            continue
        out.append(nb)
        sol = root / "solutions" / nb.name
        if solutions and sol.exists():
            out.append(sol)
    return out


def run_all(lessons: list[str] | None = None, namespace: str = "runall", solutions: bool = True,
            out_dir: str | os.PathLike | None = None, images: dict[str, str] | None = None,
            parameters: dict | None = None, progress: bool = True, timeout: int = 900) -> tuple[list[NotebookRun], Path]:
    """Execute the selected notebooks with papermill; return the runs and the folder holding them and the report.

    ``images`` overrides course image references (``{"python": "python:3.14-slim-trixie"}``) through
    ``DOCKERLAB_IMAGE_<KEY>`` variables that :func:`dockerlab.images.ref` reads.
    """
    import papermill as pm

    from dockerlab.cleanup import cleanup
    from dockerlab.namespace import set_namespace

    root = repo_root()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(out_dir) if out_dir else root / "runs" / stamp
    out.mkdir(parents=True, exist_ok=True)
    for key, value in (images or {}).items():
        os.environ[override_var(key)] = value
    notebooks = select(lessons, solutions)
    if not notebooks:
        raise RuntimeError(f"no notebooks match {lessons}")
    runs: list[NotebookRun] = []
    bar = None
    if progress:
        bar = StepProgress("course run", total=len(notebooks))
    for nb in notebooks:
        rel = nb.relative_to(root)
        if bar is not None:
            bar.update(running=str(rel))
        executed = out / rel.parent.name / nb.name
        executed.parent.mkdir(parents=True, exist_ok=True)
        figures_file = out / "figures" / f"{rel.parent.name}-{nb.stem}.jsonl"
        figures_file.parent.mkdir(exist_ok=True)
        figures_file.unlink(missing_ok=True)
        os.environ["DOCKERLAB_FIGURES"] = str(figures_file)
        t0 = time.monotonic()
        error = ""
        try:
            pm.execute_notebook(str(nb), str(executed), parameters={"namespace": namespace, **(parameters or {})},
                                cwd=str(nb.parent), progress_bar=False, kernel_name="python3",
                                execution_timeout=timeout, start_timeout=240)
            passed = True
        except pm.PapermillExecutionError as exc:
            passed, error = False, f"cell {exc.exec_count}: {exc.ename}: {exc.evalue.strip()[:400]}"
        except Exception as exc:  # kernel died, timeout, bad notebook
            passed, error = False, f"{type(exc).__name__}: {str(exc).strip()[:400]}"
        finally:
            os.environ.pop("DOCKERLAB_FIGURES", None)
            set_namespace(namespace)
            cleanup(nb.stem, client=None, quiet=True)  # whatever a failed notebook left
        runs.append(NotebookRun(str(rel), passed, time.monotonic() - t0, error, read_figures(str(figures_file)),
                                str(executed) if executed.exists() else ""))
        if bar is not None:
            bar.update(done=len(runs))
    if bar is not None:
        bar.finish(ok=all(r.passed for r in runs), text=f"course run: {sum(r.passed for r in runs)}/{len(runs)} notebooks passed")
    write_report(runs, out)
    return runs, out


def _doctor_lines() -> list[tuple[str, str, bool]]:
    from dockerlab.ops.doctor import doctor

    try:
        return [(i.name, i.value, i.ok) for i in doctor().items]
    except Exception as exc:  # the report must still be written
        return [("doctor", f"failed: {exc}", False)]


def write_report(runs: list[NotebookRun], out: Path) -> tuple[Path, Path]:
    """Write report.md and report.html into ``out``."""
    doctor = _doctor_lines()
    passed = sum(r.passed for r in runs)
    total_s = sum(r.seconds for r in runs)
    verdict = "ready" if passed == len(runs) and all(ok for _, _, ok in doctor) else "NOT ready"
    md = [f"# Course run: {verdict}", "",
          f"{passed}/{len(runs)} notebooks passed in {total_s:.0f} s ({time.strftime('%Y-%m-%d %H:%M')}).", "",
          "| notebook | result | seconds | figures measured |", "|---|---|---|---|"]
    for r in runs:
        figs = "; ".join(describe(f).replace("|", "\\|") for f in r.figures) or "-"
        md.append(f"| {r.notebook} | {'pass' if r.passed else 'FAIL'} | {r.seconds:.1f} | {figs} |")
    failures = [r for r in runs if not r.passed]
    if failures:
        md += ["", "## Failures", ""]
        md += [f"- **{r.notebook}**: {r.error} (executed notebook: `{r.output}`)" for r in failures]
    md += ["", "## This machine (dockerlab doctor)", "", "| | item | value |", "|---|---|---|"]
    md += [f"| {'ok' if ok else 'NO'} | {name} | {value} |" for name, value, ok in doctor]
    md_path = out / "report.md"
    md_path.write_text("\n".join(md) + "\n")

    from dockerlab.pages import render

    page = render("runall.html", verdict=verdict, passed=passed, runs=runs, total_s=total_s,
                  when=time.strftime("%Y-%m-%d %H:%M"), doctor=doctor, describe=describe)
    html_path = out / "report.html"
    html_path.write_text(page)
    return md_path, html_path

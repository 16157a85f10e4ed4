"""`dockerlab report`: a learner's progress (every lesson's checks, passed or not, with time) as JSON and HTML.

It reads the progress file the checks write (:func:`dockerlab.grading.checker.progress_file`)::

    {"namespace": "ada", "attempts": [{"lesson", "exercise", "time", "seconds", "passed",
                                        "results": [{"name", "passed", "detail", "fix"}]}]}

(``"passed": null`` is a line that was not evaluated: listed with the failing ones, but not counted as failed)

and writes ``dockerlab-report.json`` (the attempts grouped per lesson, with a summary) and
``dockerlab-report.html`` (one self-contained page an instructor or onboarding lead can read: per lesson the
latest attempt's status, how many attempts, the time spent, and the failing lines with their fixes; then the
course's exercises not started yet). Both go to ``runs/`` in the course folder (gitignored) unless
``--json`` / ``--html`` name other files; the command (:mod:`dockerlab.ops.commands`) prints where it wrote them.
"""
from __future__ import annotations

import json
import pkgutil
import re
import time
from pathlib import Path

from dockerlab.grading.checker import progress_file

DEFAULT_JSON = "dockerlab-report.json"
DEFAULT_HTML = "dockerlab-report.html"


def report_dir() -> Path:
    """Where ``dockerlab report`` writes by default: ``runs/`` in the course folder (gitignored, next to
    ``dockerlab run-all``'s reports), else ``runs/`` in the current folder."""
    from dockerlab.paths import repo_root

    try:
        return repo_root() / "runs"
    except RuntimeError:
        return Path("runs")


def course_exercises() -> list[str]:
    """The lessons that have an exercise check (``dockerlab.grading.lessons.lNN_topic``): ``["01_images_and_containers", …]``."""
    from dockerlab.grading import lessons as exercises

    return sorted(m.name[1:] for m in pkgutil.iter_modules(exercises.__path__) if re.fullmatch(r"l\d\d_\w+", m.name))


def load_progress(path: str | Path | None = None) -> dict:
    """The progress file as a dict (an empty one when there is none yet)."""
    p = Path(path) if path else progress_file()
    if not p.exists():
        return {"namespace": None, "attempts": []}
    data = json.loads(p.read_text())
    data.setdefault("attempts", [])
    return data


def _key(a: dict) -> tuple[str, str]:
    return a.get("lesson", "?"), a.get("exercise", "")


def summarize(progress: dict, course: list[str] | None = None) -> dict:
    """Group attempts per lesson and exercise: latest status, attempts, seconds, the latest results; and the
    lessons of ``course`` (default: :func:`course_exercises`) with no attempt yet, as ``not_started``."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for a in progress.get("attempts", []):
        groups.setdefault(_key(a), []).append(a)
    lessons = []
    for (lesson, exercise), attempts in sorted(groups.items()):
        attempts = sorted(attempts, key=lambda a: a.get("time", ""))
        latest = attempts[-1]
        results = latest.get("results", [])
        first_pass = next((a.get("time") for a in attempts if a.get("passed")), None)
        lessons.append({
            "lesson": lesson,
            "exercise": exercise,
            "status": "passed" if latest.get("passed") else "failing",
            # the latest attempt ran from a check cell that differs from the exercise's (a check edited to pass
            # proves nothing): dockerlab.grading.checkcell
            "check_cell_edited": latest.get("check_cell") == "edited",
            "failing_ids": [r.get("id") for r in results if r.get("passed") is False and r.get("id")],
            "attempts": len(attempts),
            "passed_attempts": sum(1 for a in attempts if a.get("passed")),
            "first_attempt": attempts[0].get("time"),
            "latest_attempt": latest.get("time"),
            "first_passed": first_pass,
            "check_seconds": round(sum(float(a.get("seconds") or 0) for a in attempts), 1),
            "checks_passed": sum(1 for r in results if r.get("passed")),
            "checks_total": len(results),
            "results": results,
            "failing": [r for r in results if r.get("passed") is not True],
            "history": [{"time": a.get("time"), "passed": bool(a.get("passed")), "seconds": a.get("seconds"),
                         "checks_passed": sum(1 for r in a.get("results", []) if r.get("passed")),
                         "checks_total": len(a.get("results", []))} for a in attempts],
        })
    course = course_exercises() if course is None else list(course)
    attempted = {l["lesson"] for l in lessons}
    not_started = [c for c in course if c not in attempted]
    return {
        "namespace": progress.get("namespace"),
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "summary": {
            "exercises": len(lessons),  # attempted
            "passed": sum(1 for l in lessons if l["status"] == "passed"),
            "failing": sum(1 for l in lessons if l["status"] != "passed"),
            "check_cells_edited": sum(1 for l in lessons if l["check_cell_edited"]),
            "not_started": len(not_started),
            "course_exercises": len(set(course) | attempted),
            "attempts": sum(l["attempts"] for l in lessons),
            "check_seconds": round(sum(l["check_seconds"] for l in lessons), 1),
        },
        "lessons": lessons,
        "not_started": not_started,
    }


def progress_line(summary: dict) -> str:
    """"1 of 14 exercises passing, 0 failing, 13 not started" (the course's count; only attempted ones when unknown)."""
    total = summary.get("course_exercises") or summary["exercises"]
    return (f"{summary['passed']} of {total} exercises passing, {summary['failing']} failing"
            + (f", {summary['not_started']} not started" if summary.get("not_started") else ""))


def render_html(report: dict) -> str:
    """One self-contained HTML page (inline CSS, no scripts, no external resources): templates/report.html."""
    from dockerlab.pages import render

    return render("report.html", report=report, progress_line=progress_line(report["summary"]))


def write_report(json_path: str | Path | None = ..., html_path: str | Path | None = ...,
                 progress: str | Path | None = None) -> dict:
    """Read the progress file and write the JSON and/or HTML report (None: not that one; left out: the default
    file in :func:`report_dir`); return the report dict."""
    if json_path is ...:
        json_path = report_dir() / DEFAULT_JSON
    if html_path is ...:
        html_path = report_dir() / DEFAULT_HTML
    report = summarize(load_progress(progress))
    for path, text in ((json_path, lambda: json.dumps(report, indent=1, ensure_ascii=False) + "\n"),
                       (html_path, lambda: render_html(report))):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text())
    return report


if __name__ == "__main__":
    raise SystemExit("python -m dockerlab.grading.report is now `dockerlab report` (or python -m dockerlab report)")

"""A learner's progress: every check's attempt, appended to one JSON file per namespace, which ``dockerlab report``
and the classroom's room page read. Each line of an attempt keeps its id, verdict, cause and the values seen."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from dockerlab import settings
from dockerlab.namespace import namespace


def progress_file(ns: str | None = None) -> Path:
    """Where a learner's check results are kept: $DOCKERLAB_PROGRESS, else ~/.dockerlab/progress-<ns>.json."""
    env = settings.PROGRESS.get()
    if env:
        return Path(env)
    return Path.home() / ".dockerlab" / f"progress-{ns or namespace()}.json"


def record_progress(lesson: str, exercise: str, results: list, seconds: float, check_cell: str = "unknown") -> None:
    """Append one attempt: ``{"lesson", "exercise", "time", "seconds", "passed", "check_cell", "results": [{"name",
    "passed", "detail", "fix", "id", "cause", "observed"}]}``; a line that was not evaluated has ``"passed": null``;
    ``check_cell`` is "as written", "edited" or "unknown" (:mod:`dockerlab.grading.checkcell`)."""
    path = progress_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.loads(path.read_text()) if path.exists() else {"namespace": namespace(), "attempts": []}
        data["attempts"].append({
            "lesson": lesson, "exercise": exercise, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "seconds": round(seconds, 1), "passed": bool(results) and all(r.passed is True for r in results),
            "check_cell": check_cell, "results": [dataclasses.asdict(r) for r in results],
        })
        path.write_text(json.dumps(data, indent=1))
    except OSError:
        pass  # progress is a convenience; never fail a check because of it

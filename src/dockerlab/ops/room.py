"""The room's progress for the classroom's instructor page: every learner's check records, side by side.

Each learner's checks append to their progress file (:func:`dockerlab.grading.checker.record_progress`, the file
``dockerlab report`` reads). In the classroom (classroom/README.md) every learner's file lives in their own home
folder; the hub's progress service reads them all (read-only) and asks this module for:

- per learner and lesson: the latest attempt's status, checks passed of checks run, attempts
  (:func:`room_summary` ``["learners"]``, built on :func:`dockerlab.grading.report.summarize`, so a learner's row is the
  same summary their own ``dockerlab report`` shows);
- per check line (lesson, exercise, line): how many learners fail it *now* (their latest attempt of that exercise
  has that line failing) and the most common failure reason among them (``["checks"]``), the lines the most
  learners are stuck on first.

Nothing here talks to Docker or JupyterHub: it is pure data in, data out (unit-tested with fake records).
"""
from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

from dockerlab.grading.report import render_html, summarize

PROGRESS_NAME = "progress.json"


def read_progress(path: str | Path) -> dict | None:
    """A learner's progress file as a dict; None when it is missing or unreadable (a file mid-write, say)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("attempts", []), list):
        return None
    data.setdefault("attempts", [])
    return data


def collect(homes: str | Path, relative: str = f".dockerlab/{PROGRESS_NAME}") -> dict[str, dict]:
    """``{learner: progress}`` for every ``<homes>/<learner>/<relative>`` (learners without a file: empty)."""
    root = Path(homes)
    out: dict[str, dict] = {}
    if not root.is_dir():
        return out
    for home in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out[home.name] = read_progress(home / relative) or {"namespace": home.name, "attempts": []}
    return out


def reason(detail: str) -> str:
    """A failure detail with its incidental numbers (ports, sizes, ids, seconds) masked, so that the same mistake
    made by two learners counts as one reason: ``"port 41237 did not answer"`` -> ``"port # did not answer"``."""
    text = re.sub(r"\b[0-9a-f]{12,64}\b", "…", str(detail or "").strip())
    text = re.sub(r"\d+", "#", text)
    return re.sub(r"\s+", " ", text)


def room_summary(progress: dict[str, dict], learners: list[str] | None = None) -> dict:
    """The room: per learner their lessons (as ``dockerlab report`` summarises them), per check line how many
    learners fail it now and why. ``learners`` adds signed-in learners who have no record yet (listed, empty)."""
    names = sorted(set(progress) | set(learners or []))
    per_learner = {name: summarize(progress.get(name) or {"namespace": name, "attempts": []}) for name in names}
    exercises = sorted({(l["lesson"], l["exercise"]) for s in per_learner.values() for l in s["lessons"]})
    checks: dict[tuple[str, str, str], dict] = {}
    for name, s in per_learner.items():
        for l in s["lessons"]:
            for r in l["results"]:
                # keyed on the line's stable id (its title may be reworded); records without ids key on the title
                key = (l["lesson"], l["exercise"], str(r.get("id") or r.get("name", "")))
                c = checks.setdefault(key, {"lesson": key[0], "exercise": key[1], "check": str(r.get("name", "")),
                                            "id": r.get("id") or "", "failing": [],
                                            "passing": [], "not_evaluated": [], "_reasons": Counter(), "_fix": {},
                                            "_example": {}})
                if r.get("passed") is True:
                    c["passing"].append(name)
                elif r.get("passed") is None:
                    c["not_evaluated"].append(name)
                else:
                    c["failing"].append(name)
                    # grouped by the kind of cause the check named, with its numbers masked
                    why = (f"{r['cause']}: " if r.get("cause") else "") + reason(r.get("detail", ""))
                    c["_reasons"][why] += 1
                    c["_fix"].setdefault(why, str(r.get("fix") or ""))
                    c["_example"].setdefault(why, str(r.get("detail") or ""))
    rows = []
    for c in checks.values():
        reasons, fixes, examples = c.pop("_reasons"), c.pop("_fix"), c.pop("_example")
        top = reasons.most_common(1)
        c["failing_now"] = len(c["failing"])
        c["attempted_by"] = len(c["failing"]) + len(c["passing"]) + len(c["not_evaluated"])
        c["top_reason"] = examples[top[0][0]] if top else ""  # one learner's words for the most common reason
        c["top_reason_key"] = top[0][0] if top else ""       # the reason with its numbers masked (how they group)
        c["top_reason_learners"] = top[0][1] if top else 0
        c["top_fix"] = fixes.get(top[0][0], "") if top else ""
        c["reasons"] = [{"reason": examples[r], "key": r, "learners": n} for r, n in reasons.most_common()]
        rows.append(c)
    rows.sort(key=lambda c: (-c["failing_now"], c["lesson"], c["exercise"], c["check"]))
    lessons = []
    for lesson, exercise in exercises:
        status = {name: next((l for l in s["lessons"] if (l["lesson"], l["exercise"]) == (lesson, exercise)), None)
                  for name, s in per_learner.items()}
        lessons.append({
            "lesson": lesson, "exercise": exercise,
            "passed": sorted(n for n, l in status.items() if l and l["status"] == "passed"),
            "failing": sorted(n for n, l in status.items() if l and l["status"] != "passed"),
            "not_started": sorted(n for n, l in status.items() if l is None),
            "check_cell_edited": sorted(n for n, l in status.items() if l and l.get("check_cell_edited")),
        })
    return {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "learners": per_learner,
        "lessons": lessons,
        "checks": rows,
        "summary": {
            "learners": len(names),
            "learners_with_records": sum(1 for s in per_learner.values() if s["lessons"]),
            "exercises": len(exercises),
            "checks_failing_now": sum(1 for c in rows if c["failing_now"]),
        },
    }


def render_room_html(room: dict, title: str = "Classroom progress") -> str:
    """The instructor's page: learners x lessons, then the check lines the room fails now (most learners first)."""
    from dockerlab.pages import render

    exercises = [(l["lesson"], l["exercise"]) for l in room["lessons"]]
    grid = [(name, s["summary"], [next((x for x in s["lessons"] if (x["lesson"], x["exercise"]) == key), None)
                                  for key in exercises]) for name, s in room["learners"].items()]
    return render("room.html", room=room, title=title, exercises=exercises, grid=grid,
                  stuck=[c for c in room["checks"] if c["failing_now"]])


def render_learner_html(name: str, progress: dict | None) -> str:
    """A learner's own page: the same page ``dockerlab report`` writes, for their records only."""
    report = summarize(progress or {"namespace": name, "attempts": []})
    report["namespace"] = name
    return render_html(report)

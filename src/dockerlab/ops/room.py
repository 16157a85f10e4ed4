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

import html
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


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em;color:#1f2328}
h1{font-size:1.4em;margin-bottom:.2em} h2{font-size:1.1em;margin-top:1.6em} .meta{color:#59636e}
table{border-collapse:collapse;margin-bottom:1em} th,td{border-bottom:1px solid #d1d9e0;padding:.3em .55em;
text-align:left;vertical-align:top;font-size:.9em} th{background:#f6f8fa}
.passed{color:#1a7f37;font-weight:600} .failing{color:#cf222e;font-weight:600} .none{color:#8c959f}
.fix{color:#59636e}
"""


def render_room_html(room: dict, title: str = "Classroom progress") -> str:
    """The instructor's page: learners x lessons, then the check lines the room fails now (most learners first)."""
    e = html.escape
    exercises = [(l["lesson"], l["exercise"]) for l in room["lessons"]]
    head = "".join(f"<th>{e(lesson)}{'<br>' + e(ex) if ex else ''}</th>" for lesson, ex in exercises)
    body = []
    for name, s in room["learners"].items():
        cells = []
        for lesson, ex in exercises:
            l = next((x for x in s["lessons"] if (x["lesson"], x["exercise"]) == (lesson, ex)), None)
            if l is None:
                cells.append("<td class='none'>–</td>")
            else:
                mark = "✔" if l["status"] == "passed" else "✘"
                cells.append(f"<td class='{l['status']}' title='latest {e(str(l['latest_attempt']))}'>{mark} "
                             f"{l['checks_passed']}/{l['checks_total']} checks · {l['attempts']} "
                             f"attempt{'s' if l['attempts'] != 1 else ''}</td>")
        s_ = s["summary"]
        body.append(f"<tr><td><b>{e(name)}</b></td><td>{s_['passed']}/{s_['exercises']}</td>{''.join(cells)}</tr>")
    learners_table = (f"<table><thead><tr><th>learner</th><th>exercises passed</th>{head}</tr></thead><tbody>"
                      + ("".join(body) or f"<tr><td colspan={len(exercises) + 2}>No learner yet.</td></tr>")
                      + "</tbody></table>")
    rows = []
    for c in room["checks"]:
        if not c["failing_now"]:
            continue
        rows.append(
            f"<tr><td>{e(c['lesson'])}</td><td>{e(c['exercise'] or '-')}</td><td>{e(c['check'])}</td>"
            f"<td class='failing'>{c['failing_now']} of {c['attempted_by']}</td>"
            f"<td>{e(c['top_reason'])} <span class='meta'>({c['top_reason_learners']} "
            f"learner{'s' if c['top_reason_learners'] != 1 else ''})</span>"
            + (f"<div class='fix'>fix: {e(c['top_fix'])}</div>" if c["top_fix"] else "")
            + f"</td><td>{e(', '.join(c['failing']))}</td></tr>")
    stuck = ("<table><thead><tr><th>lesson</th><th>exercise</th><th>check</th><th>learners failing now</th>"
             "<th>most common reason</th><th>who</th></tr></thead><tbody>"
             + ("".join(rows) or "<tr><td colspan=6>No check is failing now.</td></tr>") + "</tbody></table>")
    s = room["summary"]
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>"
            f"<meta http-equiv='refresh' content='30'>"
            f"<div class='meta'>{s['learners']} learner{'s' if s['learners'] != 1 else ''} "
            f"({s['learners_with_records']} with check records) · "
            f"{s['exercises']} exercise{'s' if s['exercises'] != 1 else ''} attempted · "
            f"{s['checks_failing_now']} check line{'s' if s['checks_failing_now'] != 1 else ''} failing now · "
            f"generated {e(room['generated'])} (this page reloads every 30 s)</div>"
            f"<h2>Learners</h2>{learners_table}<h2>Where the room is stuck</h2>{stuck}</body></html>\n")


def render_learner_html(name: str, progress: dict | None) -> str:
    """A learner's own page: the same page ``dockerlab report`` writes, for their records only."""
    report = summarize(progress or {"namespace": name, "attempts": []})
    report["namespace"] = name
    return render_html(report)

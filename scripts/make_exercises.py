#!/usr/bin/env python3
"""Generate exercises/NN_topic.ipynb from solutions/NN_topic.ipynb (one source, as nbgrader does).

In a solution notebook's code cell, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
are the answer. The exercise keeps everything else and puts ``# YOUR CODE HERE`` in their place, so the
starter code written above the markers is what an unsolved exercise runs (and its check must fail).
Markdown between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` is removed the same way.
Cells tagged ``solution-only`` are dropped. Outputs are stripped.

    python scripts/make_exercises.py            # write every exercise
    python scripts/make_exercises.py --check    # exit 1 and list drift, writing nothing
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE_BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)", re.S | re.M)
MD_BLOCK = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->\n?", re.S)


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def strip_solutions(text: str, cell_type: str) -> str:
    if cell_type == "code":
        return CODE_BLOCK.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n", text)
    return MD_BLOCK.sub("", text)


def exercise_from_solution(nb: dict) -> dict:
    out = copy.deepcopy(nb)
    cells = []
    for cell in out["cells"]:
        if "solution-only" in cell.get("metadata", {}).get("tags", []):
            continue
        text = strip_solutions(_source(cell), cell["cell_type"])
        cell["source"] = text
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    out["cells"] = cells
    return out


def has_markers(nb: dict) -> bool:
    return any("### BEGIN SOLUTION" in _source(c) or "<!-- BEGIN SOLUTION -->" in _source(c) for c in nb["cells"])


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report drift, write nothing")
    args = ap.parse_args(argv)
    problems = []
    solutions = sorted((ROOT / "solutions").glob("*.ipynb"))
    for sol in solutions:
        nb = json.loads(sol.read_text())
        if not has_markers(nb):
            problems.append(f"{sol.relative_to(ROOT)}: no ### BEGIN SOLUTION block")
            continue
        want = dumps(exercise_from_solution(nb))
        ex = ROOT / "exercises" / sol.name
        if args.check:
            if not ex.exists():
                problems.append(f"{ex.relative_to(ROOT)}: missing (run make exercises)")
            elif ex.read_text() != want:
                problems.append(f"{ex.relative_to(ROOT)}: differs from what its solution generates (run make exercises)")
        else:
            ex.parent.mkdir(exist_ok=True)
            ex.write_text(want)
    for ex in sorted((ROOT / "exercises").glob("*.ipynb")):
        if not (ROOT / "solutions" / ex.name).exists():
            problems.append(f"{ex.relative_to(ROOT)}: has no solution notebook")
    for p in problems:
        print(p, file=sys.stderr)
    if not args.check:
        print(f"wrote {len(solutions)} exercise notebook(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

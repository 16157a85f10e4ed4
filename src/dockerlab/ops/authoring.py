"""Exercises from solutions (one source, as nbgrader does): ``make exercises`` writes exercises/NN_topic.ipynb.

In a solution notebook's code cell, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
are the answer. The exercise keeps everything else and puts ``# YOUR CODE HERE`` in their place, so the
starter code written above the markers is what an unsolved exercise runs (and its check must fail).
Markdown between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->`` is removed the same way.
Cells tagged ``solution-only`` are dropped. Outputs are stripped. The cell that runs the check gets its identity
in its metadata (:mod:`dockerlab.grading.checkcell`), so an edited check cell shows in the learner's report. A block never closed, or one inside
another, stops the generator with the notebook, cell and line (it would otherwise ship the answer).

    dockerlab exercises            # write every exercise (make exercises)
    dockerlab exercises --check    # exit 1 and list drift, writing nothing
"""
from __future__ import annotations

import copy
import json

from dockerlab.grading import checkcell
from dockerlab.paths import repo_root

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"


class MarkerError(ValueError):
    """A solution block that is not closed, or one inside another: the answer would leak into the exercise.

    ``kind`` is "never-closed", "nested" or "stray" (an end marker without a begin); ``notebook``, ``cell`` and
    ``line`` say where (the message starts with them)."""

    def __init__(self, kind: str, said: str, line: int | None = None):
        super().__init__(said)
        self.kind, self.said, self.line = kind, said, line
        self.notebook, self.cell = "", None

    def __str__(self) -> str:
        return ((f"{self.notebook} " if self.notebook else "") + (f"cell {self.cell}: " if self.cell is not None else "")
                + (f"line {self.line}: " if self.line else "") + self.said)


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _strip_code(text: str) -> str:
    """Replace each BEGIN/END block by ``# YOUR CODE HERE`` at the BEGIN line's indent, as nbgrader's ClearSolutions
    does; an END without BEGIN, a BEGIN inside a block or a block never closed raises :class:`MarkerError`."""
    out, inside = [], None
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside is not None:
                raise MarkerError("nested", f"nested {BEGIN} (the block opened at line {inside} is not closed)", n)
            inside = n
            out.append(line[: len(line) - len(line.lstrip())] + "# YOUR CODE HERE\n")
        elif stripped.startswith(END):
            if inside is None:
                raise MarkerError("stray", f"{END} without a {BEGIN} before it", n)
            inside = None
        elif inside is None:
            out.append(line)
    if inside is not None:
        raise MarkerError("never-closed", f"{BEGIN} is never closed by {END} (the answer would ship in the exercise)",
                          inside)
    return "".join(out)


def _strip_markdown(text: str) -> str:
    out, rest = [], text
    while MD_BEGIN in rest or MD_END in rest:
        b, e = rest.find(MD_BEGIN), rest.find(MD_END)
        if b < 0 or (0 <= e < b):
            raise MarkerError("stray", f"{MD_END} without a {MD_BEGIN} before it")
        if e < 0:
            raise MarkerError("never-closed", f"{MD_BEGIN} is never closed by {MD_END}")
        if MD_BEGIN in rest[b + len(MD_BEGIN):e]:
            raise MarkerError("nested", f"nested {MD_BEGIN}")
        out.append(rest[:b])
        rest = rest[e + len(MD_END):]
        rest = rest[1:] if rest.startswith("\n") else rest
    out.append(rest)
    return "".join(out)


def strip_solutions(text: str, cell_type: str) -> str:
    return _strip_code(text) if cell_type == "code" else _strip_markdown(text)


def exercise_from_solution(nb: dict, name: str = "") -> dict:
    out = copy.deepcopy(nb)
    cells = []
    for i, cell in enumerate(out["cells"]):
        if "solution-only" in cell.get("metadata", {}).get("tags", []):
            continue
        try:
            cell["source"] = strip_solutions(_source(cell), cell["cell_type"])
        except MarkerError as exc:
            exc.notebook, exc.cell = name, i
            raise
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    out["cells"] = cells
    return checkcell.mark(out, name.rsplit("/", 1)[-1].removesuffix(".ipynb")) if name else out


def has_markers(nb: dict) -> bool:
    return any(BEGIN in _source(c) or MD_BEGIN in _source(c) for c in nb["cells"])


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def write_exercises(check: bool = False) -> tuple[int, list[str]]:
    """Write exercises/NN_topic.ipynb from each solutions/NN_topic.ipynb (``dockerlab exercises``); with ``check``,
    write nothing. Returns how many solutions there are and the problems found (with ``check``: every exercise that
    differs from what its solution generates), one line each."""
    root = repo_root()
    problems = []
    solutions = sorted((root / "solutions").glob("*.ipynb"))
    for sol in solutions:
        nb = json.loads(sol.read_text())
        if not has_markers(nb):
            problems.append(f"{sol.relative_to(root)}: no ### BEGIN SOLUTION block")
            continue
        try:
            want = dumps(exercise_from_solution(nb, str(sol.relative_to(root))))
        except MarkerError as exc:
            problems.append(str(exc))
            continue
        ex = root / "exercises" / sol.name
        if check:
            if not ex.exists():
                problems.append(f"{ex.relative_to(root)}: missing (run make exercises)")
            elif ex.read_text() != want:
                problems.append(f"{ex.relative_to(root)}: differs from what its solution generates (run make exercises)")
        else:
            ex.parent.mkdir(exist_ok=True)
            ex.write_text(want)
    for ex in sorted((root / "exercises").glob("*.ipynb")):
        if not (root / "solutions" / ex.name).exists():
            problems.append(f"{ex.relative_to(root)}: has no solution notebook")
    from dockerlab.ops import plans  # the timing plans add up the lessons' own figures

    if check:
        problems += plans.drift(root)
    else:
        plans.write(root)
    return len(solutions), problems


if __name__ == "__main__":
    raise SystemExit("python -m dockerlab.ops.authoring is now `dockerlab exercises [--check]` (make exercises)")

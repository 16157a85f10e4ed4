"""Check cells have an identity, as nbgrader's graded cells do (``metadata.nbgrader.grade_id`` and ``checksum``).

The exercise generator (:mod:`dockerlab.ops.authoring`) marks the cell of an exercise that runs its check with
``{"dockerlab": {"check": "05_uv", "checksum": "<sha256 of the cell's source>"}}``. When a check reports, it reads the
code of the cell that is running it (the kernel's ``execute_request``) and compares its checksum with that of the
exercise notebook's check cell: an attempt whose check cell a learner edited is recorded as such, and ``dockerlab
report`` and the instructor's room page flag it (a check that was edited to pass proves nothing).
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

CHECK_CALL = re.compile(r"(?m)^(?!\s*def\s)(?:[\w.]+\s*=\s*)?(?:\w+\.)?check\(")


def checksum(source: str) -> str:
    """sha256 of a cell's source, lines stripped of trailing blanks (an editor's whitespace is no edit)."""
    text = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return hashlib.sha256(text.encode()).hexdigest()


def is_check_cell(source: str) -> bool:
    """The cell that runs the exercise's check: it calls ``check(…)`` (``ex.check(lab, app)``) and defines nothing."""
    return bool(CHECK_CALL.search(source)) and "def " not in source


def mark(nb: dict, lesson: str) -> dict:
    """Put the check identity in the metadata of the notebook's check cell(s)."""
    for cell in nb["cells"]:
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        if cell["cell_type"] == "code" and is_check_cell(src):
            cell.setdefault("metadata", {})["dockerlab"] = {"check": lesson, "checksum": checksum(src)}
    return nb


def expected(lesson: str, notebooks: Path) -> set[str]:
    """The checksums of the check cells of ``notebooks/<lesson>.ipynb`` (the learner's exercise copy)."""
    try:
        nb = json.loads((notebooks / f"{lesson}.ipynb").read_text())
    except (OSError, ValueError):
        return set()
    return {c["metadata"]["dockerlab"]["checksum"] for c in nb.get("cells", [])
            if (c.get("metadata") or {}).get("dockerlab", {}).get("check") == lesson}


def running_cell_code() -> str | None:
    """The code of the cell this kernel is executing (None outside a Jupyter kernel)."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
    except Exception:  # noqa: BLE001 - not in a kernel, or an ipykernel without get_parent
        return None
    if not parent:
        return None
    return (parent.get("content") or {}).get("code")


def state(lesson: str, notebooks: Path) -> str:
    """``"as written"``, ``"edited"`` or ``"unknown"`` (not run from a cell, or no marked check cell to compare with)."""
    code = running_cell_code()
    want = expected(lesson, notebooks)
    if code is None or not want:
        return "unknown"
    return "as written" if checksum(code) in want else "edited"

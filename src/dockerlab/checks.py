"""Exercise checks: inspect the real image or container, and say precisely what is wrong and how to fix it.

A lesson's check function builds a :class:`Checker`, records each expectation with ``ok`` or ``fail``
(what was seen, how to fix it), then calls ``report()``, which shows a ✓/✗ table and raises
:class:`CheckFailed` if anything failed. Results are appended to the learner's progress file, which
``dockerlab report`` reads.
"""
from __future__ import annotations

import dataclasses
import html
import json
import os
import time
from pathlib import Path

from .namespace import namespace


@dataclasses.dataclass
class Result:
    name: str
    passed: bool
    detail: str = ""
    fix: str = ""


class CheckFailed(AssertionError):
    """One or more exercise checks failed; the message lists each with its fix."""

    def __init__(self, lesson: str, failures: list[Result]):
        self.lesson, self.failures = lesson, failures
        lines = [f"{len(failures)} check(s) failed for lesson {lesson}:"]
        for r in failures:
            lines.append(f"  ✗ {r.name}: {r.detail}" + (f" → {r.fix}" if r.fix else ""))
        super().__init__("\n".join(lines))

    def _render_traceback_(self):
        return [f"CheckFailed: {self}"]


class Checker:
    """Collects the results of one exercise check."""

    def __init__(self, lesson: str, exercise: str = ""):
        self.lesson, self.exercise = lesson, exercise
        self.results: list[Result] = []
        self.t0 = time.monotonic()

    def ok(self, name: str, detail: str = "") -> bool:
        self.results.append(Result(name, True, detail))
        return True

    def fail(self, name: str, detail: str, fix: str = "") -> bool:
        self.results.append(Result(name, False, detail, fix))
        return False

    def expect(self, cond: bool, name: str, detail_fail: str, fix: str = "", detail_ok: str = "") -> bool:
        return self.ok(name, detail_ok) if cond else self.fail(name, detail_fail, fix)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.passed]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'✅' if r.passed else '❌'}</td><td>{html.escape(r.name)}</td>"
            f"<td>{html.escape(r.detail)}</td><td>{html.escape(r.fix)}</td></tr>" for r in self.results
        )
        return ("<table><thead><tr><th></th><th>check</th><th>what was seen</th><th>how to fix</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")

    def __str__(self) -> str:
        return "\n".join(f"{'✓' if r.passed else '✗'} {r.name}: {r.detail}" + (f" → {r.fix}" if r.fix and not r.passed else "")
                         for r in self.results)

    __repr__ = __str__

    def report(self, raise_on_failure: bool = True) -> "Checker":
        """Show the results, record them in the progress file, and raise CheckFailed if any failed."""
        _display(self)
        record_progress(self.lesson, self.exercise, self.results, time.monotonic() - self.t0)
        if raise_on_failure and not self.passed:
            if not self.results:
                raise CheckFailed(self.lesson, [Result("checks ran", False, "no check was recorded")])
            raise CheckFailed(self.lesson, self.failures)
        return self


def _display(obj) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display(obj)
            return
    except ImportError:  # pragma: no cover
        pass
    print(obj)


def progress_file(ns: str | None = None) -> Path:
    """Where a learner's check results are kept: $DOCKERLAB_PROGRESS, else ~/.dockerlab/progress-<ns>.json."""
    env = os.environ.get("DOCKERLAB_PROGRESS")
    if env:
        return Path(env)
    return Path.home() / ".dockerlab" / f"progress-{ns or namespace()}.json"


def record_progress(lesson: str, exercise: str, results: list[Result], seconds: float) -> None:
    path = progress_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.loads(path.read_text()) if path.exists() else {"namespace": namespace(), "attempts": []}
        data["attempts"].append({
            "lesson": lesson, "exercise": exercise, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "seconds": round(seconds, 1), "passed": bool(results) and all(r.passed for r in results),
            "results": [dataclasses.asdict(r) for r in results],
        })
        path.write_text(json.dumps(data, indent=1))
    except OSError:
        pass  # progress is a convenience; never fail a check because of it

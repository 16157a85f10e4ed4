"""Exercise checks: inspect the real image or container, and say precisely what is wrong and how to fix it.

One pass/fail model for every lesson and the capstone. A :class:`Checker` collects one :class:`Result` per
expectation: passed (``ok``), failed (``fail``: what was seen, how to fix it) or *not evaluated* (``skip``: it
could not be judged, e.g. the image did not build; not a failure, but not a pass either). A check either
records lines one by one, or runs a list of :class:`Criterion` (a title and a small grading function) with
:meth:`Checker.grade`, as the capstone scorecard does. ``report()`` shows the table (each line "ok", "FAIL"
or "not evaluated", in words: no emoji font needed; in a notebook also a green, red or grey row), appends the
results to the learner's progress file (which ``dockerlab report`` reads) and raises :class:`CheckFailed`
unless every line passed.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Collection, Sequence

from dockerlab.errors import CheckFailed  # noqa: F401 (raised here; defined with the others)
from dockerlab.grading import checkcell
from dockerlab.paths import repo_root
from dockerlab.grading.progress import progress_file, record_progress  # noqa: F401 (kept importable from here)
from dockerlab.show import TINTS, Live, display, html_table, inline_code, short, verdict

NOT_EVALUATED = "not evaluated"
# A line's verdict in words, readable with any font (text: padded to one width; HTML: with a mark DejaVu has).
MARKS = {True: "ok", False: "FAIL", None: "--"}
HTML_MARKS = {True: "✔ ok", False: "✘ FAIL", None: f"– {NOT_EVALUATED}"}
KINDS = {True: "ok", False: "fail", None: "none"}
PENDING = "… pending"


# The kinds of cause a failed line names: stable words that tests, the report and the instructor's room page key on
# (the wording of each message lives with its criterion and is reviewed as text in tests/snapshots/).
CAUSES = {
    "missing": "something the answer needs is not there (a file, a line, a setting, a package)",
    "wrong-value": "there, but with another value than the task needs",
    "too-big": "over a size budget",
    "leaked": "a secret, a local file or a build tool is in the image, its history, a layer or a stage",
    "build-failed": "the image does not build",
    "exited": "the container stopped (exit code, OOM kill, a crash)",
    "not-answering": "the service does not answer where it must (address, port, path)",
    "never-healthy": "the health check never reports healthy, or cannot fail",
    "not-graceful": "the stop was not graceful (SIGKILL after the timeout, a request dropped)",
    "cache-miss": "a step ran again that must come from the cache",
    "unsafe": "runs with more privilege than it needs (root, capabilities, a writable root file system)",
    "check-error": "the check itself could not finish the line (what it was inspecting, and what happened)",
}


@dataclasses.dataclass
class Result:
    name: str
    passed: bool | None  # None: not evaluated (it could not be judged)
    detail: str = ""
    fix: str = ""
    id: str = ""  # stable id of the line ("l02.exec-form"): what tests, reports and the room page key on
    cause: str = ""  # for a failed line: one of CAUSES
    observed: dict = dataclasses.field(default_factory=dict)  # the values seen (JSON-able)

    @property
    def evaluated(self) -> bool:
        return self.passed is not None

    def line(self) -> str:
        return (f"{MARKS[self.passed]:<4} {self.name}: {self.detail}"
                + (f" → {self.fix}" if self.fix and self.passed is False else ""))


class NotEvaluated(Exception):
    """Raised by a criterion that cannot be judged (its message says why): the line says "not evaluated"."""


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What a criterion's grading function returns: :func:`passed` or :func:`failed`."""

    passed: bool
    detail: str
    fix: str = ""
    cause: str = ""
    observed: dict = dataclasses.field(default_factory=dict)


def passed(detail: str, **observed) -> Verdict:
    """The line passed: what was seen, and the values behind it."""
    return Verdict(True, detail, observed=observed)


def failed(cause: str, detail: str, fix: str = "", **observed) -> Verdict:
    """The line failed: its kind of cause (one of CAUSES), what was seen, how to fix it, and the values seen."""
    if cause not in CAUSES:
        raise ValueError(f"unknown cause {cause!r}: one of {', '.join(CAUSES)}")
    return Verdict(False, detail, fix, cause, observed)


def needed(value, why: str = "the image did not build (line 1)"):
    """``value`` when an earlier line produced it; else the line cannot be judged: :class:`NotEvaluated` (``why``)."""
    if value is None:
        raise NotEvaluated(why)
    return value


def needed_ok(outcome, why: str):
    """``outcome`` (a served app, a run: anything with ``ok``) when it is ok; else :class:`NotEvaluated` (``why``)."""
    if not outcome.ok:
        raise NotEvaluated(why)
    return outcome


def needed_running(container, why: str):
    """``container`` reloaded, when an earlier line started it and it still runs; else :class:`NotEvaluated`: ``why``
    when there is none, or what became of it (removed while the check ran, exited)."""
    from docker.errors import NotFound

    needed(container, why)
    try:
        container.reload()
    except NotFound:
        raise NotEvaluated(f"the container {container.name} is gone (removed while the check ran)") from None
    if container.status != "running":
        raise NotEvaluated(f"the container {container.name} is {container.status}, not running")
    return container


@dataclasses.dataclass
class Criterion:
    """One line of a graded list: its stable id, its title and the function that grades it.

    ``grade(ctx)`` returns a :class:`Verdict` (:func:`passed` / :func:`failed`; the older ``(True, seen)`` /
    ``(False, seen, fix)`` tuples are read too), or raises :class:`NotEvaluated`. Any other exception is the check's
    own failure: the line fails with cause ``check-error``, saying what was being inspected and what happened.
    """

    title: str
    grade: Callable[[Any], Any]
    id: str = ""

    def __call__(self, ctx):
        return self.grade(ctx)


def criterion(id: str, title: str) -> Callable[[Callable[[Any], Any]], Criterion]:
    """``@criterion("l04.size", "the final image is within its size budget")`` above a grading function makes it a
    :class:`Criterion` (still callable as the function): a line's stable id and title stand on the code that judges
    it, and a lesson's ``CRITERIA`` is the list of its criteria in order."""
    def make(grade: Callable[[Any], Any]) -> Criterion:
        return Criterion(title, grade, id)
    return make


class Checker:
    """Collects the results of one exercise check; renders as a table (live while grading, if asked)."""

    def __init__(self, lesson: str, exercise: str = "", *, planned: Sequence[str] = (), live: bool = False):
        self.lesson, self.exercise = lesson, exercise
        self.planned = list(planned)  # names of lines still to come (shown as pending while grading live)
        self.results: list[Result] = []
        self.t0 = time.monotonic()
        self.seconds = 0.0
        self.live = Live(self._repr_html_()) if live else None

    # recording
    def record(self, result: Result) -> bool | None:
        self.results.append(result)
        if self.live is not None:
            self.live.update(self._repr_html_(), " " + result.line())
        return result.passed

    def ok(self, name: str, detail: str = "", *, id: str = "", **observed) -> bool:
        return bool(self.record(Result(name, True, detail, id=id, observed=observed)))

    def fail(self, name: str, detail: str, fix: str = "", *, id: str = "", cause: str = "", **observed) -> bool:
        return bool(self.record(Result(name, False, detail, fix, id=id, cause=cause, observed=observed)))

    def expect(self, cond: bool, name: str, detail: str, *, fix: str = "", ok: str = "", id: str = "",
               cause: str = "") -> bool:
        """``ok(name, ok)`` if ``cond``, else ``fail(name, detail, fix)``."""
        return self.ok(name, ok, id=id) if cond else self.fail(name, detail, fix, id=id, cause=cause)

    def skip(self, name: str, why: str, *, id: str = "") -> None:
        """A line that could not be judged: "not evaluated: WHY" (not a failure, not a pass)."""
        self.record(Result(name, None, f"{NOT_EVALUATED}: {why}", id=id))

    def grade(self, criteria: Sequence[Criterion], ctx: Any, numbered: bool = True,
              only: Collection[int | str] | None = None) -> "Checker":
        """Grade each criterion in order, one line each (``"N. title"`` when ``numbered``). ``only`` grades just
        the lines of those numbers (1-based) or ids; the others are "not evaluated" (a test of one line pays for one)."""
        names = [f"{i}. {c.title}" if numbered else c.title for i, c in enumerate(criteria, 1)]
        self.planned = names
        for i, (name, criterion) in enumerate(zip(names, criteria), 1):
            if only is not None and i not in only and criterion.id not in only:
                self.skip(name, f"not asked (only {', '.join(map(str, sorted(only, key=str)))})", id=criterion.id)
                continue
            try:
                verdict = criterion.grade(ctx)
            except NotEvaluated as why:
                self.skip(name, str(why), id=criterion.id)
                continue
            except Exception as exc:  # noqa: BLE001 - the check itself broke: say so on its line, grade the rest
                self.fail(name, f"the check could not finish this line ({criterion.title}): {type(exc).__name__}: "
                          f"{short(exc, 200)}", "run the check again; if it repeats, the message says what the engine "
                          "refused", id=criterion.id, cause="check-error")
                continue
            if not isinstance(verdict, Verdict):  # (True, seen) / (False, seen, fix)
                verdict = Verdict(bool(verdict[0]), verdict[1], verdict[2] if len(verdict) > 2 else "")
            self.record(Result(name, verdict.passed, verdict.detail, verdict.fix if not verdict.passed else "",
                               id=criterion.id, cause=verdict.cause, observed=dict(verdict.observed)))
        self.seconds = time.monotonic() - self.t0
        return self

    def run(self, criteria: Sequence[Criterion], ctx: Any, *, numbered: bool = True,
            only: Collection[int | str] | None = None, cleanup: Callable[[], Any] | None = None) -> "Checker":
        """A lesson's ``grade()`` in one call: :meth:`grade` the criteria on ``ctx``, then ``cleanup()`` (also when
        grading stopped), then record and show the table (:meth:`report`; never raises for a failed line)."""
        try:
            self.grade(criteria, ctx, numbered=numbered, only=only)
        finally:
            if cleanup is not None:
                cleanup()
        return self.report(raise_on_failure=False)

    def by_id(self, line_id: str) -> Result:
        """The result of the line with this id (KeyError when no line has it)."""
        for r in self.results:
            if r.id == line_id:
                return r
        raise KeyError(f"no line {line_id!r}: {[r.id for r in self.results]}")

    @property
    def failed_ids(self) -> list[str]:
        """The ids of the failed lines, in order (what tests assert)."""
        return [r.id for r in self.results if r.passed is False]

    # reading
    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed is True for r in self.results)

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if r.passed is False]

    @property
    def not_evaluated(self) -> list[Result]:
        return [r for r in self.results if r.passed is None]

    @property
    def passed_count(self) -> int:
        return sum(1 for r in self.results if r.passed is True)

    @property
    def lines(self) -> list[Result]:
        return self.results

    @property
    def score(self) -> float:
        """Lines passed / lines (0.0 … 1.0)."""
        total = max(len(self.results), len(self.planned))
        return self.passed_count / total if total else 0.0

    def line(self, name_or_number: str | int) -> Result:
        """A result by its name, or by its number in a graded list (``line(4)`` is ``"4. …"``)."""
        if isinstance(name_or_number, int):
            return self.results[name_or_number - 1]
        return next(r for r in self.results if r.name == name_or_number)

    # rendering
    def stopped_because(self) -> str:
        """Why lines after the last recorded one were not judged: the first failure, or "the check stopped"."""
        first = next((r for r in self.results if r.passed is False), None)
        return f"the check stopped at \"{first.name}\"" if first else "the check stopped before this line"

    def _pending(self) -> list[str]:
        done = {r.name for r in self.results}
        return [n for n in self.planned if n not in done]

    def _repr_html_(self) -> str:
        """The table: per line its verdict in words ("✔ ok", "✘ FAIL", "– not evaluated") on a green, red or grey
        row, what was seen, and (only while some line failed) how to fix it; `code` in messages shown as code."""
        with_fix = any(r.passed is False for r in self.results)
        prefix = f"{NOT_EVALUATED}: "
        rows, tints = [], []
        for r in self.results:
            detail = r.detail[len(prefix):] if r.passed is None and r.detail.startswith(prefix) else r.detail
            row = [verdict(HTML_MARKS[r.passed], KINDS[r.passed]), r.name, inline_code(detail)]
            rows.append(row + [inline_code(r.fix) if r.passed is False else ""] if with_fix else row)
            tints.append(TINTS[KINDS[r.passed]])
        for n in self._pending():
            rows.append([verdict(PENDING, "none"), n, "…"] + ([""] if with_fix else []))
            tints.append(None)
        title = f"{self.lesson}{' · ' + self.exercise if self.exercise else ''}: {self.passed_count}/{len(rows)} passed"
        columns = ["result", "check", "what was seen"] + (["how to fix"] if with_fix else [])
        return html_table(columns, rows, title, row_backgrounds=tints)

    def __str__(self) -> str:
        return "\n".join([r.line() for r in self.results] + [f"… {n}" for n in self._pending()])

    __repr__ = __str__

    def report(self, raise_on_failure: bool = True, record: bool = True) -> "Checker":
        """Show the results, record them in the progress file (unless ``record`` is False: a lesson's demonstration,
        not the learner's attempt), and raise CheckFailed unless every line passed.

        Planned lines that were never recorded (the check stopped early, e.g. the image did not build) are
        shown and recorded as *not evaluated*, not left pending and not counted as failures."""
        self.seconds = time.monotonic() - self.t0
        pending = self._pending()
        for name in pending:
            self.results.append(Result(name, None, f"{NOT_EVALUATED}: {self.stopped_because()}"))
        if self.live is None:
            display(self)
        elif pending:
            self.live.update(self._repr_html_())
        self.check_cell = "unknown"
        if record:
            self.check_cell = checkcell.state(self.lesson, repo_root() / "exercises") if self.lesson else "unknown"
            if self.check_cell == "edited":
                print(f"note: this check cell differs from the exercise's ({self.lesson}): the attempt is recorded as "
                      "run from an edited check cell", flush=True)
            record_progress(self.lesson, self.exercise, self.results, self.seconds, self.check_cell)
        return self.raise_unless_passed() if raise_on_failure else self

    def raise_unless_passed(self) -> "Checker":
        """Raise CheckFailed (the failed lines, else the ones not evaluated) unless every line passed.

        A failed check stops "Run All" before the notebook's last cell (``lab.cleanup()``): what the exercise started
        stays for the learner to inspect, and is removed once the kernel process has ended, however it ended (shut
        down, restarted, killed): a watcher process waits for that (:func:`dockerlab.grading.reaper.watch`)."""
        if not self.passed:
            problems = self.failures or self.not_evaluated or [Result("checks ran", False, "no check was recorded")]
            from dockerlab.grading import reaper# not at the top: the watcher runs as ``python -m dockerlab.grading.reaper``

            reaper.watch(self.lesson)
            raise CheckFailed(self.lesson, problems)
        return self

"""Every error the course raises, on one base whose notebook rendering is written once (as docker-py's errors.py).

In a notebook IPython calls ``_render_traceback_`` and shows the message instead of a wall of traceback: the
message of each error names what was observed and what to do. The classes are re-exported by the modules that
raise them (``dockerlab.build.BuildFailed`` is ``dockerlab.errors.BuildFailed``).
"""
from __future__ import annotations

import os
import shlex
from typing import Iterable, Sequence

LOG_TAIL = 25


class DockerlabError(Exception):
    """Base of the course's errors."""

    def _render_traceback_(self) -> list[str]:  # IPython: the message, not the traceback
        return [f"{type(self).__name__}: {self}"]


class EngineUnavailable(DockerlabError, RuntimeError):
    """No Docker engine answered at the configured address: ``address``, and ``reason`` (a kind of
    :data:`dockerlab.engine.REASONS`, or "other")."""

    def __init__(self, message: str, *, address: str = "", reason: str = "other"):
        super().__init__(message)
        self.address, self.reason = address, reason


class HadolintMissing(DockerlabError, RuntimeError):
    """hadolint is neither next to this Python nor on PATH."""


class PushFailed(DockerlabError, RuntimeError):
    """A push to a registry failed; the message holds the registry's answer."""


class WaitTimeout(DockerlabError, TimeoutError):
    """A wait ran out of time; the message says what was seen last."""


class ContainerExited(DockerlabError, RuntimeError):
    """The container stopped while we were waiting for it; the message holds the exit code and logs."""


def last_lines(text: str | Iterable[str], n: int = LOG_TAIL) -> list[str]:
    """The last ``n`` lines of ``text`` (a string, or its lines) that are not blank."""
    lines = text.splitlines() if isinstance(text, str) else [l.rstrip("\n") for l in text]
    return [l for l in lines if l.strip()][-n:] if n > 0 else []


def indent(text: str | Iterable[str]) -> str:
    """Each line as the course quotes a program's output in a message: ``  | line``."""
    return "\n".join("  | " + l for l in (text.splitlines() if isinstance(text, str) else text))


class ToolFailed(DockerlabError, RuntimeError):
    """A program the package started (``docker``, ``cosign``, ``hadolint``, …) exited with an error, ran out of
    time, or is not installed: the one error of :mod:`dockerlab.tools`, as docker-py maps every HTTP failure to its
    errors in one place. It carries the command, the exit code (None: it timed out or never started) and the output;
    the message shows the last lines of it. Domain errors (BuildFailed, ComposeError, …) are built from it."""

    def __init__(self, command: Sequence[str], *, exit_code: int | None = None, stdout: str = "", stderr: str = "",
                 timeout: float | None = None, missing: bool = False, why: str = ""):
        self.command = [str(a) for a in command]
        self.exit_code, self.stdout, self.stderr = exit_code, stdout or "", stderr or ""
        self.timeout, self.timed_out, self.missing = timeout, timeout is not None, missing
        program = os.path.basename(self.command[0]) if self.command else "?"
        if missing:
            self.reason = why or f"{program} is not installed (not found on PATH)"
        elif self.timed_out:
            self.reason = f"{program} did not finish within {timeout:.0f} s"
        elif exit_code is None:
            self.reason = f"{program} could not be started" + (f": {why}" if why else "")
        else:
            self.reason = f"{program} exited with {exit_code}" + (f": {why}" if why else "")
        parts = [self.reason, f"command: {self.line}"]
        if self.tail:
            parts.append("output (last lines):\n" + indent(self.tail))
        super().__init__("\n".join(parts))

    @property
    def line(self) -> str:
        """The command as one shell line."""
        return shlex.join(self.command)

    @property
    def output(self) -> str:
        """Everything it printed: stdout, then stderr."""
        return self.stdout + self.stderr

    @property
    def tail(self) -> list[str]:
        """The last lines of its stderr (else of its stdout) that are not blank."""
        return last_lines(self.stderr) or last_lines(self.stdout)


class ComposeError(DockerlabError, RuntimeError):
    """A ``docker compose`` command failed or timed out; the message holds its output and the stack's last log lines."""

    def __init__(self, message: str, *, command: str = "", output: str = "", logs: str = ""):
        self.command, self.output, self.logs = command, output, logs
        parts = [message]
        if command:
            parts.append(f"command: {command}")
        if output.strip():
            parts.append("output (last lines):\n" + indent(last_lines(output)))
        if logs.strip():
            parts.append("last log lines of the stack:\n" + indent(last_lines(logs, LOG_TAIL * 2)))
        super().__init__("\n".join(parts))


class BuildFailed(DockerlabError, RuntimeError):
    """A build failed: says which step and shows the last lines of its output."""

    def __init__(self, tag: str, step: str, error: str, log_tail: list[str], log: list[str]):
        self.tag, self.step, self.error, self.log_tail, self.log = tag, step, error, log_tail, log
        lines = [f"building {tag} failed at step: {step or '(before the first step)'}", f"error: {error}"]
        if log_tail:
            lines += ["last lines of its log:", indent(log_tail)]
        super().__init__("\n".join(lines))


class CheckFailed(DockerlabError, AssertionError):
    """One or more exercise checks failed; the message lists each with its fix.

    In a notebook the check's table (what was seen, how to fix it) is already on screen, so the error itself
    shows one line instead of repeating the table in a red box.
    """

    def __init__(self, lesson: str, failures: list):
        self.lesson, self.failures = lesson, failures
        lines = [f"{len(failures)} check(s) failed for lesson {lesson}:"]
        for r in failures:
            mark = "--" if getattr(r, "passed", False) is None else "FAIL"  # as dockerlab.grading.checker.MARKS
            lines.append(f"  {mark:<4} {r.name}: {r.detail}" + (f" → {r.fix}" if r.fix else ""))
        super().__init__("\n".join(lines))

    def _render_traceback_(self) -> list[str]:
        return [f"CheckFailed: {len(self.failures)} check(s) failed for lesson {self.lesson}: "
                "the table above says what was seen and how to fix each. What this notebook started stays for you "
                "to inspect until lab.cleanup() runs or the kernel ends (shut down or restarted)."]

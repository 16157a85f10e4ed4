"""A shell line, run as you typed it and shown with its output (lesson 14's exercise: your own ``docker buildx`` and
``cosign`` lines).

    >>> sh("docker buildx imagetools inspect 127.0.0.1:5000/shipped:1.0")

It prints ``$ LINE``, runs LINE with ``bash -c`` (so quotes, ``&&``, pipes and ``VAR=value cmd`` work as in a
terminal), prints what it wrote (stdout and stderr, in order) and its exit code when that is not 0, and returns the
finished run (``tools.Completed``). The line goes to the engine the lesson works on, as ``!LINE`` in a cell would
with ``DOCKER_HOST`` set: on lesson 14's helper engine, when there is one (:func:`dockerlab.settings.target_engine`).
"""
from __future__ import annotations

from dockerlab import tools
from dockerlab.errors import ToolFailed


def sh(line: str, *, timeout: float = 1800, check: bool = False) -> tools.Completed:
    """Run ``line`` in bash, as given; show it and its output. ``check``: raise ToolFailed when it exits non-zero."""
    print(f"$ {line}", flush=True)
    try:
        proc = tools.run(["bash", "-c", line], timeout=timeout, merge=True)
    except ToolFailed as exc:  # out of time: what it printed so far, and why it stopped
        print(exc.stdout.rstrip()[-3000:] + f"\n({exc.reason})", flush=True)
        raise
    out = proc.stdout.rstrip()
    if out:
        print(out, flush=True)
    if proc.returncode != 0:
        print(f"(exit code {proc.returncode})", flush=True)
        if check:
            raise tools.failure(proc)
    return proc

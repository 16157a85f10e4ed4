"""Exercise checks: one module per lesson (``lNN_topic``: its ``CRITERIA`` and ``grade()``), on the shared toolkit
one folder up (:mod:`dockerlab.grading`):

* :mod:`..probes`: what a running image does (helper containers and measurements, /proc: listeners, PID 1, its uid
  and signal handler); :mod:`..serving`: serving with the observed cause, stopping once ready, health checks that
  must be able to fail;
* :mod:`..contents`: what an image contains, in every layer and stage (named files, package caches, a size budget,
  secrets); :mod:`dockerlab.dockerfile`: the one Dockerfile parser (stages, final base, external images, pins);
* :mod:`..rebuild`: the dependency-install steps, rebuild-after-code-change, builds reused by their inputs;
* ``hints.toml``: every lesson's hints, read by :func:`lesson_hints`.

Every check returns a :class:`dockerlab.grading.checker.Checker` and raises :class:`dockerlab.CheckFailed` unless each
line passed.
"""
import functools


def lesson_hints(lesson: str) -> tuple[str, ...]:
    """The hints of ``lesson``'s exercise (``hints.toml`` beside this module), in the order they are shown."""
    return tuple(_hints_table()[lesson]["hints"])


@functools.cache
def _hints_table() -> dict:
    """``hints.toml``, read once per process (each lesson module asks for its hints when it is imported)."""
    import tomllib
    from pathlib import Path

    return tomllib.loads((Path(__file__).parent / "hints.toml").read_text(encoding="utf-8"))

"""Figures a lesson measured (sizes, times), collected for the `dockerlab run-all` report.

The helpers that take a measurement record it themselves, so lesson cells hold no report calls:
``lab.build`` records each build (seconds, steps from the cache, image size, context size), ``dockerlab.layers``
the image it read (size, layers of the base vs added), ``lab.stop`` each stop (seconds, exit code),
``lab.wait_for_health`` the time to healthy, ``Stack.up`` the time until Compose's stack was up.
:func:`record` appends one JSON line to the file named by $DOCKERLAB_FIGURES (run-all sets it per notebook)
and prints nothing; without the variable it does nothing. :func:`figure` also prints the figure (``dockerlab
bench`` uses it, where the figure *is* the output).
"""
from __future__ import annotations

import json
import os
import re
import time

from dockerlab import settings
from dockerlab.show import human_size

FIGURES_VAR = settings.FIGURES.name


def format_value(value: float, unit: str = "") -> str:
    if unit == "bytes":
        return human_size(value)
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "x":
        return f"{value:.1f}x"
    return f"{value:g} {unit}".strip() if isinstance(value, (int, float)) else f"{value} {unit}".strip()


def short_name(name: str) -> str:
    """A course object's name without the learner's namespace: ``dl-ada/03-good:latest`` -> ``03-good:latest``,
    ``dl-ada-09-stop-1`` -> ``09-stop-1`` (the report compares machines and learners, not namespaces)."""
    from dockerlab.namespace import namespace

    name = str(name or "")
    m = re.match(r"^dl-[^/]+/(.*)$", name)
    if m:
        return m.group(1)
    prefix = f"dl-{namespace()}-"
    return name[len(prefix):] if name.startswith(prefix) else name


def recording() -> bool:
    """Whether figures are recorded now (run-all sets $DOCKERLAB_FIGURES per notebook): a caller skips measuring what
    only the report reads."""
    return bool(settings.FIGURES.get())


def record(name: str, value: float, unit: str = "", note: str = "", **facts) -> float:
    """Record one measured figure for the run-all report (nothing is printed); returns ``value``. ``note`` says in
    words what ``facts`` (JSON-able values measured with it: steps cached, bytes) hold.

    Never fails the measurement that called it: a report file that cannot be written is skipped.
    """
    path = settings.FIGURES.get()
    if path:
        try:
            with open(path, "a") as f:
                f.write(json.dumps({"name": name, "value": value, "unit": unit, "text": format_value(value, unit),
                                    "note": note, "facts": facts, "time": time.strftime("%H:%M:%S")}) + "\n")
        except (OSError, TypeError, ValueError):
            pass
    return value


def figure(name: str, value: float, unit: str = "", note: str = "") -> float:
    """Show one measured figure and record it for the run-all report; returns ``value``."""
    print(f"{name}: {format_value(value, unit)}" + (f"  ({note})" if note else ""), flush=True)
    return record(name, value, unit, note)


def ratio(name: str, bigger: float, smaller: float, note: str = "") -> float:
    """Show ``bigger / smaller`` as a ratio figure (``3.4x``); returns the ratio."""
    r = bigger / smaller if smaller else float("inf")
    return figure(name, r, "x", note)


def read_figures(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:  # a line cut short by a killed kernel
                    continue
    return out


def describe(fig: dict) -> str:
    """One figure as the report shows it: ``name: text (note)``."""
    return f"{fig.get('name', '?')}: {fig.get('text', '')}" + (f" ({fig['note']})" if fig.get("note") else "")

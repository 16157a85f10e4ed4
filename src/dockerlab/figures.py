"""Figures a lesson measured (sizes, times, ratios), shown to the learner and collected by `dockerlab run-all`.

``figure("multi-stage size", result.size, "bytes")`` prints ``multi-stage size: 142.1 MB`` and, when
$DOCKERLAB_FIGURES names a file, appends the figure to it as one JSON line.
"""
from __future__ import annotations

import json
import os
import time

from .show import human_size


def format_value(value: float, unit: str = "") -> str:
    if unit == "bytes":
        return human_size(value)
    if unit == "s":
        return f"{value:.1f} s"
    if unit == "x":
        return f"{value:.1f}x"
    return f"{value:g} {unit}".strip() if isinstance(value, (int, float)) else f"{value} {unit}".strip()


def figure(name: str, value: float, unit: str = "", note: str = "") -> float:
    """Show one measured figure and record it for the run-all report; returns ``value``."""
    text = format_value(value, unit)
    print(f"{name}: {text}" + (f"  ({note})" if note else ""), flush=True)
    path = os.environ.get("DOCKERLAB_FIGURES")
    if path:
        try:
            with open(path, "a") as f:
                f.write(json.dumps({"name": name, "value": value, "unit": unit, "text": text, "note": note,
                                    "time": time.strftime("%H:%M:%S")}) + "\n")
        except OSError:
            pass
    return value


def ratio(name: str, bigger: float, smaller: float, note: str = "") -> float:
    """Show ``bigger / smaller`` as a ratio figure (``3.4x``); returns the ratio."""
    r = bigger / smaller if smaller else float("inf")
    return figure(name, r, "x", note)


def read_figures(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]

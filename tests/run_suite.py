#!/usr/bin/env python3
"""The whole test run behind `make test`: one pytest run per group, a summary line per group, one verdict.

Groups, in order: unit, sync, engine (helpers, stand-ins, exercise-check proofs), notebooks and solutions
(nbval, lax), exercises (each unsolved exercise must fail its checks, papermill), leaks (no course container,
network or volume may be left). Exit 0 only when every group passes. Extra arguments after `--` go to pytest.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "test-results"
PY = sys.executable
NBVAL = ["--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", "tests/sanitize.cfg"]

GROUPS = [
    ("unit", ["tests/unit"]),
    ("sync", ["tests/test_sync.py"]),
    ("engine", ["tests/engine"]),
    ("notebooks", NBVAL + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))),
    ("solutions", NBVAL + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "solutions").glob("*.ipynb"))),
    ("exercises", ["tests/test_exercises.py"]),
]


def parse_junit(path: Path) -> tuple[dict, dict]:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    per_file: dict[str, float] = defaultdict(float)
    if not path.exists():
        return counts, per_file
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failed"] += 1
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
        key = case.get("file") or case.get("classname", "?")
        per_file[key] += float(case.get("time") or 0)
    return counts, per_file


def run_group(name: str, args: list[str], extra: list[str]) -> dict:
    junit = OUT / f"{name}.xml"
    junit.unlink(missing_ok=True)
    cmd = [PY, "-m", "pytest", "-q", "-rfE", f"--junitxml={junit}", "-o", "junit_family=xunit1", *args, *extra]
    print(f"\n=== {name}: {' '.join(cmd[2:])}", flush=True)
    t0 = time.monotonic()
    rc = subprocess.call(cmd, cwd=ROOT)
    seconds = time.monotonic() - t0
    counts, per_file = parse_junit(junit)
    if rc not in (0, 5) and counts["failed"] == 0:  # pytest crashed or collection failed
        counts["failed"] += 1
    return {"name": name, "rc": rc, "seconds": seconds, "per_file": per_file, **counts}


def leak_group() -> dict:
    """Course-labelled containers, networks, volumes left in this run's namespaces (NS and NS-*).

    Other namespaces (other learners on a shared engine) are neither reported nor touched.
    """
    ns = os.environ["DOCKERLAB_NAMESPACE"]
    print(f"\n=== leaks: course-labelled containers, networks, volumes, images left in namespaces {ns}, {ns}-*", flush=True)
    t0 = time.monotonic()
    sys.path.insert(0, str(ROOT / "src"))
    from dockerlab.cleanup import cleanup, course_objects
    from dockerlab.namespace import LABEL_NAMESPACE

    def ns_of(obj) -> str:  # networks and volumes carry Labels at the top, containers and images in Config
        labels = obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels") or {}
        return labels.get(LABEL_NAMESPACE, "")

    def ours(obj) -> bool:
        return ns_of(obj) == ns or ns_of(obj).startswith(ns + "-")

    kinds = ("containers", "networks", "volumes", "images")
    objs = course_objects(all_namespaces=True, kinds=kinds)

    def name(o) -> str:
        return getattr(o, "name", None) or ((o.tags or [o.short_id])[0])

    found = {k: [name(o) for o in objs[k] if ours(o)] for k in kinds}
    found = {k: v for k, v in found.items() if v}
    if found:
        print("LEFT BEHIND: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in found.items()))
        spaces = {ns_of(o) for k in kinds for o in objs[k] if ours(o)}
        for space in spaces:  # leave the machine clean anyway
            cleanup(ns=space, quiet=True)
    else:
        print("nothing left behind")
    return {"name": "leaks", "rc": 1 if found else 0, "seconds": time.monotonic() - t0, "per_file": {},
            "passed": 0 if found else 1, "failed": 1 if found else 0, "skipped": 0}


def main() -> int:
    extra = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    only = [a for a in sys.argv[1:sys.argv.index("--") if "--" in sys.argv else None]]
    os.environ.setdefault("DOCKERLAB_NAMESPACE", "test")
    os.environ.setdefault("DOCKERLAB_PROGRESS", str(OUT / "progress.json"))
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for name, args in GROUPS:
        if only and name not in only:
            continue
        if name in ("notebooks", "solutions") and len(args) == len(NBVAL):
            continue
        results.append(run_group(name, args, extra))
    if not only or "leaks" in only:
        results.append(leak_group())

    print("\n=== summary")
    for r in results:
        verdict = "ok  " if r["failed"] == 0 and r["rc"] in (0, 5) else "FAIL"
        print(f"{verdict} {r['name']:<10} {r['passed']:>4} passed, {r['failed']:>3} failed, {r['skipped']:>3} skipped   {r['seconds']:7.1f} s")
    lesson_times: dict[str, float] = defaultdict(float)
    for r in results:
        if r["name"] in ("notebooks", "solutions"):
            for f, s in r["per_file"].items():
                lesson_times[Path(f).stem] += s
    if lesson_times:
        print("\nper lesson (notebook + solution, this run):")
        for lesson, s in sorted(lesson_times.items()):
            print(f"  {lesson:<34} {s:6.1f} s")
    passed = sum(r["passed"] for r in results)
    failed = sum(r["failed"] for r in results)
    skipped = sum(r["skipped"] for r in results)
    print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and all(r["rc"] in (0, 5) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

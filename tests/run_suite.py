#!/usr/bin/env python3
"""The whole test run behind `make test`: every group, a summary line per group, the wall time, one verdict.

Groups: unit, sync, engine (helpers, stand-ins, exercise-check proofs), notebooks and solutions (nbval, lax),
exercises (each unsolved exercise must fail its checks, papermill), leaks (nothing course-labelled may be left).
The summary says where the CPU went (tests/cpu_usage.py).

The suite mostly waits (containers starting, health checks, stop timings), so it runs side by side: every
test file and notebook is a *unit* (one pytest process) with a namespace of its own, and DOCKERLAB_TEST_JOBS
units (default 5) run at once, the longest first (durations of the last run are kept in
build/test-results/durations.json). Namespaces keep units apart on the one engine, as they keep learners apart.

    tests/run_suite.py                      everything
    tests/run_suite.py engine notebooks     only these groups (leaks is checked whenever engine units ran)
    tests/run_suite.py --lesson 05          an author's loop: what proves one lesson (make test LESSON=05)
    tests/run_suite.py -- -x                extra arguments after -- go to every pytest run
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cpu_usage import CpuSampler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
OUT = ROOT / "build" / "test-results"
SEED_DURATIONS = ROOT / "tests" / "durations.json"  # refresh: cp build/test-results/durations.json tests/
PY = sys.executable
# A kernel can take over a minute to start on a 2-core machine with every lane busy (nbval waits 60 s by default).
NBVAL = ["--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", "tests/sanitize.cfg",
         "--nbval-kernel-startup-timeout", "240"]
UNIT_TIMEOUT = 600  # seconds: a unit that hangs is killed (and tried once more) instead of stalling the run
# Units that build their own images the first time on a fresh machine (minutes of apt and pip downloads).
UNIT_TIMEOUTS = {"engine/test_classroom": 1800, "engine/test_escape": 1200,
                 "engine/test_image_stores": 1500,  # a helper engine with two lessons in it
                 "engine/test_l13_capstone": 900}  # each shard: many gradings of a whole stack (5 min unloaded)
GROUP_ORDER = ["unit", "sync", "engine", "notebooks", "solutions", "exercises", "leaks", "checks"]
# Test files whose tests are many long, independent gradings: split into this many units (own namespaces).
SHARDS = {"test_l13_capstone": 3}


# A kernel that died before it answered (no cell ran). The likely cause: jupyter_client chooses the kernel's five
# TCP ports, closes them, and the kernel binds them seconds later; on a busy machine another process (a published
# port, an outgoing connection) can take one in between (jupyter/jupyter_client#154, nteract/papermill#511).
KERNEL_NEVER_STARTED = ("Kernel died before replying to kernel_info", "Kernel didn't respond to heartbeats")


def retry_reason(u: "Unit") -> str:
    """Why a failed unit is run once more, or "" (a real defect fails both attempts; the summary names each retry)."""
    try:
        text = (OUT / "logs" / f"{u.key.replace('/', '-')}.log").read_text(errors="replace")
    except OSError:
        return ""
    if any(m in text for m in KERNEL_NEVER_STARTED):
        return "its kernel died before it answered: no cell ran"
    return ""


@dataclass
class Unit:
    group: str
    name: str  # a file or notebook stem, unique in its group
    args: list[str]
    ns: str = ""
    shard: str = ""  # "1of3" when a file is split
    seconds: float = 0.0
    rc: int = -1
    counts: dict = field(default_factory=lambda: {"passed": 0, "failed": 0, "skipped": 0})
    failures: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.group}/{self.name}"

    @property
    def timeout(self) -> int:
        return UNIT_TIMEOUTS.get(self.key, UNIT_TIMEOUTS.get(self.key.split("[")[0], UNIT_TIMEOUT))

    @property
    def lesson(self) -> str:
        """The lesson a unit builds ("03"), or "": units of one lesson never run at the same time. BuildKit runs
        an identical step once for builds that ask at the same moment, and reports it as run (not cached) to
        each; a cache check would then see a neighbour's build instead of its own."""
        if self.shard:  # shards of one file are made to run side by side (their checks tolerate it)
            return ""
        s = short(self.group, self.name)[1:]
        return s if s[:2].isdigit() else ""

    @property
    def ok(self) -> bool:
        return self.rc in (0, 5) and self.counts["failed"] == 0


# Units that prove a lesson besides its own (engine/test_lNN…, notebooks/NN…, solutions/NN…, exercises/NN…).
ALSO_PROVES = {"02": ["engine/test_image_stores"], "04": ["engine/test_dockerfile_checks"],
               "11": ["engine/test_testcontainers"],
               "06": ["engine/test_image_stores"]}


def for_lesson(todo: list[Unit], lesson: str) -> list[Unit]:
    """What proves one lesson: the unit and sync groups (fast, engine-free), its notebook, solution, exercise and
    engine tests, and the units listed in ALSO_PROVES."""
    lesson = lesson.zfill(2)
    also = set(ALSO_PROVES.get(lesson, []))
    return [u for u in todo if u.group in ("unit", "sync") or u.key in also
            or short(u.group, u.name)[1:].startswith(lesson) and short(u.group, u.name)[1:3].isdigit()]


def short(group: str, name: str) -> str:
    """A short namespace suffix per unit: e03, n03, s03, x03, efoundation…"""
    stem = name.removeprefix("test_")
    if stem[:1] == "l" and stem[1:3].isdigit():
        stem = stem[1:3]
    elif stem[:2].isdigit():
        stem = stem[:2]
    return {"engine": "e", "notebooks": "n", "solutions": "s", "exercises": "x"}.get(group, group[0]) + stem.split("_")[0]


def units(base_ns: str) -> list[Unit]:
    out = [Unit("unit", "unit", ["tests/unit"]), Unit("sync", "sync", ["tests/test_sync.py"])]
    for f in sorted((ROOT / "tests" / "engine").glob("test_*.py")):
        rel = str(f.relative_to(ROOT))
        n = SHARDS.get(f.stem, 1)
        ids = collect(rel) if n > 1 else []
        if len(ids) < 2:
            out.append(Unit("engine", f.stem, [rel]))
            continue
        for k in range(n):
            out.append(Unit("engine", f"{f.stem}[{k + 1}of{n}]", ids[k::n], shard=f"{k + 1}of{n}"))
    for group, folder in (("notebooks", "notebooks"), ("solutions", "solutions")):
        for nb in sorted((ROOT / folder).glob("*.ipynb")):
            out.append(Unit(group, nb.stem, NBVAL + [str(nb.relative_to(ROOT))]))
    for nb in sorted((ROOT / "exercises").glob("*.ipynb")):
        out.append(Unit("exercises", nb.stem,
                        [f"tests/test_exercises.py::test_unsolved_exercise_fails_its_checks[{nb.stem}]"]))
    out.append(Unit("exercises", "every-lesson", ["tests/test_exercises.py::test_every_lesson_has_an_exercise"]))
    for u in out:
        u.ns = f"{base_ns}-{short(u.group, u.name)}{u.shard.split('of')[0] if u.shard else ''}" if u.group not in ("unit", "sync") else base_ns
    return out


def collect(rel: str) -> list[str]:
    """The test ids of one file (pytest --collect-only), to split it into shards."""
    out = subprocess.run([PY, "-m", "pytest", "-q", "--collect-only", rel], cwd=ROOT, capture_output=True, text=True)
    return [l.strip() for l in out.stdout.splitlines() if l.startswith(rel + "::")]


def parse_junit(path: Path) -> tuple[dict, list[str]]:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failures: list[str] = []
    if not path.exists():
        return counts, failures
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return counts, ["junit report unreadable"]
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failed"] += 1
            failures.append(f"{case.get('classname', '')}::{case.get('name', '')}")
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts, failures


class Runner:
    def __init__(self, todo: list[Unit], jobs: int, extra: list[str]):
        self.todo, self.jobs, self.extra = todo, jobs, extra
        self.lock = threading.Lock()
        self.done: list[Unit] = []
        self.retried: list[str] = []
        (OUT / "logs").mkdir(parents=True, exist_ok=True)
        (OUT / "junit").mkdir(parents=True, exist_ok=True)
        (OUT / "progress").mkdir(parents=True, exist_ok=True)
        (OUT / "retries").mkdir(parents=True, exist_ok=True)

    def run_one(self, u: Unit) -> None:
        self._attempt(u)
        if u.rc == 124:  # killed at the time limit: a kernel that never answered, say. Once more, and said so.
            safe = u.key.replace("/", "-")
            first = OUT / "logs" / f"{safe}.first-attempt.log"
            (OUT / "logs" / f"{safe}.log").replace(first)  # the stacks pytest dumped for a test over 5 min are in it
            with self.lock:
                print(f"TIME {u.group:<9} {u.name:<38} killed after {u.timeout} s (log: {first.relative_to(ROOT)}): "
                      "running it once more", flush=True)
                self.retried.append(f"{u.key} (killed after {u.timeout} s; its log: {first.relative_to(ROOT)})")
            self._attempt(u)
        elif not u.ok and (why := retry_reason(u)):
            safe = u.key.replace("/", "-")
            first = OUT / "logs" / f"{safe}.first-attempt.log"
            (OUT / "logs" / f"{safe}.log").replace(first)
            with self.lock:
                print(f"RETRY {u.group:<8} {u.name:<38} {why} (log: {first.relative_to(ROOT)}): running it "
                      "once more", flush=True)
                self.retried.append(f"{u.key} ({why})")
            self._attempt(u)
        self._report(u)

    def _attempt(self, u: Unit) -> None:
        safe = u.key.replace("/", "-")
        junit = OUT / "junit" / f"{safe}.xml"
        log = OUT / "logs" / f"{safe}.log"
        junit.unlink(missing_ok=True)
        env = dict(os.environ, DOCKERLAB_NAMESPACE=u.ns, DOCKERLAB_PROGRESS=str(OUT / "progress" / f"{safe}.json"),
                   DOCKERLAB_RETRIES=str(OUT / "retries" / f"{safe}.txt"))
        cmd = [PY, "-m", "pytest", "-q", "-rfE", f"--junitxml={junit}", "-o", "junit_family=xunit1",
               "-o", "faulthandler_timeout=300", *u.args, *self.extra]  # a test past 5 min: its stacks go to the log
        t0 = time.monotonic()
        with open(log, "w") as fh:
            fh.write(f"$ DOCKERLAB_NAMESPACE={u.ns} {' '.join(cmd[2:])}\n")
            fh.flush()
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
            try:
                u.rc = proc.wait(timeout=u.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # pytest and its kernels
                proc.wait()
                u.rc = 124
                fh.write(f"\nKILLED: the unit did not finish within {u.timeout} s\n")
        u.seconds = time.monotonic() - t0
        u.counts, u.failures = parse_junit(junit)
        if u.rc not in (0, 5) and u.counts["failed"] == 0:  # pytest crashed, collection failed, or killed
            u.counts["failed"] += 1
            u.failures.append(f"{u.key}: pytest exited with {u.rc}")
        if u.rc == 124:
            from dockerlab.cleanup import cleanup  # what the killed unit left in its namespace
            try:
                cleanup(ns=u.ns, quiet=True)
            except Exception as exc:  # noqa: BLE001 (the leak check at the end names what stays)
                with open(log, "a") as fh:
                    fh.write(f"cleanup of {u.ns} after the kill: {type(exc).__name__}: {exc}\n")

    def _report(self, u: Unit) -> None:
        log = OUT / "logs" / f"{u.key.replace('/', '-')}.log"
        with self.lock:
            self.done.append(u)
            c = u.counts
            print(f"{'ok  ' if u.ok else 'FAIL'} {u.group:<9} {u.name:<38} {c['passed']:>3} passed {c['failed']:>2} failed"
                  f" {c['skipped']:>2} skipped {u.seconds:6.1f} s   [{len(self.done)}/{self.total}]", flush=True)
            if not u.ok:
                lines = log.read_text(errors="replace").splitlines()
                print("     | " + "\n     | ".join(lines[-60:]), flush=True)

    def run(self) -> list[Unit]:
        self.total = len(self.todo)
        queue = list(self.todo)

        busy: set[str] = set()

        def lane():
            while True:
                with self.lock:
                    if not queue:
                        return
                    u = next((x for x in queue if not x.lesson or x.lesson not in busy), None)
                    if u is not None:
                        queue.remove(u)
                        busy.add(u.lesson)
                if u is None:
                    time.sleep(0.5)
                    continue
                try:
                    self.run_one(u)
                except Exception as exc:  # noqa: BLE001 (the runner's own error: a failed unit, never a lost lane)
                    u.rc = u.rc if u.rc not in (0, 5) else 1
                    u.counts["failed"] += 1
                    u.failures.append(f"{u.key}: the runner failed on it: {type(exc).__name__}: {exc}")
                    self._report(u)
                finally:
                    with self.lock:
                        busy.discard(u.lesson)

        threads = [threading.Thread(target=lane) for _ in range(max(1, self.jobs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self.done


def leak_check(base_ns: str) -> Unit:
    """Course-labelled containers, networks, volumes, images left in this run's namespaces (NS and NS-*).

    Other namespaces (other learners on a shared engine) are neither reported nor touched.
    """
    u = Unit("leaks", "leaks", [])
    t0 = time.monotonic()
    sys.path.insert(0, str(ROOT / "src"))
    from dockerlab.cleanup import cleanup, course_objects
    from dockerlab.namespace import LABEL_NAMESPACE

    def ns_of(obj) -> str:  # networks and volumes carry Labels at the top, containers and images in Config
        labels = obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels") or {}
        return labels.get(LABEL_NAMESPACE, "")

    def ours(obj) -> bool:
        return ns_of(obj) == base_ns or ns_of(obj).startswith(base_ns + "-")

    kinds = ("containers", "networks", "volumes", "images")
    objs = course_objects(all_namespaces=True, kinds=kinds)

    def name(o) -> str:
        return getattr(o, "name", None) or ((o.tags or [o.short_id])[0])

    found = {k: [f"{name(o)} ({ns_of(o)})" for o in objs[k] if ours(o)] for k in kinds}
    found = {k: v for k, v in found.items() if v}
    print(f"\n=== leaks: course-labelled objects left in namespaces {base_ns}, {base_ns}-*", flush=True)
    if found:
        print("LEFT BEHIND: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in found.items()))
        for space in {ns_of(o) for k in kinds for o in objs[k] if ours(o)}:  # leave the machine clean anyway
            cleanup(ns=space, quiet=True)
    else:
        print("nothing left behind")
    u.rc = 1 if found else 0
    u.counts = {"passed": 0 if found else 1, "failed": 1 if found else 0, "skipped": 0}
    u.seconds = time.monotonic() - t0
    return u


def check_lines(lines: list[str]) -> Unit:
    """Every line id the lessons declare was seen failing and passing in this run (tests/wording.py)."""
    from wording import report

    u = Unit("checks", "ids", [])
    t0 = time.monotonic()
    found, ok = report(OUT / "progress")
    lines.extend(found)
    u.rc = 0 if ok else 1
    u.counts = {"passed": 1 if ok else 0, "failed": 0 if ok else 1, "skipped": 0}
    if not ok:
        u.failures.append("check lines not proven both ways: " + "; ".join(l.strip() for l in found[1:3]))
    u.seconds = time.monotonic() - t0
    return u


def emulation_for(todo: list[Unit]) -> bool:
    """Lesson 14's units run arm64 images: register QEMU for arm64 (kernel-wide) for the run. True when this run
    registered it (and so removes it at the end); an existing registration is left alone."""
    if not any(u.name.startswith(("14_", "test_l14_")) for u in todo):
        return False
    from dockerlab.supply.platforms import EmulationUnavailable, register_emulation
    try:
        mine = register_emulation("arm64", quiet=True)
    except EmulationUnavailable as exc:
        print(f"=== no QEMU arm64 emulation for lesson 14's units: {exc}", flush=True)
        return False
    print(f"=== QEMU arm64 emulation {'registered for this run' if mine else 'already registered (left as it is)'}",
          flush=True)
    return mine


def main() -> int:
    wall0 = time.monotonic()
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    only = argv[: argv.index("--")] if "--" in argv else argv
    lesson = ""
    if "--lesson" in only:
        i = only.index("--lesson")
        lesson = only[i + 1] if i + 1 < len(only) else ""
        only = only[:i] + only[i + 2:]
        if not lesson.isdigit():
            print("usage: tests/run_suite.py --lesson NN (e.g. 05)", file=sys.stderr)
            return 2
    base_ns = os.environ.setdefault("DOCKERLAB_NAMESPACE", "test")
    jobs = int(os.environ.get("DOCKERLAB_TEST_JOBS", "5"))
    OUT.mkdir(parents=True, exist_ok=True)
    for old in [*(OUT / "retries").glob("*.txt"), *(OUT / "progress").glob("*.json")]:  # this run's alone
        old.unlink()
    durations_file = OUT / "durations.json"
    known = {}
    # The last run's durations on this machine, over a committed seed (a fresh checkout, as in CI, has no last
    # run: without the seed the longest units, the capstone shards, would start last and stretch the wall time).
    for f in (SEED_DURATIONS, durations_file):
        try:
            known.update(json.loads(f.read_text()))
        except (OSError, ValueError):
            pass
    todo = [u for u in units(base_ns) if not only or u.group in only]
    if lesson:
        todo = for_lesson(todo, lesson)
        if not any(u.group not in ("unit", "sync") for u in todo):
            print(f"no lesson {lesson}: no notebook, solution, exercise or engine test names it", file=sys.stderr)
            return 2
    # Fast, engine-free groups first and alone: a broken helper shows in seconds. Then the rest, longest first.
    first = [u for u in todo if u.group in ("unit", "sync")]
    rest = [u for u in todo if u.group not in ("unit", "sync")]
    default = {"engine": 60.0, "notebooks": 20.0, "solutions": 15.0, "exercises": 15.0}
    rest.sort(key=lambda u: -known.get(u.key, default.get(u.group, 10.0)))
    print(f"=== {len(todo)} units: {len(first)} first, then {len(rest)} side by side in {jobs} lanes "
          f"(namespaces {base_ns}-*; logs in {OUT.relative_to(ROOT)}/logs)", flush=True)
    done = Runner(first, 1, extra).run() if first else []
    lanes = Runner(rest, jobs, extra)
    qemu = emulation_for(rest)
    cpu = CpuSampler().start()  # where the CPU goes, charged to each unit's namespace
    try:
        done += lanes.run() if rest else []
    finally:
        cpu.stop()
        if qemu:
            from dockerlab.supply.platforms import unregister_emulation
            print(f"=== QEMU arm64 emulation removed again: {unregister_emulation('arm64', quiet=True)}", flush=True)
    for u in rest:  # a unit the runner never reported is a failure, not a gap
        if not any(x is u for x in done):
            u.rc, u.counts["failed"] = 1, u.counts["failed"] + 1
            u.failures.append(f"{u.key}: never reported by the runner")
            done.append(u)
    if any(u.group in ("engine", "notebooks", "solutions", "exercises") for u in done):
        try:
            done.append(leak_check(base_ns))
        except Exception as exc:  # noqa: BLE001 - the run ends in a summary, never a traceback
            failed_check = Unit("leaks", "leaks", [], rc=1, counts={"passed": 0, "failed": 1, "skipped": 0})
            failed_check.failures.append(f"the leak check could not list the engine's objects: {type(exc).__name__}: {exc}")
            done.append(failed_check)
    wording_lines: list[str] = []
    if not only and not lesson:  # a full run: every check line proven failing and passing; the wording to review
        done.append(check_lines(wording_lines))
    known.update({u.key: round(u.seconds, 1) for u in done if u.group != "leaks"})
    durations_file.write_text(json.dumps(known, indent=1, sort_keys=True))
    wall = time.monotonic() - wall0

    print("\n=== summary (unit time is the sum of its units' times; they ran side by side)")
    for g in GROUP_ORDER:
        us = [u for u in done if u.group == g]
        if not us:
            continue
        c = {k: sum(u.counts[k] for u in us) for k in ("passed", "failed", "skipped")}
        ok = all(u.ok for u in us)
        print(f"{'ok  ' if ok else 'FAIL'} {g:<10} {c['passed']:>4} passed, {c['failed']:>3} failed, {c['skipped']:>3} skipped"
              f"   {sum(u.seconds for u in us):7.1f} s")
    lesson_times: dict[str, float] = defaultdict(float)
    for u in done:
        if u.group in ("notebooks", "solutions"):
            lesson_times[u.name] += u.seconds
    if lesson_times:
        print("\nper lesson (notebook + solution, this run):")
        for lesson, s in sorted(lesson_times.items()):
            print(f"  {lesson:<34} {s:6.1f} s")
    failures = [f for u in done for f in u.failures]
    if failures:
        print("\nfailed:")
        for f in failures:
            print(f"  {f}")
    passed = sum(u.counts["passed"] for u in done)
    failed = sum(u.counts["failed"] for u in done)
    skipped = sum(u.counts["skipped"] for u in done)
    if rest and lanes.retried:
        print(f"\nrun once more: {'; '.join(lanes.retried)}")
    inside = {u.key: (OUT / "retries" / f"{u.key.replace('/', '-')}.txt") for u in done}
    inside = {k: p.read_text().splitlines() for k, p in inside.items() if p.exists() and p.read_text().strip()}
    if inside:
        print("\nretried inside units, past an engine bug (each with its first error):")
        for key, notes in sorted(inside.items()):
            for n in notes:
                print(f"  {key}: {n}")
    if wording_lines:
        print("\n" + "\n".join(wording_lines))
    for line in cpu.summary_lines(done, os.cpu_count() or 1):
        print(line)
    print(f"\nwall time {int(wall // 60)} min {wall % 60:02.0f} s with {jobs} lanes")
    print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if failed == 0 and all(u.ok for u in done) else 1


if __name__ == "__main__":
    sys.exit(main())

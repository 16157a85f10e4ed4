#!/usr/bin/env python3
"""Measure a running classroom with N test learners: sign-in to a ready lesson, memory idle and while lessons run.

    make classroom                                            # the classroom to measure (or one already running)
    python classroom/measure.py --learners 2 --lessons 01_images_and_containers 08_compose

Test learners ``measure-1`` … ``measure-N`` sign up with the workshop code, start their servers at once, then run
each lesson (or its solution, --folder solutions; uploaded into their copy) at the same time, lesson after lesson, while their memory is
sampled every second. At the end their servers and seats (disks, images, Unix users), accounts are removed.
Numbers are printed, never judged: docs/classroom.md turns them into a capacity plan.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import classroom as room  # noqa: E402
from hubclient import (ROOT, Hub, Kernel, PeakSampler, code_cells, learner_cpu_seconds, learner_disk_mib,  # noqa: E402
                       learner_memory, upload)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="measure", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--learners", type=int, default=2)
    ap.add_argument("--lessons", nargs="+", default=["01_images_and_containers"])
    ap.add_argument("--folder", choices=["notebooks", "solutions"], default="notebooks",
                    help="run the lessons themselves (notebooks/, default) or their solved exercises (solutions/)")
    ap.add_argument("--namespace")
    ap.add_argument("--data")
    ap.add_argument("--url", help="the hub (default http://127.0.0.1:$CLASSROOM_PORT)")
    args = ap.parse_args(argv)
    ns = room.namespace(args.namespace)
    data = Path(args.data) if args.data else room.default_data(ns)
    creds = json.loads(room.secrets_file(data).read_text())
    hub = Hub(args.url or f"http://127.0.0.1:{os.environ.get('CLASSROOM_PORT', '8000')}")
    admin = hub.token(creds["instructor"], creds["instructor_password"])
    learners = {f"measure-{i + 1}": secrets.token_urlsafe(9) for i in range(args.learners)}
    rows: list[tuple[str, str]] = []

    def say(what: str, value: str) -> None:
        rows.append((what, value))
        print(f"{what}: {value}", flush=True)

    tokens: dict[str, str] = {}
    try:
        def sign_in_and_start(name: str) -> float:
            t0 = time.monotonic()
            hub.login_form(name, learners[name], creds["workshop_code"])
            tokens[name] = hub.token(name, learners[name])
            hub.api("POST", f"/users/{name}/server", tokens[name])
            hub.wait_ready(name, tokens[name], timeout=900)
            k = Kernel(hub, name, tokens[name], "notebooks/measure.ipynb")
            try:
                k.value("import json, dockerlab; lab = dockerlab.Lesson('00_measure', quiet=True); "
                        "print(json.dumps(lab.client.images.get(lab.base('python')).tags))")
            finally:
                k.close()
            return time.monotonic() - t0

        with ThreadPoolExecutor(len(learners)) as pool:
            times = list(pool.map(sign_in_and_start, learners))
        say(f"sign-in to a ready lesson, {len(learners)} learners at once",
            f"{min(times):.1f} to {max(times):.1f} s")
        time.sleep(5)
        idle = [learner_memory(ns, n) for n in learners]
        say("memory of one idle learner (their whole seat; of it, RSS of the server / of the engine's daemons)",
            " / ".join(f"{m['total']:.0f} MiB ({m['server']:.0f} / {m['engine']:.0f})" for m in idle))
        say("disk of a seat after sign-in", " / ".join(f"{learner_disk_mib(ns, n):.0f} MiB" for n in learners))
        for lesson in args.lessons:
            solution = f"{args.folder}/{lesson}.ipynb"
            if not (ROOT / solution).exists():
                say(f"lesson {lesson}", f"no such notebook: {solution}")
                continue
            cells = code_cells(solution)
            cpu0 = {n: learner_cpu_seconds(ns, n) for n in learners}
            sampler = PeakSampler(ns, list(learners))
            sampler.start()

            def run(name: str):
                upload(hub, name, tokens[name], solution)
                k = Kernel(hub, name, tokens[name], solution)
                try:
                    t0 = time.monotonic()
                    out = k.run(cells, timeout=1800)
                    return time.monotonic() - t0, next((o["error"] for o in out if o["status"] != "ok"), None)
                finally:
                    k.close()

            try:
                with ThreadPoolExecutor(len(learners)) as pool:
                    results = list(pool.map(run, learners))
            finally:
                sampler.stop()
            errors = [e for _, e in results if e]
            cpu = sum(learner_cpu_seconds(ns, n) - cpu0[n] for n in learners) / len(learners)
            say(f"{solution}, {len(learners)} learners at once",
                f"{min(s for s, _ in results):.0f} to {max(s for s, _ in results):.0f} s; peak memory "
                f"{sampler.peak:.0f} MiB in all ({sampler.peak / len(learners):.0f} MiB a learner); "
                f"{cpu:.0f} CPU-s a learner" + (f"; FAILED: {errors[0][:200]}" if errors else ""))
        say("disk of a seat after the lessons", " / ".join(f"{learner_disk_mib(ns, n):.0f} MiB" for n in learners))
    finally:
        for name in learners:  # servers, then seats (delete_forever), accounts
            hub.api("DELETE", f"/users/{name}/server", admin)
        for name in learners:
            try:
                hub.wait_stopped(name, admin)
            except AssertionError:
                pass
            hub.api("DELETE", f"/users/{name}", admin)
            room.reset_password(data, name)
            shutil.rmtree(data / "homes" / name, ignore_errors=True)
    print("\n" + "\n".join(f"  {what:<58} {value}" for what, value in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

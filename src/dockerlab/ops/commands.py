"""The `dockerlab` command: doctor, prepare, clean, images save|load|status, leaks, run-all, bench, wheelhouse, report.

Exit codes: 0 ok; 1 something to fix (doctor found a problem, leaks found, a step failed);
2 usage error; 3 no Docker engine answers.
"""
from __future__ import annotations

import argparse
import json
import sys

from dockerlab.engine import EngineUnavailable

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_NO_ENGINE = 0, 1, 2, 3


def _doctor(args) -> int:
    from dockerlab.ops.doctor import doctor

    report = doctor(check_registry=not args.no_registry)
    print(json.dumps(report.as_dict(), indent=1) if args.json else report)
    return EXIT_OK if report.ok else EXIT_PROBLEM


def _prepare(args) -> int:
    from dockerlab.ops import prepare

    table = prepare.prepare(keys=args.only or None, pull=not args.no_pull, progress=sys.stdout.isatty())
    print(table)
    standins = [r["image"] for r in table if r["kind"] == "stand-in"]
    if standins:
        print(f"\n{len(standins)} stand-in image(s) (no registry answered): {', '.join(standins)}")
    return EXIT_OK


def _clean(args) -> int:
    from dockerlab.cleanup import cleanup
    from dockerlab.namespace import set_namespace

    if args.namespace:
        set_namespace(args.namespace)
    cleanup(lesson=args.lesson, all_namespaces=args.all_namespaces)
    if args.build_cache:
        from dockerlab.cleanup import prune_build_cache

        prune_build_cache()
    return EXIT_OK


def _leaks(args) -> int:
    """Course containers, networks and volumes left in your namespace (``--namespace``: another one;
    ``--all-namespaces``: every learner's on this engine, grouped by namespace). The output names where it looked."""
    from dockerlab import cleanup
    from dockerlab.namespace import namespace, slug

    def listed(found: dict) -> str:
        return "; ".join(f"{k}: {', '.join(v)}" for k, v in found.items() if v)

    if args.all_namespaces:
        spaces = cleanup.leaks_by_namespace()
        if not spaces:
            print("no course containers, networks or volumes left in any namespace on this engine")
            return EXIT_OK
        print(f"course objects left on this engine (every namespace looked at), in {len(spaces)} namespace(s):")
        for space, found in spaces.items():
            print(f"  {space}: {listed(found)}")
        print("remove one namespace's: dockerlab clean --namespace NAME")
        return EXIT_PROBLEM
    ns = slug(args.namespace) if args.namespace else namespace()
    left = {k: v for k, v in cleanup.leaks(ns=ns).items() if v}
    if left:
        print(f"course objects left in namespace {ns}: {listed(left)}")
        print("remove them: dockerlab clean" + (f" --namespace {ns}" if args.namespace else ""))
        return EXIT_PROBLEM
    print(f"no course containers, networks or volumes left in namespace {ns}"
          " (other namespaces: dockerlab leaks --all-namespaces)")
    return EXIT_OK


def _images(args) -> int:
    from dockerlab.ops import prepare
    from dockerlab.ops import bundles

    if args.action == "save":
        print(f"wrote {bundles.save(args.file, keys=args.only or None)}")
    elif args.action == "load":
        for ref in bundles.load(args.file):
            print(f"loaded {ref}")
    else:
        print(prepare.status())
    return EXIT_OK


def _run_all(args) -> int:
    from dockerlab.ops.runall import run_all

    images = dict(kv.split("=", 1) for kv in (args.image or []))
    runs, out = run_all(lessons=args.lessons or None, namespace=args.namespace, solutions=not args.no_solutions,
                        out_dir=args.out, images=images, progress=True, timeout=args.timeout)
    for r in runs:
        print(f"{'pass' if r.passed else 'FAIL'}  {r.notebook:<44} {r.seconds:6.1f} s  {r.error[:100]}")
    print(f"\nreport: {out / 'report.md'} and {out / 'report.html'}")
    return EXIT_OK if all(r.passed for r in runs) else EXIT_PROBLEM


def _bench(args) -> int:
    from dockerlab.ops.bench import bench, markdown, verdicts

    table, claims = bench(which=args.only or None, quiet=not args.show)
    print(table)
    print("\n".join(["", *verdicts(claims)]))
    if args.markdown:
        from pathlib import Path

        Path(args.markdown).write_text(markdown(claims))
        print(f"wrote {args.markdown}")
    return EXIT_OK


def _wheelhouse(args) -> int:
    from dockerlab.ops import offline

    if args.action == "build":
        wheels = offline.build_wheelhouse(args.dir)
        print(f"{len(wheels)} wheels in {args.dir}")
    elif args.action == "enable":
        print(f"{offline.enable(args.dir)} now installs Python packages from the wheelhouse only (no index)")
    else:
        print(f"{offline.disable()} is the original image again")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dockerlab", description="Course helper: is the engine ready, prepare images, clean up.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("doctor", help="check engine, buildx, compose, disk, registry, course images, namespace")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-registry", action="store_true", help="skip the registry probe")
    p.set_defaults(fn=_doctor)
    p = sub.add_parser("prepare", help="pull the course images, or build stand-ins where no registry answers")
    p.add_argument("--only", nargs="*", help="image keys (python, python-full, uv, postgres, redis, registry; made only when named: engine, python-arm64)")
    p.add_argument("--no-pull", action="store_true", help="do not try the registry; build stand-ins")
    p.set_defaults(fn=_prepare)
    p = sub.add_parser("clean", help="remove the course's containers, networks, volumes and images of your namespace")
    p.add_argument("--all-namespaces", action="store_true", help="every learner's course objects (instructors)")
    p.add_argument("--namespace", help="another namespace than yours")
    p.add_argument("--lesson", help="only this lesson, e.g. 03")
    p.add_argument("--build-cache", action="store_true",
                   help="also prune BuildKit's build cache (kept by default so lessons rebuild from cache; engine-wide)")
    p.set_defaults(fn=_clean)
    p = sub.add_parser("leaks", help="exit 1 if a course container, network or volume is left in your namespace")
    p.add_argument("--namespace", help="another namespace than yours")
    p.add_argument("--all-namespaces", action="store_true", help="every learner's namespace on this engine (instructors)")
    p.set_defaults(fn=_leaks)
    p = sub.add_parser("images", help="offline bundles: save FILE, load FILE, status")
    p.add_argument("action", choices=["save", "load", "status"])
    p.add_argument("file", nargs="?")
    p.add_argument("--only", nargs="*", help="with save: only these image keys")
    p.set_defaults(fn=_images)
    p = sub.add_parser("run-all", help="run the course headless (papermill) and write a report: will my machine work on the day?")
    p.add_argument("lessons", nargs="*", help="lesson numbers or names (default: all)")
    p.add_argument("--namespace", default="runall", help="namespace for the run (default: runall)")
    p.add_argument("--no-solutions", action="store_true", help="lessons only, not their solutions")
    p.add_argument("--image", action="append", metavar="KEY=REF", help="override a course image, e.g. python=python:3.13.6-slim")
    p.add_argument("--out", help="folder for executed notebooks and the report (default: runs/<time>)")
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    p.set_defaults(fn=_run_all)
    p = sub.add_parser("report", add_help=False,
                       help="export your progress (every lesson's checks) as JSON and a one-page HTML file")
    p.set_defaults(fn=None)
    p = sub.add_parser("wheelhouse", help="offline classroom: build DIR (day before), enable DIR (on the day), disable")
    p.add_argument("action", choices=["build", "enable", "disable"])
    p.add_argument("dir", nargs="?", default="wheelhouse")
    p.set_defaults(fn=_wheelhouse)
    p = sub.add_parser("bench", help="measure published Docker-for-Python claims on this engine, side by side")
    p.add_argument("--only", nargs="*", choices=["multi-stage", "cache-order", "installer"])
    p.add_argument("--show", action="store_true", help="show each build's steps")
    p.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    p.set_defaults(fn=_bench)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:  # its own options: dockerlab report --help
        from dockerlab.grading.report import main as report_main

        return report_main(argv[1:])
    args = ap.parse_args(argv)
    if args.cmd == "images" and args.action in ("save", "load") and not args.file:
        ap.error(f"images {args.action} needs a FILE")
    try:
        return args.fn(args)
    except EngineUnavailable as exc:
        print(f"dockerlab: {exc}", file=sys.stderr)
        return EXIT_NO_ENGINE
    except (RuntimeError, FileNotFoundError) as exc:
        print(f"dockerlab: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The `dockerlab` command, the package's one command line (also ``python -m dockerlab``).

Learners and instructors: doctor, prepare, clean, leaks, images save|load|status, report, run-all, bench, wheelhouse.
Maintainers: exercises (``make exercises``), platforms (QEMU for lesson 14), supply prepare (``make supply-chain``).
Each subcommand is a function below, registered with its options by :func:`command`.

Exit codes: 0 ok; 1 something to fix (doctor found a problem, leaks found, a step failed, exercises drifted);
2 usage error; 3 no Docker engine answers.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from dockerlab.engine import EngineUnavailable

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_NO_ENGINE = 0, 1, 2, 3
COMMANDS: list[tuple[str, str, tuple, Callable]] = []  # (name, help, arguments, function), in the order of --help


def arg(*flags: str, **options) -> tuple[tuple, dict]:
    """One option of a subcommand, as ``argparse``'s ``add_argument(*flags, **options)`` takes it."""
    return flags, options


def command(name: str, help: str, *arguments: tuple[tuple, dict]):
    """Register the function below as ``dockerlab NAME`` with its ``arguments`` (each made by :func:`arg`)."""
    def register(fn: Callable) -> Callable:
        COMMANDS.append((name, help, arguments, fn))
        return fn
    return register


@command("doctor", "check engine, buildx, compose, disk, registry, course images, namespace",
         arg("--json", action="store_true"), arg("--no-registry", action="store_true", help="skip the registry probe"))
def _doctor(args) -> int:
    from dockerlab.ops.doctor import doctor

    report = doctor(check_registry=not args.no_registry)
    print(json.dumps(report.as_dict(), indent=1) if args.json else report)
    return EXIT_OK if report.ok else EXIT_PROBLEM


@command("prepare", "pull the course images, or build stand-ins where no registry answers",
         arg("--only", nargs="*", help="image keys (python, python-full, uv, postgres, redis, registry; "
                                       "made only when named: engine, python-arm64)"),
         arg("--no-pull", action="store_true", help="do not try the registry; build stand-ins"))
def _prepare(args) -> int:
    from dockerlab.ops import prepare

    table = prepare.prepare(keys=args.only or None, pull=not args.no_pull, progress=sys.stdout.isatty())
    print(table)
    standins = [r["image"] for r in table if r["kind"] == "stand-in"]
    if standins:
        print(f"\n{len(standins)} stand-in image(s) (no registry answered): {', '.join(standins)}")
    return EXIT_OK


@command("clean", "remove the course's containers, networks, volumes and images of your namespace",
         arg("--all-namespaces", action="store_true", help="every learner's course objects (instructors)"),
         arg("--namespace", help="another namespace than yours"),
         arg("--lesson", help="only this lesson, e.g. 03"),
         arg("--build-cache", action="store_true",
             help="also prune BuildKit's build cache (kept by default so lessons rebuild from cache; engine-wide)"))
def _clean(args) -> int:
    from dockerlab.cleanup import cleanup, prune_build_cache
    from dockerlab.namespace import set_namespace

    if args.namespace:
        set_namespace(args.namespace)
    cleanup(lesson=args.lesson, all_namespaces=args.all_namespaces)
    if args.build_cache:
        prune_build_cache()
    return EXIT_OK


@command("leaks", "exit 1 if a course container, network or volume is left in your namespace",
         arg("--namespace", help="another namespace than yours"),
         arg("--all-namespaces", action="store_true", help="every learner's namespace on this engine (instructors)"))
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


@command("images", "offline bundles: save FILE, load FILE, status",
         arg("action", choices=["save", "load", "status"]), arg("file", nargs="?"),
         arg("--only", nargs="*", help="with save: only these image keys"))
def _images(args) -> int:
    from dockerlab.ops import bundles, prepare

    if args.action in ("save", "load") and not args.file:
        print(f"dockerlab images {args.action} needs a FILE", file=sys.stderr)
        return EXIT_USAGE
    if args.action == "save":
        print(f"wrote {bundles.save(args.file, keys=args.only or None)}")
    elif args.action == "load":
        for ref in bundles.load(args.file):
            print(f"loaded {ref}")
    else:
        print(prepare.status())
    return EXIT_OK


@command("report", "export your progress (every lesson's checks) as JSON and a one-page HTML file "
                   "(default: both into runs/ in the course folder, which git ignores)",
         arg("--json", metavar="FILE", help="write the JSON report here (and, without --html, no HTML)"),
         arg("--html", metavar="FILE", help="write the HTML report here (and, without --json, no JSON)"),
         arg("--progress", metavar="FILE", help="progress file to read (default: yours, see $DOCKERLAB_PROGRESS)"))
def _report(args) -> int:
    from pathlib import Path

    from dockerlab.grading import report
    from dockerlab.grading.checker import progress_file

    json_path, html_path = args.json, args.html
    if not json_path and not html_path:
        json_path, html_path = report.report_dir() / report.DEFAULT_JSON, report.report_dir() / report.DEFAULT_HTML
    src = Path(args.progress) if args.progress else progress_file()
    if not src.exists():
        print(f"dockerlab report: no progress file at {src} (run an exercise check first)", file=sys.stderr)
    try:
        written = report.write_report(json_path, html_path, src)
    except (OSError, ValueError) as exc:
        print(f"dockerlab report: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    s = written["summary"]
    print(f"{report.progress_line(s)}; {s['attempts']} check run{'s' if s['attempts'] != 1 else ''}")
    for p in (json_path, html_path):
        if p:
            print(f"wrote {p}")
    return EXIT_OK


@command("run-all", "run the course headless (papermill) and write a report: will my machine work on the day?",
         arg("lessons", nargs="*", help="lesson numbers or names (default: all)"),
         arg("--namespace", default="runall", help="namespace for the run (default: runall)"),
         arg("--no-solutions", action="store_true", help="lessons only, not their solutions"),
         arg("--image", action="append", metavar="KEY=REF", help="override a course image, e.g. python=python:3.13.6-slim"),
         arg("--out", help="folder for executed notebooks and the report (default: runs/<time>)"),
         arg("--timeout", type=int, default=900, help="seconds per cell (default 900)"))
def _run_all(args) -> int:
    from dockerlab.ops.runall import run_all

    images = dict(kv.split("=", 1) for kv in (args.image or []))
    runs, out = run_all(lessons=args.lessons or None, namespace=args.namespace, solutions=not args.no_solutions,
                        out_dir=args.out, images=images, progress=True, timeout=args.timeout)
    for r in runs:
        print(f"{'pass' if r.passed else 'FAIL'}  {r.notebook:<44} {r.seconds:6.1f} s  {r.error[:100]}")
    print(f"\nreport: {out / 'report.md'} and {out / 'report.html'}")
    return EXIT_OK if all(r.passed for r in runs) else EXIT_PROBLEM


@command("wheelhouse", "offline classroom: build DIR (day before), enable DIR (on the day), disable",
         arg("action", choices=["build", "enable", "disable"]), arg("dir", nargs="?", default="wheelhouse"))
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


@command("bench", "measure published Docker-for-Python claims on this engine, side by side",
         arg("--only", nargs="*", choices=["multi-stage", "cache-order", "installer"]),
         arg("--show", action="store_true", help="show each build's steps"),
         arg("--markdown", metavar="FILE", help="also write the table as Markdown"))
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


@command("exercises", "maintainers: write exercises/ from solutions/ (make exercises); --check: write nothing, "
                      "exit 1 and list what differs",
         arg("--check", action="store_true", help="report drift, write nothing"))
def _exercises(args) -> int:
    from dockerlab.ops.authoring import write_exercises

    written, problems = write_exercises(check=args.check)
    for p in problems:
        print(p, file=sys.stderr)
    if not args.check:
        print(f"wrote {written} exercise notebook(s)")
    return EXIT_PROBLEM if problems else EXIT_OK


@command("platforms", "lesson 14: QEMU emulation of another CPU (kernel-wide; register and unregister need root)",
         arg("action", nargs="?", default="status", choices=["status", "register", "unregister"]),
         arg("arches", nargs="*", default=["arm64"], metavar="ARCH", help="default: arm64"))
def _platforms(args) -> int:
    from dockerlab.supply import platforms

    for arch in args.arches:
        if args.action == "register":
            said = "registered" if platforms.register_emulation(arch, quiet=True) else "was registered already"
        elif args.action == "unregister":
            said = "removed" if platforms.unregister_emulation(arch, quiet=True) else "was not registered"
        else:
            entry = platforms.registered(arch)
            said = f"registered ({entry.get('interpreter')}, flags {entry.get('flags', '')})" if entry else "not registered"
        print(f"{platforms.entry_name(arch)}: {said}")
    return EXIT_OK


@command("supply", "lesson 14: prepare what it needs on this engine (make supply-chain): the engine image, the "
                   "arm64 Python stand-in", arg("action", choices=["prepare"]))
def _supply(args) -> int:
    from dockerlab.supply.stores import prepare_lesson

    prepare_lesson()
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="dockerlab", description="Course helper: is the engine ready, prepare images, clean up.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, help, arguments, fn in COMMANDS:
        p = sub.add_parser(name, help=help, description=help)
        for flags, options in arguments:
            p.add_argument(*flags, **options)
        p.set_defaults(fn=fn)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
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


if __name__ == "__main__":  # the same command as `dockerlab` and `python -m dockerlab`
    sys.exit(main())

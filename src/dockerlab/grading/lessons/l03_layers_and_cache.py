"""Lesson 03 exercise: the cache order for a packaged service (``sample_apps/word_stats``).

The lesson orders cache_demo (a requirements.txt and an app.py). word_stats is packaged as most services are: a
``pyproject.toml`` with ranges, a lock file ``requirements.lock`` with the exact versions, and the code in
``src/wordstats/``, installed as a package. The learner applies the same idea to it: what the dependency install
reads comes first, the code and the install of the project itself after. The check judges the built images:

1. the Dockerfile builds;
2. after a change to ``src/wordstats/text.py`` only, the dependency install and every step before it come from
   BuildKit's cache (the project's own install after it may run again);
3. the rebuilt image runs the changed code (the check's change is in the module Python imports);
4. every package is at the version ``requirements.lock`` pins (pip resolving ``pyproject.toml``'s ranges, or
   ``pip install flask``, gets newer ones);
5. gunicorn serves ``/health`` on port 8000.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker
from dockerlab.show import short
from dockerlab.grading.rebuild import rebuild_after_code_change
from dockerlab.grading.probes import helper
from dockerlab.grading.serving import serves_health

LESSON = "03_layers_and_cache"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "A step runs again when a file it copies changed, and so does every step after it. List the steps of the starter "
    "and ask of each: which files does it read? Which of them change when you edit src/wordstats/text.py?",
    "Installing this service is two installs: its dependencies, which read only the lock file, and the project "
    "itself, which needs pyproject.toml and src/. Only the second one has to see your code; and the dependencies "
    "must come from the lock, not from pyproject.toml's ranges.",
    "Lesson 03, section \"Instruction order decides what a code change costs\": the same idea as cache_demo's "
    "requirements.txt, applied to each file the installs read.",
)
APP = "word_stats"
PACKAGE = "wordstats"
CODE_FILE = "src/wordstats/text.py"
LOCK = "requirements.lock"
PORT = 8000
LINES = ["the image builds", "dependency install cached after a code change", "the changed code runs",
         f"versions from {LOCK}", "serves /health"]
FIXES = {
    "module": (f"the package {PACKAGE} (or a dependency) is not installed: install the dependencies from {LOCK}, "
               "then copy pyproject.toml and src/ and install the project itself"),
    "file": "CMD names a program or module the image does not have: keep gunicorn wordstats.app:app",
    "exited": "read the log line: the image must start gunicorn wordstats.app:app on 0.0.0.0:8000",
}
_NORMALIZE = re.compile(r"[-_.]+")
VERSIONS = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
MODULE_SOURCE = "import wordstats.text as t, pathlib; print(pathlib.Path(t.__file__).read_text())"


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``MarkupSafe`` == ``markupsafe``."""
    return _NORMALIZE.sub("-", name).lower()


def lock_pins(app) -> dict[str, str]:
    """``name==version`` lines of the app's lock file."""
    out = {}
    for line in (Path(app) / LOCK).read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)", line)
        if m:
            out[normalize(m.group(1))] = m.group(2)
    return out


def installed(lab, image: str) -> tuple[dict[str, str] | None, str]:
    """{distribution: version} installed in ``image`` (as Python in the image sees them), or None and why."""
    res = helper(lab, image, ["python", "-c", VERSIONS], thing="check-versions", user=None, timeout=60)
    try:
        return {normalize(k): v for k, v in json.loads(res.output.strip().splitlines()[-1]).items()}, ""
    except (ValueError, IndexError):
        return None, short(res.output, 200)


def check(lab, app, timeout: float = 30) -> Checker:
    """Build ``app`` (word_stats), change src/wordstats/text.py, rebuild; judge the cache, the code, the versions, /health."""
    app = Path(app)
    c = Checker(LESSON, "cache order for a packaged service", planned=LINES)
    try:
        first = lab.build(app, "word-stats")
    except BuildFailed as exc:
        fix = "read the build log above"
        if "No such file or directory" in exc.error or any("No such file" in l or "not found" in l for l in exc.log_tail):
            fix = "a step reads a file that is not in the image yet: COPY it before the step that needs it"
        c.fail(LINES[0], f"the build failed at `{short(exc.step, 70)}`: {short(exc.error, 160)}", fix)
        return c.report()
    c.ok(LINES[0], f"{first.tag}: {len(first.steps)} steps")

    print(f"the check appends a comment line to {CODE_FILE} and rebuilds:")
    change = rebuild_after_code_change(lab, app, "word-stats", code_file=CODE_FILE)
    if change.error:
        c.fail(LINES[1], change.error, "the code change must build too: read the build log")
        return c.report()
    if change.dependency_step is None:
        c.fail(LINES[1], "no RUN step installs dependencies (pip install)",
               f"install the dependencies with pip from {LOCK}")
        return c.report()
    upto = change.upto
    if change.cached:
        c.ok(LINES[1], f"{len(upto)} of {len(upto)} steps up to the dependency install kept: {change.kept()}")
    else:
        c.fail(LINES[1], f"{len(upto) - len(change.rebuilt)} of {len(upto)} steps up to the dependency install "
                         f"kept; {change.why()}",
               f"the dependency install reads only {LOCK}: copy that file alone before it, and copy the code "
               "(pyproject.toml, src/) after it, to install the project itself")

    image = change.result.image.id
    src = helper(lab, image, ["python", "-c", MODULE_SOURCE], thing="check-code", user=None, timeout=60)
    if change.marker and change.marker in src.output:
        c.ok(LINES[2], f"{PACKAGE}.text in the rebuilt image holds the check's change")
    elif src.ok:
        c.fail(LINES[2], f"the rebuilt image imports {PACKAGE}.text without the check's change: an old copy of the "
                         "code is what runs", "install the project after copying the code, so a rebuild installs the new code")
    else:
        c.fail(LINES[2], f"python in the rebuilt image cannot import {PACKAGE}.text: {short(src.output.strip(), 160)}",
               FIXES["module"])

    pins = lock_pins(app)
    got, why = installed(lab, image)
    if got is None:
        c.skip(LINES[3], f"could not list the image's packages: {why}")
    else:
        wrong = [f"{n} {got.get(n, 'missing')} (lock: {v})" for n, v in sorted(pins.items()) if got.get(n) != v]
        c.expect(not wrong, LINES[3], f"{len(wrong)} of {len(pins)} packages differ from the lock: {', '.join(wrong[:4])}",
                 fix=f"install the dependencies from {LOCK} (pip install -r), not by name or from pyproject.toml's ranges",
                 ok=f"all {len(pins)} pins of {LOCK} installed (flask {got.get('flask')}, gunicorn {got.get('gunicorn')})")

    serves_health(lab, c, change.result.tag, name=LINES[4], thing="check-serve", port=PORT, timeout=timeout, fixes=FIXES)
    return c.report()

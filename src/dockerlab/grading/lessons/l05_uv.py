"""Lesson 05 exercise check: a uv Dockerfile that installs exactly uv.lock, caches it, and ships no uv cache.

How the check works (each step is one line of the report):

1. It copies the learner's project to a scratch folder and *rewrites uv.lock there* so that it pins an older,
   valid Flask (3.0.3, with its real URLs and hashes, still satisfying ``flask>=3.0`` in pyproject.toml).
   An image built from the lock must then contain Flask 3.0.3 (every flask installed in it is looked at,
   on PATH or not); ``pip install flask``, ``uv pip install flask``
   or anything else that resolves on its own gets the newest Flask instead, and is caught.
2. It builds that copy with BuildKit (``docker build``), edits ``app.py``, builds again and reads the steps:
   the first RUN that installs dependencies must come from the cache.
3. It looks for a uv cache in every layer of the image, under any path (``UV_CACHE_DIR``, a non-root
   user's home, one deleted by a later layer), and asks ``/health`` on port 8000.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker
from dockerlab.paths import workspace_root
from dockerlab.grading.rebuild import rebuild_after_code_change
from dockerlab.grading.contents import package_caches
from dockerlab.grading.probes import helper
from dockerlab.grading.serving import serves_health

LESSON = "05_uv"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "The check hands your Dockerfile a lock that pins an older Flask. pip (and `uv pip install flask`) resolve on "
    "their own and ignore uv.lock: which command installs exactly what the lock says?",
    "The dependency layer must depend only on pyproject.toml and uv.lock (the project itself is installed after the "
    "code is copied), and uv's cache must not end up in a layer.",
    "Lesson 05, sections \"The Dockerfile\", \"`--frozen` or `--locked`\" and \"A code change does not reinstall the "
    "dependencies\" show each piece; the environment lands in /app/.venv, whose bin must be on PATH for gunicorn.",
)
OLD_FLASK = "3.0.3"
# The [[package]] entry `uv lock --upgrade-package flask==3.0.3` writes for this project (real files on PyPI).
OLD_FLASK_BLOCK = '''[[package]]
name = "flask"
version = "3.0.3"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "blinker" },
    { name = "click" },
    { name = "itsdangerous" },
    { name = "jinja2" },
    { name = "werkzeug" },
]
sdist = { url = "https://files.pythonhosted.org/packages/41/e1/d104c83026f8d35dfd2c261df7d64738341067526406b40190bc063e829a/flask-3.0.3.tar.gz", hash = "sha256:ceb27b0af3823ea2737928a4d99d125a06175b8512c445cbd9a9ce200ef76842", upload-time = "2024-04-07T19:26:11.035Z" }
wheels = [
    { url = "https://files.pythonhosted.org/packages/61/80/ffe1da13ad9300f87c93af113edd0638c75138c42a0994becfacac078c06/flask-3.0.3-py3-none-any.whl", hash = "sha256:34e815dfaa43340d1d15a5c3a02b8476004037eb4840b34910c6e21679d288f3", upload-time = "2024-04-07T19:26:08.569Z" },
]
'''
_FLASK_BLOCK = re.compile(r'\[\[package\]\]\nname = "flask"\n.*?(?=\n\[\[package\]\]|\Z)', re.S)
# Every installed flask in the image, wherever the environment is (on PATH or not): its .dist-info directories.
FLASK_DISTS = ("find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -type d "
               "\\( -name 'flask-*.dist-info' -o -name 'Flask-*.dist-info' \\) -print")
SERVE_FIX = "start the app on port 8000 (CMD [\"gunicorn\", \"--bind\", \"0.0.0.0:8000\", \"app:app\"])"


def tamper_lock(lock_text: str) -> str:
    """uv.lock with Flask's entry replaced by Flask 3.0.3's (raises ValueError if there is no flask entry)."""
    new, n = _FLASK_BLOCK.subn(OLD_FLASK_BLOCK.rstrip("\n"), lock_text, count=1)
    if n != 1:
        raise ValueError("uv.lock has no [[package]] entry for flask")
    return new


def _scratch_copy(lab, app: Path) -> Path:
    dest = workspace_root(lab.ns) / lab.id / "check-uv"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(app, dest, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    return dest


def flask_installs(lab, tag: str) -> dict[str, str]:
    """{path of its .dist-info: version} of every flask installed anywhere in the image."""
    res = helper(lab, tag, ["/bin/sh", "-c", FLASK_DISTS], thing="check-probe", system_path=True)
    found = {}
    for line in res.output.splitlines():
        m = re.search(r"/[Ff]lask-([^/-]+)\.dist-info$", line.strip())
        if m and line.startswith("/"):
            found[line.strip()] = m.group(1)
    return found


def check(lab, app) -> Checker:
    """Check the Dockerfile in ``app`` (a workspace of sample_apps/uv_service). Raises CheckFailed on failure."""
    app = Path(app)
    chk = Checker(LESSON, "uv Dockerfile")
    if not (app / "Dockerfile").exists():
        chk.fail("Dockerfile", f"no Dockerfile in {app}", "write your Dockerfile to app / 'Dockerfile'")
        return chk.report()
    work = _scratch_copy(lab, app)
    try:
        (work / "uv.lock").write_text(tamper_lock((work / "uv.lock").read_text()))
    except (OSError, ValueError) as exc:
        chk.fail("uv.lock", f"cannot read the flask entry of uv.lock ({exc})",
                 "keep the project's uv.lock as given (regenerate it with `uv lock` if you changed pyproject.toml)")
        return chk.report()
    print(f"checking a copy of your project whose uv.lock pins flask=={OLD_FLASK} (pyproject.toml allows it)")

    try:
        first = lab.build(work, "check-uv", quiet=True)
    except BuildFailed as exc:
        chk.fail("image builds", f"the build failed at `{exc.step}`: {exc.error}",
                 "fix that step (build it yourself with lab.build(app, 'uv') to see the log)")
        return chk.report()
    chk.ok("image builds", f"{len(first.steps)} steps")

    # 1. the lock is honoured: every flask in the image (on PATH or not) is the locked one
    installs = flask_installs(lab, first.tag)
    other = {p: v for p, v in installs.items() if v != OLD_FLASK}
    if not installs:
        chk.fail("lock honoured", "no flask is installed anywhere in the image",
                 "install the dependencies from the lock: uv sync --frozen --no-dev")
    else:
        chk.expect(not other, "lock honoured",
                   f"uv.lock pins flask {OLD_FLASK} but the image has flask "
                   + ", ".join(f"{v} ({p.rsplit('/', 1)[0]})" for p, v in other.items())
                   + ": the dependencies were resolved again instead of installed from the lock",
                   fix="install from the lock with `uv sync --frozen --no-dev` (or --locked), not pip / uv pip install",
                   ok=f"flask {OLD_FLASK}, exactly as uv.lock says ({', '.join(p.rsplit('/', 1)[0] for p in installs)})")

    # 2. the dependency layer survives a code change (the first install; uv's second `uv sync` may re-run)
    change = rebuild_after_code_change(lab, work, "check-uv")
    if change.error:
        chk.fail("dependencies cached on a code change", change.error, "")
    elif change.dependency_step is None:
        chk.fail("dependencies cached on a code change", "no RUN step installs dependencies (uv sync …)",
                 "add RUN uv sync --locked --no-dev --no-install-project after COPY pyproject.toml uv.lock ./")
    else:
        chk.expect(change.cached, "dependencies cached on a code change", change.why(),
                   fix="COPY only pyproject.toml and uv.lock, run uv sync --no-install-project, then COPY the code",
                   ok=change.kept())

    # 3. no uv cache shipped: under any path (UV_CACHE_DIR, a non-root user's home), in any layer
    caches = package_caches(lab, first.image, ("uv",))
    chk.expect(not caches, "no uv cache in the image", "; ".join(str(c) for c in caches),
               fix="use RUN --mount=type=cache,target=<the cache dir> (uv cache dir prints it), or a builder "
                   "stage, or UV_NO_CACHE=1; deleting it in a later RUN does not make the image smaller",
               ok="no uv cache in any layer (looked for uv's cache layout under every path)")

    # 4. the app runs
    serves_health(lab, chk, first.tag, name="app answers /health", thing="check-web",
                  fixes={k: SERVE_FIX for k in ("exited", "http", "not_started", "other_port", "not_listening")})
    return chk.report()

"""Lesson 05 exercise check: a uv Dockerfile that installs exactly uv.lock, caches it, and ships no uv cache.

How the check works (each step is one line of the report):

1. It copies the learner's project to a scratch folder and *rewrites uv.lock there* so that it pins an older,
   valid Flask (3.0.3, with its real URLs and hashes, still satisfying ``flask>=3.0`` in pyproject.toml).
   An image built from the lock must then contain Flask 3.0.3; ``pip install flask``, ``uv pip install flask``
   or anything else that resolves on its own gets the newest Flask instead, and is caught.
2. It builds that copy with BuildKit (``docker build``), edits ``app.py``, builds again and reads the steps:
   the first RUN that installs dependencies must come from the cache.
3. In a container of the image it counts the files under ``/root/.cache/uv`` (must be none) and asks
   ``/health`` on port 8000.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..build import BuildFailed
from ..checks import Checker
from ..paths import workspace_root
from ..run import ContainerExited, WaitTimeout, http_get, remove, wait_exit
from ..show import short
from .common import rebuild_after_code_change

LESSON = "05_uv"
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
PROBE = (
    "import json, os, importlib.metadata as m\n"
    "try:\n    v = m.version('flask')\nexcept Exception:\n    v = None\n"
    "d = '/root/.cache/uv'\n"
    "n = sum(len(f) for _, _, f in os.walk(d)) if os.path.isdir(d) else 0\n"
    "print(json.dumps({'flask': v, 'uv_cache_files': n}))\n"
)


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


def _probe(lab, tag: str) -> dict | None:
    c = lab.run(tag, "check-probe", entrypoint=["python", "-c", PROBE])
    try:
        wait_exit(c, timeout=60)
        out = c.logs(stdout=True, stderr=True).decode(errors="replace").strip()
        try:
            return json.loads(out.splitlines()[-1])
        except (ValueError, IndexError):
            return {"error": out[-300:]}
    finally:
        remove(c, quiet=True)


def check_uv_dockerfile(lab, app) -> Checker:
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
        first = lab.build(work, "check-uv", show=False)
    except BuildFailed as exc:
        chk.fail("image builds", f"the build failed at `{exc.step}`: {exc.error}",
                 "fix that step (build it yourself with lab.build(app, 'uv') to see the log)")
        return chk.report()
    chk.ok("image builds", f"{len(first.steps)} steps")

    # 1. the lock is honoured
    probe = _probe(lab, first.tag)
    if not probe or "error" in probe:
        chk.fail("lock honoured", f"could not run `python` in the image: {(probe or {}).get('error', 'no output')}",
                 "put the virtual environment on PATH: ENV PATH=\"/app/.venv/bin:$PATH\"")
    elif probe["flask"] is None:
        chk.fail("lock honoured", "`python` in the image cannot import flask",
                 "install the dependencies (uv sync --frozen --no-dev) and put /app/.venv/bin first on PATH")
    else:
        chk.expect(probe["flask"] == OLD_FLASK, "lock honoured",
                   f"uv.lock pins flask {OLD_FLASK} but the image has flask {probe['flask']}: "
                   "the dependencies were resolved again instead of installed from the lock",
                   "install from the lock with `uv sync --frozen --no-dev` (or --locked), not pip / uv pip install",
                   f"flask {probe['flask']}, exactly as uv.lock says")

    # 2. the dependency layer survives a code change (the first install; uv's second `uv sync` may re-run)
    change = rebuild_after_code_change(lab, work, "check-uv")
    if change.error:
        chk.fail("dependencies cached on a code change", change.error, "")
    elif change.dependency_step is None:
        chk.fail("dependencies cached on a code change", "no RUN step installs dependencies (uv sync …)",
                 "add RUN uv sync --locked --no-dev --no-install-project after COPY pyproject.toml uv.lock ./")
    else:
        dep = short(change.dependency_step.instruction, 60)
        chk.expect(change.cached, "dependencies cached on a code change", change.why(),
                   "COPY only pyproject.toml and uv.lock, run uv sync --no-install-project, then COPY the code",
                   f"`{dep}` came from the cache")

    # 3. no uv cache shipped
    if probe and "uv_cache_files" in probe:
        n = probe["uv_cache_files"]
        chk.expect(n == 0, "no uv cache in the image", f"/root/.cache/uv holds {n} files in the final image",
                   "use RUN --mount=type=cache,target=/root/.cache/uv (or a builder stage, or --no-cache)",
                   "/root/.cache/uv is absent or empty")
    else:
        chk.fail("no uv cache in the image", "could not look inside the image (see above)", "")

    # 4. the app runs
    port = lab.free_port()
    c = lab.run(first.tag, "check-web", ports={"8000/tcp": port})
    try:
        status, body = http_get(port, "/health", timeout=30, container=c)
        chk.expect(status == 200, "app answers /health", f"GET /health answered {status}: {body[:100]}",
                   "start the app on port 8000 (CMD [\"gunicorn\", \"--bind\", \"0.0.0.0:8000\", \"app:app\"])",
                   "GET /health → 200")
    except (ContainerExited, WaitTimeout) as exc:
        chk.fail("app answers /health", str(exc).splitlines()[0][:200],
                 "start the app on port 8000 (CMD [\"gunicorn\", \"--bind\", \"0.0.0.0:8000\", \"app:app\"])")
    finally:
        remove(c, quiet=True)
    return chk.report()

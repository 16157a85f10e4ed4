"""Lesson 05 exercise: the learner's uv Dockerfile for ``slug_api``, a package (src layout) with an optional extra
(``server``: gunicorn) and a dev group (pytest).

The check works on scratch copies of the learner's folder, so the learner's files stay as they are:

1. ``l05.builds``: a copy whose ``uv.lock`` pins an older, valid python-slugify (8.0.4, real URLs and hashes, within
   ``>=8.0``) builds;
2. ``l05.answers``: the image serves ``/slug`` on port 8000 (when it does not: gunicorn left out with the extra, an
   editable install whose source stayed behind, the project not installed: the upstream cause, observed);
3. ``l05.lock``: every python-slugify in the image is 8.0.4: anything that resolves again gets the newest;
4. ``l05.locked``: a copy whose ``pyproject.toml`` asks for one more package than the lock holds must fail to build
   (``uv sync --locked``); ``--frozen`` installs the stale lock without a word;
5. ``l05.deps-cached``: after a code change the dependency install comes from the cache (judged on BuildKit's graph);
6. ``l05.no-dev``: no package of the dev group in the image;
7. ``l05.no-cache``: no uv or pip cache in any layer, under any path.
"""
from __future__ import annotations

import dataclasses
import re
import shutil
import tomllib
from pathlib import Path
from urllib.parse import quote

from dockerlab.build import BuildFailed, BuildResult
from dockerlab.grading.checker import Checker, NotEvaluated, criterion, failed, needed, passed
from dockerlab.grading.contents import package_caches
from dockerlab.grading.probes import measure
from dockerlab.grading.rebuild import build_failed, rebuild_after_code_change
from dockerlab.grading.serving import serve
from dockerlab.paths import workspace_root
from dockerlab.run import remove
from dockerlab.show import short
from dockerlab.grading.lessons import lesson_hints

LESSON = "05_uv"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
APP = "slug_api"
CODE_FILE = "src/slug_api/app.py"
PORT = 8000
TITLE = "Crème brûlée: 10 façons"
SLUG = "creme-brulee-10-facons"
SLUG_PATH = "/slug?title=" + quote(TITLE)
TAMPERED, OLD_VERSION = "python-slugify", "8.0.4"
STALE_DEPENDENCY = "six>=1.16"  # added to pyproject.toml, not to the lock: a stale lock
# The [[package]] entry `uv lock --upgrade-package python-slugify==8.0.4` writes for this project (real files on PyPI).
OLD_BLOCK = '''[[package]]
name = "python-slugify"
version = "8.0.4"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "text-unidecode" },
]
sdist = { url = "https://files.pythonhosted.org/packages/87/c7/5e1547c44e31da50a460df93af11a535ace568ef89d7a811069ead340c4a/python-slugify-8.0.4.tar.gz", hash = "sha256:59202371d1d05b54a9e7720c5e038f928f45daaffe41dd10822f3907b937c856", size = 10921, upload-time = "2024-02-08T18:32:45.488Z" }
wheels = [
    { url = "https://files.pythonhosted.org/packages/a4/62/02da182e544a51a5c3ccf4b03ab79df279f9c60c5e82d5e8bec7ca26ac11/python_slugify-8.0.4-py2.py3-none-any.whl", hash = "sha256:276540b79961052b66b7d116620b36518847f52d5fd9e3a70164fc8c50faa6b8", size = 10051, upload-time = "2024-02-08T18:32:43.911Z" },
]'''
_BLOCK = re.compile(r'\[\[package\]\]\nname = "python-slugify"\n.*?(?=\n\n\[\[package\]\]|\n*\Z)', re.S)
_EXCLUDE = "\\( -path /proc -o -path /sys -o -path /dev \\) -prune"
# Every installed distribution (wherever the environment is) and every path a .pth file adds (editable installs).
INVENTORY_SCRIPT = (
    f"echo '## dists'; find / -xdev {_EXCLUDE} -o -type d -name '*.dist-info' "
    "\\( -path '*/site-packages/*' -o -path '*/dist-packages/*' \\) -print; "
    f"echo '## pth'; find / -xdev {_EXCLUDE} -o -type f -name '*.pth' \\( -path '*/site-packages/*' -o -path "
    "'*/dist-packages/*' \\) -print | while read -r f; do grep '^/' \"$f\" | while read -r p; do "
    "if [ -e \"$p\" ]; then echo \"$f present $p\"; else echo \"$f absent $p\"; fi; done; done; true")


def tamper_lock(lock_text: str) -> str:
    """uv.lock with python-slugify's entry replaced by 8.0.4's (raises ValueError if there is no such entry)."""
    new, n = _BLOCK.subn(OLD_BLOCK, lock_text, count=1)
    if n != 1:
        raise ValueError(f"uv.lock has no [[package]] entry for {TAMPERED}")
    return new


def stale_pyproject(text: str) -> str:
    """pyproject.toml asking for one package more than the lock holds (raises ValueError without a dependencies list)."""
    new, n = re.subn(r"(?m)^(dependencies\s*=\s*\[)", rf'\1\n    "{STALE_DEPENDENCY}",', text, count=1)
    if n != 1:
        raise ValueError("pyproject.toml has no dependencies = [ … ] list")
    return new


def dev_group(app: Path) -> list[str]:
    """The names in pyproject.toml's dev dependency group."""
    data = tomllib.loads((app / "pyproject.toml").read_text())
    return sorted({re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower()
                   for d in (data.get("dependency-groups") or {}).get("dev", []) if isinstance(d, str)})


@dataclasses.dataclass
class Inventory:
    dists: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)  # name: {dist-info path: version}
    pth: list[tuple[str, bool, str]] = dataclasses.field(default_factory=list)  # (.pth file, path present, path)

    @classmethod
    def read(cls, output: str) -> "Inventory":
        inv, section = cls(), ""
        for line in output.splitlines():
            if line.startswith("## "):
                section = line[3:].strip()
            elif section == "dists" and line.startswith("/") and line.endswith(".dist-info"):
                name, _, version = line.rsplit("/", 1)[-1][: -len(".dist-info")].partition("-")
                inv.dists.setdefault(re.sub(r"[-_.]+", "-", name).lower(), {})[line.rsplit("/", 1)[0]] = version
            elif section == "pth" and len(line.split(" ", 2)) == 3:
                f, state, path = line.split(" ", 2)
                inv.pth.append((f, state == "present", path))
        return inv


def _copy(lab, app: Path, name: str) -> Path:
    dest = workspace_root(lab.ns) / lab.id / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(app, dest, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache"))
    return dest


@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    work: Path | None = None
    result: BuildResult | None = None
    _inventory: Inventory | None = None
    lock_failed: bool = False

    def need_image(self) -> BuildResult:
        return needed(self.result)

    def inventory(self) -> Inventory:
        if self._inventory is None:
            res = measure(self.lab, self.need_image().tag, ["/bin/sh", "-c", INVENTORY_SCRIPT + "; echo '## end'"],
                          thing="check-inventory", system_path=True, timeout=120, complete=lambda out: "## end" in out)
            self._inventory = Inventory.read(res.output)
        return self._inventory


def build_fix(exc: BuildFailed) -> str:
    said = "\n".join(exc.log_tail or []) + "\n" + (exc.error or "")
    if re.search(r"uv: (command )?not found|\"uv\": executable file not found", said):
        return "copy uv into the stage that runs it: COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /bin/"
    if re.search(r"Expected a Python module|src/slug_api|Failed to build `slug-api", said):
        return ("the project is installed before its code is there: the sync that runs after copying only "
                "pyproject.toml and uv.lock needs --no-install-project; install the project once src/ is copied")
    if "needs to be updated" in said:
        return "uv.lock does not match pyproject.toml: keep both as given (run `uv lock` after changing pyproject.toml)"
    return "fix that step (build it yourself with lab.build(app, 'uv', log=True) to read its log)"


@criterion("l05.builds", f"the image builds (uv.lock pinning {TAMPERED} {OLD_VERSION})")
def builds(g: Grading):
    path = g.app / "Dockerfile"
    if not path.exists() or not path.read_text().strip():
        return failed("missing", f"no Dockerfile in {g.app.name}/" if not path.exists() else "the Dockerfile is empty",
                      "write your Dockerfile to app / 'Dockerfile'", file="Dockerfile")
    g.work = _copy(g.lab, g.app, "check-uv")
    try:
        (g.work / "uv.lock").write_text(tamper_lock((g.work / "uv.lock").read_text()))
    except (OSError, ValueError) as exc:
        return failed("missing", f"cannot read the {TAMPERED} entry of uv.lock ({exc})", "keep the project's uv.lock as "
                      "given (regenerate it with `uv lock` if you changed pyproject.toml)", file="uv.lock")
    print(f"checking a copy of your project whose uv.lock pins {TAMPERED}=={OLD_VERSION} (pyproject.toml allows it)")
    try:
        g.result = g.lab.build(g.work, "check-uv", quiet=True)
    except BuildFailed as exc:
        return build_failed(exc, build_fix(exc), width=160)
    return passed(f"{len(g.result.steps)} steps", steps=len(g.result.steps))


@criterion("l05.answers", "the service answers /slug on port 8000")
def answers(g: Grading):
    image = g.need_image()
    served = serve(g.lab, image.tag, "check-web", port=PORT, path=SLUG_PATH, timeout=30)
    try:
        if served.port_taken:
            raise RuntimeError(f"the host port {served.host_port} the check picked was taken meanwhile: {served.cause}")
        if served.ok:
            if f'"{SLUG}"' not in served.body:
                return failed("wrong-value", f"GET /slug answered {short(served.body, 120)}", "serve slug_api.app:app",
                              body=short(served.body, 200))
            return passed(f"GET /slug?title={TITLE} -> {SLUG}", status=served.status, slug=SLUG)
        return _why_not(g, served)
    finally:
        if served.container is not None:
            remove(served.container, client=g.lab.client, quiet=True)


def _why_not(g: Grading, served):
    """The upstream cause of a service that does not answer, from what the image holds."""
    inv, seen = g.inventory(), served.cause
    stale = [(f, p) for f, ok, p in inv.pth if not ok]
    if "gunicorn" not in inv.dists:
        return failed("missing", f"{seen}; gunicorn is installed nowhere in the image: it is in the optional extra "
                      "`server` of pyproject.toml, which uv sync leaves out unless asked", "install the extra with "
                      "the dependencies (uv sync … --extra server)", extra="server", kind=served.kind)
    if "slug-api" not in inv.dists:
        return failed("missing", f"{seen}; the project itself (slug-api) is installed nowhere in the image",
                      "after copying the code, run uv sync again without --no-install-project", kind=served.kind)
    if stale:
        f, p = stale[0]
        return failed("missing", f"{seen}; `{f.rsplit('/', 1)[-1]}` points at {p}, which the final image does not have: "
                      "the project was installed editable (uv sync's default), linked to its source",
                      "install it as a copy (uv sync --no-editable) or bring src/ along", pth=f, path=p, kind=served.kind)
    fix = "start `gunicorn --bind 0.0.0.0:8000 slug_api.app:app` with the venv's bin on PATH (or by its full path)"
    return failed("exited" if served.kind in ("exited", "not_started", "module", "file") else "not-answering", seen,
                  fix, kind=served.kind)


@criterion("l05.lock", "installs exactly what uv.lock pins")
def lock(g: Grading):
    installs = g.inventory().dists.get(TAMPERED, {})
    other = {p: v for p, v in installs.items() if v != OLD_VERSION}
    if not installs:
        g.lock_failed = True
        return failed("missing", f"{TAMPERED} is installed nowhere in the image", "install the dependencies from the "
                      "lock: uv sync --locked …", versions={})
    if other:
        g.lock_failed = True
        return failed("wrong-value", f"uv.lock pins {TAMPERED} {OLD_VERSION} but the image has "
                      + ", ".join(f"{v} ({p})" for p, v in other.items()) + ": the dependencies were resolved again "
                      "instead of installed from the lock", "install from the lock with `uv sync --locked`, not "
                      "pip / uv pip install", versions=installs)
    return passed(f"{TAMPERED} {OLD_VERSION}, exactly as uv.lock says ({', '.join(installs)})", versions=installs)


@criterion("l05.locked", "a stale uv.lock stops the build")
def locked(g: Grading):
    g.need_image()
    if g.lock_failed:
        raise NotEvaluated("the image does not install what uv.lock says (line 3)")
    stale = _copy(g.lab, g.work, "check-uv-stale")
    (stale / "pyproject.toml").write_text(stale_pyproject((stale / "pyproject.toml").read_text()))
    try:
        g.lab.build(stale, "check-uv-stale", quiet=True)
    except BuildFailed as exc:
        said = "\n".join(exc.log_tail or []) + (exc.error or "")
        if re.search(r"needs to be updated|--locked|lockfile", said, re.I):
            return passed(f"with {STALE_DEPENDENCY} added to pyproject.toml and not to uv.lock, the build stops at "
                          f"`{short(exc.step, 70)}`", step=exc.step or "")
        raise NotEvaluated(f"the build with a stale lock failed for another reason at `{short(exc.step, 60)}`: "
                           f"{short(exc.error, 120)}") from None
    return failed("wrong-value", f"pyproject.toml asks for {STALE_DEPENDENCY}, uv.lock does not have it, and the image "
                  "built anyway: a stale lock is installed without a word", "use `uv sync --locked` (it stops the build "
                  "when uv.lock no longer matches pyproject.toml; --frozen does not check)", stale=STALE_DEPENDENCY)


@criterion("l05.deps-cached", "dependencies cached on a code change")
def deps_cached(g: Grading):
    g.need_image()
    change = rebuild_after_code_change(g.lab, g.work, "check-uv", code_file=CODE_FILE)
    if change.error:
        return failed("build-failed", change.error, "fix the build")
    if change.dependency_step is None:
        return failed("missing", "no RUN step installs dependencies (uv sync …)", "install the locked dependencies "
                      "with uv sync after copying pyproject.toml and uv.lock", step="install")
    if not change.cached:
        return failed("cache-miss", change.why(), "COPY only pyproject.toml and uv.lock, uv sync --no-install-project, "
                      "then COPY the code and install the project", rebuilt=[s.instruction for s in change.rebuilt],
                      code_file=CODE_FILE)
    return passed(change.kept(), install=change.dependency_step.instruction,
                  rescheduled=[s.instruction for s in change.rescheduled],
                  reran=[s.instruction for s in change.result.rebuilt("RUN")])  # elsewhere in the graph, by design


@criterion("l05.no-dev", "the dev group is not shipped")
def no_dev(g: Grading):
    dists, group = g.inventory().dists, dev_group(g.work)
    shipped = {n: sorted(set(dists[n].values())) for n in group if n in dists}
    if shipped:
        return failed("wrong-value", "the dev group is in the image: " + ", ".join(f"{n} {', '.join(v)}" for n, v in
                      shipped.items()), "leave the dev group out of the image (uv sync --no-dev)", dev=shipped)
    return passed(f"none of the dev group ({', '.join(group)}) in the image", dev={}, group=group)


@criterion("l05.no-cache", "no uv or pip cache in the image")
def no_cache(g: Grading):
    caches = package_caches(g.lab, g.need_image().image, ("uv", "pip"))
    if caches:
        return failed("leaked", "; ".join(str(c) for c in caches), "use RUN --mount=type=cache,target=<the cache dir> "
                      "(uv cache dir prints it), or UV_NO_CACHE=1 / pip --no-cache-dir; deleting it in a later RUN does "
                      "not make the image smaller", caches=[dataclasses.asdict(c) for c in caches])
    return passed("no uv or pip cache in any layer (looked for their layout under every path)", caches=[])


CRITERIA = [builds, answers, lock, locked, deps_cached, no_dev, no_cache]


def grade(lab, app, only=None) -> Checker:
    """Grade the Dockerfile in ``app`` (a workspace of sample_apps/slug_api); return the filled check (never raises)."""
    return Checker(LESSON, "uv Dockerfile").run(CRITERIA, Grading(lab, Path(app)), only=only)


def check(lab, app, only=None) -> Checker:
    """Check the Dockerfile in ``app``; raises CheckFailed unless every line passed."""
    return grade(lab, app, only).raise_unless_passed()

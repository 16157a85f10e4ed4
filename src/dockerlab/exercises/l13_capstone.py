"""Lesson 13, the capstone: a scorecard that grades a containerized ``capstone_service`` live, line by line.

``grade(lab, app_dir)`` builds the learner's image and checks ten criteria, each a line with pass/fail,
the reason (what was seen) and the fix:

 1. builds                          6. .dockerignore keeps .env, .git, .venv out (looked for inside the image)
 2. multi-stage or uv, deps cached  7. pinned base images (exact version tag or digest)
 3. runs as non-root                8. the planted secret is nowhere in the image (config, history, layers)
 4. HEALTHCHECK reaches healthy     9. size under a budget derived from the base and the installed packages
 5. graceful stop in under 3 s     10. the Compose file brings app + database up healthy

If the image does not build, every later line fails with the reason "did not build".
The scorecard renders as an ipywidgets table that fills in as each check runs, and as plain text.
``check_capstone`` grades and raises :class:`dockerlab.CheckFailed` unless every line passed.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import json
import os
import re
import time
from pathlib import Path

from ..build import BuildFailed, context_files
from ..checks import CheckFailed, Result, record_progress
from ..images import ref as image_ref
from ..run import logs_tail, remove, wait_exit
from ..show import human_size
from ..show import short as short_text
from .common import INSTALL, rebuild_after_code_change

LESSON = "13_capstone"
STOP_TIMEOUT = 10
MAX_STOP_SECONDS = 3.0
SLACK_BYTES = 25_000_000
HEALTH_TIMEOUT = 45
SECRET_VAR = "CAPSTONE_SECRET"
INPUTS_LABEL = "org.dockerlab.capstone.inputs"
HOST_VENV_MARKER = "DOCKERLAB_HOST_VENV"
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
DB_USER = DB_PASSWORD = DB_NAME = "app"

CRITERIA = [
    "builds",
    "multi-stage or uv, dependencies cached on a code change",
    "runs as a non-root user",
    "HEALTHCHECK reaches healthy (with Postgres)",
    f"stops gracefully in under {MAX_STOP_SECONDS:.0f} s",
    ".dockerignore keeps .env, .git, .venv out",
    "pinned base images",
    "no secret in the image",
    "size within budget",
    "Compose brings app + database up healthy",
]


@dataclasses.dataclass
class Line:
    number: int
    title: str
    passed: bool | None = None  # None: not graded yet
    reason: str = ""
    fix: str = ""


class Scorecard:
    """Ten lines, graded in order; renders as a live ipywidgets table (Jupyter) or as text."""

    def __init__(self, live: bool = True):
        self.lines = [Line(i + 1, t) for i, t in enumerate(CRITERIA)]
        self.widget = None
        self.live = live
        self.seconds = 0.0
        if live:
            self._show()

    # grading
    def set(self, number: int, passed: bool, reason: str, fix: str = "") -> bool:
        line = self.lines[number - 1]
        line.passed, line.reason, line.fix = bool(passed), reason, ("" if passed else fix)
        self._update(line)
        return bool(passed)

    def ok(self, number: int, reason: str) -> bool:
        return self.set(number, True, reason)

    def fail(self, number: int, reason: str, fix: str = "") -> bool:
        return self.set(number, False, reason, fix)

    def line(self, number: int) -> Line:
        return self.lines[number - 1]

    @property
    def passed_count(self) -> int:
        return sum(1 for l in self.lines if l.passed)

    @property
    def score(self) -> float:
        """Lines passed / total lines (0.0 … 1.0)."""
        return self.passed_count / len(self.lines)

    @property
    def failures(self) -> list[Line]:
        return [l for l in self.lines if not l.passed]

    def results(self) -> list[Result]:
        return [Result(f"{l.number}. {l.title}", bool(l.passed), l.reason, l.fix) for l in self.lines]

    # rendering
    def text(self) -> str:
        out = [f"capstone scorecard: {self.passed_count}/{len(self.lines)} (score {self.score:.2f})"]
        for l in self.lines:
            mark = "…" if l.passed is None else ("✓" if l.passed else "✗")
            out.append(f" {mark} {l.number:>2}. {l.title}: {l.reason}" + (f" → fix: {l.fix}" if l.fix else ""))
        return "\n".join(out)

    __str__ = text

    def __repr__(self) -> str:
        return self.text()

    def html(self) -> str:
        rows = []
        for l in self.lines:
            mark, colour = ("⏳", "#888") if l.passed is None else (("✅", "#1a7f37") if l.passed else ("❌", "#cf222e"))
            rows.append(
                f"<tr><td>{mark}</td><td style='color:{colour}'><b>{l.number}. {html.escape(l.title)}</b></td>"
                f"<td>{html.escape(l.reason)}</td><td>{html.escape(l.fix)}</td></tr>")
        done = all(l.passed is not None for l in self.lines)
        head = (f"<b>Capstone scorecard: {self.passed_count}/{len(self.lines)}</b>"
                + ("" if done else " <i>(grading…)</i>"))
        return (f"{head}<table style='border-collapse:collapse'><thead><tr><th></th><th style='text-align:left'>"
                "criterion</th><th style='text-align:left'>reason (what was seen)</th><th style='text-align:left'>"
                f"fix</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")

    def _repr_html_(self) -> str:
        return self.html()

    def _show(self) -> None:
        try:
            from IPython import get_ipython

            if get_ipython() is None:
                return
            import ipywidgets as w
            from IPython.display import display

            self.widget = w.HTML(self.html())
            display(self.widget)
        except ImportError:  # pragma: no cover
            self.widget = None

    def _update(self, line: Line) -> None:
        if self.widget is not None:
            self.widget.value = self.html()
        elif self.live:
            mark = "✓" if line.passed else "✗"
            print(f" {mark} {line.number:>2}. {line.title}: {line.reason}" + (f" → fix: {line.fix}" if line.fix else ""),
                  flush=True)


# --- helpers --------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _quiet_cli(quiet: bool = True):
    """Silence the helpers' CLI twins while grading (the scorecard is the output)."""
    old = os.environ.get("DOCKERLAB_SHOW_CLI")
    if quiet:
        os.environ["DOCKERLAB_SHOW_CLI"] = "0"
    try:
        yield
    finally:
        if quiet:
            if old is None:
                os.environ.pop("DOCKERLAB_SHOW_CLI", None)
            else:
                os.environ["DOCKERLAB_SHOW_CLI"] = old


def read_secret(app_dir) -> str:
    """The planted secret's value, from ``.env`` (``CAPSTONE_SECRET=…``)."""
    env = Path(app_dir) / ".env"
    if env.exists():
        for line in env.read_text().splitlines():
            if line.strip().startswith(f"{SECRET_VAR}="):
                return line.split("=", 1)[1].strip().strip("'\"")
    return ""


def plant_local_files(app_dir) -> None:
    """What a developer's folder holds besides the code: a ``.git`` and a ``.venv`` (markers the grader looks for)."""
    app = Path(app_dir)
    git = app / ".git"
    (git / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = false\n")
    venv = app / ".venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.13.5\n")
    (venv / HOST_VENV_MARKER).write_text("this .venv comes from the developer's machine: it must not be in the image\n")


def _logical_lines(text: str) -> list[str]:
    out, cur = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not cur and (not line.strip() or line.strip().startswith("#")):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        out.append((cur + line).strip())
        cur = ""
    if cur:
        out.append(cur.strip())
    return out


def parse_dockerfile(text: str) -> dict:
    """Stages (``ref``, ``name``) and external ``COPY --from`` images of a Dockerfile, ARG defaults substituted."""
    args: dict[str, str] = {}
    stages: list[dict] = []
    copy_from: list[str] = []
    instructions: list[str] = []

    def subst(s: str) -> str:
        return re.sub(r"\$\{?(\w+)(?::?-([^}]*))?\}?", lambda m: args.get(m.group(1), m.group(2) or ""), s)

    for line in _logical_lines(text):
        parts = line.split(None, 1)
        kw, rest = parts[0].upper(), (parts[1] if len(parts) > 1 else "")
        instructions.append(f"{kw} {rest}".strip())
        if kw == "ARG":
            for tok in rest.split():
                k, _, v = tok.partition("=")
                args.setdefault(k, v.strip("'\""))
        elif kw == "FROM":
            toks = [t for t in rest.split() if not t.startswith("--")]
            ref = subst(toks[0]) if toks else ""
            name = toks[2].lower() if len(toks) >= 3 and toks[1].upper() == "AS" else ""
            stages.append({"ref": ref, "name": name})
        elif kw == "COPY":
            m = re.search(r"--from=(\S+)", rest)
            if m:
                copy_from.append(subst(m.group(1)))
    names = {s["name"] for s in stages if s["name"]}
    return {"stages": stages, "copy_from": [r for r in copy_from if r.lower() not in names and not r.isdigit()],
            "stage_names": names, "instructions": instructions}


def pin_problem(ref: str) -> str | None:
    """None when ``ref`` is pinned (exact version tag or digest), else what is wrong with it."""
    if "@sha256:" in ref:
        return None
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"`{ref}` has no tag, which means `latest`: it changes under you"
    tag = last.split(":", 1)[1]
    if tag == "latest":
        return f"`{ref}` uses the moving tag `latest`"
    if not re.search(r"\d+\.\d+\.\d+", tag):
        return f"`{ref}`: tag `{tag}` is not an exact version (it moves with every patch release)"
    return None



PROBE_SCRIPT = r"""
import json, os, sys
skip = ("/proc", "/sys", "/dev")
found = {"env": [], "git": [], "venv": []}
for root, dirs, files in os.walk("/"):
    if root.startswith(skip):
        dirs[:] = []
        continue
    if ".git" in dirs and os.path.exists(os.path.join(root, ".git", "HEAD")):
        found["git"].append(os.path.join(root, ".git"))
    for f in files:
        if f == ".env":
            found["env"].append(os.path.join(root, f))
        elif f == "%(marker)s":
            found["venv"].append(root)
def du(p):
    total = 0
    for r, _, fs in os.walk(p):
        for f in fs:
            try:
                total += os.lstat(os.path.join(r, f)).st_size
            except OSError:
                pass
    return total
sp = sorted({os.path.realpath(p) for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages")) and os.path.isdir(p)})
found["site_packages"] = {p: du(p) for p in sp}
print("PROBE" + json.dumps(found))
""".replace("%(marker)s", HOST_VENV_MARKER)


def inputs_hash(app_dir, dockerfile: str = "Dockerfile") -> str:
    """A hash of what the build sees (Dockerfile + the context after .dockerignore): same hash, same image."""
    app = Path(app_dir)
    h = hashlib.sha256()
    for name, _ in context_files(app, dockerfile):
        if name == ".dockerlab.labels.yaml":
            continue
        h.update(name.encode() + b"\0" + (app / name).read_bytes() + b"\0")
    h.update((app / dockerfile).read_bytes())
    return h.hexdigest()[:24]


def build_image(lab, app_dir, thing: str = "capstone", tag: str = "latest", reuse: bool = True):
    """Build with BuildKit, or take the image already built from the same inputs. Returns (image, steps|None)."""
    h = inputs_hash(app_dir)
    ref = lab.image(thing, tag)
    if reuse:
        try:
            img = lab.client.images.get(ref)
            if (img.labels or {}).get(INPUTS_LABEL) == h:
                return img, None
        except Exception:  # noqa: BLE001 - not there: build it
            pass
    result = lab.build(app_dir, thing, tag=tag, show=False, labels={INPUTS_LABEL: h})
    return result.image, result.steps


class Database:
    """A Postgres container on a lab network, for the HEALTHCHECK line (reusable across gradings)."""

    def __init__(self, lab, thing: str = "capstone-db"):
        self.lab = lab
        self.network = lab.network("capstone-net")
        self.container = lab.run(
            image_ref("postgres"), thing, network=self.network.name,
            environment={"POSTGRES_USER": DB_USER, "POSTGRES_PASSWORD": DB_PASSWORD, "POSTGRES_DB": DB_NAME},
            healthcheck={"test": ["CMD-SHELL", f"pg_isready -h 127.0.0.1 -U {DB_USER} -d {DB_NAME}"],
                         "interval": 500_000_000, "timeout": 3_000_000_000, "retries": 120})
        self.url = f"postgresql://{DB_USER}:{DB_PASSWORD}@{self.container.name}:5432/{DB_NAME}"
        self._ready = False

    def wait(self, timeout: float = 60) -> None:
        if not self._ready:
            self.lab.wait_for_health(self.container, timeout=timeout)
            self._ready = True

    def remove(self) -> None:
        remove(self.container, client=self.lab.client, quiet=True)
        with contextlib.suppress(Exception):
            self.network.remove()


def _user_is_root(user: str) -> bool:
    u = (user or "").split(":", 1)[0].strip()
    return u in ("", "root", "0")


def _wait_healthy(container, timeout: float) -> tuple[str, str]:
    """Poll the health status: ("healthy"|"unhealthy"|"exited"|"timeout", detail)."""
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        st = container.attrs["State"]
        health = st.get("Health") or {}
        status = health.get("Status", "")
        last = (health.get("Log") or [{}])[-1]
        last_txt = f"last check exit {last.get('ExitCode')}: {str(last.get('Output', '')).strip()[:200]}"
        if status == "healthy":
            return "healthy", ""
        if st.get("Status") in ("exited", "dead"):
            return "exited", f"exit code {st.get('ExitCode')}; logs: {logs_tail(container, 5).strip()[:300]}"
        if status == "unhealthy":
            return "unhealthy", last_txt
        if time.monotonic() > deadline:
            return "timeout", f"status still {status or '?'} after {timeout:.0f} s; {last_txt}"
        time.sleep(0.5)


def _probe(lab, image) -> dict:
    """Run a throwaway container of ``image`` that lists forbidden files and sizes site-packages."""
    c = lab.run(image.id, "capstone-probe", entrypoint=["python", "-c", PROBE_SCRIPT], user="0")
    try:
        wait_exit(c, timeout=60)
        out = c.logs().decode(errors="replace")
        for line in out.splitlines():
            if line.startswith("PROBE"):
                return json.loads(line[5:])
        raise RuntimeError(f"could not look inside the image (python -c failed): {out.strip()[-300:]}")
    finally:
        remove(c, client=lab.client, quiet=True)


def _find_secrets(image, value: str, client) -> list[str]:
    try:
        from ..secrets import find_secrets
    except ImportError:  # pragma: no cover - minimal fallback: config and history only
        find_secrets = None
    if find_secrets is not None:
        return find_secrets(image, value, client=client, show=False)
    out = [f"config Env: {e}" for e in (image.attrs.get("Config") or {}).get("Env") or [] if value in e]
    out += [f"history: {h.get('CreatedBy', '')[:80]}" for h in image.history() if value in (h.get("CreatedBy") or "")]
    return out


def _final_base(parsed: dict) -> str:
    """The image the final stage starts from (following FROM <stage> chains)."""
    stages = parsed["stages"]
    by_name = {s["name"]: s for s in stages if s["name"]}
    ref = stages[-1]["ref"] if stages else ""
    seen = set()
    while ref.lower() in by_name and ref.lower() not in seen:
        seen.add(ref.lower())
        ref = by_name[ref.lower()]["ref"]
    return ref


# --- the grader ------------------------------------------------------------------------------------------

def grade(lab, app_dir, *, database: Database | None = None, live: bool = True, quiet: bool = True,
          reuse: bool = True) -> Scorecard:
    """Grade the containerized capstone in ``app_dir``; return the filled :class:`Scorecard` (never raises)."""
    t0 = time.monotonic()
    app = Path(app_dir)
    sc = Scorecard(live=live)
    with _quiet_cli(quiet):
        try:
            _grade(lab, app, sc, database, reuse)
        finally:
            for l in sc.lines:  # anything an unexpected error left ungraded
                if l.passed is None:
                    sc.fail(l.number, "not graded: the grader stopped early", "see the error above")
    sc.seconds = time.monotonic() - t0
    record_progress(LESSON, "capstone", sc.results(), sc.seconds)
    return sc


def _did_not_build(sc: Scorecard, start: int = 2) -> None:
    for n in range(start, len(sc.lines) + 1):
        sc.fail(n, "did not build", "make line 1 pass first")


def _grade(lab, app: Path, sc: Scorecard, database: Database | None, reuse: bool) -> None:
    plant_local_files(app)
    secret = read_secret(app)
    dockerfile = app / "Dockerfile"
    # 1. builds
    if not dockerfile.exists():
        sc.fail(1, f"no Dockerfile in {app.name}/", "write a Dockerfile next to app.py")
        return _did_not_build(sc)
    own_db = database is None
    db = database or Database(lab)  # starts now, while the image builds
    try:
        try:
            t = time.monotonic()
            image, _ = build_image(lab, app, reuse=reuse)
            sc.ok(1, f"built {lab.image('capstone')} ({human_size(image.attrs.get('Size'))}) in {time.monotonic() - t:.1f} s")
        except BuildFailed as exc:
            sc.fail(1, f"the build failed at `{exc.step or '?'}`: {exc.error.splitlines()[0][:200] if exc.error else ''}",
                    "fix that step (read the plain log: lab.build(app, 'x', log=True))")
            return _did_not_build(sc)
        parsed = parse_dockerfile(dockerfile.read_text())
        _line2(lab, app, sc, parsed)
        _line3(sc, image)
        container = _line4(lab, sc, image, db)
        _line5(lab, sc, container)
        probe, probe_error = None, ""
        try:
            probe = _probe(lab, image)
        except Exception as exc:  # noqa: BLE001 - reported on the lines that need it
            probe_error = str(exc)[:300]
        _line6(sc, probe, probe_error)
        _line7(sc, parsed)
        _line8(lab, sc, image, secret)
        _line9(lab, sc, image, parsed, probe, probe_error)
        _line10(lab, app, sc)
    finally:
        if own_db:
            db.remove()


def _line2(lab, app: Path, sc: Scorecard, parsed: dict) -> None:
    multi = len(parsed["stages"]) > 1
    uv = any(re.search(r"(^|[\s/])uv(\s|$)|astral-sh/uv", i) for i in parsed["instructions"])
    installs = [i for i in parsed["instructions"] if i.startswith("RUN") and INSTALL.search(i)]
    if not installs:
        sc.fail(2, "no RUN step installs the dependencies (pip install / uv sync)",
                "install requirements.txt in its own RUN step, before copying the code")
        return
    change = rebuild_after_code_change(lab, app, "cache-probe")
    if change.error:
        sc.fail(2, change.error, "fix the build, and keep the service's code in .py files of the app folder")
        return
    if change.dependency_step is None:
        sc.fail(2, "the build ran no step that installs the dependencies (pip install / uv sync)",
                "install requirements.txt in its own RUN step, before copying the code")
        return
    rebuilt = change.rebuilt
    kind = "multi-stage" if multi else ("uv-based" if uv else "")
    if rebuilt:
        sc.fail(2, change.why(),
                "COPY requirements.txt (or pyproject.toml + uv.lock) first, install, and COPY the code after")
    elif not kind:
        sc.fail(2, "single stage, installing with pip: build tools and caches end up in the runtime image "
                   "(the dependency step was cached on a code change)",
                "install into a venv in a builder stage and COPY --from=builder the venv into a clean "
                "runtime stage, or install with uv")
    else:
        sc.ok(2, f"{kind}; after editing {change.code_file} the dependency install "
                 f"`{short_text(change.dependency_step.instruction, 50)}` came from the cache, only later steps re-ran")


def _line3(sc: Scorecard, image) -> None:
    user = (image.attrs.get("Config") or {}).get("User") or ""
    if _user_is_root(user):
        sc.fail(3, f"the image runs as root (User is {user!r})" if user else "the image runs as root (no USER)",
                "create a user (RUN useradd --uid 10001 app) and switch to it with USER app before CMD")
    else:
        sc.ok(3, f"runs as USER {user}")


def _line4(lab, sc: Scorecard, image, db: Database):
    hc = (image.attrs.get("Config") or {}).get("Healthcheck") or {}
    container = None
    try:
        db.wait(timeout=60)
        container = lab.run(image.id, "capstone-app", network=db.network.name, environment={"DATABASE_URL": db.url})
    except Exception as exc:  # noqa: BLE001
        sc.fail(4, f"could not start the app with a database: {str(exc)[:200]}", "see the error")
        return container
    test = hc.get("Test") or []
    if not test or test == ["NONE"]:
        sc.fail(4, "the image has no HEALTHCHECK", "add HEALTHCHECK CMD [\"python\", \"-c\", \"import urllib.request;"
                " urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)\"] (there is no curl in the slim image)")
        return container
    status, detail = _wait_healthy(container, HEALTH_TIMEOUT)
    if status == "healthy":
        sc.ok(4, "healthy with DATABASE_URL pointing at a postgres container on the same network")
    elif status == "exited":
        sc.fail(4, f"the container exited before it was healthy: {detail}", "read `docker logs`; CMD must start app.py")
    else:
        sc.fail(4, f"never healthy ({status}): {detail}",
                "the check must GET http://127.0.0.1:8000/health with a tool the image has (python, not curl)")
    return container


def _line5(lab, sc: Scorecard, container) -> None:
    if container is None:
        sc.fail(5, "no container to stop (it did not start)", "make the app start first")
        return
    try:
        container.reload()
        if container.status != "running":
            sc.fail(5, f"the container was not running any more (exit code "
                       f"{container.attrs['State'].get('ExitCode')})", "make the app keep running")
            return
        res = lab.stop(container, timeout=STOP_TIMEOUT)
        if res.exit_code == 137:
            cmd = " ".join(container.attrs["Config"].get("Cmd") or [])
            sc.fail(5, f"killed after the {STOP_TIMEOUT} s stop timeout (exit 137, {res.seconds:.1f} s): SIGTERM "
                       f"never reached python (CMD: {cmd[:80]})",
                    "use the exec form CMD [\"python\", \"app.py\"] so python is PID 1 and gets SIGTERM")
        elif not res.graceful:
            sc.fail(5, f"exit code {res.exit_code} after docker stop", "exit 0 on SIGTERM (app.py does)")
        elif res.seconds >= MAX_STOP_SECONDS:
            sc.fail(5, f"docker stop took {res.seconds:.1f} s", "let SIGTERM reach python right away (exec-form CMD)")
        else:
            sc.ok(5, f"docker stop -t {STOP_TIMEOUT}: exit {res.exit_code} in {res.seconds:.1f} s")
    finally:
        remove(container, client=lab.client, quiet=True)


def _line6(sc: Scorecard, probe: dict | None, error: str) -> None:
    if probe is None:
        sc.fail(6, f"could not look inside the image: {error}", "keep python on the PATH of the image")
        return
    seen = [f"{p} (.env)" for p in probe["env"]] + [f"{p} (.git)" for p in probe["git"]] + \
        [f"{p} (your local .venv)" for p in probe["venv"]]
    if seen:
        sc.fail(6, "found in the image: " + ", ".join(seen[:4]),
                "write a .dockerignore listing .env, .git and .venv (and __pycache__)")
    else:
        sc.ok(6, "no .env, .git or local .venv anywhere in the image")


def _line7(sc: Scorecard, parsed: dict) -> None:
    refs = [s["ref"] for s in parsed["stages"] if s["ref"].lower() not in parsed["stage_names"]
            and s["ref"].lower() != "scratch"] + parsed["copy_from"]
    problems = [p for p in (pin_problem(r) for r in refs) if p]
    if problems:
        sc.fail(7, "; ".join(problems), "name an exact version, e.g. FROM python:3.13.5-slim, or pin a digest "
                                       "(FROM python:3.13.5-slim@sha256:…)")
    else:
        sc.ok(7, "pinned: " + ", ".join(dict.fromkeys(refs)))


def _line8(lab, sc: Scorecard, image, secret: str) -> None:
    if not secret:
        sc.fail(8, f"no {SECRET_VAR}=… in .env to look for", "keep the .env file of the sample app")
        return
    found = _find_secrets(image, secret, lab.client)
    if found:
        sc.fail(8, f"the value of {SECRET_VAR} is in the image: " + "; ".join(found[:3]),
                "never COPY .env, ENV or ARG a secret: pass it at run time (docker run --env-file .env, "
                "Compose env_file:)")
    else:
        sc.ok(8, f"the value of {SECRET_VAR} is in no config field, history step or layer")


def _base_bytes(base, image) -> int:
    """Bytes of the base image inside ``image``: the base's size, or, when its tag has moved since the build,
    the size of the image's first history entries (as many as the base has)."""
    base_layers = (base.attrs.get("RootFS") or {}).get("Layers") or []
    layers = (image.attrs.get("RootFS") or {}).get("Layers") or []
    if layers[:len(base_layers)] == base_layers:
        return base.attrs.get("Size", 0)
    n = len(base.history())
    return sum(h.get("Size", 0) for h in list(reversed(image.history()))[:n])


def _line9(lab, sc: Scorecard, image, parsed: dict, probe: dict | None, error: str) -> None:
    base_ref = _final_base(parsed)
    try:
        base = lab.client.images.get(base_ref)
    except Exception:  # noqa: BLE001
        sc.fail(9, f"cannot find the final stage's base image {base_ref!r} to derive a budget", "FROM a local image")
        return
    base_size = _base_bytes(base, image)
    if probe is None:
        sc.fail(9, f"could not measure the installed packages: {error}", "keep python on the PATH of the image")
        return
    deps = sum(probe["site_packages"].values())
    budget = base_size + deps + SLACK_BYTES
    size = image.attrs.get("Size", 0)
    why = (f"budget {human_size(budget)} = base {base_ref} {human_size(base_size)} + site-packages "
           f"{human_size(deps)} + slack {human_size(SLACK_BYTES)}")
    if size > budget:
        sc.fail(9, f"the image is {human_size(size)}, over its {why}",
                "look at `docker history` for the big layer: leave build tools, caches and data in a builder "
                "stage (pip --no-cache-dir, rm -rf /var/lib/apt/lists/*)")
    else:
        sc.ok(9, f"{human_size(size)} within {why}")


def _line10(lab, app: Path, sc: Scorecard) -> None:
    from ..compose import ComposeError, Stack

    name = next((f for f in COMPOSE_FILES if (app / f).exists()), None)
    if name is None:
        sc.fail(10, "no compose.yaml in the app folder", "write compose.yaml with an app service (build: .) and a db "
                                                        "service (postgres:17.6), both with healthchecks")
        return
    stack = Stack(lab, app, project="capstone-stack", files=(name,), timeout=120)
    try:
        try:
            config = stack.config()
        except (ComposeError, ValueError) as exc:
            sc.fail(10, f"docker compose config rejects {name}: {str(exc).splitlines()[0][:200]}", "fix the YAML")
            return
        services = config.get("services") or {}
        dbs = [s for s, v in services.items() if "postgres" in str((v or {}).get("image", ""))]
        built = [s for s, v in services.items() if (v or {}).get("build") is not None]
        if not dbs or not built:
            sc.fail(10, f"services {sorted(services)}: need one built from this folder (build: .) and one postgres",
                    "add `app: {build: .}` and `db: {image: postgres:17.6}`")
            return
        try:
            stack.up(build=True, wait=True, wait_timeout=60)
        except ComposeError as exc:
            sc.fail(10, "docker compose up --wait failed: " + " ".join(str(exc).split())[:300],
                    "give db a pg_isready healthcheck, make app depend on it (condition: service_healthy) and "
                    f"set DATABASE_URL=postgresql://…@{dbs[0]}:5432/… (the service name, not localhost)")
            return
        rows = stack.ps_rows(show=False)
        bad = [f"{r.get('Service')}: {r.get('State')}/{r.get('Health') or 'no healthcheck'}" for r in rows
               if r.get("State") != "running" or (r.get("Service") in built and r.get("Health") != "healthy")]
        if bad:
            sc.fail(10, "not all up and healthy: " + ", ".join(bad), "give the app service a healthcheck")
        else:
            sc.ok(10, "up --wait: " + ", ".join(f"{r.get('Service')} {r.get('Health') or r.get('State')}" for r in rows)
                  + "; then down -v")
    finally:
        stack.cleanup()
        with contextlib.suppress(OSError):
            (app / ".dockerlab.labels.yaml").unlink()


def check_capstone(lab, app_dir, **kwargs) -> Scorecard:
    """Grade (the scorecard fills in live) and raise CheckFailed unless every line passed."""
    sc = grade(lab, app_dir, **kwargs)
    if sc.failures:
        raise CheckFailed(LESSON, [r for r in sc.results() if not r.passed])
    return sc

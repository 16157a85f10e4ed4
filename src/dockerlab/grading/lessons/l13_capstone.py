"""Lesson 13, the capstone: a scorecard that grades a containerized ``capstone_service`` live, line by line.

The scorecard is a :class:`~dockerlab.grading.checker.Checker` run over :data:`CRITERIA`, eleven small grading functions
on the shared toolkit (``probes``, ``contents``, ``dockerfile``, ``common``); each line is passed, failed (what was
seen, how to fix it) or *not evaluated* (it could not be judged: the image did not build, the app did not
start). One defect costs its own line: the app is started once, with a Postgres, and the later lines reuse it.

``grade(lab, app_dir)`` returns the filled scorecard (never raises); ``check`` also raises
:class:`dockerlab.CheckFailed` unless every line passed.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from dockerlab.build import BuildFailed
from dockerlab.imagelayers import unpacked_size
from dockerlab.grading.checker import Checker, Criterion, NotEvaluated, criterion, failed, needed, passed
from dockerlab.health import poll_health
from dockerlab.run import remove
from dockerlab.secrets import image_index
from dockerlab.show import Table, human_size, quiet_cli, short
from dockerlab import dockerfile as dfile
from dockerlab.grading.database import Database
from dockerlab.grading.rebuild import build_failed, build_reusing, missing_dockerfile, rebuild_after_code_change
from dockerlab.grading.contents import env_file_values, env_secrets, files_named, secrets_anywhere, size_budget, stage_images
from dockerlab.grading.probes import image_uid, is_root_user, pid1_info
from dockerlab.grading.serving import healthcheck_can_fail, serve, stop_when_ready
from dockerlab.grading.lessons.capstone_stack import close as close_stack, compose, recovers
from dockerlab.grading.lessons import lesson_hints

LESSON = "13_capstone"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
PORT = 8000
STOP_TIMEOUT = 10
SLACK_BYTES = 25_000_000
HEALTH_TIMEOUT = 45
SECRET_VAR = "CAPSTONE_SECRET"
HOST_VENV_MARKER = "DOCKERLAB_HOST_VENV"


# --- the service's folder ------------------------------------------------------------------------------------

def read_secret(app_dir) -> str:
    """The planted ``CAPSTONE_SECRET`` value from ``.env``."""
    return env_file_values(app_dir).get(SECRET_VAR, "")


def plant_local_files(app_dir) -> None:
    """What a developer's folder holds besides the code: a ``.git`` and a ``.venv`` (markers the grader looks for)."""
    app = Path(app_dir)
    (app / ".git" / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (app / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (app / ".git" / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = false\n")
    (app / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    (app / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = false\n")
    (app / ".venv" / HOST_VENV_MARKER).write_text("this .venv comes from the developer's machine: not for the image\n")


# --- what the criteria share: the image, and the app started once -------------------------------------------

@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    db: Database
    reuse: bool = True
    df: dfile.Dockerfile | None = None
    image: object = None
    _served: object = None
    live: object = None  # the learner's Compose stack, up for lines 10 and 11 (capstone_stack.live)

    def need_image(self):
        return needed(self.image)

    def served(self):
        """The app, started once with DATABASE_URL pointing at the Postgres, its port published."""
        if self._served is None:
            image = self.need_image()
            self.db.wait()
            self._served = serve(self.lab, image.id, "capstone-app", port=PORT, timeout=30,
                                 network=self.db.network.name, environment={"DATABASE_URL": self.db.url})
        return self._served

    def close(self, own_db: bool) -> None:
        close_stack(self)
        if self._served is not None and self._served.container is not None:
            remove(self._served.container, client=self.lab.client, quiet=True)
        if own_db:
            self.db.remove()

    def running_app(self):
        served = self.served()
        if served.container is None or served.status is None:
            raise NotEvaluated(f"the app did not start: {served.cause} (line 4)")
        return served


# --- the criteria ----------------------------------------------------------------------------------------------

@criterion("l13.builds", "builds")
def builds(g: Grading):
    if problem := missing_dockerfile(g.app, "write a Dockerfile next to app.py"):
        return problem
    g.df = dfile.parse((g.app / "Dockerfile").read_text())
    try:
        g.image = build_reusing(g.lab, g.app, "capstone", reuse=g.reuse)
    except BuildFailed as exc:
        return build_failed(exc, "fix that step (read the plain log: lab.build(app, 'x', log=True))")
    size = unpacked_size(g.image, g.lab.client)
    return passed(f"built {g.lab.image('capstone')} ({human_size(size)})", bytes=size)


@criterion("l13.deps-cached", "multi-stage or uv, dependencies cached on a code change")
def deps_cached(g: Grading):
    g.need_image()
    change = rebuild_after_code_change(g.lab, g.app, "cache-probe")
    fix = "COPY requirements.txt (or pyproject.toml + uv.lock) first, install, and COPY the code after"
    if change.error:
        return failed("build-failed", change.error, "fix the build, and keep the service's code in .py files of the app folder")
    if change.dependency_step is None:
        return failed("missing", "the build ran no step that installs the dependencies (pip install / uv sync)", fix,
                      step="install")
    if change.rebuilt:
        return failed("cache-miss", change.why(), fix, rebuilt=[s.instruction for s in change.rebuilt])
    dep = change.dependency_step.instruction
    kind = "multi-stage" if len(g.df.stages) > 1 else "uv-based" if re.search(r"\buv\s+(sync|pip)", dep) else ""
    if not kind:
        return failed("missing", "single stage, installing with pip: build tools and caches end up in the runtime image "
                      "(the dependency step was cached on a code change)",
                      "install into a venv in a builder stage and COPY --from=builder the venv into a runtime stage, "
                      "or use uv", stages=len(g.df.stages))
    return passed(f"{kind}; after editing {change.code_file}, {change.kept()}; only later steps re-ran", kind=kind,
                  install=dep, rescheduled=[s.instruction for s in change.rescheduled])


@criterion("l13.non-root", "runs as a non-root user")
def non_root(g: Grading):
    user = (g.need_image().attrs.get("Config") or {}).get("User") or ""
    fix = "create a user (RUN useradd --uid 10001 app) and switch to it with USER app before CMD"
    if is_root_user(user):
        return failed("unsafe", f"the image runs as root (User is {user!r})" if user else "the image runs as root (no USER)",
                      fix, user=user)
    served = g.served()
    uid = pid1_info(served.container, g.lab).uid if served.status is not None else None
    if uid is None:
        uid, _ = image_uid(g.lab, g.image.id, "capstone-uid")
    if uid == 0:
        return failed("unsafe", f"USER is {user!r}, but that user is uid 0 in the container", fix, user=user, uid=0)
    return passed(f"runs as USER {user} (uid {uid})", user=user, uid=uid)


@criterion("l13.healthy", "HEALTHCHECK reaches healthy (with Postgres)")
def healthcheck(g: Grading):
    test = ((g.need_image().attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    fix = ("add HEALTHCHECK CMD [\"python\", \"-c\", \"import urllib.request; urllib.request.urlopen("
           "'http://127.0.0.1:8000/health', timeout=2)\"] (there is no curl in the slim image)")
    if not test or test == ["NONE"]:
        return failed("missing", "the image has no HEALTHCHECK", fix, instruction="HEALTHCHECK")
    served = g.served()
    if served.container is None:
        return failed("exited", served.cause, "CMD must start app.py")
    wait = poll_health(served.container, "healthy", HEALTH_TIMEOUT, give_up=("unhealthy",))
    if not wait.reached:
        return failed("never-healthy", f"never healthy: {wait.why()}",
                      "read `docker logs`; CMD must start app.py" if wait.status == "exited"
                      else "the check must GET http://127.0.0.1:8000/health with a tool the image has (python, not curl)",
                      status=wait.status)
    can_fail, seen = healthcheck_can_fail(g.lab, g.image.id, test, thing="capstone-idle")
    if can_fail is False:
        return failed("never-healthy", seen, "let the check fail when /health does not answer 200 (no `|| exit 0`, "
                      "not `true`)", can_fail=False)
    return passed(f"healthy with a Postgres on the same network; {seen}", status="healthy", can_fail=True)


@criterion("l13.graceful-stop", "stops gracefully on SIGTERM (before docker stop's timeout)")
def graceful_stop(g: Grading):
    served = g.running_app()
    res = stop_when_ready(g.lab, served.container, host_port=served.host_port, timeout=STOP_TIMEOUT)
    if res.exit_code == 137:
        return failed("not-graceful", f"killed after the {STOP_TIMEOUT} s stop timeout (exit 137, {res.seconds:.1f} s): "
                      + res.why_killed(STOP_TIMEOUT),
                      "use the exec form CMD [\"python\", \"app.py\"] so python is PID 1 and gets SIGTERM", exit_code=137)
    if not res.graceful:
        return failed("not-graceful", f"exit code {res.exit_code} after docker stop", "exit 0 on SIGTERM (app.py does)",
                      exit_code=res.exit_code)
    return passed(f"docker stop -t {STOP_TIMEOUT} once it answered: exit {res.exit_code} in {res.seconds:.1f} s",
                  exit_code=res.exit_code)


@criterion("l13.dockerignore", ".dockerignore keeps .env, .git, .venv out")
def dockerignore(g: Grading):
    # One `docker save` of the image for this line and line 8: read it once, looking for the .env's secrets too.
    image_index(g.need_image(), client=g.lab.client, needles=env_secrets(g.app).values())
    found = files_named(g.lab, g.image, {".env", ".git", HOST_VENV_MARKER})
    what = {".env": ".env", ".git": ".git", HOST_VENV_MARKER: "your local .venv"}
    seen = [f"{f.path.rsplit('/', 1)[0] if f.path.endswith(HOST_VENV_MARKER) else f.path} "
            f"({what[f.path.rsplit('/', 1)[-1]]}{', in an earlier layer' if f.deleted_later else ''})" for f in found]
    if seen:
        return failed("leaked", "found in the image: " + ", ".join(seen[:4]),
                      "write a .dockerignore listing .env, .git and .venv (and __pycache__)",
                      paths=[f.path for f in found], earlier_layer=[f.path for f in found if f.deleted_later])
    return passed("no .env, .git or local .venv in any layer of the image", paths=[])


@criterion("l13.pinned", "pinned base images")
def pinned(g: Grading):
    if g.df is None:
        raise NotEvaluated("no Dockerfile (line 1)")
    refs = g.df.external_refs()
    problems = [p for p in (dfile.pin_problem(r) for r in refs) if p]
    if problems:
        return failed("wrong-value", "; ".join(problems), "name a version line and its Debian release, e.g. FROM "
                      "python:3.13-slim-trixie, and pin a digest where a registry answers (…@sha256:…)", refs=refs)
    return passed("pinned: " + ", ".join(refs), refs=refs)


@criterion("l13.no-secret", "no secret in the image")
def no_secret(g: Grading):
    image, values = g.need_image(), env_secrets(g.app)
    if not values:
        raise NotEvaluated("no secret in the folder's .env files to look for")
    found = secrets_anywhere(g.lab, image, values, stage_images(g.lab, g.app, "capstone-secrets"))
    if found:
        return failed("leaked", "; ".join(found[:3]), "never COPY .env, ENV or ARG a secret, in any stage: pass it at "
                      "run time (docker run --env-file .env, Compose env_file:)", names=sorted(values), where=found)
    return passed(f"{', '.join(values)}: in no config field, history step or layer of the image or its stages",
                  names=sorted(values))


@criterion("l13.size", "size within budget")
def size(g: Grading):
    image, base = g.need_image(), g.df.final_base()
    try:
        budget = size_budget(g.lab, image, base, SLACK_BYTES)
    except Exception as exc:  # noqa: BLE001 - the base is not on this engine
        raise NotEvaluated(f"the final stage's base {base!r} is not on this engine ({short(exc, 80)})") from None
    got = unpacked_size(image, g.lab.client)
    if got > budget.limit:
        return failed("too-big", f"the image is {human_size(got)}, over its {budget.how()}",
                      "look at `docker history` for the big layer: leave build tools, caches and data in a builder "
                      "stage (pip --no-cache-dir, rm -rf /var/lib/apt/lists/*)", bytes=got, limit=budget.limit)
    return passed(f"{human_size(got)} within {budget.how()}", bytes=got, limit=budget.limit)


CRITERIA = [
    builds, deps_cached, non_root, healthcheck, graceful_stop, dockerignore, pinned, no_secret, size,
    Criterion("Compose brings app + database up healthy", compose, "l13.compose"),
    Criterion("recovers when Postgres is killed and started again", recovers, "l13.recovers"),
]


# How each line measures (one spec: the notebooks' tables show these words, tests/test_sync.py holds them equal).
HOW = {
    "l13.builds": "`docker build` (BuildKit) of your folder",
    "l13.deps-cached": "appends a line to `app.py`, rebuilds and reads each step: the first install step (and every step "
                       "before it) must be *cached*; the Dockerfile has two or more stages, or installs with uv",
    "l13.non-root": "`Config.User` of the image, and the uid of PID 1 in the running app (a user name can still be uid 0)",
    "l13.healthy": "starts `postgres:17-trixie` on a lab network, runs your image with `DATABASE_URL`, polls `State.Health` "
                   "until *healthy*; then runs your health check where the app is not running: it must fail there",
    "l13.graceful-stop": f"`docker stop -t {STOP_TIMEOUT}` once the app answers: exit 0 or 143 (128 + SIGTERM) before "
                         f"the {STOP_TIMEOUT} s timeout, and the seconds it took, measured; 137 means it was killed at "
                         "the timeout",
    "l13.dockerignore": "looks for them in every layer of the image",
    "l13.pinned": "every `FROM` / `COPY --from` image: a version line with its Debian release (`3.13-slim-trixie`), an "
                  "exact version, or a digest",
    "l13.no-secret": "looks for the values of `.env` in the config, the history and every layer of the image and of "
                     "each build stage",
    "l13.size": "the final base image + what your image adds to site-packages + 25 MB slack",
    "l13.compose": "`docker compose config`, then `up --build --wait`: the service built from your folder healthy and "
                   "ready (`GET /ready` answers 200: it reaches the database), next to a `postgres` service; then "
                   "`down -v`",
    "l13.recovers": "on that running stack: `docker kill` the database; `GET /ready` inside the app must say *not ready* "
                    "(503) while the app's health check keeps passing (watched up to a minute: liveness must not follow "
                    "the database); `docker start` the database, wait until `/ready` answers 200 again with nobody "
                    "restarting the app; shows the timeline",
}


def criteria_table() -> Table:
    """The scorecard's lines and how each is measured (:data:`HOW`), as the lesson shows them."""
    return Table([{"#": i, "id": c.id, "criterion": c.title, "how the scorecard measures it": HOW[c.id].replace("`", "")
                   .replace("*", "")} for i, c in enumerate(CRITERIA, 1)], title="the capstone's scorecard")


def grade(lab, app_dir, *, database: Database | None = None, live: bool = True, quiet: bool = True,
          reuse: bool = True, only: set[int | str] | None = None, record: bool = True) -> Checker:
    """Grade the containerized capstone in ``app_dir``; return the filled scorecard (never raises). ``only``: the
    line numbers or ids to grade (the rest are "not evaluated"), for tests that prove one line; ``record=False``:
    a demonstration (the lesson's), kept out of the learner's progress file."""
    app = Path(app_dir)
    titles = [f"{i}. {c.title}" for i, c in enumerate(CRITERIA, 1)]
    card = Checker(LESSON, "capstone", planned=titles, live=live)
    plant_local_files(app)
    with quiet_cli(quiet):
        g = Grading(lab, app, database or Database(lab), reuse)  # Postgres starts while the image builds
        try:
            card.grade(CRITERIA, g, only=only)
        finally:
            g.close(own_db=database is None)
    return card.report(raise_on_failure=False, record=record)


def check(lab, app_dir, **kwargs) -> Checker:
    """Grade (the scorecard fills in live) and raise CheckFailed unless every line passed."""
    return grade(lab, app_dir, **kwargs).raise_unless_passed()

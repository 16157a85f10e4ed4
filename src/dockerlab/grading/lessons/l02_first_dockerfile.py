"""Lesson 02 exercise: write the Dockerfile and .dockerignore for sample_apps/quote_api; the check builds and runs it.

It judges what runs: PID 1 (not a shell), the answers of /health and /quote, the server that answered (Flask's
development server names itself in the ``Server`` header, ``Werkzeug/…``, and warns in its log: it is not a
production CMD, however it was started: ``flask run``, ``python app.py``), and every layer for .env and .git.
Seven lines with stable ids (``l02.builds`` … ``l02.no-git``); the image is built once and started once, and a
port bound to the container's loopback fails at once instead of after the whole wait.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import time
from pathlib import Path

import urllib.error
import urllib.request

from docker.errors import DockerException, NotFound

from dockerlab import dockerfile as dfile
from dockerlab.grading.checker import Checker, Criterion, NotEvaluated, criterion, failed, needed_ok, passed
from dockerlab.errors import ContainerExited, WaitTimeout
from dockerlab.run import host_address, http_get, logs_tail, remove
from dockerlab.show import quiet_cli, short
from dockerlab.grading.contents import files_named
from dockerlab.grading.probes import SHELLS, Pid1, pid1_info
from dockerlab.grading.rebuild import build_answer
from dockerlab.grading.asking import cause_of, serve_watching, why_not_started
from dockerlab.grading.serving import Served, explain_exit
from dockerlab.grading.lessons import lesson_hints

LESSON = "02_first_dockerfile"
APP = "quote_api"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
PORT = 8000
THING = "quote-check"  # the container the check starts
FAKE_SECRET = "DATABASE_PASSWORD=not-a-real-secret-but-pretend-it-is"
DEV_SERVER_LOG = "This is a development server"


def add_local_junk(app: str | os.PathLike) -> list[str]:
    """Make the workspace look like a real checkout: a .env with a (fake) secret and a .git folder."""
    app = Path(app)
    (app / ".env").write_text(FAKE_SECRET + "\n")
    git = app / ".git"
    (git / "objects").mkdir(parents=True, exist_ok=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "objects" / "pack-demo").write_bytes(os.urandom(256 * 1024))
    return sorted(p.name for p in app.iterdir())


FIXES = {
    "file": "CMD names a module or file that is not in the image: the app is app.py (module app)",
    "loopback": f"listen on 0.0.0.0 (not 127.0.0.1) port {PORT} inside the container: gunicorn --bind 0.0.0.0:{PORT}",
    "other_port": f"listen on port {PORT} inside the container (the app reads no PORT variable: python app.py does)",
    "exited": "make CMD start the web app (app:app) on 0.0.0.0:8000",
    "not_started": "CMD/ENTRYPOINT must name a program the image has (installed by requirements.txt, or python)",
    "http": "serve app.py's Flask app, app:app (it has /health), not another program",
}


def server_header(host_port: int, path: str = "/health") -> str:
    """The ``Server`` header of the HTTP server answering on ``host_port`` ("" when it sends none)."""
    try:
        with urllib.request.urlopen(f"http://{host_address()}:{host_port}{path}", timeout=10) as r:
            return r.headers.get("Server", "")
    except urllib.error.HTTPError as e:
        return e.headers.get("Server", "")
    except OSError:
        return ""


# --- what the criteria share: the image built once, the app started once ----------------------------------------

@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    timeout: float
    result: object = None  # the BuildResult of line 1
    served: Served | None = None
    pid: Pid1 | None = None  # PID 1 while the container ran
    server: str = ""  # the Server header of the answer to /health
    logs: str = ""  # the container's log once it answered
    _found: list | None = None

    def image(self):
        if self.result is None:
            raise NotEvaluated("the image did not build (line 1)")
        return self.result.image

    def serve(self) -> Served:
        """The image, started once with port 8000 published; PID 1, the Server header and the log read at once."""
        if self.served is None:
            image = self.image()
            self.served = serve_watching(self.lab, image.id, THING, port=PORT, timeout=self.timeout)
            c = self.served.container
            if c is not None:
                if self.served.ok:
                    self.server = server_header(self.served.host_port)
                    self.logs = logs_tail(c, 40)
                with contextlib.suppress(DockerException):
                    c.reload()
                    if c.status == "running":
                        self.pid = pid1_info(c, self.lab)
        return self.served

    def answering(self) -> Served:
        return needed_ok(self.serve(), "the app did not answer /health (line 3)")

    def found(self, name: str) -> list:
        """.env and .git in any layer of the image (one scan for both lines)."""
        if self._found is None:
            self._found = files_named(self.lab, self.image(), {".env", ".git"})
        return [f for f in self._found if f.path.rsplit("/", 1)[-1] == name]


# --- the criteria ------------------------------------------------------------------------------------------------

@criterion("l02.builds", "builds")
def builds(g: Grading):
    g.result, problem = build_answer(g.lab, g.app, "quote-api", "write one next to app.py",
                                     "fix that instruction (the log above shows its output), then run this cell again")
    if problem:
        return problem
    return passed(f"{g.result.tag}: {len(g.result.steps)} steps", steps=len(g.result.steps))


def _base_cmd(g: Grading) -> tuple[str, list | None]:
    """The final stage's base image and its Cmd (None: not on this engine)."""
    base = dfile.parse((g.app / "Dockerfile").read_text()).final_base() or g.lab.base("python")
    try:
        return base, g.lab.client.images.get(base).attrs["Config"].get("Cmd") or []
    except DockerException:
        return base, None


@criterion("l02.exec-form", "exec-form CMD")
def exec_form(g: Grading):
    """Signals must reach the app: PID 1 in the running container is not a shell (judged by what runs)."""
    config = g.image().attrs["Config"]
    cmd, entrypoint = config.get("Cmd") or [], config.get("Entrypoint") or []
    base, base_cmd = _base_cmd(g)
    if not entrypoint and cmd == base_cmd:
        return failed("missing", f"no CMD of its own: Config.Cmd is {cmd}, inherited from {base}",
                      "add a CMD that starts the app with its production server (gunicorn is in requirements.txt)",
                      cmd=cmd, base=base)
    g.serve()
    if g.pid is not None and g.pid.cmdline:
        if g.pid.is_shell:
            return failed("wrong-value", f"PID 1 in the running container is `{g.pid.cmdline}`, a shell"
                          + (f" (Config.Cmd is {cmd}: shell form)" if cmd[:2] == ["/bin/sh", "-c"] else "")
                          + ": signals such as docker stop's SIGTERM go to the shell, not to Python",
                          'write it as a JSON array whose first word is the server itself (exec form): CMD ["program", '
                          '"arg", …]', pid1=g.pid.cmdline, cmd=cmd, entrypoint=entrypoint)
        return passed(f"PID 1 is `{g.pid.cmdline}` (Config.Entrypoint {entrypoint or None}, Config.Cmd {cmd})",
                      pid1=g.pid.cmdline, cmd=cmd, entrypoint=entrypoint)
    argv = entrypoint + cmd  # the app did not stay up: judge the configuration
    if argv[1:2] == ["-c"] and argv[0].rsplit("/", 1)[-1] in SHELLS:
        return failed("wrong-value", f"Config.{'Entrypoint' if entrypoint else 'Cmd'} is {argv}: shell form (a shell is "
                      "PID 1, and signals do not reach Python)",
                      f'write it as a JSON array (exec form) instead of CMD {argv[2] if len(argv) > 2 else "…"}',
                      pid1=None, cmd=cmd, entrypoint=entrypoint)
    return passed(f"Config.Entrypoint {entrypoint or None}, Config.Cmd {cmd}", pid1=None, cmd=cmd, entrypoint=entrypoint)


@criterion("l02.health", "serves /health")
def health(g: Grading):
    served = g.serve()
    if served.ok:
        return passed(f"HTTP 200 on port {PORT}: {short(served.body, 60)}", status=200)
    cause = cause_of(served)
    observed = dict(kind=served.kind, listening=[f"{a}:{p}" for a, p in served.listening], status=served.status)
    program = re.search(r'exec: "?([^":]+)"?: executable file not found', served.cause)
    if program:
        return failed("missing", f"the container did not start: the image has no `{program.group(1)}` "
                      f"({program.group(0)} in $PATH)", f"`{program.group(1)}` is not in the image: install "
                      "requirements.txt (COPY requirements.txt, then RUN pip install -r requirements.txt) before CMD "
                      "runs it",
                      program=program.group(1), **observed)
    if cause == "check-error":
        return failed(cause, f"the check's container did not start: {why_not_started(served)}",
                      "run the check again (the host port it picked was taken meanwhile)", **observed)
    return failed(cause, served.cause, FIXES.get(served.kind) or served.fix, **observed)


@criterion("l02.quote", "serves /quote")
def quote(g: Grading):
    served = g.answering()
    try:
        status, body = http_get(served.host_port, "/quote", timeout=10, container=served.container, expect_status=None)
    except NotFound:
        return failed("exited", "the container was removed while the check asked /quote", "run the check again, and "
                      "leave its container alone until it is done", status=None)
    except ContainerExited:
        served.container.reload()
        _, cause = explain_exit(served.container.attrs["State"].get("ExitCode"), logs_tail(served.container, 20))
        return failed("exited", f"asked GET /quote, {cause}", "read the log line: /quote must not crash the app",
                      status=None)
    except WaitTimeout:
        return failed("not-answering", "no answer to GET /quote within 10 s (it answered /health)",
                      "serve app.py's Flask app, app:app (it has the /quote route)", status=None)
    if status == 200 and '"quote"' in body:
        return passed(f"HTTP 200: {short(body, 60)}", status=status)
    error = _app_error(served.container) if status >= 500 else ""
    text = re.sub(r"<[^>]+>", " ", body)  # an HTML error page, as text
    return failed("not-answering", f"GET /quote -> HTTP {status}: {short(text, 80)}"
                  + (f"; the app's log says `{short(error, 120)}`" if error else ""),
                  "serve app.py's Flask app, app:app, with its quotes.py (it has the /quote route)", status=status,
                  error=error)


def _app_error(container) -> str:
    """The last exception line of the app's log (a 500's upstream cause); the log may lag the answer by a moment."""
    for _ in range(4):
        lines = [line.strip() for line in logs_tail(container, 40).splitlines()]
        error = next((line for line in reversed(lines) if re.match(r"\w+(Error|Exception)\b", line)), "")
        if error:
            return error
        time.sleep(0.5)
    return ""


@criterion("l02.production-server", "production server")
def production_server(g: Grading):
    """Flask's development server (Werkzeug's) must not be the image's server: judged by the server that answered
    (its ``Server`` header) and its log, whatever the CMD says (``flask run``, ``python app.py``…)."""
    g.answering()
    started = f"PID 1 `{short(g.pid.cmdline, 80)}`" if g.pid is not None and g.pid.cmdline else "the CMD"
    warned = DEV_SERVER_LOG in g.logs
    if g.server.lower().startswith("werkzeug") or warned:
        return failed("wrong-value", f"/health was answered by Flask's development server (Server: {g.server or '?'}), "
                      f"started by {started}" + (" and its log says \"WARNING: This is a development server. Do not use "
                                                 "it in a production deployment\"" if warned else ""),
                      "serve app:app with a production WSGI server bound to 0.0.0.0:8000: gunicorn is pinned in "
                      "requirements.txt", server=g.server, dev_warning=warned)
    return passed(f"answered by {g.server or 'a server that sends no Server header'}, {started}", server=g.server,
                  dev_warning=False)


def _not_in_image(name: str, what: str):
    def grade(g: Grading):
        hits = g.found(name)
        if not hits:
            return passed(f"no {name} in any layer of the image", paths=[])
        where = "; ".join(f"{f.path} is in the image (layer {f.layer}/{f.layers}"
                          + (", deleted by a later layer but still shipped in this one" if f.deleted_later else "")
                          + ")" for f in hits[:3])
        fix = (f"list {name} in .dockerignore" if (g.app / ".dockerignore").exists()
               else f"create a .dockerignore next to the Dockerfile listing {name}")
        return failed("leaked", f"{where}: {what} shipped to everyone who pulls it", fix, paths=[f.path for f in hits],
                      earlier_layer=[f.path for f in hits if f.deleted_later])
    return grade


CRITERIA = [
    builds, exec_form, health, quote, production_server,
    Criterion(".env not in image", _not_in_image(".env", "a secret"), "l02.no-env"),
    Criterion(".git not in image", _not_in_image(".git", "the repository history"), "l02.no-git"),
]


def grade(lab, app: str | os.PathLike, timeout: float = 30, *, only=None) -> Checker:
    """Build ``app`` as lab.image('quote-api'), run it, and grade: PID 1 is the app (exec form), it serves /health and
    /quote with a production server (not Flask's development server), no layer holds .env or .git. Returns the
    filled table (never raises); ``only``: the ids to grade (the rest are "not evaluated")."""
    def cleanup():
        with quiet_cli():
            remove(lab.name(THING), client=lab.client, quiet=True)  # also one that was created but never started

    card = Checker(LESSON, "Dockerfile and .dockerignore for quote_api")
    return card.run(CRITERIA, Grading(lab, Path(app), timeout), only=only, cleanup=cleanup)


def check(lab, app: str | os.PathLike, timeout: float = 30, **kwargs) -> Checker:
    """Grade the learner's Dockerfile and .dockerignore; raise CheckFailed unless every line passed."""
    return grade(lab, app, timeout, **kwargs).raise_unless_passed()

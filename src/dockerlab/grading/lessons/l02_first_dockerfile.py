"""Lesson 02 exercise: write the Dockerfile and .dockerignore for sample_apps/quote_api; the check builds and runs it.

It judges what runs: PID 1 (not a shell), the answers of /health and /quote, the server that answered (Flask's
development server names itself in the ``Server`` header, ``Werkzeug/…``, and warns in its log: it is not a
production CMD, however it was started: ``flask run``, ``python app.py``), and every layer for .env and .git.
"""
from __future__ import annotations

import os
from pathlib import Path

import urllib.error
import urllib.request

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker
from dockerlab.run import host_address, http_get, logs_tail, remove
from dockerlab.show import short
from dockerlab.grading.contents import files_named
from dockerlab.grading.probes import SHELLS, Pid1, pid1_info
from dockerlab.grading.serving import serve

LESSON = "02_first_dockerfile"
APP = "quote_api"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "Read the check's table: it names the line that failed and what it saw. The image needs the app's dependencies, "
    "its code, and a command that starts the web server on 0.0.0.0:8000.",
    "The check judges what runs, not what is written: who is PID 1 (how CMD is written), which server answers "
    "(`python app.py` and `flask run` start Flask's development server; requirements.txt pins a production one), "
    "and what the build context sends into the image (.dockerignore, one pattern per line).",
    "Lesson 02, sections \"The Dockerfile, instruction by instruction\", \"`.dockerignore`: what the builder never sees\" "
    "and \"Exec form or shell form: who is PID 1?\" build the same kind of image for flask_hello.",
)
PORT = 8000
FAKE_SECRET = "DATABASE_PASSWORD=not-a-real-secret-but-pretend-it-is"
LINES = ["builds", "exec-form CMD", "serves /health", "serves /quote", "production server", ".env not in image",
         ".git not in image"]
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


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


FIXES = {
    "file": "CMD names a module or file that is not in the image: the app is app.py (module app)",
    "loopback": f"listen on 0.0.0.0 (not 127.0.0.1) port {PORT} inside the container",
    "other_port": f"listen on port {PORT} inside the container (the app reads no PORT variable: python app.py does)",
    "exited": "make CMD start the web app (app:app) on 0.0.0.0:8000",
    "not_started": "CMD/ENTRYPOINT must name a program the image has (installed by requirements.txt, or python)",
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


def _production_server(c: Checker, served, pid: Pid1 | None) -> None:
    """Flask's development server (Werkzeug's) must not be the image's server: judged by the server that answered
    (its ``Server`` header) and its log, whatever the CMD says (``flask run``, ``python app.py``…)."""
    server = server_header(served.host_port)
    logs = logs_tail(served.container, 40)
    started = f"PID 1 `{short(pid.cmdline, 80)}`" if pid is not None and pid.cmdline else "the CMD"
    if server.lower().startswith("werkzeug") or DEV_SERVER_LOG in logs:
        warned = " and its log says \"WARNING: This is a development server. Do not use it in a production deployment\"" \
            if DEV_SERVER_LOG in logs else ""
        c.fail(LINES[4], f"/health was answered by Flask's development server (Server: {server or '?'}), started by "
                         f"{started}{warned}",
               "serve app:app with a production WSGI server bound to 0.0.0.0:8000: gunicorn is pinned in requirements.txt")
    else:
        c.ok(LINES[4], f"answered by {server or 'a server that sends no Server header'}, {started}")


def _exec_form(c: Checker, lab, config: dict, pid: Pid1 | None) -> None:
    """Signals must reach the app: PID 1 in the running container is not a shell (judged by what runs)."""
    cmd, entrypoint = config.get("Cmd") or [], config.get("Entrypoint") or []
    base_cmd = lab.client.images.get(lab.base("python")).attrs["Config"].get("Cmd") or []
    argv = entrypoint + cmd
    shell = argv[1:2] == ["-c"] and argv[0].rsplit("/", 1)[-1] in SHELLS
    if not entrypoint and cmd == base_cmd:
        c.fail("exec-form CMD", f"no CMD of its own: Config.Cmd is {cmd}, inherited from {lab.base('python')}",
               'add a CMD that starts the app with its production server (gunicorn is in requirements.txt)')
    elif pid is not None and pid.cmdline:
        c.expect(not pid.is_shell, "exec-form CMD",
                 f"PID 1 in the running container is `{pid.cmdline}`, a shell"
                 + (f" (Config.Cmd is {cmd}: shell form)" if cmd[:2] == ["/bin/sh", "-c"] else "")
                 + ": signals such as docker stop's SIGTERM go to the shell, not to Python",
                 fix='write it as a JSON array whose first word is the server itself (exec form): CMD ["program", "arg", …]',
                 ok=f"PID 1 is `{pid.cmdline}` (Config.Entrypoint {entrypoint or None}, Config.Cmd {cmd})")
    else:  # the app did not stay up: judge the configuration
        c.expect(not shell, "exec-form CMD",
                 f"Config.{'Entrypoint' if entrypoint else 'Cmd'} is {argv}: shell form (a shell is PID 1, and signals "
                 "do not reach Python)",
                 fix=f'write it as a JSON array (exec form) instead of CMD {argv[2] if len(argv) > 2 else "…"}',
                 ok=f"Config.Entrypoint {entrypoint or None}, Config.Cmd {cmd}")


def check(lab, app: str | os.PathLike, timeout: float = 30) -> Checker:
    """Build ``app`` as lab.image('quote-api'), run it, and check: PID 1 is the app (exec form), it serves
    /health and /quote with a production server (not Flask's development server), and no layer of the image
    holds .env or .git."""
    app = Path(app)
    c = Checker(LESSON, "Dockerfile and .dockerignore for quote_api", planned=LINES)
    if not (app / "Dockerfile").exists():
        c.fail(LINES[0], f"no Dockerfile in {app}", "write one next to app.py")
        return c.report()

    # 1. it builds
    try:
        result = lab.build(app, "quote-api")
    except BuildFailed as exc:
        c.fail(LINES[0], f"the build failed at step {exc.step or '(before the first step)'!r}: {_first_line(exc.error)}",
               "fix that instruction (the log above shows its output), then run this cell again")
        return c.report()
    c.ok(LINES[0], f"{result.tag}: {len(result.steps)} steps")
    config = result.image.attrs["Config"]

    # 2. it starts and serves /health and /quote on port 8000; PID 1 is the app, not a shell; a production server
    served = serve(lab, result.tag, "quote-check", port=PORT, timeout=timeout)
    try:
        pid = pid1_info(served.container, lab) if served.ok else None
        _exec_form(c, lab, config, pid)
        if served.ok:
            c.ok(LINES[2], f"HTTP 200 on port {PORT}: {short(served.body, 60)}")
            qs, qbody = http_get(served.host_port, "/quote", timeout=10, container=served.container, expect_status=None)
            c.expect(qs == 200 and '"quote"' in qbody, LINES[3], f"GET /quote -> HTTP {qs}: {short(qbody, 80)}",
                     fix="serve app.py's Flask app, app:app (it has the /quote route)", ok=f"HTTP 200: {short(qbody, 60)}")
            _production_server(c, served, pid)
        elif served.kind == "http":
            c.fail(LINES[2], served.cause, "serve app.py's Flask app, app:app (it has /health), not another program")
        elif "executable file not found" in served.cause:
            c.fail(LINES[2], served.cause, "the program CMD starts is not in the image: install requirements.txt "
                                           "(COPY requirements.txt, then RUN pip install -r requirements.txt) before it")
        else:
            c.fail(LINES[2], served.cause, FIXES.get(served.kind) or served.fix)
    finally:
        if served.container is not None:
            remove(served.container, client=lab.client, quiet=True)
    for line in LINES[3:5]:
        if line not in {r.name for r in c.results}:
            c.skip(line, "the app did not answer /health")

    # 3. .env and .git stayed out of the image: every layer, wherever they were copied
    found = files_named(lab, result.image, {".env", ".git"})
    has_ignore = (app / ".dockerignore").exists()
    for junk, what in ((".env", "a secret"), (".git", "the repository history")):
        hits = [f for f in found if f.path.rsplit("/", 1)[-1] == junk]
        if hits:
            where = "; ".join(f"{f.path} is in the image (layer {f.layer}/{f.layers}"
                              + (", deleted by a later layer but still shipped in this one" if f.deleted_later else "")
                              + ")" for f in hits[:3])
            c.fail(f"{junk} not in image", f"{where}: {what} shipped to everyone who pulls it",
                   f"list {junk} in .dockerignore" if has_ignore else f"create a .dockerignore next to the Dockerfile listing {junk}")
        else:
            c.ok(f"{junk} not in image", f"no {junk} in any layer of the image")
    return c.report()

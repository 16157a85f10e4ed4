"""Lesson 02 exercise: write the Dockerfile and .dockerignore for sample_apps/quote_api; the check builds and runs it."""
from __future__ import annotations

import os
from pathlib import Path

from ..build import BuildFailed
from ..checks import Checker
from ..run import ContainerExited, WaitTimeout, free_port, http_get, logs_tail, remove

LESSON = "02_first_dockerfile"
APP = "quote_api"
PORT = 8000
FAKE_SECRET = "DATABASE_PASSWORD=not-a-real-secret-but-pretend-it-is"


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


def check(lab, app: str | os.PathLike, timeout: float = 30) -> Checker:
    """Build ``app`` as lab.image('quote-api'), then check CMD form, that it serves, and that .env/.git stayed out."""
    app = Path(app)
    c = Checker(LESSON, "Dockerfile and .dockerignore for quote_api")
    if not (app / "Dockerfile").exists():
        c.fail("Dockerfile", f"no Dockerfile in {app}", "write one next to app.py")
        return c.report()

    # 1. it builds
    try:
        result = lab.build(app, "quote-api")
    except BuildFailed as exc:
        c.fail("builds", f"the build failed at step {exc.step or '(before the first step)'!r}: {_first_line(exc.error)}",
               "fix that instruction (the log above shows its output), then run this cell again")
        return c.report()
    c.ok("builds", f"{result.tag}: {len(result.steps)} steps")
    image = result.image

    # 2. CMD in exec form, and its own
    config = image.attrs["Config"]
    cmd, entrypoint = config.get("Cmd") or [], config.get("Entrypoint") or []
    base_cmd = (lab.client.images.get(lab.base("python")).attrs["Config"].get("Cmd") or [])
    if entrypoint[:2] == ["/bin/sh", "-c"]:
        c.fail("exec-form ENTRYPOINT", f"Config.Entrypoint is {entrypoint}: shell form",
               'write it as a JSON array: ENTRYPOINT ["python", "app.py"]')
    if cmd[:2] == ["/bin/sh", "-c"]:
        c.fail("exec-form CMD", f"Config.Cmd is {cmd}: shell form (a shell is PID 1, and signals do not reach Python)",
               f'write it as a JSON array: CMD ["python", "app.py"] instead of CMD {cmd[2] if len(cmd) > 2 else "…"}')
    elif not entrypoint and cmd == base_cmd:
        c.fail("exec-form CMD", f"no CMD of its own: Config.Cmd is {cmd}, inherited from {lab.base('python')}",
               'add a CMD that starts the app, e.g. CMD ["python", "app.py"]')
    else:
        c.ok("exec-form CMD", f"Config.Entrypoint {entrypoint or None}, Config.Cmd {cmd}")

    # 3. it starts and serves /health and /quote on port 8000
    port = free_port()
    container = lab.run(result.tag, "quote-check", ports={f"{PORT}/tcp": port})
    try:
        try:
            status, body = http_get(port, "/health", timeout=timeout, container=container, expect_status=None)
            if status == 200:
                c.ok("serves /health", f"HTTP 200 on port {PORT}: {body.strip()[:60]}")
                qs, qbody = http_get(port, "/quote", timeout=10, container=container, expect_status=None)
                c.expect(qs == 200 and '"quote"' in qbody, "serves /quote", f"GET /quote -> HTTP {qs}: {qbody.strip()[:80]}",
                         "serve app.py's Flask app (it has the /quote route)", f"HTTP 200: {qbody.strip()[:60]}")
            else:
                c.fail("serves /health", f"GET /health -> HTTP {status}",
                       "start app.py's Flask app (it has /health), not another program")
        except ContainerExited:
            container.reload()
            code = container.attrs["State"].get("ExitCode")
            logs = logs_tail(container, 8).strip()
            fix = "make CMD start the web app on 0.0.0.0:8000, e.g. CMD [\"python\", \"app.py\"]"
            if "ModuleNotFoundError" in logs:
                fix = "install the dependencies in the image: COPY requirements.txt, then RUN pip install -r requirements.txt"
            elif "Could not import" in logs or "No such file" in logs or "can't open file" in logs:
                fix = "CMD names a module or file that is not in the image: the app is app.py (module app)"
            c.fail("serves /health", f"the container exited with code {code} before answering; its last log lines: "
                   + (" | ".join(logs.splitlines()[-3:]) or "(empty)"), fix)
        except WaitTimeout as exc:
            c.fail("serves /health", f"{exc}", f"listen on 0.0.0.0 (not 127.0.0.1) port {PORT} inside the container")
    finally:
        remove(container, client=lab.client, quiet=True)

    # 4. .env and .git stayed out of the image
    workdir = config.get("WorkingDir") or "/"
    out = lab.run(result.tag, "quote-scan",
                  ["-c", "find / -xdev \\( -name .env -o -name .git \\) -not -path '/proc/*' -not -path '/usr/*' 2>/dev/null"],
                  entrypoint=["sh"], detach=False, remove=True).decode().split()
    has_ignore = (app / ".dockerignore").exists()
    for junk, what in ((".env", "a secret"), (".git", "the repository history")):
        found = [p for p in out if Path(p).name == junk]
        if found:
            c.fail(f"{junk} not in image", f"{', '.join(found)} is in the image ({what} shipped to everyone who pulls it)",
                   f"list {junk} in .dockerignore" if has_ignore else f"create a .dockerignore next to the Dockerfile listing {junk}")
        else:
            c.ok(f"{junk} not in image", f"no {junk} under {workdir} or anywhere else")
    return c.report()

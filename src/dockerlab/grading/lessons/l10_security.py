"""Lesson 10 exercise: harden sample_apps/hardened_api. The check builds it, lints it, and runs it three ways.

1. as built: it must serve /health, and PID 1 in the running container must not be uid 0 (/proc/1/status);
2. with a read-only root filesystem and a tmpfs on /tmp (``--read-only --tmpfs /tmp``);
3. with every capability dropped and no-new-privileges (``--cap-drop ALL --security-opt no-new-privileges:true``),
   on a runtime that keeps ports below 1024 privileged (``--sysctl net.ipv4.ip_unprivileged_port_start=1024``:
   Docker lowers it to 0 by default, as containerd 2.0's CRI does for Kubernetes pods; CRI-O and runtimes that
   keep the kernel default do not, so the image must not depend on it).
"""
from __future__ import annotations

import os
from pathlib import Path

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker
from dockerlab.lint import errors, lint
from dockerlab.run import remove
from dockerlab.show import cli
from dockerlab.grading.probes import is_root_user, pid1_info
from dockerlab.grading.serving import serve

LESSON = "10_security"
APP = "hardened_api"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "Install the dependencies while still root, then create a user and switch to it: everything after USER runs "
    "as that user, and so does the container.",
    "The app writes only to $STATE_DIR (/tmp by default): the check mounts a tmpfs there and makes the rest "
    "read-only. Keep port 8000 (ports below 1024 need a capability the check drops), and run "
    "`dockerlab.lint.lint(app / 'Dockerfile')` to see hadolint's findings.",
    "Lesson 10, sections \"A non-root USER, files owned correctly, and the `.venv` trap\" and \"Take away the rest\".",
)
DEFAULT_PORT = 8000
READ_ONLY = {"read_only": True, "tmpfs": {"/tmp": ""}}
NO_CAPS = {"cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"],
           "sysctls": {"net.ipv4.ip_unprivileged_port_start": "1024"}}


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def exposed_port(image) -> int:
    """The (first) TCP port the image EXPOSEs, else 8000."""
    ports = sorted(int(p.split("/")[0]) for p in (image.attrs["Config"].get("ExposedPorts") or {}) if p.endswith("/tcp"))
    return ports[0] if ports else DEFAULT_PORT


def check(lab, app: str | os.PathLike, timeout: float = 30) -> Checker:
    """Build ``app`` as lab.image('hardened-api') and check: lint, non-root, read-only root, no capabilities."""
    app = Path(app)
    c = Checker(LESSON, "harden hardened_api")
    dockerfile = app / "Dockerfile"
    if not dockerfile.exists():
        c.fail("Dockerfile", f"no Dockerfile in {app}", "write one next to app.py")
        return c.report()

    # 1. hadolint: no error-level finding
    findings = lint(dockerfile)
    errs = errors(findings)
    if errs:
        for e in errs:
            c.fail(f"hadolint {e['code']}", f"line {e['line']}: {e['message']} (level error)",
                   f"fix line {e['line']}; https://github.com/hadolint/hadolint/wiki/{e['code']} explains the rule")
    else:
        c.ok("hadolint", f"no error-level finding ({len(findings)} warning/info finding(s))")

    # 2. it builds
    try:
        result = lab.build(app, "hardened-api")
    except BuildFailed as exc:
        text = "\n".join(exc.log_tail + [exc.error])
        fix = "fix that instruction (the log above shows its output), then run this cell again"
        if "Permission denied" in text or "not writeable" in text or "not writable" in text:
            fix = ("the install ran as the non-root user: install dependencies as root first, then add USER "
                   "(or create what the user must write with COPY --chown / chown)")
        c.fail("builds", f"the build failed at step {exc.step or '(before the first step)'!r}: {_first_line(exc.error)}", fix)
        return c.report()
    c.ok("builds", f"{result.tag}: {len(result.steps)} steps")
    image = result.image
    port = exposed_port(image)

    # 3. non-root: Config.User, and the uid of PID 1 in the running container (a name can map to uid 0)
    user = image.attrs["Config"].get("User") or ""
    if is_root_user(user):
        c.fail("runs as non-root", f"Config.User is {user!r}, so the process is uid 0",
               "runs as root: add a USER line after installing dependencies")
    else:
        c.ok("USER set", f"Config.User is {user!r}")

    served = serve(lab, result.tag, "harden-check", port=port, timeout=timeout)
    try:
        if not served.ok:
            c.fail("serves /health", f"run as built on port {port}: {served.cause}",
                   "make the plain `docker run` work first: the app listens on $PORT (8000) on 0.0.0.0")
            return c.report()
        c.ok("serves /health", f"HTTP 200 on port {port}")
        cli("docker", "exec", served.container.name, "cat", "/proc/1/status")
        uid = pid1_info(served.container, lab).uid
        if uid == 0 and not is_root_user(user):
            c.fail("runs as non-root", f"Config.User is {user!r} but PID 1 in the container runs as uid 0",
                   "runs as root: add a USER line after installing dependencies (a uid other than 0)")
        elif uid != 0:
            c.ok("runs as non-root", f"PID 1 in the container runs as uid {uid}")
    finally:
        if served.container is not None:
            remove(served.container, client=lab.client, quiet=True)

    # 4. read-only root filesystem, a tmpfs on /tmp
    served = serve(lab, result.tag, "harden-readonly", port=port, timeout=timeout, **READ_ONLY)
    if served.container is not None:
        remove(served.container, client=lab.client, quiet=True)
    if served.ok:
        c.ok("read-only root filesystem", "serves with --read-only --tmpfs /tmp")
    else:
        fix = "write only to /tmp (the app's STATE_DIR default); keep code and dependencies read-only"
        if served.kind == "read_only":
            fix = ("the app writes outside /tmp: leave STATE_DIR at /tmp (a tmpfs under --read-only) "
                   "or mount a volume where it writes")
        c.fail("read-only root filesystem", f"with --read-only --tmpfs /tmp: {served.cause}", fix)

    # 5. no capabilities, no new privileges, ports below 1024 privileged
    served = serve(lab, result.tag, "harden-nocaps", port=port, timeout=timeout, **NO_CAPS)
    if served.container is not None:
        remove(served.container, client=lab.client, quiet=True)
    if served.ok:
        c.ok("all capabilities dropped", f"serves on port {port} with --cap-drop ALL and no-new-privileges")
    else:
        fix = "it must not need any Linux capability: run as a non-root user on a port of 1024 or more"
        if port < 1024:
            fix = (f"port {port} is below 1024: binding it needs NET_BIND_SERVICE, which --cap-drop ALL removes; "
                   "listen on 8000 (ENV PORT=8000, EXPOSE 8000) and publish -p 80:8000 if you need 80 outside")
        c.fail("all capabilities dropped", f"with --cap-drop ALL --security-opt no-new-privileges:true: {served.cause}", fix)
    return c.report()

"""Lesson 10 exercise: harden report_archive, judged on the container the learner's own ``start(image, port)`` runs.

The learner writes report_archive's Dockerfile and a ``start(image, port)`` function (a ``docker run``, as an SDK
call). The check lints and builds the Dockerfile, calls ``start`` and judges what runs, not how it was spelled:

* hadolint finds no error; the image builds; the container answers /health on the port start() published;
* PID 1 runs as a non-root **numeric** uid (``/proc/1/status``; Kubernetes' ``runAsNonRoot`` can verify only a
  number: it cannot read the image's /etc/passwd);
* the code path (WORKDIR, minus the data path) is not writable by that uid: measured in a throwaway container of the
  image as that uid (``os.access``), so ``--read-only`` cannot hide code the app owns (``COPY --chown`` on code);
* the data path (``$DATA_DIR``, default /app/data) is a volume or bind mount, and the app writes a report there;
* the root file system is read-only (``/`` mounted ``ro`` in ``/proc/1/mountinfo``);
* no capability is left (``CapEff``, ``CapPrm``, ``CapBnd`` of ``/proc/1/status``) and ``NoNewPrivs`` is 1.
"""
from __future__ import annotations

import dataclasses
import json
import secrets as random_names
import urllib.error
import urllib.request
from pathlib import Path

from docker.errors import DockerException, NotFound

from dockerlab.build import BuildFailed
from dockerlab.errors import ContainerExited, WaitTimeout
from dockerlab.grading.checker import (Checker, NotEvaluated, criterion, failed, needed, needed_running,
    passed)
from dockerlab.grading.rebuild import build_failed, missing_dockerfile
from dockerlab.grading.probes import cap_names, describe_listeners, helper, listeners, proc_status, proc_text
from dockerlab.grading.serving import explain_exit
from dockerlab.lint import errors, lint
from dockerlab.run import free_port, host_address, http_get, logs_tail, published_port
from dockerlab.show import short
from dockerlab.grading.lessons import lesson_hints

LESSON = "10_security"
APP = "report_archive"
DATA_DIR = "/app/data"  # the app's default
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
FIX_USER = "add `USER 10001:10001` after the install steps (a number: runAsNonRoot cannot check a name)"
FIX_DATA = ("give the app its data directory in the image, `RUN mkdir -p /app/data && chown 10001:10001 /app/data`, "
            "and mount a named volume there in start(): `volumes={NAME: {'bind': '/app/data', 'mode': 'rw'}}`")
CODE_SCAN = """import json, os, sys
top, skip = sys.argv[1], set(sys.argv[2:])
writable, owners, n = [], {}, 0
for root, dirs, files in os.walk(top):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip]
    for p in [root] + [os.path.join(root, f) for f in files]:
        if os.path.islink(p):
            continue
        n += 1
        owner = os.lstat(p).st_uid
        owners[owner] = owners.get(owner, 0) + 1
        if os.access(p, os.W_OK) and not (p.endswith(".lock") and os.path.isfile(p) and not os.path.getsize(p)):
            writable.append(p)  # (an empty lock file is no code: uv makes its venv's .lock writable to all)
print(json.dumps({"files": n, "owners": owners, "writable": writable}))
"""


@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    start: object
    port: int | None = None
    timeout: float = 60
    image: object = None
    container: object = None
    _status: dict | None = None

    def need_image(self):
        return needed(self.image, "the image did not build (line 2)")

    def running(self):
        return needed_running(self.container, "start() left no running container (line 3)")

    def status(self) -> dict:
        if self._status is None:
            c = self.running()
            self._status = proc_status(c, self.lab)
            if "Uid" not in self._status:
                raise NotEvaluated(f"could not read /proc/1/status in {c.name}")
        return self._status

    def uid(self) -> int:
        return int(self.status()["Uid"].split()[0])

    def data_dir(self) -> str:
        env = dict(e.split("=", 1) for e in (self.running().attrs["Config"].get("Env") or []) if "=" in e)
        return env.get("DATA_DIR", DATA_DIR)

    def mounts(self) -> dict[str, str]:
        """{destination: type} of every mount of the container (volumes, binds, tmpfs)."""
        c = self.running()
        out = {m["Destination"]: m.get("Type", "") for m in c.attrs.get("Mounts") or []}
        out.update({d: "tmpfs" for d in (c.attrs["HostConfig"].get("Tmpfs") or {})})
        return out


@criterion("l10.lint", "hadolint: no error-level finding")
def dockerfile_lint(g: Grading):
    path = g.app / "Dockerfile"
    if problem := missing_dockerfile(g.app, "write one next to app.py"):
        return problem
    findings = lint(path, quiet=True)
    errs = errors(findings)
    if errs:
        return failed("wrong-value", "hadolint: " + "; ".join(f"{e['code']} at line {e['line']}: {e['message']}"
                                                              for e in errs[:3]),
                      f"fix line {errs[0]['line']} (https://github.com/hadolint/hadolint/wiki/{errs[0]['code']} "
                      "explains the rule)", codes=[e["code"] for e in errs], lines=[e["line"] for e in errs])
    return passed(f"no error-level finding ({len(findings)} warning/info/style)", findings=len(findings))


@criterion("l10.builds", "the image builds")
def builds(g: Grading):
    path = g.app / "Dockerfile"
    if not path.is_file() or not path.read_text().strip():
        return failed("missing", f"the Dockerfile in {g.app.name}/ is missing or empty", "write the Dockerfile",
                      file="Dockerfile")
    try:
        result = g.lab.build(g.app, "archive")
    except BuildFailed as exc:
        text = "\n".join(exc.log_tail + [exc.error])
        fix = "fix that instruction (the build's log above shows its output)"
        if "Permission denied" in text or "not writable" in text or "os error 13" in text:
            fix = ("the install ran as the non-root user, who may not write there: install as root first, then USER "
                   "(give the user only what it must write)")
        return build_failed(exc, fix, width=160)
    g.image = result.image
    return passed(f"built {result.tag}", tag=result.tag)


def _find(lab, result, port):
    """The container start() made: what it returned, else the running container that publishes ``port``."""
    if hasattr(result, "reload"):
        return result
    if isinstance(result, str):
        try:
            return lab.client.containers.get(result)
        except NotFound:
            pass
    for c in lab.client.containers.list():
        if any(b.get("HostPort") == str(port) for bs in (c.ports or {}).values() for b in bs or []):
            return c
    return None


@criterion("l10.serves", "start(image, port) serves /health")
def serves(g: Grading):
    image = g.need_image()
    port = g.port or free_port()
    try:
        result = g.start((image.tags or [image.id])[0], port)
    except Exception as exc:  # noqa: BLE001 - the learner's start() raised: say what Docker refused
        msg = str(getattr(exc, "explanation", None) or exc)
        if "already allocated" in msg or "address already in use" in msg:
            return failed("not-answering", f"start(image, {port}) could not publish port {port}: it is taken "
                          f"({short(msg, 120)})", "free the port (stop what holds it) and run the check again",
                          port=port, error=short(msg, 200))
        return failed("wrong-value", f"start(image, {port}) raised {type(exc).__name__}: {short(msg, 200)}",
                      "fix start(): it runs the container (client.containers.run(…, detach=True)) and returns it",
                      error=short(msg, 200))
    g.container = _find(g.lab, result, port)
    if g.container is None:
        return failed("missing", f"start(image, {port}) left no running container that publishes port {port}",
                      "start the container with ports={'8000/tcp': port} and return it", port=port)
    try:
        host_port = published_port(g.container, 8000)
    except (RuntimeError, KeyError, TypeError, DockerException):
        host_port = port
    try:
        status, body = http_get(host_port, "/health", timeout=g.timeout, container=g.container, expect_status=None)
    except ContainerExited:
        g.container.reload()
        logs, code = logs_tail(g.container, 20), g.container.attrs["State"].get("ExitCode")
        said = next((l for l in reversed(logs.splitlines()) if "cannot write to DATA_DIR" in l), "")
        if said:
            return failed("exited", f"the app stopped at start (exit {code}): {short(said.split('report_archive: ')[-1], 200)}",
                          FIX_DATA, exit_code=code)
        return failed("exited", explain_exit(code, logs)[1], "read `docker logs`: the app must keep running",
                      exit_code=code)
    except WaitTimeout:
        kind, seen = describe_listeners(listeners(g.container, g.lab), 8000)
        return failed("not-answering", f"no answer to GET /health on port {host_port} within {g.timeout:.0f} s: {seen}",
                      "publish the app's port 8000 on the port start() is given: ports={'8000/tcp': port}", port=host_port)
    if status != 200:
        return failed("not-answering", f"GET /health answered HTTP {status}: {short(body, 100)}", "answer 200 on /health",
                      status=status)
    g.port = host_port
    return passed(f"{g.container.name} answers GET /health on port {host_port}", container=g.container.name)


@criterion("l10.numeric-uid", "runs as a numeric non-root uid")
def numeric_uid(g: Grading):
    user, uid = g.running().attrs["Config"].get("User") or "", g.uid()
    if uid == 0:
        return failed("unsafe", "PID 1 runs as uid 0, root" + (f", although USER is {user!r}" if user else " (no USER)"),
                      FIX_USER, user=user, uid=0)
    if not user.split(":")[0].isdigit():
        return failed("wrong-value", f"USER is {user!r}, a name: Kubernetes' runAsNonRoot cannot verify a name (it does "
                      "not read the image's /etc/passwd) and refuses to start the pod", FIX_USER, user=user, uid=uid)
    return passed(f"USER {user}: PID 1 runs as uid {uid}", user=user, uid=uid)


@criterion("l10.code-read-only", "the code is read-only to the app's uid")
def code_read_only(g: Grading):
    c, uid = g.running(), g.uid()
    workdir = c.attrs["Config"].get("WorkingDir") or "/"
    if workdir == "/":
        return failed("missing", "no WORKDIR: the code lies in / among the system's files", "WORKDIR /app, before the "
                      "COPY of the code", workdir="/")
    gid = g.status().get("Gid", "0").split()[0]
    skip = sorted(set(g.mounts()) | {g.data_dir()})
    res = helper(g.lab, g.image.id, ["python3", "-c", CODE_SCAN, workdir, *skip], thing="check-code",
                 user=f"{uid}:{gid}", system_path=True)
    if not res.ok:
        raise RuntimeError(f"reading the permissions under {workdir} as uid {uid}: {short(res.output, 200)}")
    seen = json.loads(res.output.strip().splitlines()[-1])
    owners = {int(k): v for k, v in seen["owners"].items()}
    if seen["writable"]:
        n = len(seen["writable"])
        return failed("unsafe", f"uid {uid} may rewrite its own code: {n} of {seen['files']} paths under {workdir} are "
                      f"writable to it, e.g. {', '.join(seen['writable'][:4])}",
                      "COPY the code without --chown (root owns it, everyone reads it); --chown, or chown, only the "
                      "directory the app writes", uid=uid, writable=seen["writable"][:20], count=n, owners=owners)
    return passed(f"{seen['files']} paths under {workdir} (owners: uid {', '.join(map(str, sorted(owners)))}): none "
                  f"writable to uid {uid}", uid=uid, writable=[], owners=owners)


def _post(port: int, path: str) -> tuple[int, str]:
    req = urllib.request.Request(f"http://{host_address()}:{port}{path}", method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


@criterion("l10.data-volume", "only the data path is writable, on a volume")
def data_volume(g: Grading):
    data, mounts = g.data_dir(), g.mounts()
    dest = next((d for d in sorted(mounts, key=len, reverse=True) if data == d or data.startswith(d.rstrip("/") + "/")), None)
    kind = mounts.get(dest)
    if kind not in ("volume", "bind"):
        return failed("wrong-value" if kind else "missing",
                      f"{data} is a tmpfs: the reports live in memory, lost with the container" if kind == "tmpfs" else
                      f"nothing is mounted at {data}: the reports would go into the container's own layer, lost with it "
                      "(and --read-only refuses them)", FIX_DATA, data_dir=data, mount_type=kind or "")
    name = f"check-{random_names.token_hex(3)}"
    status, body = _post(g.port, f"/reports/{name}")
    if status != 201:
        return failed("wrong-value", f"{data} is a {kind}, but the app could not write a report there: POST /reports/"
                      f"{name} answered HTTP {status} ({short(body, 100)})", FIX_DATA, data_dir=data, mount_type=kind,
                      status=status)
    return passed(f"{data} is a {kind} mount, and the app wrote {name}.json there", data_dir=data, mount_type=kind)


@criterion("l10.read-only-root", "the root file system is read-only")
def read_only_root(g: Grading):
    c = g.running()
    flag = bool(c.attrs["HostConfig"].get("ReadonlyRootfs"))
    info = proc_text(c, "/proc/1/mountinfo", g.lab) or ""
    root = next((line.split()[5] for line in info.splitlines() if len(line.split()) > 5 and line.split()[4] == "/"), "")
    if "ro" not in root.split(","):
        return failed("unsafe", f"the root file system is writable: / is mounted `{root or '?'}` (ReadonlyRootfs "
                      f"{flag})", "start it with read_only=True (docker run --read-only)", readonly_rootfs=flag,
                      root_options=root)
    return passed(f"/ is mounted `{root}`: nothing outside the mounts can be written", readonly_rootfs=flag,
                  root_options=root)


@criterion("l10.caps-dropped", "no capabilities")
def caps_dropped(g: Grading):
    st = g.status()
    masks = {k: st.get(k, "") for k in ("CapEff", "CapPrm", "CapBnd")}
    if any(int(v or "0", 16) for v in masks.values()):
        names = cap_names(masks["CapBnd"])
        return failed("unsafe", f"PID 1 may still hold {len(names)} capabilities (CapBnd {masks['CapBnd']}: "
                      f"{', '.join(names[:5])}{' …' if len(names) > 5 else ''})", "cap_drop=['ALL'] (docker run "
                      "--cap-drop ALL)", caps=names, **{k.lower(): v for k, v in masks.items()})
    return passed("CapEff, CapPrm and CapBnd are all 0: no capability, not even through a setuid binary",
                  caps=[], capbnd=masks["CapBnd"])


@criterion("l10.no-new-privileges", "no new privileges")
def no_new_privileges(g: Grading):
    flag = g.status().get("NoNewPrivs", "?")
    if flag != "1":
        return failed("unsafe", f"NoNewPrivs is {flag}: a setuid binary could still raise the process's privileges",
                      "security_opt=['no-new-privileges:true'] (docker run --security-opt no-new-privileges:true)",
                      no_new_privs=flag)
    return passed("NoNewPrivs is 1: no setuid binary can raise its privileges", no_new_privs=flag)


CRITERIA = [
    dockerfile_lint, builds, serves, numeric_uid, code_read_only, data_volume, read_only_root, caps_dropped,
    no_new_privileges,
]


def grade(lab, app, start, *, port: int | None = None, timeout: float = 60, only=None, criteria=None) -> Checker:
    """Grade ``app`` (a workspace of sample_apps/report_archive) and the container ``start(image, port)`` runs. The
    container is left running (to inspect it, or to attack it: dockerlab.grading.attack)."""
    chk = Checker(LESSON, "harden report_archive")
    return chk.grade(criteria or CRITERIA, Grading(lab, Path(app), start, port, timeout), only=only)


def check(lab, app, start, **kwargs) -> Checker:
    """Grade, show the table, and raise CheckFailed unless every line passed."""
    return grade(lab, app, start, **kwargs).report()

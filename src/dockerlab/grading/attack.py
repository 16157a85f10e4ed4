"""Attack your own image: what anyone who can pull it, or run it, gets out of it, tried for real and shown as a table.

:func:`attack` tries, on an image the learner built (and, if given, the way the learner runs it):

* to **read secrets** from its config (``docker inspect``), its history (``docker history --no-trunc``: ENV, ARG
  defaults and the build arguments each ``RUN`` recorded), every file of every layer (``docker save``: a file deleted
  by a later layer is still there), a ``.env`` the ``.dockerignore`` let in, and every earlier stage of its
  Dockerfile built on its own (``docker build --target``: what a builder stage holds sits in the build cache);
* to **write** a marker file to ``/`` and to the code path (WORKDIR) in a throwaway container of the image, run with
  the learner's own options (user, ``--read-only``, capabilities, security options);
* to **reach the Docker socket** from that container.

Each attempt is one row: what it got (the leaked bytes, redacted to their first three characters, and the history
step and Dockerfile line that leaked them) or what stopped it. Bounded and harmless: it reads, and writes only the
marker, in a container removed at once. Secrets are looked for by value (``secrets={name: value}``) and by name
(``…_KEY=``, ``…TOKEN=``, ``.env``, ``id_rsa`` …). Provenance (``mode=max`` records build arguments) is lesson 14's.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from docker.errors import DockerException, NotFound

from dockerlab.grading.contents import SECRET_KEY, stage_images
from dockerlab.secrets import CONFIG_KEYS, image_index, redact
from dockerlab.run import remove
from dockerlab.show import TINTS, display, html_table, inline_code, quiet_cli, short, verdict

MARKER = ".dockerlab-attack-marker"
SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
KEPT = 4  # findings shown per row
# Files that hold credentials by their name (outside the system's and the packages' own directories).
SECRET_FILE = re.compile(r"(^|/)(\.env(\.[\w.-]+)?|\.netrc|\.git-credentials|\.pypirc|\.npmrc|id_(rsa|ed25519|ecdsa)"
                         r"|[^/]+\.(pem|key|p12)|\.docker/config\.json|\.aws/credentials|run/secrets/[^/]+"
                         r"|[^/]*(secret|token|passw|credential)[^/]*\.(txt|json|ya?ml))$", re.I)
SYSTEM = re.compile(r"^(usr|lib|lib64|bin|sbin|etc/ssl|etc/pki|var/lib|proc|sys)/|/(site|dist)-packages/|/\.?venv/")
NOT_SECRET = re.compile(r"(^GPG_KEY$|_FILE$|_KEY_ID$|PUBLIC|_PATH$|_DIR$)", re.I)
ASSIGNMENT = re.compile(r"(?<![\w-])([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S+)")


@dataclasses.dataclass
class Finding:
    """One thing an attack got: what (redacted), where (the history step and Dockerfile line), and the values behind."""

    what: str
    where: str = ""
    line: int | None = None  # the Dockerfile line that leaked it
    path: str | None = None  # the file that holds it
    name: str | None = None  # the secret's name (a variable, a build argument)


@dataclasses.dataclass
class Attempt:
    attack: str
    got: bool | None  # True: it got something; False: stopped; None: not tried
    what: str  # the leaked bytes (redacted), or what stopped it
    where: str = ""  # the history step and Dockerfile line that leaked it
    findings: list[Finding] = dataclasses.field(default_factory=list)  # behind ``what``


@dataclasses.dataclass
class AttackReport:
    image: str
    attempts: list[Attempt]

    @property
    def leaks(self) -> list[Attempt]:
        return [a for a in self.attempts if a.got]

    def by_attack(self, prefix: str) -> Attempt:
        return next(a for a in self.attempts if a.attack.startswith(prefix))

    def _repr_html_(self) -> str:
        marks = {True: verdict("✘ got it", "fail"), False: verdict("✔ stopped", "ok"), None: verdict("– not tried", "none")}
        rows = [[a.attack, marks[a.got], inline_code(a.what), inline_code(a.where)] for a in self.attempts]
        tints = [TINTS["fail" if a.got else "ok" if a.got is False else "none"] for a in self.attempts]
        title = f"attacking {self.image}: {len(self.leaks)} of {len(self.attempts)} attacks got something"
        columns = ["attack", "result", "what it got (redacted) / what stopped it", "leaked or let through by"]
        return html_table(columns, rows, title, tints)

    def __str__(self) -> str:
        marks = {True: "GOT", False: "stop", None: "--"}
        return "\n".join([f"attacking {self.image}"] + [f"{marks[a.got]:<4} {a.attack}: {a.what}" + (
            f" [{a.where}]" if a.where else "") for a in self.attempts])

    __repr__ = __str__


# --- reading the Dockerfile and the history ----------------------------------------------------------------------

def dockerfile_lines(text: str) -> list[tuple[int, str]]:
    """(line number, instruction) per logical line of a Dockerfile (continuations joined, comments left out)."""
    out, start, buf = [], 0, []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if not buf:
            start = n
        buf.append(line[:-1] if line.endswith("\\") else line)
        if not line.endswith("\\"):
            out.append((start, " ".join(" ".join(buf).split())))
            buf = []
    return out


def _bare(instruction: str) -> str:
    """An instruction without its --flags (``RUN --mount=… cmd`` -> ``RUN cmd``), white space folded."""
    words = instruction.split()
    return " ".join(words[:1] + [w for w in words[1:] if not w.startswith("--")]) if words else ""


def history_instruction(created_by: str) -> tuple[str, dict[str, str]]:
    """A history entry as its instruction, and the build arguments a RUN recorded (``RUN |1 K=V /bin/sh -c …``)."""
    s = " ".join((created_by or "").split()).replace(" # buildkit", "")
    s = re.sub(r"^/bin/sh -c #\(nop\)\s*", "", s)
    args: dict[str, str] = {}
    m = re.match(r"^RUN \|(\d+) (.*)$", s)
    if m:
        rest = m.group(2)
        for _ in range(int(m.group(1))):
            k, _, rest = rest.partition("=")
            v, _, rest = rest.partition(" ")
            args[k] = v
        s = "RUN " + rest
    s = re.sub(r"^(RUN )?/bin/sh -c ", "RUN ", s)
    return s.strip(), args


def line_for(instruction: str, lines: list[tuple[int, str]]) -> tuple[int | None, str]:
    """(N, ``Dockerfile line N: …``) of the instruction a history entry came from ((None, "") when none matches)."""
    want = _bare(instruction)
    key = want.split()[0].upper() if want else ""
    name = re.split(r"[=\s]", want.split(None, 1)[1])[0] if key in ("ENV", "ARG", "LABEL") and " " in want else None
    for n, text in lines:
        bare = _bare(text)
        head = bare.split()[0].upper() if bare else ""
        if head != key:
            continue
        if (name is not None and " " in bare and re.split(r"[=\s]", bare.split(None, 1)[1])[0] == name) or \
                (name is None and bare.split(None, 1)[1:] == want.split(None, 1)[1:]):
            return n, f"Dockerfile line {n}: {short(text, 70)}"
    return None, ""


def _secret_assignments(text: str) -> list[tuple[str, str]]:
    """``NAME=value`` pairs whose name says secret (``…_KEY``, ``…TOKEN``, ``…PASSWORD`` …) and whose value is one: not
    a path, not a variable, not a public key's fingerprint (``GPG_KEY``, ``…_FILE``, ``…_KEY_ID``)."""
    out = []
    for k, v in ASSIGNMENT.findall(text):
        v = v.strip("'\"")
        if SECRET_KEY.search(k) and not NOT_SECRET.search(k) and len(v) >= 6 and not v.startswith(("/", "$")):
            out.append((k, v))
    return out


def _redacted(text: str, values: dict[str, str]) -> str:
    for v in values.values():
        text = redact(text, v)
    for _, v in _secret_assignments(text):
        if "***" not in v:
            text = text.replace(v, v[:3] + "***")
    return text


# --- the attacks on the image ------------------------------------------------------------------------------------

def _row(attack: str, findings: list[Finding], stopped: str) -> Attempt:
    if not findings:
        return Attempt(attack, False, stopped)
    what = "; ".join(f.what for f in findings[:KEPT]) + (f"; and {len(findings) - KEPT} more" if len(findings) > KEPT else "")
    where = "; ".join(dict.fromkeys(f.where for f in findings[:KEPT] if f.where))
    return Attempt(attack, True, what, where, findings)


def _config(img, values, lines) -> list[Finding]:
    out, config = [], img.attrs.get("Config") or {}
    for key in CONFIG_KEYS:
        v = config.get(key)
        items = v if isinstance(v, list) else [f"{k}={x}" for k, x in v.items()] if isinstance(v, dict) else []
        for item in items:
            text = item if isinstance(item, str) else json.dumps(item)
            if any(val and val in text for val in values.values()) or _secret_assignments(text):
                name = text.split("=", 1)[0]
                n, where = line_for(f"ENV {name}=x" if key == "Env" else f"LABEL {name}=x", lines)
                out.append(Finding(f"{key}: {short(_redacted(text, values), 80)}", where, n, name=name))
    return out


def _history(img, values, lines) -> tuple[list, list]:
    steps, args = [], []
    entries = list(reversed(img.history()))
    for i, h in enumerate(entries, 1):
        instruction, recorded = history_instruction(h.get("CreatedBy") or "")
        n, line = line_for(instruction, lines)
        where = f"step {i}/{len(entries)}" + (f", {line}" if line else "")
        for k, v in recorded.items():
            if (v and v in values.values()) or (SECRET_KEY.search(k) and not NOT_SECRET.search(k) and len(v) >= 6):
                args.append(Finding(f"{k}={v[:3]}***", where, n, name=k))
        body = instruction.split(" ", 1)[1] if " " in instruction else ""
        if any(v and v in body for v in values.values()) or _secret_assignments(body):
            steps.append(Finding(short(_redacted(instruction, values), 80), where, n))
    return steps, args


def _layers(img, client, values) -> tuple[list, list]:
    index = image_index(img, client=client, needles=[v for v in values.values() if v])
    files, envs = [], []
    for name, value in values.items():
        for f in index.holding(value.encode()) if value else []:
            files.append(Finding(f"{name} ({value[:3]}***) in file {f.path}" + (", deleted later: still in its layer"
                                                                                  if f.deleted_later else ""),
                                 f"layer {f.layer}/{f.layers}" + (f": {f.step}" if f.step else ""), path=f.path, name=name))
    for f in index.files(lambda path, is_file: is_file and bool(SECRET_FILE.search(path)) and not SYSTEM.search(path)):
        found = Finding(f"file {f.path}" + (" (deleted later: still in its layer)" if f.deleted_later else ""),
                        f"layer {f.layer}/{f.layers}" + (f": {f.step}" if f.step else ""), path=f.path)
        (envs if re.search(r"(^|/)\.env", f.path) else files).append(found)
    return files, envs


def _search(lab, img, values, lines):
    config = _config(img, values, lines)
    steps, args = _history(img, values, lines)
    files, envs = _layers(img, lab.client, values)
    return config, steps, args, files, envs


# --- the attacks on a container of the image -----------------------------------------------------------------------

def _run_options(container) -> dict:
    """The options of the learner's own container that bound an attacker inside it (no volumes: nothing is written
    outside the throwaway container, except through a Docker socket, which is only read)."""
    if container is None:
        return {}
    container.reload()
    hc, cfg = container.attrs.get("HostConfig") or {}, container.attrs.get("Config") or {}
    opts = {"user": cfg.get("User") or None, "read_only": bool(hc.get("ReadonlyRootfs")),
            "cap_drop": hc.get("CapDrop") or None, "cap_add": hc.get("CapAdd") or None,
            "security_opt": hc.get("SecurityOpt") or None, "tmpfs": hc.get("Tmpfs") or None}
    socks = [m for m in container.attrs.get("Mounts") or [] if m.get("Destination") in SOCKETS]
    if socks:
        opts["volumes"] = {m["Source"]: {"bind": m["Destination"], "mode": "ro"} for m in socks}
    return {k: v for k, v in opts.items() if v not in (None, False)}


SOCKET_PROBE = ("import json, socket, sys\n"
                "s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])\n"
                "s.sendall(b'GET /version HTTP/1.0\\r\\nHost: docker\\r\\n\\r\\n')\n"
                "data = b''\n"
                "while chunk := s.recv(65536): data += chunk\n"
                "v = json.loads(data.split(b'\\r\\n\\r\\n', 1)[1])\n"
                "print('engine', v.get('Version'), 'on', v.get('KernelVersion'))\n")


def _in_container(lab, image: str, workdir: str, options: dict, given: bool) -> list[Attempt]:
    code = workdir or "/"
    try:
        with quiet_cli():
            c = lab.run(image, "attack", ["120"], entrypoint=["sleep"], **options)
    except (DockerException, RuntimeError) as exc:
        why = f"a container of the image did not start: {short(getattr(exc, 'explanation', None) or exc, 160)}"
        return [Attempt(a, None, why) for a in ("write to /", f"write to the code path {code}", "reach the Docker socket")]
    try:
        uid = c.exec_run(["id", "-u"]).output.decode(errors="replace").strip() or "?"
        rows = []
        for attack, target in (("write to /", f"/{MARKER}"), (f"write to the code path {code}", f"{code.rstrip('/')}/{MARKER}")):
            res = c.exec_run(["touch", target])
            said = res.output.decode(errors="replace").strip().splitlines()
            let = f"uid {uid}" + ("" if options.get("read_only") else ", a writable root file system (no --read-only)")
            rows.append(Attempt(attack, True, f"wrote {target} as uid {uid} (in a throwaway container, removed)", let)
                        if res.exit_code == 0 else
                        Attempt(attack, False, f"as uid {uid}: {short(said[-1] if said else f'exit {res.exit_code}', 100)}"))
        found = [s for s in SOCKETS if c.exec_run(["test", "-S", s]).exit_code == 0]
        if not found:
            rows.append(Attempt("reach the Docker socket", False,
                                f"no socket at {' or '.join(SOCKETS)}" + ("" if given else
                                                                         " (the image's defaults: run options not given)")))
        else:
            res = c.exec_run(["python3", "-c", SOCKET_PROBE, found[0]])
            said = short((res.output.decode(errors="replace").strip().splitlines() or [""])[-1], 100)
            rows.append(Attempt("reach the Docker socket", res.exit_code == 0,
                                f"{found[0]} answers GET /version as uid {uid}: {said} (the engine's API is root on "
                                "the host)" if res.exit_code == 0 else f"{found[0]} is mounted but refused: {said}",
                                "the container's mounts: " + found[0]))
        return rows
    finally:
        remove(c, client=lab.client, quiet=True)


# --- the whole attack ---------------------------------------------------------------------------------------------

def attack(lab, image, *, secrets: dict[str, str] | None = None, app=None, dockerfile: str = "Dockerfile",
           container=None, stages: bool = True, build_kwargs: dict | None = None, quiet: bool = False) -> AttackReport:
    """Attack ``image`` (a reference or an Image) as described in the module's docstring; return (and show) the
    report. ``secrets``: values to look for, ``{name: value}``; ``app``: the build context (its Dockerfile names the
    lines, its stages are built with ``build_kwargs``, e.g. ``{"secrets": {"id": path}}``); ``container``: the
    learner's running container (or its name), whose run options the throwaway container copies; ``quiet``:
    return the report without showing it."""
    values = {k: v for k, v in (secrets or {}).items() if v}
    try:
        img = image if hasattr(image, "attrs") else lab.client.images.get(image)
    except NotFound:
        raise NotFound(f"no image {image!r} on this engine: build it (run the check) first") from None
    ref = (img.tags or [img.id])[0]
    text = (Path(app) / dockerfile).read_text() if app is not None and (Path(app) / dockerfile).is_file() else ""
    lines = dockerfile_lines(text)
    config, steps, args, files, envs = _search(lab, img, values, lines)
    rows = [
        _row("read the image config (docker inspect)", config, "no secret in Env, Labels, Cmd or Entrypoint"),
        _row("read the history (docker history --no-trunc)", steps, "no secret in any step's ENV, ARG or command line"),
        _row("read the build arguments each RUN recorded", args,
             "no secret among the build arguments the history recorded (a provenance attestation with mode=max "
             "records them too: lesson 14)"),
        _row("read every file of every layer (docker save)", files,
             "no file holds a secret" + (f" ({', '.join(values)})" if values else "") + ", in any layer"),
    ]
    ignore = Path(app) / ".dockerignore" if app is not None else None
    rows.append(_row("find a .env the .dockerignore let in", envs,
                     "no .env in any layer" + ("" if ignore is None else ": .dockerignore keeps it out" if ignore.is_file()
                                               and re.search(r"(?m)^\s*\**/?\.env", ignore.read_text())
                                               else ": none in the build context")))
    if stages and text:
        found, built = [], stage_images(lab, app, "attack", dockerfile, **(build_kwargs or {}))
        for label, stage in built.items():
            c, s, a, f, e = _search(lab, stage, values, lines)
            found += [dataclasses.replace(x, what=f"stage {label}: {x.what}") for x in c + s + a + f + e]
        n = sum(1 for _, line in lines if line.upper().startswith("FROM "))
        attempt = _row("build an earlier stage from the cache (docker build --target)", found,
                       "no earlier stage: the build cache holds nothing the image does not show" if n < 2 else
                       f"built with --target: stage {', '.join(built)}; no secret in them")
        if n > 1 and not built:
            attempt = Attempt(attempt.attack, None, "no earlier stage could be built on its own (build_kwargs: the "
                              "secrets and arguments the build needs)")
        rows.append(attempt)
    else:
        rows.append(Attempt("build an earlier stage from the cache (docker build --target)", None,
                            "no Dockerfile given (app=…): the stages are not known"))
    if container is not None and isinstance(container, str):
        container = lab.client.containers.get(container)
    workdir = (container.attrs.get("Config") or {}).get("WorkingDir") if container is not None else None
    rows += _in_container(lab, img.id, workdir or (img.attrs.get("Config") or {}).get("WorkingDir") or "/",
                          _run_options(container), container is not None)
    report = AttackReport(ref, rows)
    if not quiet:
        display(report)
    return report


"""Lesson 06 exercise: fx_rates's two secrets, one needed while building, one while running, and neither leaked.

The learner writes fx_rates's Dockerfile and compose.yaml. The check runs them as a CI job would, with both secrets
in its environment (``FX_FEED_KEY``, ``DB_PASSWORD``) and as files next to the folder (``../secrets/…``): a careless
answer can reach for either, a correct one reads each from a file or a secret mount only. Then

1. ``docker compose build`` and ``up --wait``: the stack builds and its app comes up healthy;
2. the app serves the licensed rate table (fetch_rates.py decrypted it at build time with the key);
3. the app took its database password from the file ``DB_PASSWORD_FILE`` names, and it is the right one (its
   /health reports where from and the password's fingerprint, never the value);
4. ``docker inspect`` of every container of the project shows neither secret;
5. neither secret is anywhere in the image or in an earlier stage of its Dockerfile built on its own (config,
   history, every layer: :func:`dockerlab.grading.contents.secrets_anywhere`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import re
import tempfile
import time
from pathlib import Path


from dockerlab.compose import ComposeError, Stack
from dockerlab.grading.checker import Checker, NotEvaluated, criterion, failed, needed_running, passed
from dockerlab.grading.contents import secrets_anywhere, stage_images
from dockerlab.secrets import redact
from dockerlab.show import quiet_cli, short
from dockerlab.grading.lessons import lesson_hints

LESSON = "06_config_and_secrets"
APP = "fx_rates"
PROJECT = "fx"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
FIX_BUILD_SECRET = ("give the build the key as a secret: `build: {context: ., secrets: [fx_feed_key]}` with a top-level "
                    "`secrets: {fx_feed_key: {environment: FX_FEED_KEY}}`, and mount it in the one RUN that needs it, "
                    "as the variable fetch_rates.py reads: `RUN --mount=type=secret,id=fx_feed_key,env=FX_FEED_KEY …`")
FIX_RUN_SECRET = ("give the service the password as a file: `secrets: [db_password]` (a top-level `secrets: "
                  "{db_password: {file: ../secrets/db_password.txt}}`) and `DB_PASSWORD_FILE: /run/secrets/db_password` "
                  "in its environment, with no DB_PASSWORD")


# What the engine says when a host port is taken (its wording changed across Engine versions).
PORT_TAKEN = re.compile(r"Bind for \S+:(\d+) failed: port is already allocated|host port for [^\s:]+:(\d+)\S*: address "
                        r"already in use|listen tcp\d? \S+:(\d+): bind: address already in use")


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    key: str
    password: str
    stack: Stack | None = None
    service: str = ""
    config: dict = dataclasses.field(default_factory=dict)
    container: object = None
    image: object = None
    _health: dict | None = None

    @property
    def values(self) -> dict[str, str]:
        return {"FX_FEED_KEY": self.key, "DB_PASSWORD": self.password}

    def need_container(self):
        return needed_running(self.container, "the stack did not come up (line 1)")

    def health(self) -> dict:
        """GET /health, asked inside the app's container (``docker exec … python -c``): no published port needed."""
        if self._health is None:
            c = self.need_container()
            probe = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/health', timeout=5).read().decode())"
            for _ in range(20):  # a service without a health check is "up" once it runs, maybe before it listens
                res = c.exec_run(["python", "-c", probe])
                out = res.output.decode(errors="replace").strip()
                if res.exit_code == 0:
                    break
                time.sleep(0.5)
            else:
                raise NotEvaluated(f"GET /health inside {c.name} failed: {short(out, 160)}")
            self._health = json.loads(out.splitlines()[-1])
        return self._health

    def build_secrets(self, tmp: Path) -> dict[str, Path]:
        """{id: file} for every secret the Compose file hands the build (an ``environment:`` one written to ``tmp``)."""
        spec = ((self.config.get("services") or {}).get(self.service) or {}).get("build") or {}
        top, out = self.config.get("secrets") or {}, {}
        for s in spec.get("secrets") or []:
            name = s.get("source") if isinstance(s, dict) else s
            src = top.get(name) or {}
            if src.get("file"):
                out[name] = Path(src["file"])
            elif src.get("environment"):
                out[name] = tmp / name
                out[name].write_text(self.values.get(src["environment"], ""))
        return out


def _why_build_failed(g: Grading, text: str):
    dockerfile = (g.app / "Dockerfile").read_text() if (g.app / "Dockerfile").is_file() else ""
    step = next(iter(re.findall(r"\[\S* ?\d+/\d+\] (RUN [^\n]*)", text)[-1:]), "")
    if "401 Unauthorized" in text:
        mounts = re.findall(r"--mount=type=secret,[^\s]*", dockerfile)
        if mounts and not any("env=FX_FEED_KEY" in m for m in mounts):
            return failed("build-failed", f"fetch_rates.py got no key: the secret is mounted (`{mounts[0]}`) as a file, "
                          "and fetch_rates.py reads the environment variable FX_FEED_KEY only", FIX_BUILD_SECRET,
                          step=step, mounts=mounts)
        return failed("build-failed", "fetch_rates.py got no key (401 from the feed): nothing gave the RUN FX_FEED_KEY",
                      FIX_BUILD_SECRET, step=step, mounts=mounts)
    if "403 Forbidden" in text:
        return failed("build-failed", "the feed refused the key fetch_rates.py was given (403): not the licence key",
                      FIX_BUILD_SECRET, step=step)
    missing = re.search(r"secret (\S+?):? not found|undefined secret \"?([\w-]+)", text)
    if missing:
        return failed("missing", f"the build asks for a secret nothing provides: {short(missing.group(0), 120)}",
                      "the id in `RUN --mount=type=secret,id=…` must be a secret listed under the service's "
                      "`build: secrets:`", secret=next(x for x in missing.groups() if x))
    lines = [l for l in text.splitlines() if l.strip()]
    return failed("build-failed", f"docker compose build failed: {short(' '.join(lines[-3:]), 300)}",
                  "fix that step (the last lines of Compose's output say which)", step=step)


@criterion("l06.up", "the stack builds and comes up healthy")
def up(g: Grading):
    if not (g.app / "compose.yaml").is_file():
        return failed("missing", f"no compose.yaml in {g.app.name}/", "write compose.yaml next to the Dockerfile",
                      file="compose.yaml")
    dockerfile = g.app / "Dockerfile"
    if not dockerfile.is_file() or not dockerfile.read_text().strip():
        return failed("missing", f"no Dockerfile (or an empty one) in {g.app.name}/", "write the Dockerfile",
                      file="Dockerfile")
    # the secrets reach Compose as a CI job's would: in its environment, never in the printed commands
    g.stack = Stack(g.lab, g.app, project=PROJECT, timeout=300, secret_env=g.values)
    try:
        g.config = g.stack.config()
    except (ComposeError, ValueError) as exc:
        said = (getattr(exc, "output", "") or str(exc)).strip().splitlines() or [""]
        return failed("wrong-value", f"docker compose config rejects compose.yaml: {short(said[-1], 200)}",
                      "fix the YAML (docker compose config says where)", file="compose.yaml")
    built = [s for s, v in (g.config.get("services") or {}).items() if (v or {}).get("build") is not None]
    if not built:
        return failed("missing", "no service builds the image from this folder", "give the service `build: .`",
                      services=sorted(g.config.get("services") or {}))
    g.service = built[0]
    try:
        g.stack.compose("build", timeout=600)
    except ComposeError as exc:
        return _why_build_failed(g, f"{exc}\n{exc.output}")
    try:
        g.stack.compose("up", "--detach", "--wait", "--wait-timeout", "60", timeout=240)
    except ComposeError as exc:
        text = f"{exc}\n{exc.output}"
        taken = PORT_TAKEN.search(text)
        if taken:
            return failed("not-answering", f"Compose could not publish a port: {short(taken.group(0), 120)}",
                          "publish the container's port 8000 on a free host port, or let Docker pick one: `ports: "
                          "[\"8000\"]`", port=int(next(p for p in taken.groups() if p)))
        try:
            logs = g.stack.logs(tail=20)
        except ComposeError as again:
            logs = str(again)
        said = next((l.split("|", 1)[-1].strip() for l in reversed(logs.splitlines()) if "fx_rates:" in l), "")
        return failed("exited", f"the app did not come up healthy: {short(said or text.strip().splitlines()[-1], 240)}",
                      "read `docker compose logs`: app.py needs DB_PASSWORD_FILE (a file it can read) or DB_PASSWORD",
                      said=said)
    g.container = g.stack.container(g.service)
    g.image = g.lab.client.images.get(g.container.image.id)
    return passed(f"built {(g.image.tags or [g.image.id])[0]}; {g.container.name} is healthy", service=g.service)


@criterion("l06.rates", "the licensed rates are in the image")
def rates(g: Grading):
    h = g.health()
    if not h.get("rates"):
        return failed("missing", "the app serves no rates: the image has no data/rates.json, fetch_rates.py never ran",
                      "keep the step that runs fetch_rates.py (with the key mounted)", rates=0)
    return passed(f"{h['rates']} rates (base {h.get('base')}) from the licensed feed", rates=h["rates"])


@criterion("l06.password-file", "the app reads its password from a file (DB_PASSWORD_FILE)")
def password_file(g: Grading):
    h = g.health()
    said, got = h.get("db_password_from", ""), h.get("db_password_sha256", "")
    kind, _, where = said.partition(" ")  # "file /run/secrets/db_password" or "env DB_PASSWORD"
    if kind != "file":
        return failed("wrong-value", f"the app took the password from `{said}`: the value sits in the container's "
                      "environment", FIX_RUN_SECRET, source=kind, variable=where)
    if got != fingerprint(g.password):
        return failed("wrong-value", f"the app read {said}, and it is not the database password (fingerprint {got}, "
                      f"expected {fingerprint(g.password)})", "point the secret at ../secrets/db_password.txt",
                      source=kind, path=where, fingerprint=got)
    return passed(f"from {said} (the right password: fingerprint {got})", source=kind, path=where, fingerprint=got)


@criterion("l06.not-in-inspect", "no secret in docker inspect of the containers")
def not_in_inspect(g: Grading):
    g.need_container()
    found, names, variables = [], [], []
    for c in g.stack.containers():
        names.append(c.name)
        config = c.attrs.get("Config") or {}
        for key in ("Env", "Labels", "Cmd", "Entrypoint"):
            v = config.get(key) or []
            for item in v if isinstance(v, list) else [f"{k}={x}" for k, x in v.items()]:
                for name, value in g.values.items():
                    if value in item:
                        found.append(f"{c.name} Config.{key}: {short(redact(item, value), 60)}")
                        variables.append(item.split("=", 1)[0])
    if found:
        return failed("leaked", "docker inspect shows " + "; ".join(found[:3]), FIX_RUN_SECRET, where=found,
                      variables=sorted(set(variables)), containers=names)
    return passed(f"docker inspect {', '.join(names)}: neither secret in Env, Labels or Cmd", containers=names)


@criterion("l06.no-secret", "no secret in the image or its stages")
def no_secret(g: Grading):
    if g.image is None:
        raise NotEvaluated("the image did not build (line 1)")
    build = ((g.config.get("services") or {}).get(g.service) or {}).get("build") or {}
    with tempfile.TemporaryDirectory(prefix="dockerlab-l06-") as tmp, quiet_cli():
        stages = stage_images(g.lab, g.app, "fx-stage", build.get("dockerfile") or "Dockerfile",
                              secrets=g.build_secrets(Path(tmp)), buildargs={"FX_FEED_KEY": g.key})
        found = secrets_anywhere(g.lab, g.image, g.values, stages)
    if found:
        names = sorted({f.split(" in ", 1)[0] for f in found})
        return failed("leaked", f"the image shows {' and '.join(names)}: " + "; ".join(found[:3]),
                      "no ARG, ENV or COPY of a secret in any stage (a builder stage is in the build cache): "
                      + FIX_BUILD_SECRET, names=names, where=found)
    return passed("neither secret in the config, the history or any layer" + (f", nor in stage {', '.join(stages)}"
                                                                                if stages else ""), stages=sorted(stages))


CRITERIA = [up, rates, password_file, not_in_inspect, no_secret]


def grade(lab, app, key_file, password_file, *, only=None, down: bool = True) -> Checker:
    """Grade fx_rates's Dockerfile and compose.yaml in ``app``; the secrets are the contents of the two files."""
    g = Grading(lab, Path(app), Path(key_file).read_text().strip(), Path(password_file).read_text().strip())
    chk = Checker(LESSON, "fx_rates: two secrets, none leaked")
    try:
        chk.grade(CRITERIA, g, only=only)
    finally:
        if g.stack is not None and down:
            with quiet_cli():
                g.stack.cleanup()
        with contextlib.suppress(OSError):
            (g.app / ".dockerlab.labels.yaml").unlink()
    return chk


def check(lab, app, key_file, password_file, **kwargs) -> Checker:
    """Grade, show the table, and raise CheckFailed unless every line passed."""
    return grade(lab, app, key_file, password_file, **kwargs).report()

"""Lesson 12 exercise: a service that never becomes healthy (``sample_apps/dice_roller``), debugged and fixed.

The lesson debugged three services whose faults it named. ``dice_roller`` has faults the lesson did not show, to be
found with its tools: the exit code and the log say the entrypoint "does not exist" although it does (what is
missing is the interpreter its first line names), and once it runs, the health check fails for a reason only
``docker inspect`` shows (``State.Health.Log``). The learner fixes the files of their workspace copy.

``check(lab, app)`` builds the folder and judges what runs (:data:`CRITERIA`, by id): ``l12.builds``; ``l12.starts``
(it starts and stays up); ``l12.roll`` (it answers ``/roll`` on its published port); ``l12.healthy`` (its HEALTHCHECK
reaches healthy); ``l12.can-fail`` (that check fails where the app is not running: a check that always passes is no
check). The debugging rule: a failed line says what was observed and where to look, never the cause the learner
is there to find (no line endings, no "curl"): the health check's own output stays in ``State.Health.Log``.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from docker.errors import NotFound

from dockerlab.grading.checker import Checker, NotEvaluated, criterion, failed, needed, needed_ok, passed
from dockerlab.grading.rebuild import build_answer
from dockerlab.grading.learner import PORT_TAKEN, gone
from dockerlab.grading.probes import helper
from dockerlab.grading.serving import Served, healthcheck_can_fail, serve
from dockerlab.health import poll_health
from dockerlab.run import ContainerExited, WaitTimeout, http_get, remove
from dockerlab.show import short
from dockerlab.grading.lessons import lesson_hints

LESSON = "12_debugging"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
APP = "dice_roller"
PORT = 8000
HEALTH_TIMEOUT = 60
EXIT_KINDS = ("module", "file", "env", "bind_denied", "read_only", "exited")
NOT_FOUND = ("no such file or directory", "executable file not found")
NO_SUCH = re.compile(r"exec (\S+): no such file or directory")


@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    timeout: float
    image: str | None = None
    test: list = dataclasses.field(default_factory=list)  # the image's HEALTHCHECK test
    _served: Served | None = None

    def need_image(self) -> str:
        return needed(self.image)

    def served(self) -> Served:
        """The image run with port 8000 published on a free port (another one if that port was taken meanwhile)."""
        if self._served is None:
            for _ in range(2):
                try:
                    self._served = serve(self.lab, self.need_image(), "dice-check", port=PORT, path="/health",
                                         timeout=self.timeout)
                except NotFound:  # removed while it was asked
                    self._served = Served(None, 0, PORT, "/health", kind="gone")
                if not (self._served.kind == "not_started" and PORT_TAKEN.search(self._served.cause)):
                    break
        return self._served

    def running(self) -> Served:
        return needed_ok(self.served(), "the service did not start (line 2)")

    def close(self) -> None:
        if self._served is not None and self._served.container is not None:
            remove(self._served.container, client=self.lab.client, quiet=True)
        remove(self.lab.name("dice-check"), client=self.lab.client, quiet=True)  # created, never started


def missing_program(g: Grading, served: Served, code):
    """``exec PATH: no such file or directory``: is PATH in the image? Say what ``ls`` shows, not why."""
    path = NO_SUCH.search(served.logs).group(1)
    res = helper(g.lab, g.image, ["ls", "-l", path], thing="check-ls", system_path=True, timeout=30)
    if res.ok:
        return failed("exited", f"the container exited with code {code}: `exec {path}: no such file or directory`, "
                      f"yet `ls -l {path}` in the image shows it: {short(res.output.strip(), 100)}",
                      "the file is there, so look at the file itself, inside a container of the image (another "
                      "`entrypoint=`), and at what running it needs", exit_code=code, program=path, in_image=True)
    return failed("missing", f"the container exited with code {code}: {path} is not in the image "
                  f"({short(res.output.strip(), 80)})", "ENTRYPOINT/CMD must name a program the image has",
                  exit_code=code, program=path, in_image=False)


# --- the criteria ----------------------------------------------------------------------------------------------

@criterion("l12.builds", "the image builds")
def builds(g: Grading):
    result, problem = build_answer(g.lab, g.app, "dice", "keep the Dockerfile of dice_roller in the folder",
                                   "read the build log: lab.build(app, 'dice', log=True)", quiet=True)
    if problem:
        return problem
    g.image = result.tag
    g.test = ((g.lab.client.images.get(g.image).attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
    return passed(g.image, image=g.image)


@criterion("l12.starts", "starts and keeps running")
def starts(g: Grading):
    served = g.served()
    if served.kind == "gone":
        return gone(g.lab.name("dice-check"), "asked /health")
    if served.ok:
        return passed(f"running; GET /health on the published port -> HTTP {served.status}: {short(served.body, 60)}",
                      status=served.status)
    if served.container is None:
        if PORT_TAKEN.search(served.cause):
            return failed("check-error", f"could not publish container port {PORT}: host port {served.host_port}, free a "
                          "moment before, was in use when the container started (twice)", "run the check again",
                          port=served.host_port)
        cause = "missing" if any(s in served.cause for s in NOT_FOUND) else "exited"
        return failed(cause, served.cause, "ENTRYPOINT/CMD must name a program the image has", started=False)
    code = served.container.attrs["State"].get("ExitCode")
    if NO_SUCH.search(served.logs):
        return missing_program(g, served, code)
    cause = "exited" if served.kind in EXIT_KINDS else "not-answering"
    return failed(cause, served.cause, served.fix or "read `docker logs`: the last lines say why", exit_code=code,
                  kind=served.kind)


@criterion("l12.roll", "answers /roll from outside")
def roll(g: Grading):
    served = g.running()
    try:
        status, body = http_get(served.host_port, "/roll?n=5", timeout=10, container=served.container,
                                expect_status=None)
    except NotFound:
        return gone(served.container, "asked /roll")
    except ContainerExited as exc:
        return failed("exited", f"the container exited while /roll?n=5 was asked: {short(exc, 200)}", "read its log",
                      status="exited")
    except WaitTimeout as exc:
        return failed("not-answering", short(exc, 200), "the app must run as shipped (app.py)", path="/roll")
    try:
        got = json.loads(body)
        dice, sides = list(got["dice"]), int(got["sides"])
    except (ValueError, KeyError, TypeError):
        dice, sides = [], 0
    if status != 200 or len(dice) != 5 or not all(1 <= d <= sides for d in dice):
        return failed("wrong-value", f"GET /roll?n=5 -> HTTP {status}: {short(body, 100)}",
                      "the app must run as shipped (app.py), with its settings", status=status, dice=dice)
    return passed(f"5 dice of {sides} sides: {dice}", status=status, dice=dice, sides=sides)


@criterion("l12.healthy", "HEALTHCHECK reports healthy")
def healthy(g: Grading):
    g.need_image()
    if not g.test or g.test == ["NONE"]:
        return failed("missing", "the image has no HEALTHCHECK (removing it hides the fault, it does not fix it)",
                      "keep a HEALTHCHECK: Compose's depends_on: service_healthy and the capstone wait for healthy",
                      instruction="HEALTHCHECK")
    served = g.running()
    try:
        wait = poll_health(served.container, "healthy", HEALTH_TIMEOUT, give_up=("unhealthy",))
    except NotFound:
        return gone(served.container, "waited for healthy")
    if wait.reached:
        return passed(f"healthy after {wait.seconds:.0f} s", status="healthy")
    if wait.status == "exited":
        return failed("exited", wait.why(), "read `docker logs`", status="exited", exit_code=wait.exit_code)
    if wait.status == "starting":
        return failed("never-healthy", f"still starting after {wait.seconds:.0f} s: no health check has finished yet",
                      "check every few seconds (--interval), not every 30 s", status="starting")
    runs = ((served.container.attrs["State"].get("Health") or {}).get("Log")) or []
    codes = [r.get("ExitCode") for r in runs]
    # The debugging rule: the exit codes, and where the health check's own output is; not that output (the cause).
    return failed("never-healthy", f"status {wait.status} after {wait.seconds:.0f} s; its last {len(codes)} runs "
                  f"exited {', '.join(map(str, codes))}", "read what the health check itself printed: `docker inspect` "
                  "keeps the output of its last runs in State.Health.Log", status=wait.status, exit_codes=codes,
                  output=wait.last_check)


@criterion("l12.can-fail", "the health check can fail")
def can_fail(g: Grading):
    image = g.need_image()
    if not g.test or g.test == ["NONE"]:
        raise NotEvaluated("the image has no HEALTHCHECK (line 4)")
    ok, seen = healthcheck_can_fail(g.lab, image, g.test, thing="dice-idle")
    if ok is None:
        raise NotEvaluated(seen)
    if not ok:
        return failed("never-healthy", seen, "let the check fail when /health does not answer (no `|| exit 0`, not "
                      "`true`)", can_fail=False)
    return passed(seen, can_fail=True)


CRITERIA = [builds, starts, roll, healthy, can_fail]


def grade(lab, app, timeout: float = 30, *, only=None) -> Checker:
    """Build ``app`` (dice_roller), run it with port 8000 published and grade :data:`CRITERIA`; the filled table,
    recorded in the progress file (never raises). ``only``: the ids to grade (the rest: not evaluated)."""
    g = Grading(lab, Path(app), timeout)
    card = Checker(LESSON, "a service that never becomes healthy")
    return card.run(CRITERIA, g, numbered=False, only=only, cleanup=g.close)


def check(lab, app, timeout: float = 30) -> Checker:
    """Grade, and raise CheckFailed unless every line passed."""
    return grade(lab, app, timeout).raise_unless_passed()

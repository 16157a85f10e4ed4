"""Lesson 12 exercise: a service that never becomes healthy (``sample_apps/dice_roller``), debugged and fixed.

The lesson debugged three services whose faults it named. ``dice_roller`` has faults the lesson did not show, to be
found with its tools: the exit code and the log say the entrypoint "does not exist" although it does (what is
missing is the interpreter its first line names), and once it runs, the health check fails for a reason only
``docker inspect`` shows (``State.Health.Log``). The learner fixes the files of their workspace copy.

``check(lab, app)`` builds the folder and judges what runs: it starts and stays up, answers ``/roll`` on its
published port, its HEALTHCHECK reaches healthy, and that check fails where the app is not running (a check that
always passes is no check). Each failed line says what was observed, without naming the fix outright.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker
from dockerlab.run import http_get, poll_health, remove
from dockerlab.show import short
from dockerlab.grading.probes import helper
from dockerlab.grading.serving import healthcheck_can_fail, serve

LESSON = "12_debugging"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "Ask Docker, in the lesson's order: the exit code and the logs of the container (`container.wait()`, "
    "`container.logs()`), then its State (`docker inspect`). Fix one fault, rebuild, and ask again: the second "
    "fault shows only once the first is gone.",
    "\"no such file or directory\" about a file that `ls` shows in the image: for a script, the kernel runs the "
    "program its first line (#!) names, byte for byte; look at those bytes (`od -c` or `cat -A` in a container of "
    "the image, with `--entrypoint`). For the health check, `State.Health.Log` keeps the output of its last runs.",
    "Lesson 12, sections \"1. A container that crashes on start\", \"2. `docker cp` out of a stopped container\" and "
    "\"4. `inspect`: environment, mounts, ports\"; a health check that needs no tool the slim image lacks: lesson 09, "
    "section \"A health check without curl\".",
)
APP = "dice_roller"
PORT = 8000
HEALTH_TIMEOUT = 60
LINES = ["the image builds", "starts and keeps running", "answers /roll from outside", "HEALTHCHECK reports healthy",
         "the health check can fail"]
NO_SUCH = re.compile(r"exec (\S+): no such file or directory")


def _missing_program(lab, image: str, logs: str, code) -> tuple[str, str] | None:
    """``exec PATH: no such file or directory``: is PATH in the image? If it is, the missing piece is its interpreter."""
    m = NO_SUCH.search(logs)
    if not m:
        return None
    path = m.group(1)
    res = helper(lab, image, ["ls", "-l", path], thing="check-ls", system_path=True, timeout=30)
    if res.ok:
        return (f"the container exited with code {code}: `exec {path}: no such file or directory`, yet `ls -l {path}` "
                f"in the image shows it: {short(res.output.strip(), 100)}"), (
            "the file exists, so what the kernel could not find is the program that runs it: look at the script's "
            "first line, byte by byte, in a container of the image")
    return (f"the container exited with code {code}: {path} is not in the image ({short(res.output.strip(), 80)})",
            "ENTRYPOINT/CMD must name a program the image has")


def check(lab, app, timeout: float = 30) -> Checker:
    """Build ``app`` (dice_roller), run it with port 8000 published, and judge: up, /roll, healthy, a check that can fail."""
    app = Path(app)
    c = Checker(LESSON, "a service that never becomes healthy", planned=LINES)
    try:
        image = lab.build(app, "dice", quiet=True).tag
    except (BuildFailed, FileNotFoundError) as exc:
        c.fail(LINES[0], f"the build failed: {short(str(exc).splitlines()[0], 200)}", "read the build log: lab.build(app, 'dice')")
        return c.report()
    c.ok(LINES[0], image)

    served = serve(lab, image, "dice-check", port=PORT, path="/health", timeout=timeout)
    try:
        if not served.ok:
            code = served.container.attrs["State"].get("ExitCode") if served.container is not None else None
            why = _missing_program(lab, image, served.logs, code) if served.container is not None else None
            c.fail(LINES[1], *(why or (served.cause, served.fix or "read `docker logs`: the last lines say why")))
            return c.report()
        c.ok(LINES[1], f"running; GET /health on the published port -> HTTP {served.status}: {short(served.body, 60)}")

        status, body = http_get(served.host_port, "/roll?n=5", timeout=10, container=served.container, expect_status=None)
        try:
            got = json.loads(body)
            dice, sides = got["dice"], int(got["sides"])
            fine = status == 200 and len(dice) == 5 and all(1 <= d <= sides for d in dice)
        except (ValueError, KeyError, TypeError):
            fine, dice, sides = False, [], 0
        c.expect(fine, LINES[2], f"GET /roll?n=5 -> HTTP {status}: {short(body, 100)}",
                 fix="the app must run as shipped (app.py), with its settings", ok=f"5 dice of {sides} sides: {dice}")

        test = ((lab.client.images.get(image).attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
        if not test or test == ["NONE"]:
            c.fail(LINES[3], "the image has no HEALTHCHECK (removing it hides the fault, it does not fix it)",
                   "keep a HEALTHCHECK: Compose's depends_on: service_healthy and the capstone wait for healthy")
            return c.report()
        wait = poll_health(served.container, "healthy", HEALTH_TIMEOUT, give_up=("unhealthy",))
        c.expect(wait.reached, LINES[3], f"never healthy: {wait.why()}",
                 fix=("read the health check's own output (State.Health.Log): it must ask /health with a program the "
                      "image has" if wait.status != "starting" else "check every few seconds (--interval), not every 30 s"),
                 ok=f"healthy after {wait.seconds:.0f} s")
    finally:
        if served.container is not None:
            remove(served.container, client=lab.client, quiet=True)

    can_fail, seen = healthcheck_can_fail(lab, image, test, thing="dice-idle")
    if can_fail is None:
        c.skip(LINES[4], seen)
    else:
        c.expect(can_fail, LINES[4], seen, fix="let the check fail when /health does not answer (no `|| exit 0`, not `true`)",
                 ok=seen)
    return c.report()

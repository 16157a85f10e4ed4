"""Lesson 04 exercise: a multi-stage build for an app with a C extension.

The check builds the learner's Dockerfile and inspects the final image: the app answers, there is no C
compiler in it, and its size stays under a budget derived from what the app really needs: the base python
image, plus the packages installed into site-packages (measured inside the image), plus a small slack.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..build import BuildFailed, BuildResult
from ..checks import Checker
from ..images import ref as image_ref
from ..run import ContainerExited, WaitTimeout, http_get, logs_tail, remove, wait_exit
from ..show import human_size
from ..show import short as _short

LESSON = "04_multi_stage"
CONTAINER_PORT = 8000
EXPECTED_FIB_90 = 2880067194370816120
SLACK = 10_000_000  # app files, wheel files, metadata: 10 MB
COMPILERS = ("gcc", "cc", "c99", "x86_64-linux-gnu-gcc", "aarch64-linux-gnu-gcc")
# Every site-packages / dist-packages directory in the image, with its size in bytes.
SITE_PACKAGES_SCRIPT = ("find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -type d "
                        "\\( -name site-packages -o -name dist-packages \\) -print -prune | xargs -r du -sb")


def sh(lab, image: str, thing: str, script: str, timeout: float = 60) -> tuple[int, str]:
    """Run ``sh -c SCRIPT`` in a throwaway container of ``image``; return (exit code, output)."""
    c = lab.run(image, thing, command=[script], entrypoint=["/bin/sh", "-c"])
    try:
        state = wait_exit(c, timeout=timeout)
        return state.get("ExitCode", -1), c.logs().decode(errors="replace")
    finally:
        remove(c, quiet=True)


def compilers_in(lab, image: str) -> list[str]:
    """Paths of C compilers on PATH in ``image`` (``command -v gcc cc …``); empty when there is none."""
    _, out = sh(lab, image, "probe-gcc", " ; ".join(f"command -v {c}" for c in COMPILERS) + " ; true")
    return [l.strip() for l in out.splitlines() if l.strip().startswith("/")]


def site_packages_bytes(lab, image: str) -> int:
    """Total bytes of every site-packages/dist-packages directory in ``image`` (``du -sb``)."""
    _, out = sh(lab, image, "probe-site", SITE_PACKAGES_SCRIPT)
    total = 0
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0].isdigit():
            total += int(parts[0])
    return total


def budget(lab, image: str) -> tuple[int, str]:
    """The size budget for ``image`` and how it was derived (base image + installed packages + slack)."""
    base_ref = image_ref("python")
    base_size = lab.client.images.get(base_ref).attrs["Size"]
    added = max(0, site_packages_bytes(lab, image) - site_packages_bytes(lab, base_ref))
    total = base_size + added + SLACK
    how = (f"budget {human_size(total)} = base {base_ref} {human_size(base_size)} + packages the image adds to "
           f"site-packages {human_size(added)} (measured with du inside both images) + {human_size(SLACK)} slack")
    return total, how


def stages(dockerfile_text: str) -> list[tuple[str, str]]:
    """The ``FROM`` lines as (image, stage name)."""
    out = []
    for m in re.finditer(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", dockerfile_text, re.I | re.M):
        out.append((m.group(1), (m.group(2) or "").lower()))
    return out


def _final_stage_text(dockerfile_text: str) -> str:
    parts = re.split(r"^\s*FROM\s", dockerfile_text, flags=re.I | re.M)
    return parts[-1] if parts else ""


def compiler_fix(dockerfile_text: str) -> str:
    st = stages(dockerfile_text)
    names = {name for _, name in st if name}
    if len(st) < 2:
        return ("one stage only: build the wheel (or a venv) in a `FROM … AS builder` stage that installs gcc, "
                "then start a second `FROM` the plain python image and COPY --from=builder only what was built")
    if st[-1][0].lower() in names:
        return (f"the final stage starts `FROM {st[-1][0]}`, so it inherits the compiler: start it from the plain "
                "python image instead")
    if re.search(r"^\s*COPY\s+--from=\S+\s+/\s", _final_stage_text(dockerfile_text), re.M | re.I):
        return ("the final stage copies the builder's whole filesystem (`COPY --from=… / …`): copy only the wheels "
                "directory or the venv")
    return "install gcc only in the builder stage; the final stage must not apt-get install it"


def build_fix(step: str) -> str:
    """How to fix a build that failed at ``step``."""
    m = re.search(r"--mount=(\S+)", step or "")
    if m and "type=bind" in m.group(1) and "from=" not in m.group(1):
        return ("a bind mount without `from=` mounts the build context, which has no wheels: mount the builder's "
                "(`RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels pip install …`)")
    return "read the build log above; gcc is needed where the wheel is built (apt-get install gcc libc6-dev)"


def check(lab, app: Path, dockerfile: str = "Dockerfile", timeout: float = 30) -> Checker:
    """Build ``app`` and check the final image: the app answers, no compiler, size under the derived budget."""
    app = Path(app)
    text = (app / dockerfile).read_text()
    c = Checker(LESSON, "multi-stage build")
    try:
        result: BuildResult = lab.build(app, "exercise", dockerfile=dockerfile)
    except BuildFailed as exc:
        c.fail("the image builds", f"the build failed at `{_short(exc.step, 60)}`: {_short(exc.error, 160)}",
               build_fix(exc.step))
        return c.report()
    n = len(stages(text))
    c.expect(n >= 2, "the Dockerfile has a builder and a runtime stage", f"{n} FROM line(s)",
             "add a `FROM … AS builder` stage for compiling and a second FROM for the runtime",
             detail_ok=f"{n} stages")

    # 1. The app still runs.
    port = lab.free_port()
    container = None
    try:
        container = lab.run(result.tag, "exercise-app", ports={f"{CONTAINER_PORT}/tcp": port})
        status, body = http_get(port, "/", timeout=timeout, container=container)
        c.expect(status == 200 and str(EXPECTED_FIB_90) in body, "the app answers with the C extension's result",
                 f"HTTP {status}: {_short(body, 100)}", "the runtime must run `python -m nativedemo` on port 8000",
                 detail_ok=f"HTTP {status} {_short(body, 60)}")
    except (ContainerExited, WaitTimeout) as exc:
        logs = logs_tail(container, 8) if container is not None else ""
        if "No module named" in logs or "ModuleNotFoundError" in logs:
            fix = ("the runtime stage does not have the built package: pip install the builder's wheels "
                   "(`RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels pip install …`, or "
                   "COPY --from=builder the wheels first), or COPY --from=builder the whole venv and put its bin on PATH")
        else:
            fix = "the final image must start the app: CMD [\"python\", \"-m\", \"nativedemo\"] on port 8000"
        c.fail("the app answers with the C extension's result", f"{str(exc).splitlines()[0].rstrip(':')}; "
               f"logs: {_short(logs, 200)}", fix)
    finally:
        if container is not None:
            remove(container, quiet=True)

    # 2. No compiler in the image that ships.
    found = compilers_in(lab, result.tag)
    c.expect(not found, "no C compiler in the final image", f"found {', '.join(found)} (`which gcc` succeeds)",
             compiler_fix(text), detail_ok="`command -v gcc cc` finds nothing")

    # 3. Size under the budget derived from what the app needs.
    limit, how = budget(lab, result.tag)
    size = result.size
    c.expect(size <= limit, "the final image is within its size budget",
             f"final image {human_size(size)} is over the {how}",
             compiler_fix(text) if found else ("install only the built wheels (bind-mounted or copied from the "
                                               "builder) or copy only the venv into a fresh python stage"),
             detail_ok=f"final image {human_size(size)} is within the {how}")
    return c.report()

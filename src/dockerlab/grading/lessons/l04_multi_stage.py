"""Lesson 04 exercise: a multi-stage build for an app with a C extension.

The check builds the learner's Dockerfile and inspects the final image: the app answers, there is no C
compiler in it (by any name, anywhere: not only on PATH), and its size stays under a budget derived from what the app really needs: the base python
image, plus the packages installed into site-packages (measured inside the image), plus a small slack.
"""
from __future__ import annotations

import re
from pathlib import Path

from dockerlab.build import BuildFailed, BuildResult
from dockerlab.imagelayers import unpacked_size
from dockerlab.grading.checker import Checker
from dockerlab.images import ref as image_ref
from dockerlab.run import remove
from dockerlab.show import human_size
from dockerlab.show import short as _short
from dockerlab.grading.contents import size_budget
from dockerlab.dockerfile import parse
from dockerlab.grading.probes import helper
from dockerlab.grading.serving import serve

LESSON = "04_multi_stage"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "Two FROM lines: a builder stage that has gcc and compiles, and a final stage that starts again from the plain "
    "python image and never sees the compiler.",
    "A wheel is the compiled package in one file: it installs without a compiler. Build the wheels in the builder; "
    "in the final stage install them without a copy of them staying in a layer, and copy nothing else from the builder.",
    "Lesson 04, sections \"Builder + runtime\" and \"Install the wheels without keeping them: a bind mount\" "
    "explain both stages and how the final one reads files from the builder.",
)
CONTAINER_PORT = 8000
EXPECTED_FIB_90 = 2880067194370816120
SLACK = 10_000_000  # app files, wheel files, metadata: 10 MB
# A C compiler by any of its names, wherever it is (not only on PATH): the drivers and the compiler proper (cc1).
COMPILER_SCRIPT = ("find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o \\( -type f -o -type l \\) -perm /111 "
                   "\\( -name gcc -o -name cc -o -name c99 -o -name cc1 -o -name 'gcc-[0-9]*' -o -name '*-gcc' "
                   "-o -name '*-gcc-[0-9]*' -o -name clang -o -name 'clang-[0-9]*' \\) -print")
FIXES = {
    "module": ("the runtime stage does not have the built package: pip install the builder's wheels "
               "(`RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels pip install …`, or "
               "COPY --from=builder the wheels first), or COPY --from=builder the whole venv and put its bin on PATH"),
    "http": "the runtime must run `python -m nativedemo` on port 8000",
}
DEFAULT_FIX = "the final image must start the app: CMD [\"python\", \"-m\", \"nativedemo\"] on port 8000"


def sh(lab, image: str, thing: str, script: str, timeout: float = 60) -> tuple[int, str]:
    """Run ``sh -c SCRIPT`` in a throwaway container of ``image`` (as its own user); return (exit code, output)."""
    res = helper(lab, image, ["/bin/sh", "-c", script], thing=thing, user=None, timeout=timeout)
    return (-1 if res.exit_code is None else res.exit_code), res.output


def compilers_in(lab, image: str) -> list[str]:
    """Paths of C compilers anywhere in ``image`` (gcc, cc, cc1, gcc-14 …, searched as root, on PATH or not)."""
    res = helper(lab, image, ["/bin/sh", "-c", COMPILER_SCRIPT], thing="probe-gcc", system_path=True)
    found = {l.strip() for l in res.output.splitlines() if l.startswith("/") and ": " not in l}
    return sorted(found, key=lambda p: (p.rsplit("/", 1)[-1] != "gcc", "/bin/" not in p, p))  # /usr/bin/gcc first


def compiler_fix(dockerfile_text: str) -> str:
    df = parse(dockerfile_text)
    final = df.final
    if len(df.stages) < 2 or final is None:
        return ("one stage only: build the wheel (or a venv) in a `FROM … AS builder` stage that installs gcc, "
                "then start a second `FROM` the plain python image and COPY --from=builder only what was built")
    if df.is_stage(final.base):
        return (f"the final stage starts `FROM {final.base}`, so it inherits the compiler: start it from the plain "
                "python image instead")
    if any(re.match(r"COPY\s+(?:--\S+\s+)*--from=\S+\s+(?:--\S+\s+)*/\s", i, re.I) for i in final.instructions):
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
    n = len(parse(text).stages)
    c.expect(n >= 2, "the Dockerfile has a builder and a runtime stage", f"{n} FROM line(s)",
             fix="add a `FROM … AS builder` stage for compiling and a second FROM for the runtime", ok=f"{n} stages")

    # 1. The app still runs.
    served = serve(lab, result.tag, "exercise-app", port=CONTAINER_PORT, path="/", timeout=timeout)
    if served.container is not None:
        remove(served.container, client=lab.client, quiet=True)
    name = "the app answers with the C extension's result"
    if served.ok:
        c.expect(str(EXPECTED_FIB_90) in served.body, name, f"HTTP {served.status}: {_short(served.body, 100)}",
                 fix=FIXES["http"], ok=f"HTTP {served.status} {_short(served.body, 60)}")
    else:
        c.fail(name, served.cause, FIXES.get(served.kind, DEFAULT_FIX))

    # 2. No compiler in the image that ships.
    found = compilers_in(lab, result.tag)
    c.expect(not found, "no C compiler in the final image",
             f"found {', '.join(found[:3])}{f' and {len(found) - 3} more' if len(found) > 3 else ''} in the image",
             fix=compiler_fix(text), ok="no gcc, cc or cc1 anywhere in the image")

    # 3. Size under the budget derived from what the app needs.
    budget = size_budget(lab, result.image, image_ref("python"), SLACK)
    size = unpacked_size(result.image, lab.client)
    c.expect(size <= budget.limit, "the final image is within its size budget",
             f"final image {human_size(size)} is over the {budget.how()}",
             fix=compiler_fix(text) if found else ("install only the built wheels (bind-mounted or copied from the "
                                                   "builder) or copy only the venv into a fresh python stage"),
             ok=f"final image {human_size(size)} is within the {budget.how()}")
    return c.report()

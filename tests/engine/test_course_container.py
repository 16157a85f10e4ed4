"""The course container (top-level Dockerfile): it builds, runs as a non-root user, drives the HOST engine
through the mounted socket with the docker CLI, buildx and compose, imports `dockerlab` from the mounted
course folder, and runs the preflight notebook (papermill) the way a learner's JupyterLab would.

It is started as docs/course-container.md says (Linux form): the course folder mounted at the same path,
``--network host``, ``--group-add <socket's group>``, and, when the host user is not root, ``--user uid:gid``.
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from dockerlab import Lesson, paths
from dockerlab.cleanup import cleanup as cleanup_objects
from dockerlab.cleanup import course_objects
from dockerlab.engine import get_client
from dockerlab.namespace import set_namespace, slug
from dockerlab.run import remove

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
SOCKET = "/var/run/docker.sock"
NS = slug(os.environ.get("DOCKERLAB_NAMESPACE", "test") + "-cc")
INNER_NS = slug(NS + "-in")  # the notebooks' namespace inside the course container


def notebooks() -> list[str]:
    """The preflight: engine, BuildKit, Compose, images and a first container from inside the course container (the
    lessons themselves are proven by the notebook groups on the same engine)."""
    return ["notebooks/00_preflight.ipynb"]


@pytest.fixture(scope="module")
def lab():
    lab = Lesson("97_course_container", namespace=NS, quiet=True)
    try:
        yield lab
    finally:
        set_namespace(NS)
        lab.cleanup(quiet=True)
        cleanup_objects(ns=INNER_NS, quiet=True)
        set_namespace(None)


@pytest.fixture(scope="module")
def image(lab):
    t0 = time.monotonic()
    result = lab.build(ROOT, "course", quiet=True, timeout=1500)
    print(f"\ncourse image {result.tag} built in {time.monotonic() - t0:.1f} s "
          f"({len(result.cached())}/{len(result.steps)} steps cached)")
    return result.tag


def run_inside(lab, image: str, thing: str, script: str, timeout: float = 1200) -> tuple[int, str]:
    """Run ``sh -c script`` in the course container, as documented; return (exit code, logs)."""
    uid = os.getuid()
    env = {"DOCKERLAB_ROOT": str(ROOT), "DOCKERLAB_NAMESPACE": INNER_NS, "PYTHONUNBUFFERED": "1"}
    kwargs = {}
    if uid != 0:  # run as the host user, so files written into the course folder are theirs
        kwargs["user"] = f"{uid}:{os.getgid()}"
    c = lab.run(
        image, thing, ["sh", "-c", script],
        network_mode="host",
        group_add=[str(os.stat(SOCKET).st_gid)],
        volumes={SOCKET: {"bind": SOCKET, "mode": "rw"}, str(ROOT): {"bind": str(ROOT), "mode": "rw"}},
        working_dir=str(ROOT),
        environment=env,
        **kwargs,
    )
    try:
        state = lab.wait_exit(c, timeout=timeout)
        return state["ExitCode"], c.logs().decode(errors="replace")
    finally:
        remove(c, quiet=True)


@pytest.fixture(scope="module")
def workspace_dir():
    """Lessons write their private copies under .dockerlab/work/<ns>: writable for the container's user.

    When the host user is root (CI), the container runs as the image's `learner` (uid 1000), so the
    namespace's workspace folder is made for it (and removed afterwards).
    """
    ws = paths.workspace_root(INNER_NS)
    ws.mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        os.chown(ws, 1000, 1000)  # only the namespace's own folder changes owner; shared parents stay as they are
    try:
        yield ws
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def test_tools_user_and_mounted_package(lab, image):
    script = "\n".join([
        "set -e",
        'echo "UID=$(id -u)"',
        "docker version --format 'SERVER={{.Server.Version}}'",
        "docker buildx version",
        'echo "COMPOSE=$(docker compose version --short)"',
        "python -c 'import dockerlab; print(\"DOCKERLAB=\" + dockerlab.__file__)'",
        "python -c 'from dockerlab.paths import repo_root; print(\"ROOT=\" + str(repo_root()))'",
        "dockerlab --help >/dev/null && echo CLI=ok",
        "jupyter lab --version",
        "docker version --format 'CLIENT={{.Client.Version}}'",
        # a BuildKit build through dockerlab: its steps come from `docker build --progress=rawjson`
        "python - <<'PY'\n"
        "import pathlib, tempfile, dockerlab\n"
        "lab = dockerlab.Lesson('97_course_container', quiet=True)\n"
        "d = pathlib.Path(tempfile.mkdtemp())\n"
        "(d / 'Dockerfile').write_text(f'FROM {lab.base()}\\nRUN echo built > /built\\n')\n"
        "print('STEPS=%d' % len(lab.build(d, 'probe', quiet=True).steps))\n"
        "lab.cleanup(quiet=True)\n"
        "PY",
    ])
    code, logs = run_inside(lab, image, "tools", script, timeout=120)
    assert code == 0, logs
    lines = dict(l.split("=", 1) for l in logs.splitlines() if "=" in l and l.split("=", 1)[0].isupper())
    assert lines.get("UID") not in (None, "0"), f"the course container runs as root:\n{logs}"
    assert lines.get("SERVER") == get_client().version()["Version"], logs  # the host's engine
    assert "github.com/docker/buildx" in logs, logs
    assert int(lines.get("COMPOSE", "0").lstrip("v").split(".")[0]) >= 2, logs  # Compose v2, the plugin
    assert lines.get("DOCKERLAB") == str(ROOT / "src" / "dockerlab" / "__init__.py"), \
        f"dockerlab is not imported from the mounted course folder:\n{logs}"
    assert lines.get("ROOT") == str(ROOT), logs
    assert lines.get("CLI") == "ok", logs
    assert int(lines.get("CLIENT", "0").split(".")[0]) >= 28, f"an old docker CLI in the course container:\n{logs}"
    assert int(lines.get("STEPS", "0")) >= 2, f"a build inside reported no BuildKit steps:\n{logs}"


def test_lesson_notebooks_pass_inside(lab, image, workspace_dir):
    nbs = notebooks()
    # papermill, as `dockerlab run-all` runs the course (the test tools, pytest and nbval, are not in the course image)
    script = " && ".join(f"python -m papermill --no-progress-bar -k python3 --cwd {Path(nb).parent} {nb} /tmp/{Path(nb).name}"
                         for nb in nbs) + " && echo NOTEBOOKS-PASSED"
    t0 = time.monotonic()
    code, logs = run_inside(lab, image, "notebooks", script, timeout=1500)
    tail = "\n".join(logs.splitlines()[-60:])
    print(f"\nthe notebooks inside the course container ({', '.join(nbs)}): {time.monotonic() - t0:.1f} s: "
          f"{tail.splitlines()[-1] if tail else '(no output)'}")
    assert code == 0 and "NOTEBOOKS-PASSED" in tail, f"a notebook failed inside the course container:\n{tail}"
    left = course_objects(ns=INNER_NS, kinds=("containers", "networks", "volumes"))
    assert not any(left.values()), f"the notebooks left course objects behind: {left}"

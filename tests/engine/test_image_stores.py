"""Both image stores, each proven where it differs.

The host engine runs the whole course on the **containerd image store** (scripts/install-engine sets it: Docker
Desktop's and new Engine 29 installs' default), so every notebook, solution, exercise and engine test proves that
store. This unit keeps the **classic overlay2 store** honest, which learners on an older Engine still have: one helper
engine in a container with the classic store (dockerlab.dind.Engine, removed after the unit) runs

* the helpers that read images differently per store (tests/engine/stores/helpers_by_store.py: layers, ``docker
  save`` content checks, size budgets, image IDs vs digests, the multi-platform index), on both stores;
* lessons 02 and 06 (notebook and solution), which read layers most, under nbval as the notebook groups do.

The helper engine gets the course images those lessons use (amd64 only, ``docker save --platform``) and the repository
bind-mounted at the same path, so the lessons' bind mounts work; processes reach it through DOCKER_HOST and its
published ports through DOCKERLAB_HOST_ADDR, as in the course container.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockerlab import Lesson, dind, images
from dockerlab.engine import image_store

ROOT = Path(__file__).resolve().parents[2]
HELPERS = "tests/engine/stores/helpers_by_store.py"
CLASSIC_LESSONS = ["02_first_dockerfile", "06_config_and_secrets"]
CLASSIC_IMAGES = ["python", "python-full"]
NBVAL = ["--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", "tests/sanitize.cfg",
         "--nbval-kernel-startup-timeout", "240"]
LOGS = ROOT / "build" / "test-results" / "logs"


def _pytest(args: list[str], env: dict, log: str, timeout: int = 1200) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / log).write_text(proc.stdout + proc.stderr)  # every failing cell, not only the last lines
    return proc.returncode, "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-60:])


@pytest.fixture(scope="module")
def lab():
    with Lesson("96_image_stores", quiet=True) as lesson:
        yield lesson


@pytest.fixture(scope="module")
def classic(lab):
    engine = dind.Engine(lab.name("classic"), labels=lab.labels, containerd_store=False,
                         binds={str(ROOT): str(ROOT)}, client=lab.client)
    engine.start(quiet=True)
    try:
        assert image_store(engine.client().info()) == "overlay2"
        engine.load([images.ref(k) for k in CLASSIC_IMAGES], platform="linux/amd64", quiet=True)
        yield engine
    finally:
        engine.remove()


def test_the_host_engine_uses_the_containerd_store(lab):
    """What scripts/install-engine starts (an engine that already answered is used as it is: then say so)."""
    store = image_store(lab.client.info())
    if store != "containerd":
        pytest.skip(f"this host engine was not started by scripts/install-engine: it uses the {store} store")


def test_helpers_on_the_host_store(lab):
    env = dict(os.environ, DOCKERLAB_NAMESPACE=f"{lab.ns}-host")
    rc, tail = _pytest([HELPERS], env, "image-stores-host-helpers.log", timeout=600)
    assert rc == 0, f"the store-sensitive helpers failed on the host engine:\n{tail}"


def test_helpers_on_the_classic_store(lab, classic):
    env = dict(os.environ, **classic.env(), DOCKERLAB_NAMESPACE=f"{lab.ns}-classic", DOCKERLAB_EXPECT_STORE="overlay2")
    rc, tail = _pytest([HELPERS], env, "image-stores-classic-helpers.log", timeout=600)
    assert rc == 0, f"the store-sensitive helpers failed on the classic store:\n{tail}"


@pytest.mark.parametrize("lesson", CLASSIC_LESSONS)
def test_lesson_on_the_classic_store(lab, classic, lesson):
    nbs = [f"notebooks/{lesson}.ipynb", f"solutions/{lesson}.ipynb"]
    env = dict(os.environ, **classic.env(), DOCKERLAB_NAMESPACE=f"{lab.ns}-{lesson[:2]}")
    rc, tail = _pytest([*NBVAL, *nbs], env, f"image-stores-classic-{lesson}.log")
    assert rc == 0, f"{lesson} on the classic image store failed (whole output in build/test-results/logs):\n{tail}"

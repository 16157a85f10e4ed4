"""Lessons 01-04 and 14 on the containerd image store: each lesson's notebook and solution run under nbval (as in the
notebooks/solutions groups) against a Docker engine with the containerd store, started for the test in a container
(dockerlab.dind.Engine) and removed after it. The host engine keeps its classic store.

The engine gets the course images the lesson uses (``docker save | docker load``; for lesson 14 the Python image as an
amd64 + arm64 index), and the repository bind-mounted at the same path, so the lessons' bind mounts work. Notebooks
reach it through DOCKER_HOST and its published ports through DOCKERLAB_HOST_ADDR, like the course container does.
tests/run_suite.py runs one lesson per unit (SHARDS), side by side.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockerlab import Lesson, dind, images, platforms
from dockerlab.dind import docker_host_of
from dockerlab.doctor import image_store

ROOT = Path(__file__).resolve().parents[2]
LESSONS = {  # lesson -> the course images its notebook and solution use
    "01_images_and_containers": ["python"],
    "02_first_dockerfile": ["python", "python-full"],
    "03_layers_and_cache": ["python"],
    "04_multi_stage": ["python"],
    "14_supply_chain": ["python", "registry"],
}
NBVAL = ["--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", "tests/sanitize.cfg", "--nbval-kernel-startup-timeout", "240"]


@pytest.fixture(scope="module")
def lab():
    with Lesson("containerd-store", quiet=True) as lesson:
        yield lesson


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_lesson_runs_on_the_containerd_store(lab, lesson):
    engine = dind.Engine(lab.name(f"engine-{lesson[:2]}"), labels=lab.labels, containerd_store=True,
                         binds={str(ROOT): str(ROOT)}, client=lab.client)
    engine.start(quiet=True)
    try:
        assert image_store(engine.client().info()) == "containerd"
        keys = LESSONS[lesson]
        plain = [images.ref(k) for k in keys if not (k == "python" and lesson.startswith("14"))]
        engine.load(plain, quiet=True)
        if lesson.startswith("14"):  # the Python image for amd64 and arm64, as a registry would serve it
            platforms.load_index(images.ref("python"), {"linux/amd64": images.ref("python"),
                                                        "linux/arm64": images.ref("python-arm64")},
                                 source_host=docker_host_of(client=lab.client), target_host=engine.host, quiet=True)
        nbs = [str(p.relative_to(ROOT)) for p in (ROOT / "notebooks" / f"{lesson}.ipynb", ROOT / "solutions" / f"{lesson}.ipynb")]
        env = dict(os.environ, **engine.env(), DOCKERLAB_NAMESPACE=f"{lab.ns}-{lesson[:2]}")
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *NBVAL, *nbs],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
        full = ROOT / "build" / "test-results" / "logs" / f"containerd-store-{lesson}.log"
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(proc.stdout + proc.stderr)  # every failing cell, not only the last lines below
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-60:])
        assert proc.returncode == 0, f"{lesson} on the containerd image store failed (whole output: {full}):\n{tail}"
    finally:
        engine.remove()

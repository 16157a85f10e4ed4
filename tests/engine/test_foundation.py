"""The foundation against the real engine: stand-ins, cleanup, builds, bundles, the CLI."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from dockerlab import Lesson, images
from dockerlab.build import BuildFailed
from dockerlab.cleanup import cleanup, leaks
from dockerlab.engine import get_client
from dockerlab.namespace import set_namespace
from dockerlab.run import run as run_container

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
NS = os.environ.get("DOCKERLAB_NAMESPACE", "test") + "-found"


@pytest.fixture
def lab():
    lab = Lesson("90_foundation", namespace=NS, quiet=True)
    try:
        yield lab
    finally:
        lab.cleanup(quiet=True)
        set_namespace(None)


def dockerlab_cli(*args, **env):
    e = dict(os.environ, **env)
    return subprocess.run([str(ROOT / ".venv/bin/dockerlab"), *args], capture_output=True, text=True, env=e, timeout=600)


def test_every_course_image_is_present_and_stand_ins_say_so():
    client = get_client()
    for img in images.manifest():
        image = client.images.get(img.ref)
        if images.is_standin(image):
            assert image.labels[images.LABEL_STANDIN_FOR] == img.ref
    out = dockerlab_cli("prepare")
    assert out.returncode == 0, out.stderr
    assert "present" in out.stdout
    if any(images.is_standin(client.images.get(i.ref)) for i in images.manifest()):
        assert "stand-in" in out.stdout


def test_python_image_runs_python_and_pip(lab):
    c = lab.run(images.ref("python"), "py", ["sh", "-c", "python --version && pip --version && python -c 'import sys; print(sys.prefix)'"],
                detach=True)
    state = lab.wait_exit(c, timeout=60)
    logs = c.logs().decode()
    assert state["ExitCode"] == 0, logs
    assert "Python 3.13" in logs and "pip " in logs


def test_full_python_image_has_the_toolchain_and_is_larger_than_slim(lab):
    client = lab.client
    full, slim = client.images.get(images.ref("python-full")), client.images.get(images.ref("python"))
    assert full.attrs["Size"] > slim.attrs["Size"]
    c = lab.run(images.ref("python-full"), "full", ["sh", "-c", "gcc --version && git --version && python --version"],
                detach=True)
    state = lab.wait_exit(c, timeout=60)
    logs = c.logs().decode()
    assert state["ExitCode"] == 0, logs
    assert "gcc" in logs and "git version" in logs and "Python 3.13" in logs
    c = lab.run(images.ref("python"), "slim-gcc", ["sh", "-c", "command -v gcc || echo no-gcc"], detach=True)
    lab.wait_exit(c, timeout=60)
    assert "no-gcc" in c.logs().decode()


def test_uv_image_holds_uv_at_root(lab):
    c = lab.run(images.ref("uv"), "uv", ["--version"])
    assert lab.wait_exit(c, timeout=30)["ExitCode"] == 0
    assert c.logs().decode().startswith("uv " + images.ref("uv").rsplit(":", 1)[1])


def test_postgres_honours_env_and_pg_isready(lab):
    c = lab.run(images.ref("postgres"), "pg", environment={"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "pw", "POSTGRES_DB": "shop"},
                healthcheck={"test": ["CMD", "pg_isready", "-U", "app", "-d", "shop"], "interval": 500_000_000, "retries": 60})
    lab.wait_for_health(c, timeout=60)
    rc, out = c.exec_run(["psql", "-h", "127.0.0.1", "-U", "app", "-d", "shop", "-tAc", "select current_user || '@' || current_database()"],
                         environment={"PGPASSWORD": "pw"})
    assert rc == 0 and out.decode().strip() == "app@shop", out


def test_redis_answers_ping(lab):
    c = lab.run(images.ref("redis"), "redis",
                healthcheck={"test": ["CMD", "redis-cli", "ping"], "interval": 300_000_000, "retries": 50})
    lab.wait_for_health(c, timeout=30)
    assert c.exec_run(["redis-cli", "ping"]).output.decode().strip() == "PONG"


def test_registry_serves_v2(lab):
    port = lab.free_port()
    c = lab.run(images.ref("registry"), "registry", ports={"5000/tcp": ("127.0.0.1", port)})
    status, _ = lab.http_get(f"http://127.0.0.1:{port}/v2/", timeout=30, container=c)
    assert status == 200


def test_clean_removes_labelled_objects_and_leaves_unlabelled_alone(lab):
    client = lab.client
    mine = lab.run(images.ref("python"), "sleeper", ["sleep", "60"])
    lab.volume("data")
    lab.network("net")
    stranger = client.containers.run(images.ref("python"), ["sleep", "60"], detach=True, name=f"not-course-{NS}")
    try:
        out = dockerlab_cli("clean", DOCKERLAB_NAMESPACE=NS)
        assert out.returncode == 0, out.stderr
        removed = {kind: int(n) for n, kind in re.findall(r"(\d+) (\w+)", out.stdout.splitlines()[-1])}
        assert [removed[k] for k in ("containers", "networks", "volumes")] == [1, 1, 1], out.stdout
        assert not any(leaks(ns=NS).values())
        names = [c.name for c in client.containers.list(all=True, ignore_removed=True)]
        assert mine.name not in names and stranger.name in names
        assert dockerlab_cli("clean", DOCKERLAB_NAMESPACE=NS).returncode == 0  # idempotent
    finally:
        stranger.remove(force=True)


def test_other_namespace_untouched_by_clean(lab):
    other = run_container(images.ref("python"), "90_foundation", "x", ["sleep", "60"])  # in NS
    set_namespace(NS + "-b")
    theirs = run_container(images.ref("python"), "90_foundation", "x", ["sleep", "60"])
    try:
        assert other.name != theirs.name
        cleanup()  # cleans NS-b only
        names = [c.name for c in lab.client.containers.list(all=True, ignore_removed=True)]
        assert other.name in names and theirs.name not in names
    finally:
        cleanup(quiet=True)
        set_namespace(NS)


def test_build_failure_shows_failing_step_and_log(lab, tmp_path):
    said, run = "no such package", "RUN echo preparing && echo 'no such package' && exit 7"
    (tmp_path / "Dockerfile").write_text(f"FROM {images.ref('python')}\n{run}\n")
    with pytest.raises(BuildFailed) as info:
        lab.build(tmp_path, "broken", quiet=True)
    assert info.value.step.endswith(run) and said in info.value.log_tail and "7" in info.value.error
    assert all(part in str(info.value) for part in (info.value.step, said))  # the message shows the step and its log


def test_images_save_and_load_roundtrip(tmp_path):
    bundle = tmp_path / "uv.tar"
    out = dockerlab_cli("images", "save", str(bundle), "--only", "uv")
    assert out.returncode == 0, out.stderr
    assert bundle.stat().st_size > 1_000_000
    out = dockerlab_cli("images", "load", str(bundle))
    assert out.returncode == 0 and images.ref("uv") in out.stdout


def test_doctor_reports_ready():
    out = dockerlab_cli("doctor", "--no-registry")
    assert "engine" in out.stdout and "compose v2" in out.stdout and "namespace" in out.stdout
    assert out.returncode in (0, 1)

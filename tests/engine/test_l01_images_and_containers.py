"""Lesson 01 exercise check: the learner's own containers.run call (or docker run), judged by the live container.

Fails unsolved and on plausible wrong answers, passes on the solution and on correct answers spelled otherwise
(another SDK spelling, and a pasted `docker run` command): real engine.
"""
import json
import shlex
import subprocess

import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons import l01_images_and_containers as ex
from dockerlab.grading.probes import helper
from dockerlab.run import remove

pytestmark = pytest.mark.engine

REQ = ex.REQUIREMENTS
SERVER = REQ["command"]
SOLUTION = dict(environment=REQ["env"], mem_limit="96m", nano_cpus=500_000_000,
                restart_policy={"Name": "unless-stopped"})


@pytest.fixture
def lab():
    with Lesson(ex.LESSON, quiet=True) as lesson:
        yield lesson
        remove(lesson.name(REQ["thing"]), client=lesson.client, quiet=True)  # also an unlabelled one


def start(lab, command=SERVER, labels=True, **kwargs):
    """What the learner's start(port) does: client.containers.run with the course's name (and labels)."""
    remove(lab.name(REQ["thing"]), client=lab.client, quiet=True)
    return lab.client.containers.run(lab.base("python"), command, name=lab.name(REQ["thing"]), detach=True,
                                     **({"labels": lab.labels} if labels else {}), **kwargs)


def solution(lab, **changes):
    kwargs = dict(SOLUTION, ports={"8000/tcp": lab.free_port()})
    kwargs.update(changes)
    return start(lab, **{k: v for k, v in kwargs.items() if v is not None})


def failure_text(lab) -> str:
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, timeout=5)
    return str(info.value)


def test_no_container_fails(lab):
    assert "no container named" in failure_text(lab)


def test_starter_fails(lab):
    start(lab)  # the starter: the name, the labels, detached, nothing else
    msg = failure_text(lab)
    assert "APP_GREETING is not among the container's variables" in msg
    assert "8000/tcp is not published" in msg
    assert "no memory limit" in msg
    assert "no CPU limit" in msg
    assert "restart policy 'no', expected 'unless-stopped'" in msg


# --- plausible wrong answers ------------------------------------------------------------------------------------

def test_decimal_megabytes_fail(lab):
    solution(lab, mem_limit=96_000_000)
    msg = failure_text(lab)
    assert "the limit is 96000000 bytes" in msg and "expected 100663296" in msg
    assert "CPU limit" not in msg and "env" not in msg


def test_cpu_shares_are_not_a_limit(lab):
    solution(lab, nano_cpus=None, cpu_shares=512)
    msg = failure_text(lab)
    assert "CpuShares 512 is a relative weight" in msg
    assert "memory limit" not in msg


def test_restart_always_is_not_unless_stopped(lab):
    solution(lab, restart_policy={"Name": "always"})
    assert "restart policy 'always', expected 'unless-stopped'" in failure_text(lab)


def test_wrong_container_port_published_fails(lab):
    solution(lab, ports={"80/tcp": lab.free_port()})
    msg = failure_text(lab)
    assert "8000/tcp is not published to the host (published: 80/tcp" in msg


def test_wrong_env_value_fails(lab):
    solution(lab, environment={"APP_GREETING": "hello"})
    msg = failure_text(lab)
    assert "APP_GREETING='hello', expected 'hello-from-docker'" in msg
    assert "memory limit" not in msg and "published" not in msg


def test_stopped_container_fails(lab):
    solution(lab).stop(timeout=1)
    msg = failure_text(lab)
    assert "status exited" in msg


def test_published_but_not_listening_fails(lab):
    start(lab, ["sleep", "60"], **SOLUTION, ports={"8000/tcp": lab.free_port()})
    assert "answers HTTP" in failure_text(lab)


def test_without_labels_fails_and_is_removed(lab):
    start(lab, labels=False, **SOLUTION, ports={"8000/tcp": lab.free_port()})
    assert "has no course labels" in failure_text(lab)
    assert not lab.client.containers.list(all=True, filters={"name": lab.name(REQ["thing"])})


def test_lines_not_evaluated_are_marked_as_such(lab, tmp_path, monkeypatch):
    """A line that cannot be judged (no published port to ask) says "not evaluated", it is not a failure."""
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "progress.json"))
    solution(lab, ports={"80/tcp": lab.free_port()})
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, timeout=5)
    assert [r.name for r in info.value.failures] == ["port 8000/tcp published"]
    lines = json.loads((tmp_path / "progress.json").read_text())["attempts"][-1]["results"]
    answers = next(r for r in lines if r["name"] == "answers HTTP")
    assert answers["passed"] is None and answers["detail"].startswith("not evaluated")


# --- correct answers written differently ------------------------------------------------------------------------

def test_other_correct_answer_passes(lab):
    """CPU as quota/period, the limit in bytes, variables as a list, the port as an int key bound to 0.0.0.0,
    the command as one string, a restart policy with its retry count."""
    start(lab, "python -m http.server --bind 0.0.0.0 8000", environment=["EXTRA=1", "APP_GREETING=hello-from-docker"],
          ports={8000: ("0.0.0.0", lab.free_port())}, mem_limit=96 * 1024 * 1024, cpu_period=100_000,
          cpu_quota=50_000, restart_policy={"Name": "unless-stopped", "MaximumRetryCount": 0})
    assert ex.check(lab).passed


def test_a_pasted_docker_run_passes(lab):
    """The same container from the CLI: judged by what runs, not by how it was typed."""
    remove(lab.name(REQ["thing"]), client=lab.client, quiet=True)
    labels = [a for k, v in lab.labels.items() for a in ("--label", f"{k}={v}")]
    cmd = ["docker", "run", "-d", "--name", lab.name(REQ["thing"]), *labels, "-e", "APP_GREETING=hello-from-docker",
           "-p", f"{lab.free_port()}:8000", "--memory", "96m", "--cpus", "0.5", "--restart", "unless-stopped",
           lab.base("python"), *SERVER]
    subprocess.run(shlex.split(shlex.join(cmd)), check=True, capture_output=True, timeout=60)
    assert ex.check(lab).passed


def test_equivalent_spelling_passes(lab):
    """The interpreter by absolute path, the limit in KiB: the same container."""
    python = helper(lab, lab.base("python"), ["sh", "-c", "command -v python3"]).output.strip()  # /usr/…/python3
    start(lab, [python, "-m", "http.server", "8000"], **dict(SOLUTION, mem_limit="98304k"),
          ports={8000: lab.free_port()})
    assert ex.check(lab).passed


def test_non_root_container_gets_a_verdict(lab):
    start(lab, user="10001:10001", **SOLUTION, ports={"8000/tcp": lab.free_port()})
    assert ex.check(lab).passed


def test_listening_on_another_port_is_named(lab):
    """The cause is observed (the container's own /proc/net/tcp), not guessed."""
    start(lab, ["python", "-m", "http.server", "8080"], **SOLUTION, ports={"8000/tcp": lab.free_port()})
    assert "the app listens on 0.0.0.0:8080, not on port 8000" in failure_text(lab)


def test_listening_on_loopback_is_named(lab):
    start(lab, ["python", "-m", "http.server", "--bind", "127.0.0.1", "8000"], user="10001", **SOLUTION,
          ports={"8000/tcp": lab.free_port()})
    assert "only the container's own loopback (127.0.0.1)" in failure_text(lab)

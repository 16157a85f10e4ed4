"""Lesson 01 exercise check: the learner's own containers.run call (or docker run), judged by the live container.

The unsolved exercise (tests/test_exercises.py, UNSOLVED_FAILS) and the solution notebook prove the starter and the
solution. Here: plausible wrong answers each lose their own line (asserted by id, cause and the values seen), correct
answers spelled otherwise pass (another SDK spelling, a pasted `docker run`, an absolute path, another user), and the
check ends in a verdict on every input (no container, a container removed mid-check, a host port already taken).
Real engine.
"""
import shlex
import subprocess

import docker
import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons import l01_images_and_containers as ex
from dockerlab.grading.probes import helper
from dockerlab.run import remove

pytestmark = pytest.mark.engine

REQ = ex.REQUIREMENTS
SERVER = REQ["command"]
MIB96 = 96 * 1024 * 1024
# A correct answer spelled otherwise than the solution notebook's (CPU as quota/period, the limit in bytes, the
# variables as a list, the restart policy with its retry count): the wrong answers below change one setting of it.
OTHER = dict(environment=["EXTRA=1", "APP_GREETING=hello-from-docker"], mem_limit=MIB96, cpu_period=100_000,
             cpu_quota=50_000, restart_policy={"Name": "unless-stopped", "MaximumRetryCount": 0})
ALL = [c.id for c in ex.CRITERIA]


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


def answer(lab, command=SERVER, **changes):
    """OTHER with some settings changed (None: left out), its port published on a free host port."""
    kwargs = dict(OTHER, ports={"8000/tcp": lab.free_port()})
    kwargs.update(changes)
    return start(lab, command, **{k: v for k, v in kwargs.items() if v is not None})


def grade(lab, timeout=5):
    return ex.grade(lab, timeout=timeout)


def not_evaluated(sc) -> list[str]:
    return [r.id for r in sc.not_evaluated]


def waiting_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("… no answer")]


# --- every input ends in a verdict ------------------------------------------------------------------------------

def test_no_container_fails_and_leaves_the_rest_not_evaluated(lab):
    """The empty answer: start(port) never ran (or never called Docker)."""
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, timeout=5)
    assert [r.id for r in info.value.failures] == ["l01.exists"]
    sc = grade(lab)
    assert sc.failed_ids == ["l01.exists"] and not_evaluated(sc) == ALL[1:]
    assert sc.by_id("l01.exists").cause == "missing" and sc.by_id("l01.exists").observed == {"name": lab.name("api")}


def test_container_removed_mid_check_is_a_verdict(lab):
    """Started with auto_remove (docker run --rm: no restart policy then) and gone while the check asks it: a failed
    line, no traceback."""
    answer(lab, ["sleep", "6"], auto_remove=True, restart_policy=None)
    sc = grade(lab, timeout=20)
    assert sc.failed_ids == ["l01.answers", "l01.restart"], str(sc)
    assert sc.by_id("l01.answers").cause == "exited"


def test_host_port_already_taken_is_named(lab):
    """docker run created the container, then could not publish a host port another container holds (a fixed port
    from an earlier run): it was never started."""
    port = lab.free_port()
    lab.run(lab.base("python"), "holder", ["sleep", "120"], ports={"8000/tcp": port})
    with pytest.raises(docker.errors.APIError):
        answer(lab, ports={"8000/tcp": port})
    sc = grade(lab)
    assert sc.failed_ids == ["l01.running"], str(sc)
    running = sc.by_id("l01.running")
    assert running.cause == "exited" and running.observed["status"] == "created"
    assert ex.port_taken(running.observed["error"]), running.observed
    assert not_evaluated(sc) == ["l01.answers"]


def test_without_labels_fails_and_is_removed(lab):
    answer(lab, labels=False)
    sc = grade(lab)
    assert sc.failed_ids == ["l01.labels"] and sc.by_id("l01.labels").cause == "missing"
    assert not_evaluated(sc) == ALL[2:]
    assert not lab.client.containers.list(all=True, filters={"name": lab.name(REQ["thing"])})


# --- plausible wrong answers: each loses its own line ----------------------------------------------------------

def test_decimal_megabytes_fail(lab):
    answer(lab, mem_limit=96_000_000)
    sc = grade(lab)
    assert sc.failed_ids == ["l01.memory"] and sc.by_id("l01.memory").cause == "wrong-value"
    assert sc.by_id("l01.memory").observed == {"bytes": 96_000_000, "expected": MIB96}


def test_cpu_shares_are_not_a_limit(lab):
    answer(lab, cpu_period=None, cpu_quota=None, cpu_shares=512)
    sc = grade(lab)
    assert sc.failed_ids == ["l01.cpus"] and sc.by_id("l01.cpus").cause == "missing"
    assert sc.by_id("l01.cpus").observed == {"cpus": None, "shares": 512}


def test_a_cpu_limit_of_another_value_fails(lab):
    answer(lab, cpu_quota=100_000)
    sc = grade(lab)
    assert sc.failed_ids == ["l01.cpus"] and sc.by_id("l01.cpus").cause == "wrong-value"
    assert sc.by_id("l01.cpus").observed == {"cpus": 1.0}


def test_restart_always_is_not_unless_stopped(lab):
    answer(lab, restart_policy={"Name": "always"})
    sc = grade(lab)
    assert sc.failed_ids == ["l01.restart"] and sc.by_id("l01.restart").observed == {"policy": "always"}


def test_wrong_container_port_published_fails(lab):
    answer(lab, ports={"80/tcp": lab.free_port()})
    sc = grade(lab)
    assert sc.failed_ids == ["l01.port"] and sc.by_id("l01.port").observed == {"published": ["80/tcp"]}
    assert not_evaluated(sc) == ["l01.answers"]  # no published port to ask: not judged, not failed


def test_reversed_port_mapping_is_named(lab):
    """ports={'PORT/tcp': 8000}: the host's port as the container's, the container's as the host's."""
    port = lab.free_port()  # the port the container should publish: this test asks for a free one, not 8000
    answer(lab, ["sleep", "60"], ports={f"{lab.free_port()}/tcp": port})
    sc = ex.grade(lab, dict(REQ, container_port=port), timeout=5)
    assert sc.failed_ids == ["l01.port"] and sc.by_id("l01.port").cause == "wrong-value"
    assert sc.by_id("l01.port").observed["reversed"] is True


def test_wrong_env_value_fails(lab):
    answer(lab, environment={"APP_GREETING": "hello"})
    sc = grade(lab)
    assert sc.failed_ids == ["l01.env"] and sc.by_id("l01.env").cause == "wrong-value"
    assert sc.by_id("l01.env").observed == {"env": {"APP_GREETING": "hello"}}


def test_missing_env_fails(lab):
    answer(lab, environment=["EXTRA=1"])
    sc = grade(lab)
    assert sc.failed_ids == ["l01.env"] and sc.by_id("l01.env").cause == "missing"
    assert sc.by_id("l01.env").observed == {"env": {"APP_GREETING": None}}


def test_stopped_container_fails(lab):
    answer(lab).stop(timeout=1)
    sc = grade(lab)
    assert sc.failed_ids == ["l01.running"] and sc.by_id("l01.running").observed["status"] == "exited"
    assert not_evaluated(sc) == ["l01.answers"]


def test_published_but_not_listening_fails_and_says_it_waits(lab, capsys):
    answer(lab, ["sleep", "60"])
    sc = grade(lab, timeout=8)
    assert sc.failed_ids == ["l01.answers"] and sc.by_id("l01.answers").cause == "not-answering"
    assert sc.by_id("l01.answers").observed["kind"] == "not_listening"
    assert waiting_lines(capsys.readouterr().out)  # a wait is never silent


def test_listening_on_another_port_is_named(lab):
    """The cause is observed (the container's own /proc/net/tcp), not guessed."""
    answer(lab, ["python", "-m", "http.server", "8080"])
    sc = grade(lab)
    assert sc.failed_ids == ["l01.answers"], str(sc)
    assert sc.by_id("l01.answers").observed["listening"] == ["0.0.0.0:8080"]


def test_listening_on_loopback_fails_at_once(lab, capsys):
    """A port bound to the container's loopback can never answer: no wait for the rest of the timeout."""
    answer(lab, ["python", "-m", "http.server", "--bind", "127.0.0.1", "8000"], user="10001")
    sc = grade(lab, timeout=120)
    answers = sc.by_id("l01.answers")
    assert sc.failed_ids == ["l01.answers"] and answers.cause == "not-answering"
    assert answers.observed["kind"] == "loopback" and answers.observed["listening"] == ["127.0.0.1:8000"]
    assert len(waiting_lines(capsys.readouterr().out)) <= 2  # a round or two of 3 s, not 120 s


# --- correct answers written differently -------------------------------------------------------------------------

def test_other_correct_answer_passes(lab):
    """OTHER, the command as one string, the port bound to 0.0.0.0 as an int key."""
    answer(lab, "python -m http.server --bind 0.0.0.0 8000", ports={8000: ("0.0.0.0", lab.free_port())})
    sc = ex.check(lab)
    assert sc.passed and sc.by_id("l01.cpus").observed == {"cpus": 0.5}
    assert sc.by_id("l01.answers").observed == {"status": 200}


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
    """The interpreter by absolute path, the limit in KiB, NanoCpus: the same container."""
    python = helper(lab, lab.base("python"), ["sh", "-c", "command -v python3"]).output.strip()  # /usr/…/python3
    answer(lab, [python, "-m", "http.server", "8000"], mem_limit="98304k", cpu_period=None, cpu_quota=None,
           nano_cpus=500_000_000)
    sc = ex.check(lab)
    assert sc.passed and sc.by_id("l01.memory").observed["bytes"] == MIB96


def test_non_root_container_gets_a_verdict(lab):
    answer(lab, user="10001:10001")
    assert ex.check(lab).passed

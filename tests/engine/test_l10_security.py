"""Lesson 10: the check judges the container the learner's start(image, port) runs (uid, what that uid may write under
the working directory, the data mount, the root file system, /proc/1/status), not the spelling. Wrong answers fail the
line of their defect with its cause and values; correct answers written differently pass (another uid with no passwd
entry, another data path and mount spelling, a pasted `docker run`); the check ends in a verdict on an empty answer, a
port already taken, a start() that raises and a container removed while graded. The unsolved exercise's failed lines
are in tests/test_exercises.py (UNSOLVED_FAILS); the solution is proven by its notebook.

The attack (dockerlab.grading.attack) is proven on a container run as root, a hardened one, and one given the socket."""
from __future__ import annotations

import subprocess

import docker
import pytest

from dockerlab.grading.attack import attack
from dockerlab.grading.checker import Criterion
from dockerlab.grading.lessons import l10_security as ex
from dockerlab.images import ref
from dockerlab.run import remove

pytestmark = pytest.mark.engine
PY, UV = ref("python"), ref("uv")

BUILD = f"""FROM {PY}
COPY --from={UV} /uv /bin/
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-dev
"""
RUN = 'EXPOSE 8000\nCMD ["uvicorn", "app:app", "--host", "0.0.0.0", "--port", "8000"]\n'
DATA = "RUN mkdir -p /app/data && chown 10001:10001 /app/data\n"
HARDENED = BUILD + "COPY app.py ./\n" + DATA + "USER 10001:10001\n" + RUN
LOCKED = {"read_only": True, "cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"]}


def starter(lab, **options):
    """A start(image, port) as the exercise asks for: client.containers.run with the given options and a fresh volume
    at ``data`` (unless ``data=None``)."""
    data = options.pop("data", "/app/data")

    def start(image, port):
        remove(lab.name("archive"), client=lab.client, quiet=True)
        if data:
            remove_volume(lab, "reports")
            options["volumes"] = {lab.volume("reports").name: {"bind": data, "mode": "rw"}}
        return lab.client.containers.run(image, name=lab.name("archive"), labels=lab.labels, detach=True,
                                         ports={"8000/tcp": port}, **options)
    return start


def remove_volume(lab, thing):
    try:
        lab.client.volumes.get(lab.name(thing)).remove(force=True)
    except docker.errors.NotFound:
        pass


def grade(lab, dockerfile, start, **kwargs):
    app = lab.workspace(ex.APP)
    (app / "Dockerfile").write_text(dockerfile)
    return ex.grade(lab, app, start, **kwargs)


def test_other_correct_answer_passes(lab):
    """A builder stage, a uid with no passwd entry, DATA_DIR elsewhere on a --mount volume, ENTRYPOINT + CMD."""
    dockerfile = BUILD.replace(f"FROM {PY}\n", f"FROM {PY} AS deps\n", 1) + f"""
FROM {PY}
ENV PATH="/app/.venv/bin:$PATH" DATA_DIR=/srv/reports
COPY --from=deps /app/.venv /app/.venv
WORKDIR /app
COPY app.py .
RUN install -d -o 65532 -g 65532 /srv/reports
USER 65532:65532
ENTRYPOINT ["uvicorn", "--host", "0.0.0.0", "--port", "8000"]
CMD ["app:app"]
"""
    volume = lab.volume("other-reports")

    def start(image, port):
        remove(lab.name("archive"), client=lab.client, quiet=True)
        mount = docker.types.Mount("/srv/reports", volume.name, type="volume")
        return lab.client.containers.run(image, name=lab.name("archive"), labels=lab.labels, detach=True,
                                         ports={"8000/tcp": port}, mounts=[mount], **LOCKED)

    sc = grade(lab, dockerfile, start)
    assert sc.passed, str(sc)
    assert sc.by_id("l10.numeric-uid").observed == {"user": "65532:65532", "uid": 65532}
    assert sc.by_id("l10.data-volume").observed == {"data_dir": "/srv/reports", "mount_type": "volume"}


def test_a_pasted_docker_run_passes(lab):
    """start() runs the CLI and returns nothing: the check finds the container by its published port."""
    def start(image, port):
        remove(lab.name("archive"), client=lab.client, quiet=True)
        remove_volume(lab, "reports")
        lab.volume("reports")
        labels = [a for k, v in lab.labels.items() for a in ("--label", f"{k}={v}")]
        subprocess.run(["docker", "run", "-d", "--name", lab.name("archive"), *labels, "-p", f"{port}:8000",
                        "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
                        "--mount", f"type=volume,src={lab.name('reports')},dst=/app/data", image],
                       check=True, capture_output=True, timeout=120)

    sc = grade(lab, HARDENED, start)
    assert sc.passed, str(sc)
    assert sc.by_id("l10.caps-dropped").observed["capbnd"] == "0000000000000000"


def test_code_copied_with_chown_is_found_under_read_only(lab):
    """The N7 pattern: --read-only hides it from a write test, the permissions do not."""
    dockerfile = BUILD.replace("COPY pyproject.toml uv.lock ./", "COPY --chown=10001:10001 pyproject.toml uv.lock ./") \
        + "COPY --chown=10001:10001 app.py ./\n" + DATA + "USER 10001:10001\n" + RUN
    sc = grade(lab, dockerfile, starter(lab, **LOCKED))
    assert sc.failed_ids == ["l10.code-read-only"], str(sc)
    bad = sc.by_id("l10.code-read-only")
    assert bad.cause == "unsafe" and bad.observed["uid"] == 10001
    assert {"/app/app.py", "/app/uv.lock"} <= set(bad.observed["writable"]) and "/app/.venv" not in bad.observed["writable"]


def test_a_user_name_is_not_numeric(lab):
    dockerfile = HARDENED.replace("USER 10001:10001", "RUN useradd --uid 10001 --no-create-home app\nUSER app")
    sc = grade(lab, dockerfile, starter(lab, **LOCKED), only={"l10.builds", "l10.serves", "l10.numeric-uid"})
    assert sc.failed_ids == ["l10.numeric-uid"], str(sc)
    assert sc.by_id("l10.numeric-uid").cause == "wrong-value"
    assert sc.by_id("l10.numeric-uid").observed == {"user": "app", "uid": 10001}


def test_reports_on_a_tmpfs(lab):
    sc = grade(lab, HARDENED, starter(lab, data=None, tmpfs={"/app/data": "uid=10001"}, **LOCKED),
               only={"l10.builds", "l10.serves", "l10.data-volume"})
    assert sc.failed_ids == ["l10.data-volume"], str(sc)
    assert sc.by_id("l10.data-volume").cause == "wrong-value"
    assert sc.by_id("l10.data-volume").observed == {"data_dir": "/app/data", "mount_type": "tmpfs"}


def test_a_volume_over_a_root_owned_directory_stops_the_app(lab):
    """The upstream cause, from the app's own last word: it may not write its data directory."""
    sc = grade(lab, HARDENED.replace(DATA, ""), starter(lab, **LOCKED))
    assert sc.failed_ids == ["l10.serves"], str(sc)
    assert sc.by_id("l10.serves").cause == "exited" and sc.by_id("l10.serves").observed["exit_code"] != 0
    assert all(r.passed is None for r in sc.lines[3:])


def test_run_without_the_locks(lab):
    sc = grade(lab, HARDENED, starter(lab))
    assert sc.failed_ids == ["l10.read-only-root", "l10.caps-dropped", "l10.no-new-privileges"], str(sc)
    assert [sc.by_id(i).cause for i in sc.failed_ids] == ["unsafe"] * 3
    assert sc.by_id("l10.read-only-root").observed["readonly_rootfs"] is False
    assert "net_bind_service" in sc.by_id("l10.caps-dropped").observed["caps"]
    assert sc.by_id("l10.no-new-privileges").observed == {"no_new_privs": "0"}


def test_lint_error_and_build_failure(lab):
    sc = grade(lab, HARDENED.replace("WORKDIR /app", "WORKDIR app"), starter(lab), only={"l10.lint"})
    assert sc.failed_ids == ["l10.lint"] and sc.by_id("l10.lint").observed["codes"] == ["DL3000"], str(sc)
    # USER before the install: uv may not create /app/.venv
    sc = grade(lab, HARDENED.replace("USER 10001:10001\n", "").replace("WORKDIR /app\n", "WORKDIR /app\nUSER 10001\n"),
               starter(lab), only={"l10.lint", "l10.builds"})
    assert sc.failed_ids == ["l10.builds"] and sc.by_id("l10.builds").cause == "build-failed", str(sc)
    assert "uv sync" in sc.by_id("l10.builds").observed["step"]


def test_empty_answer(lab):
    sc = grade(lab, "", starter(lab))
    assert sc.failed_ids == ["l10.builds"] and sc.by_id("l10.builds").observed == {"file": "Dockerfile"}, str(sc)
    assert all(r.passed is None for r in sc.lines[2:])


def test_a_port_already_taken_and_a_start_that_raises(lab, held_port):
    port = held_port
    sc = grade(lab, HARDENED, starter(lab, **LOCKED), port=port, only={"l10.builds", "l10.serves"})
    assert sc.failed_ids == ["l10.serves"], str(sc)
    assert sc.by_id("l10.serves").cause == "not-answering" and sc.by_id("l10.serves").observed["port"] == port

    def broken(image, port):
        return lab.client.containers.run(image, detach=True, read_only="yes", cpus=2)  # not an SDK keyword

    sc = grade(lab, HARDENED, broken, only={"l10.builds", "l10.serves"})
    assert sc.failed_ids == ["l10.serves"] and sc.by_id("l10.serves").cause == "wrong-value", str(sc)


def test_container_removed_while_graded(lab):
    def remove_it(g):
        g.container.remove(force=True)
        return True, "removed"

    criteria = ex.CRITERIA[:3] + [Criterion("remove", remove_it, "test.remove")] + ex.CRITERIA[3:]
    sc = grade(lab, HARDENED, starter(lab, **LOCKED), criteria=criteria)
    assert sc.failed_ids == [], str(sc)
    gone = [r for r in sc.lines if r.passed is None]
    assert len(gone) == 6 and all("is gone" in r.detail for r in gone)


def test_attack_writes_as_root_is_stopped_when_hardened_and_reaches_a_mounted_socket(lab):
    app = lab.workspace(ex.APP)  # the sample's own Dockerfile: root, writable
    lab.build(app, "archive", quiet=True)
    root = lab.run(lab.image("archive"), "archive")
    report = attack(lab, lab.image("archive"), app=app, container=root, quiet=True)
    assert report.by_attack("write to /").got and report.by_attack("write to the code path /app").got
    assert report.by_attack("reach the Docker socket").got is False
    assert [a.got for a in report.attempts[:6]] == [False] * 6  # no secret: config, history, args, layers, .env, stages

    (app / "Dockerfile").write_text(HARDENED)
    lab.build(app, "hardened", quiet=True)
    hardened = starter(lab, **LOCKED)(lab.image("hardened"), lab.free_port())
    report = attack(lab, lab.image("hardened"), app=app, container=hardened, quiet=True)
    assert report.by_attack("write to /").got is False and report.by_attack("write to the code path").got is False

    sock = "/var/run/docker.sock"  # given to a container that runs as root: its API answers (`:ro` changes nothing)
    exposed = lab.run(lab.image("archive"), "socket", volumes={sock: {"bind": sock, "mode": "ro"}})
    report = attack(lab, lab.image("archive"), container=exposed, quiet=True)
    assert report.by_attack("reach the Docker socket").got, str(report)
    assert report.by_attack("build an earlier stage").got is None  # no Dockerfile given

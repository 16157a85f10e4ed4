"""Lesson 11: the registry helpers, the CI workflow file, and the publish exercise's check (real engine)."""
from pathlib import Path

import pytest
import yaml

from dockerlab import CheckFailed, registry, Lesson
from dockerlab.engine import image_store
from dockerlab.grading.lessons import l11_registries_and_ci as ex
from dockerlab.paths import sample_app

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = sample_app("ci_service") / ".github" / "workflows" / "ci.yml"


# --- the GitHub Actions workflow (no engine) -------------------------------------------------------------

def _steps():
    wf = yaml.safe_load(WORKFLOW.read_text())
    jobs = wf["jobs"]
    assert len(jobs) == 1
    job = next(iter(jobs.values()))
    return wf, job, job["steps"]


def test_workflow_triggers_and_runner():
    wf, job, _ = _steps()
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert "push" in on and "pull_request" in on
    assert job["runs-on"].startswith("ubuntu-")
    assert wf["permissions"]["packages"] == "write"


def test_workflow_builds_tests_in_the_container_and_pushes():
    _, _, steps = _steps()
    builds = [s for s in steps if str(s.get("uses", "")).startswith("docker/build-push-action@")]
    assert len(builds) == 2
    test_build, push_build = builds
    # both builds use the app's one Dockerfile, and it exists
    for b in builds:
        assert b["with"]["file"] == "./Dockerfile" and b["with"]["context"] == "."
    assert (WORKFLOW.parents[2] / "Dockerfile").is_file()
    assert test_build["with"]["target"] == "test" and test_build["with"]["load"] is True
    test_tag = test_build["with"]["tags"]
    # the test step runs the suite inside the image just built, after building it and before pushing
    runs = [s for s in steps if "run" in s]
    assert any(f"docker run --rm {test_tag}" in s["run"] for s in runs)
    test_step = next(i for i, s in enumerate(steps) if "run" in s and test_tag in s["run"])
    assert steps.index(test_build) < test_step < steps.index(push_build)
    assert push_build["with"]["target"] == "runtime"
    assert "push" in push_build["with"] and "tags" in push_build["with"]
    assert any(str(s.get("uses", "")).startswith("docker/login-action@") for s in steps)
    dockerfile = (WORKFLOW.parents[2] / "Dockerfile").read_text()
    assert "AS test" in dockerfile and "AS runtime" in dockerfile


# --- the registry and the exercise (engine) ---------------------------------------------------------------

@pytest.fixture(scope="module")
def lab():
    with Lesson(ex.LESSON, quiet=True) as lesson:
        yield lesson


@pytest.fixture(scope="module")
def app(lab):
    return lab.workspace(ex.APP)


@pytest.fixture
def reg(lab):
    r = registry.start(lab, "registry-test")
    try:
        yield r
    finally:
        r.container.remove(force=True, v=True)


@pytest.fixture
def given(lab, app):
    return lab.build(app, "ci-service", target="runtime", quiet=True)


def failure_text(lab, reg, given, answer) -> str:
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, reg, given, answer)
    return str(info.value)


@pytest.mark.engine
def test_test_stage_runs_the_suite(lab, app):
    result = lab.build(app, "ci-service", tag="test", target="test", quiet=True)
    c = lab.run(result.tag, "pytest")
    state = lab.wait_exit(c, timeout=120)
    assert state["ExitCode"] == 0, c.logs().decode()
    assert "4 passed" in c.logs().decode()
    runtime = lab.build(app, "ci-service", target="runtime", quiet=True)
    out = lab.run(runtime.tag, "no-pytest", ["python", "-c", "import pytest"], detach=True)
    assert lab.wait_exit(out, timeout=60)["ExitCode"] == 1  # pytest only in the test stage


@pytest.mark.engine
def test_only_the_test_target_builds_the_test_stage(lab, app):
    """BuildKit skips stages the target does not need: the shipped build (no --target) never builds `test`.

    Judged by the instructions that ran, which only the test stage has (a step's stage label can come from
    another build that shares the vertex at the same time)."""
    test_only = {"COPY requirements-test.txt .", "RUN pip install --no-cache-dir -r requirements-test.txt",
                 "COPY tests/ tests/"}

    def instructions(result):
        return {s.instruction for s in result.steps}
    default = lab.build(app, "ci-service", tag="no-target", quiet=True)
    assert "COPY app.py ." in instructions(default) and not test_only & instructions(default)
    assert not test_only & instructions(lab.build(app, "ci-service", target="runtime", quiet=True))
    assert test_only <= instructions(lab.build(app, "ci-service", tag="test", target="test", quiet=True))


@pytest.mark.engine
def test_tag_moves_digest_does_not(lab, app, reg):
    v1 = lab.build(app, "ci-service", target="runtime", quiet=True)
    v2 = lab.build(app, "ci-service", tag="v2", target="runtime", buildargs={"VERSION": "2.0.0"}, quiet=True)
    ref = registry.tag(v1.image, f"{reg.host}/moving", "stable", client=lab.client)
    d1 = registry.push(ref, client=lab.client)
    registry.tag(v2.image, f"{reg.host}/moving", "stable", client=lab.client)
    d2 = registry.push(ref, client=lab.client)
    assert d1 != d2 and reg.manifest_digest("moving", "stable") == d2
    registry.remove_image(v1.image, client=lab.client)
    old = registry.pull(f"{reg.host}/moving@{d1}", client=lab.client)
    assert old.id == v1.image.id
    assert ex.run_version(lab, f"{reg.host}/moving@{d1}") == "ci_service 1.0.0"


@pytest.mark.engine
def test_starter_nothing_pushed(lab, reg, given):
    msg = failure_text(lab, reg, given, {"repo": ex.expected_repo(reg), "digest": ""})
    assert f"nothing pushed: the registry at {reg.host} holds no repository" in msg


@pytest.mark.engine
def test_wrong_repo(lab, reg, given):
    ref = registry.tag(given.image, f"{reg.host}/ci_service", "1.0", client=lab.client)
    digest = registry.push(ref, client=lab.client)
    msg = failure_text(lab, reg, given, {"repo": f"{reg.host}/ci_service", "digest": digest})
    assert f"wrong repo: the answer names '{reg.host}/ci_service'" in msg
    msg = failure_text(lab, reg, given, {"repo": ex.expected_repo(reg), "digest": digest})
    assert "wrong repo: the registry holds ['ci_service'], not 'ci-service'" in msg


@pytest.mark.engine
def test_tag_not_pushed(lab, reg, given):
    ref = registry.tag(given.image, ex.expected_repo(reg), "latest", client=lab.client)
    digest = registry.push(ref, client=lab.client)
    msg = failure_text(lab, reg, given, {"repo": ex.expected_repo(reg), "digest": digest})
    assert f"tag not pushed: {ex.expected_repo(reg)} has tags ['latest'], not '1.0'" in msg
    assert "same image" not in msg  # the digest itself was right


@pytest.mark.engine
def test_digest_of_a_different_image(lab, app, reg, given):
    repo = ex.expected_repo(reg)
    registry.push(registry.tag(given.image, repo, "1.0", client=lab.client), client=lab.client)
    other = lab.build(app, "ci-service", tag="v2", target="runtime", buildargs={"VERSION": "2.0.0"}, quiet=True)
    other_digest = registry.push(registry.tag(other.image, repo, "2.0", client=lab.client), client=lab.client)
    msg = failure_text(lab, reg, given, {"repo": repo, "digest": other_digest})
    assert "digest of a different image" in msg and "prints 'ci_service 2.0.0'" in msg
    # An image ID is a manifest digest only on the containerd image store (there it is the digest the push sent);
    # on the classic store it is the config's digest, which the registry knows as no manifest.
    if image_store(lab.client.info()) == "containerd":
        assert ex.check(lab, reg, given, {"repo": repo, "digest": given.image.id}).passed
    else:
        msg = failure_text(lab, reg, given, {"repo": repo, "digest": given.image.id})
        assert "the registry has no manifest" in msg


@pytest.mark.engine
def test_other_correct_answer_passes(lab, reg, given):
    # raw SDK: push the whole repository (all its tags), read the digest from RepoDigests afterwards
    repo = f"localhost:{reg.port}/ci-service"
    given.image.tag(repo, "1.0")
    given.image.tag(repo, "latest")
    for chunk in lab.client.images.push(repo, stream=True, decode=True):
        assert "error" not in chunk
    given.image.reload()
    digest = next(d for d in given.image.attrs["RepoDigests"] if d.startswith(repo)).split("@")[1]
    assert ex.check(lab, reg, given.image.id, {"repo": ex.expected_repo(reg), "digest": digest}).passed


# --- issue 10: another name for the same registry -----------------------------------------------------------

@pytest.mark.engine
def test_another_host_name_for_the_same_registry_passes(lab, reg, given):
    """localhost:PORT is 127.0.0.1:PORT: the answer may name the registry either way, and give the digest as a
    whole reference."""
    repo = f"localhost:{reg.port}/ci-service"
    digest = registry.push(registry.tag(given.image, repo, ex.TAG, client=lab.client), client=lab.client)
    assert ex.check(lab, reg, given, {"repo": repo, "digest": f"{repo}@{digest}"}).passed


def test_same_repository_rules():
    reg = type("R", (), {"port": 5000, "host": "127.0.0.1:5000"})()
    assert ex.same_repository("127.0.0.1:5000/ci-service", reg) and ex.same_repository("localhost:5000/ci-service/", reg)
    assert not ex.same_repository("localhost:5001/ci-service", reg)
    assert not ex.same_repository("127.0.0.1:5000/ci_service", reg)
    assert not ex.same_repository("docker.io/library/ci-service", reg)

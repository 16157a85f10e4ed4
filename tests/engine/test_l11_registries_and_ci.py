"""Lesson 11: the course's CI workflow (read as a runner would, and linted), the registry the lesson teaches with, and
the exercise's check (fix a monorepo's workflow), proven on wrong answers and on correct answers written differently.

The unsolved exercise's failing ids are in tests/test_exercises.py (UNSOLVED_FAILS); the solution is proven by the
solution notebook."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from dockerlab import registry, workflow
from dockerlab.grading.checker import Checker
from dockerlab.grading.lessons import l11_registries_and_ci as ex
from dockerlab.paths import sample_app

COURSE_WORKFLOW = sample_app("ci_service") / ".github" / "workflows" / "ci.yml"
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1  # v7.0.1"
BUILDX = "docker/setup-buildx-action@37fe631027851001ddb9b187196cc803df7f5f0e  # v4.3.0"
RUNTIME = "crazy-max/ghaction-github-runtime@04d248b84655b509d8c44dc1d6f990c879747487  # v4.0.0"
BUILD_PUSH = "docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a  # v7.3.0"
META = "docker/metadata-action@dc802804100637a589fabce1cb79ff13a1411302  # v6.2.0"

# A correct answer written differently from the solution: the docker CLI in run: steps (buildx with the cache runtime
# exposed), `docker container run` with the test command spelled out, the digest read from --metadata-file.
CLI_WORKFLOW = f"""\
name: ci
on: [push, pull_request]
env:
  REGISTRY: ghcr.io
jobs:
  greeter:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
      packages: write
    env:
      CONTEXT: services/greeter
    steps:
      - uses: {CHECKOUT}
      - uses: {BUILDX}
      - uses: {RUNTIME}
      - name: tests
        run: |
          docker buildx build --load --target test -t greeter-tests \\
            --cache-from type=gha,scope=greeter --cache-to type=gha,scope=greeter,mode=max "$CONTEXT"
          docker container run --rm --network none greeter-tests python -m pytest -q -p no:cacheprovider tests
      - name: ship
        if: github.event_name == 'push'
        run: |
          docker buildx build --push --metadata-file meta.json -t "$REGISTRY/acme/greeter:${{{{ github.sha }}}}" \\
            --cache-from type=gha,scope=greeter --cache-to type=gha,scope=greeter,mode=max "$CONTEXT"
          echo "deploying $REGISTRY/acme/greeter@$(jq -r '.["containerimage.digest"]' meta.json)"
"""

# Another: docker/metadata-action names the image, the Dockerfile given by `file:` from the repository root.
ACTION_WORKFLOW = f"""\
name: ci
on:
  push:
    branches: [main]
permissions:
  contents: read
  packages: write
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: {CHECKOUT}
      - uses: {BUILDX}
      - uses: {BUILD_PUSH}
        with:
          context: services/greeter
          file: services/greeter/Dockerfile
          target: test
          load: true
          tags: localtest:${{{{ github.sha }}}}
          cache-from: type=gha
          cache-to: type=gha,mode=max
      - run: docker run --rm localtest:${{{{ github.sha }}}}
      - id: meta
        uses: {META}
        with:
          images: ghcr.io/${{{{ github.repository }}}}
      - id: release
        uses: {BUILD_PUSH}
        with:
          context: services/greeter
          file: services/greeter/Dockerfile
          push: true
          tags: ${{{{ steps.meta.outputs.tags }}}}
          cache-from: type=gha
          cache-to: type=gha,mode=max
      - run: echo "image=ghcr.io/${{{{ github.repository }}}}@${{{{ steps.release.outputs.digest }}}}" >> "$GITHUB_OUTPUT"
"""


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


# --- the course's own workflow (no engine) -----------------------------------------------------------------------

def test_course_workflow_lints_clean_pins_by_sha_and_caches():
    wf = workflow.load(COURSE_WORKFLOW)
    assert workflow.lint(COURSE_WORKFLOW) == []
    assert wf.unpinned() == []
    assert all(workflow.SHA.match(s.ref) for s in wf.steps if s.uses)
    builds = wf.builds()
    assert [b.target for b in builds] == ["test", "runtime", "runtime"]  # tested, scanned, pushed
    assert all("type=gha" in b.cache_from and "type=gha,mode=max" in b.cache_to for b in builds)
    actions = [s.action for s in wf.steps]
    assert actions.index("hadolint/hadolint-action") < actions.index("docker/build-push-action")  # lint first


def test_course_workflow_tests_before_the_push_and_names_the_digest():
    wf = workflow.load(COURSE_WORKFLOW)
    test_build, scan_build, push_build = wf.builds()
    (run,) = wf.docker_runs()
    assert run.image in test_build.tags and test_build.load
    assert test_build.step.index < run.step.index < push_build.step.index
    scan = next(s for s in wf.steps if s.action == "aquasecurity/trivy-action")  # the scanned image is the one built
    assert scan_build.load and not scan_build.pushes and scan.inputs["image-ref"] in scan_build.tags
    assert scan_build.step.index < scan.index < push_build.step.index and str(scan.inputs["exit-code"]) == "1"
    assert push_build.pushes and push_build.step.id == "build"
    assert [s.label for s in wf.mentions(push_build.step, "steps.build.outputs.digest")]
    dockerfile = (COURSE_WORKFLOW.parents[2] / "Dockerfile").read_text()
    assert "AS test" in dockerfile and "AS runtime" in dockerfile


def test_course_workflow_attests_and_signs_the_pushed_digest():
    wf = workflow.load(COURSE_WORKFLOW)
    push_build = wf.builds()[-1]
    assert push_build.step.inputs.get("sbom") is True and push_build.step.inputs.get("provenance") == "mode=max"
    actions = [s.action for s in wf.steps]
    sign = next(s for s in wf.steps if s.run and s.run.startswith("cosign sign"))
    assert actions.index("sigstore/cosign-installer") < sign.index and push_build.step.index < sign.index
    assert sign in wf.mentions(push_build.step, "steps.build.outputs.digest")
    assert (wf.doc.get("permissions") or {}).get("id-token") == "write"


def test_bake_file_names_the_builds_the_workflow_makes():
    """docker-bake.hcl (lesson 11, Bake) resolves to the workflow's two targets of the same Dockerfile, tags from the
    PREFIX variable, the runtime's VERSION build argument; and the file stays out of the build context."""
    folder = COURSE_WORKFLOW.parents[2]
    out = subprocess.run(["docker", "buildx", "bake", "--print"], cwd=folder, env={**os.environ, "PREFIX": "p/ci"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert sorted(plan["group"]["default"]["targets"]) == ["runtime", "test"]
    assert {n: (t["target"], t["tags"]) for n, t in plan["target"].items()} == {
        "test": ("test", ["p/ci:test"]), "runtime": ("runtime", ["p/ci:1.0.0"])}
    assert plan["target"]["runtime"]["args"] == {"VERSION": "1.0.0"}
    assert {b.target for b in workflow.load(COURSE_WORKFLOW).builds()} == {"test", "runtime"}
    assert "docker-bake.hcl" in (folder / ".dockerignore").read_text().split()


def test_workflow_reader_on_cli_steps():
    wf = workflow.Workflow(__import__("yaml").safe_load(CLI_WORKFLOW))
    tests, ship = wf.builds()
    assert (tests.via, tests.target, tests.tags, tests.context, tests.load) == ("cli", "test", ["greeter-tests"],
                                                                               "services/greeter", True)
    assert ship.pushes and ship.tags == [f"ghcr.io/acme/greeter:{workflow.GITHUB['sha']}"]
    (run,) = wf.docker_runs()
    assert (run.image, run.command[:3]) == ("greeter-tests", ["python", "-m", "pytest"])
    assert wf.unpinned() == []


# --- the registry the lesson uses (engine) -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(lab):
    return lab.workspace(ex.APP)


@pytest.mark.engine
def test_test_stage_runs_the_suite(lab, app):
    result = lab.build(app, "ci-service", tag="test", target="test", quiet=True)
    c = lab.run(result.tag, "pytest")
    state = lab.wait_exit(c, timeout=120)
    assert state["ExitCode"] == 0, c.logs().decode()
    runtime = lab.build(app, "ci-service", target="runtime", quiet=True)
    out = lab.run(runtime.tag, "no-pytest", ["python", "-c", "import pytest"], detach=True)
    assert lab.wait_exit(out, timeout=60)["ExitCode"] == 1  # pytest only in the test stage


@pytest.mark.engine
def test_only_the_test_target_builds_the_test_stage(lab, app):
    """BuildKit skips stages the target does not need: the shipped build (no --target) never builds `test`."""
    test_only = {"COPY requirements-test.txt .", "RUN pip install --no-cache-dir -r requirements-test.txt",
                 "COPY tests/ tests/"}

    def instructions(result):
        return {s.instruction for s in result.steps}
    default = lab.build(app, "ci-service", tag="no-target", quiet=True)
    assert "COPY app.py ." in instructions(default) and not test_only & instructions(default)
    assert test_only <= instructions(lab.build(app, "ci-service", tag="test", target="test", quiet=True))


@pytest.mark.engine
def test_tag_moves_digest_does_not(lab, app):
    reg = registry.start(lab, "registry-moving")
    try:
        v1 = lab.build(app, "ci-service", target="runtime", quiet=True)
        v2 = lab.build(app, "ci-service", tag="v2", target="runtime", buildargs={"VERSION": "2.0.0"}, quiet=True)
        ref = registry.tag(v1.image, f"{reg.host}/moving", "stable", client=lab.client)
        d1 = registry.push(ref, client=lab.client)
        registry.tag(v2.image, f"{reg.host}/moving", "stable", client=lab.client)
        d2 = registry.push(ref, client=lab.client)
        assert d1 != d2 and reg.manifest_digest("moving", "stable") == d2
        registry.remove_image(v1.image, client=lab.client)
        assert registry.pull(f"{reg.host}/moving@{d1}", client=lab.client).id == v1.image.id
    finally:
        reg.container.remove(force=True, v=True)


# --- the exercise's check (engine) --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reg(lab):
    r = registry.start(lab, "registry-ex")
    yield r
    r.container.remove(force=True, v=True)


@pytest.fixture
def repo(lab):
    return ex.monorepo(lab)


def grade(lab, reg, repo, text: str | None, only=None) -> Checker:
    if text is not None:
        (repo / ex.WORKFLOW).write_text(text)
    return Checker(ex.LESSON, "test").grade(ex.CRITERIA, ex.Grading(lab, reg, repo), only=only)


@pytest.mark.engine
def test_cli_steps_pass(lab, reg, repo):
    sc = grade(lab, reg, repo, CLI_WORKFLOW)
    assert sc.passed, str(sc)
    assert sc.by_id("l11.push-digest").observed["repository"] == "acme/greeter"
    assert sc.by_id("l11.tests").observed["exit_code"] == 0


@pytest.mark.engine
def test_metadata_action_and_file_input_pass(lab, reg, repo):
    sc = grade(lab, reg, repo, ACTION_WORKFLOW)
    assert sc.passed, str(sc)
    assert sc.by_id("l11.push-digest").observed["repository"] == "acme/shop"


@pytest.mark.engine
def test_tests_after_the_push_fail(lab, reg, repo):
    text = CLI_WORKFLOW.replace("      - name: tests\n", "      - name: tests-later\n")
    ship_at = text.index("      - name: ship")
    tests = text[text.index("      - name: tests-later"):ship_at]
    text = text.replace(tests, "") + tests
    sc = grade(lab, reg, repo, text, only={"l11.workflow", "l11.tests"})
    assert sc.failed_ids == ["l11.tests"]
    assert sc.by_id("l11.tests").cause == "wrong-value"
    assert sc.by_id("l11.tests").observed["push_step"] < sc.by_id("l11.tests").observed["test_step"]


@pytest.mark.engine
def test_build_from_the_repository_root_fails_on_the_missing_dockerfile(lab, reg, repo):
    text = replace(CLI_WORKFLOW, "CONTEXT: services/greeter", "CONTEXT: .")
    sc = grade(lab, reg, repo, text, only={"l11.workflow", "l11.tests"})
    assert sc.failed_ids == ["l11.tests"] and sc.by_id("l11.tests").cause == "build-failed"
    assert sc.by_id("l11.tests").observed["file"] == "Dockerfile"


@pytest.mark.engine
def test_failing_tests_fail_with_their_exit_code(lab, reg, repo):
    app = repo / ex.SERVICE / "app.py"
    app.write_text(replace(app.read_text(), 'return f"hello, {name}"', 'return f"hi, {name}"'))
    sc = grade(lab, reg, repo, ACTION_WORKFLOW, only={"l11.workflow", "l11.tests"})
    assert sc.failed_ids == ["l11.tests"] and sc.by_id("l11.tests").cause == "exited"
    assert sc.by_id("l11.tests").observed["exit_code"] == 1


@pytest.mark.engine
def test_tests_of_the_shipped_image_are_no_tests(lab, reg, repo):
    """The colleague's mistake in another spelling: the test step runs pytest in the image that is pushed."""
    text = replace(CLI_WORKFLOW, "--target test -t greeter-tests", "-t greeter-tests")
    sc = grade(lab, reg, repo, text, only={"l11.workflow", "l11.tests"})
    assert sc.failed_ids == ["l11.tests"] and sc.by_id("l11.tests").cause == "missing"
    assert sc.by_id("l11.tests").observed["runs"] == ["`tests` runs greeter-tests"]


@pytest.mark.engine
def test_pushing_the_test_stage_fails(lab, reg, repo):
    text = replace(ACTION_WORKFLOW, "          push: true\n", "          target: test\n          push: true\n")
    sc = grade(lab, reg, repo, text, only={"l11.workflow", "l11.push-digest"})
    assert sc.failed_ids == ["l11.push-digest"] and sc.by_id("l11.push-digest").cause == "wrong-value"
    assert sc.by_id("l11.push-digest").observed["target"] == "test"


@pytest.mark.engine
def test_digest_not_used_and_short_sha_pins_fail(lab, reg, repo):
    text = replace(ACTION_WORKFLOW, "@${{ steps.release.outputs.digest }}", ":latest")
    text = replace(text, CHECKOUT, "actions/checkout@3d3c42e")
    text = replace(text, BUILDX, "docker/setup-buildx-action@master")
    text = text.replace("          cache-to: type=gha,mode=max\n", "", 1)
    sc = grade(lab, reg, repo, text, only={"l11.workflow", "l11.pinned", "l11.cache", "l11.push-digest"})
    assert sc.failed_ids == ["l11.pinned", "l11.cache", "l11.push-digest"]
    assert sc.by_id("l11.pinned").observed["unpinned"] == ["actions/checkout@3d3c42e", "docker/setup-buildx-action@master"]
    assert sc.by_id("l11.cache").observed["without_cache"] == ["docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a"]
    assert (sc.by_id("l11.push-digest").cause, sc.by_id("l11.push-digest").observed["id"]) == ("missing", "release")


@pytest.mark.engine
def test_actionlint_findings_are_the_observed_values(lab, reg, repo):
    text = replace(ACTION_WORKFLOW, "runs-on: ubuntu-24.04", "runs-on: ubuntu-24.4")
    sc = grade(lab, reg, repo, text, only={"l11.workflow", "l11.actionlint"})
    assert sc.failed_ids == ["l11.actionlint"] and sc.by_id("l11.actionlint").cause == "wrong-value"
    assert [f.split()[1] for f in sc.by_id("l11.actionlint").observed["findings"]] == ["runner-label"]


@pytest.mark.engine
def test_empty_or_broken_file_is_a_verdict_not_a_traceback(lab, reg, repo):
    sc = grade(lab, reg, repo, "")
    assert sc.failed_ids == ["l11.workflow"] and sc.by_id("l11.workflow").cause == "wrong-value"
    assert [r.passed for r in sc.results[1:]] == [None] * 5  # not evaluated, each saying why
    shutil.rmtree(repo / ".github")
    sc = grade(lab, reg, repo, None, only={"l11.workflow"})
    assert sc.by_id("l11.workflow").cause == "missing"


@pytest.mark.engine
def test_registry_gone_mid_check_is_a_failed_line(lab, repo):
    gone = registry.start(lab, "registry-gone")
    gone.container.remove(force=True, v=True)
    sc = grade(lab, gone, repo, CLI_WORKFLOW, only={"l11.workflow", "l11.push-digest"})
    assert sc.failed_ids == ["l11.push-digest"]
    assert sc.by_id("l11.push-digest").cause == "not-answering"

"""Lesson 11 exercise: fix the CI workflow of a service in a monorepo (``services/greeter``) so that it tests the image
before it ships it, and ships it by digest.

The check reads ``.github/workflows/ci.yml`` as a pipeline would (:mod:`dockerlab.workflow`), runs actionlint on it,
judges how its actions are pinned and whether its builds share the GitHub Actions cache, then runs on this engine
what its steps describe: the build of the ``test`` stage and the ``docker run`` of that image (the tests must pass),
and the build and push of the shipped image, to the course's registry instead of the one the workflow names. A
later step must name the pushed image by the digest the push returned.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

from dockerlab import dockerfile as dfile
from dockerlab import workflow
from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker, NotEvaluated, criterion, failed, needed, passed
from dockerlab.grading.probes import helper
from dockerlab.registry import PushFailed, Registry, push
from dockerlab.show import quiet_cli, short
from dockerlab.grading.lessons import lesson_hints

LESSON = "11_registries_and_ci"
APP = "ci_service"
SERVICE = "services/greeter"
WORKFLOW = ".github/workflows/ci.yml"
GITHUB = {"repository": "acme/shop", "repository_owner": "acme"}  # the repository the workflow runs in, locally
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time


def monorepo(lab) -> Path:
    """The exercise's repository: ci_service's code as ``services/greeter``, and an empty ``.github/workflows``."""
    app = lab.workspace(APP)
    repo = app.with_name("shop")
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(app, repo / SERVICE, ignore=shutil.ignore_patterns(".github"))
    (repo / ".github" / "workflows").mkdir(parents=True)
    return repo


@dataclasses.dataclass
class Grading:
    lab: object
    reg: Registry
    repo: Path
    wf: workflow.Workflow | None = None

    def need_workflow(self) -> workflow.Workflow:
        return needed(self.wf, "the workflow could not be read (line 1)")

    def builds(self) -> list[workflow.Build]:
        return self.need_workflow().builds()

    def build_locally(self, b: workflow.Build, thing: str):
        """Build what ``b`` describes on this engine (as lab.image(thing)); a failed verdict when it cannot be built."""
        context = self.repo / (b.context or ".")
        file = self.repo / b.file if b.file else context / "Dockerfile"
        where = f"`{b.step.label}` (context {b.context or '.'}, file {b.file or (b.context or '.') + '/Dockerfile'})"
        if not file.is_file():
            return failed("build-failed", f"{where}: there is no {file.relative_to(self.repo)} in the repository "
                          f"(the service is in {SERVICE}/)", f"build from the service's folder: context: {SERVICE}",
                          step=b.step.label, context=b.context, file=str(file.relative_to(self.repo)))
        try:
            return self.lab.build(context, thing, target=b.target or None, quiet=True, buildargs=b.build_args or None,
                                  dockerfile=os.path.relpath(file, context))
        except BuildFailed as exc:
            return failed("build-failed", f"{where} fails at `{exc.step or '?'}`: {short(exc.error, 160)}",
                          "fix that step of the build", step=b.step.label, instruction=exc.step or "")


def _stages(g: Grading, b: workflow.Build) -> list[str]:
    file = g.repo / b.file if b.file else g.repo / (b.context or ".") / "Dockerfile"
    try:
        return [s.name for s in dfile.parse(file.read_text()).stages]
    except OSError:
        return []


# --- the criteria ----------------------------------------------------------------------------------------------

@criterion("l11.workflow", "the workflow file reads as a GitHub Actions workflow")
def readable(g: Grading):
    path = g.repo / WORKFLOW
    try:
        g.wf = workflow.load(path, github=GITHUB)
    except workflow.WorkflowError as exc:
        cause = "missing" if not path.exists() else "wrong-value"
        return failed(cause, f"{WORKFLOW}: {exc}", "write the workflow to .github/workflows/ci.yml (name:, on:, jobs:)",
                      file=WORKFLOW)
    return passed(f"{len(g.wf.jobs)} job(s), {len(g.wf.steps)} step(s)", jobs=list(g.wf.jobs), steps=len(g.wf.steps))


@criterion("l11.actionlint", "actionlint finds no problem")
def actionlint_clean(g: Grading):
    g.need_workflow()
    try:
        findings = workflow.lint(g.repo / WORKFLOW)
    except workflow.ActionlintMissing as exc:
        raise NotEvaluated(f"actionlint could not run: {short(exc, 120)}") from None
    if findings:
        shown = "; ".join(f"line {f['line']}: {short(f['message'], 110)} [{f['kind']}]" for f in findings[:3])
        return failed("wrong-value", f"actionlint finds {len(findings)} problem(s): {shown}"
                      + (f"; and {len(findings) - 3} more" if len(findings) > 3 else ""),
                      f"fix each line actionlint names (run it: actionlint {WORKFLOW})",
                      findings=[f"{f['line']}:{f['column']} {f['kind']}" for f in findings])
    return passed("actionlint finds no problem", findings=[])


@criterion("l11.pinned", "every action is pinned by a commit SHA")
def pinned(g: Grading):
    bad = g.need_workflow().unpinned()
    uses = [s.uses for s in g.wf.steps if s.uses]
    if bad:
        return failed("unsafe", f"{len(bad)} of {len(uses)} action(s) are used by a tag or branch, which can be moved "
                      f"to other code: {', '.join(bad)}",
                      "pin each by the full 40-character commit SHA of its release, the release in a comment "
                      "(uses: OWNER/ACTION@SHA  # vX.Y.Z)", unpinned=bad)
    return passed(f"all {len(uses)} action(s) pinned by a commit SHA", unpinned=[], actions=len(uses))


@criterion("l11.cache", "the builds share the GitHub Actions cache")
def cached(g: Grading):
    builds = g.builds()
    if not builds:
        raise NotEvaluated("no step builds an image (line 5 says so)")
    lacking = [b.step.label for b in builds
               if not any("type=gha" in c for c in b.cache_from) or not any("type=gha" in c for c in b.cache_to)]
    if lacking:
        return failed("missing", f"{len(lacking)} of {len(builds)} build(s) neither read nor write the GitHub Actions "
                      f"cache: {', '.join(lacking)}", "give each build cache-from: type=gha and cache-to: "
                      "type=gha,mode=max (the CLI: --cache-from/--cache-to)", without_cache=lacking)
    return passed(f"all {len(builds)} build(s) read and write the GitHub Actions cache (type=gha)", without_cache=[])


@criterion("l11.tests", "the tests run in the test stage's image, before the push")
def tests_run(g: Grading):
    builds, runs = g.builds(), g.need_workflow().docker_runs()
    test_builds = [b for b in builds if b.target == "test"]
    ran = [f"`{r.step.label}` runs {r.image}" for r in runs]
    if not test_builds:
        return failed("missing", "no step builds the `test` stage"
                      + (f" ({'; '.join(ran)}, an image without the tests)" if ran else ""),
                      "build the test stage (target: test) and run that image before the push", runs=ran)
    tested = [(b, r) for b in test_builds for r in runs if r.image in b.tags and r.order > b.order]
    if not tested:
        return failed("missing", f"`{test_builds[0].step.label}` builds the test stage as {test_builds[0].tags or '(no tag)'}, "
                      "but no later step runs that image", "run it: docker run --rm TAG (its CMD runs pytest)",
                      runs=ran, tags=test_builds[0].tags)
    build, run = tested[0]
    first_push = next((b for b in builds if b.pushes), None)
    if first_push is not None and first_push.order < run.order:
        return failed("wrong-value", f"the tests run after the push: `{first_push.step.label}` pushes before "
                      f"`{run.step.label}` runs them", "move the test steps before the build that pushes",
                      push_step=first_push.step.index + 1, test_step=run.step.index + 1)
    image = g.build_locally(build, "ci-test")
    if not hasattr(image, "image"):
        return image  # the build failed: its verdict
    config = image.image.attrs.get("Config") or {}
    argv = [*(config.get("Entrypoint") or []), *(run.command or config.get("Cmd") or [])]
    if not argv:
        return failed("missing", f"{run.image} has no command to run", "give the test stage a CMD that runs pytest")
    res = helper(g.lab, image.tag, argv, thing="ci-tests", user=None, timeout=180)
    last = (res.output.strip().splitlines() or [""])[-1]
    if not res.ok:
        return failed("exited", f"`docker run {run.image}{' ' + ' '.join(run.command) if run.command else ''}` "
                      f"exits {res.exit_code}: {short(last, 140)}", "make the tests pass in the test image",
                      exit_code=res.exit_code, output=short(last, 200))
    return passed(f"`{build.step.label}` then `{run.step.label}`: exit 0, {short(last, 80)}", exit_code=0,
                  output=short(last, 200))


def _repository(g: Grading, b: workflow.Build) -> tuple[str, str]:
    """(path, tag) of the image ``b`` pushes, registry host left out: ``acme/shop``, ``0123…``."""
    names = []
    for tag in b.tags:
        if "${{" in tag:  # docker/metadata-action's tags output: the images it was given, tagged sha-SHORT
            for s in g.wf.steps:
                if s.id and f"steps.{s.id}.outputs.tags" in tag:
                    names += [f"{g.wf.render(i)}:sha-{g.wf.github['sha'][:7]}" for i in workflow._lines(s.inputs.get("images"))]
        else:
            names.append(tag)
    name = next((n for n in names if "${{" not in n), "ci/image:latest")
    repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    first, _, rest = repo.partition("/")
    path = rest if rest and ("." in first or ":" in first or first == "localhost") else repo
    return path.lower(), tag


@criterion("l11.push-digest", "the shipped image is built once, pushed, and named by its digest")
def pushed_by_digest(g: Grading):
    builds = g.builds()
    pushes = [b for b in builds if b.pushes]
    if not pushes:
        return failed("missing", "no step pushes an image", "push the runtime image (push: true, or docker buildx "
                      "build --push)", pushes=[])
    b = pushes[0]
    shipped = [x for x in builds if x.target == b.target and x.file == b.file and x.context == b.context]
    stages = _stages(g, b)
    if b.target and stages and b.target != stages[-1]:
        return failed("wrong-value", f"`{b.step.label}` pushes the `{b.target}` stage, not the one that ships "
                      f"(`{stages[-1]}`, the last stage)", f"push target: {stages[-1]}", target=b.target)
    if len(pushes) > 1 or len(shipped) > 1:
        steps = sorted({x.step.label for x in pushes + shipped})
        return failed("wrong-value", f"the shipped image is built {len(steps)} times: {', '.join(steps)}",
                      "build and push it in one step, and use that step's digest", steps=steps)
    readers = (g.wf.mentions(b.step, f"steps.{b.step.id}.outputs.digest") if b.step.id else []) \
        + ([s for s in g.wf.steps if s.index >= b.step.index and "containerimage.digest" in s.run] if b.via == "cli" else [])
    if not readers:
        return failed("missing", f"nothing after `{b.step.label}` uses the digest it pushed"
                      + ("" if b.step.id else " (the step has no id)"),
                      "give the push step an id (id: push) and name the image as IMAGE@${{ steps.push.outputs.digest }} "
                      "in the step that deploys it", push_step=b.step.label, id=b.step.id)
    image = g.build_locally(b, "ci-runtime")
    if not hasattr(image, "image"):
        return image
    path, tag = _repository(g, b)
    image.image.tag(f"{g.reg.host}/{path}", tag)
    try:
        digest = push(f"{g.reg.host}/{path}:{tag}", client=g.lab.client, quiet=True)
    except PushFailed as exc:
        return failed("not-answering", f"pushing to the course registry {g.reg.host} failed: {short(exc, 140)}",
                      "run the check again (the registry container must be running)", registry=g.reg.host)
    probe = helper(g.lab, image.tag, ["python", "-c", "import pytest"], thing="ci-no-pytest", user=None)
    if probe.ok:
        return failed("wrong-value", f"the pushed image {path}@{digest[:19]}… holds pytest: it is the test stage",
                      "push the runtime stage", digest=digest, target=b.target)
    return passed(f"`{b.step.label}` pushed {path}@{digest[:19]}… (to {g.reg.host} here); "
                  f"`{readers[0].label}` names it by that digest", digest=digest, repository=path,
                  readers=[s.label for s in readers])


CRITERIA = [readable, actionlint_clean, pinned, cached, tests_run, pushed_by_digest]


def check(lab, reg: Registry, repo, *, only=None) -> Checker:
    """``repo``: the exercise's repository (:func:`monorepo`) with the learner's ``.github/workflows/ci.yml``;
    ``reg``: the course registry the push goes to here."""
    with quiet_cli():
        c = Checker(LESSON, "CI: test the image, then ship it by digest", planned=[x.title for x in CRITERIA])
        c.grade(CRITERIA, Grading(lab, reg, Path(repo)), only=only)
    return c.report()

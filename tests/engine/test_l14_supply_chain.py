"""Lesson 14: the exercise check (ship buildinfo-api for amd64 + arm64, max provenance recording APP_VERSION, an SBOM,
a signature), proven against the registry on a containerd-store engine. Each wrong answer fails its own line, by id,
cause and the values seen: nothing pushed, another registry, one platform, an arm64 entry that holds an amd64 image,
min provenance, max provenance without the build argument, no signature, a tag moved after signing, an SBOM from
requirements.txt, no SBOM, a registry that is gone. A correct answer written differently (the docker CLI and cosign
called directly, another Dockerfile, a CycloneDX document made by hand) passes; the unsolved exercise's failing ids are
in tests/test_exercises.py, and the solution notebook proves the solution."""
from __future__ import annotations

import json
import shutil

import pytest

from dockerlab import Lesson, images, tools
from dockerlab.grading.checker import Checker
from dockerlab.grading.lessons import l14_supply_chain as ex
from dockerlab.supply import platforms, provenance, sbom, signing, stores

ARGS = {"APP_VERSION": ex.VERSION}


@pytest.fixture(scope="module", autouse=True)
def arm64():
    """QEMU for arm64 while these tests run: registered if missing (then removed after), as the suite does."""
    try:
        with platforms.emulation("arm64"):
            yield True
    except platforms.EmulationUnavailable:
        yield False


@pytest.fixture(scope="module")
def ctx():
    lab = Lesson(ex.LESSON, quiet=True)
    target = stores.containerd_target(lab, quiet=True)
    try:
        reg = target.registry(lab)
        app = lab.workspace(ex.APP)
        keys = signing.key_pair(app.with_name("keys"), quiet=True)
        yield {"lab": lab, "target": target, "client": target.client, "reg": reg, "app": app, "keys": keys,
               "repo": f"{reg.host}/{ex.REPO}"}
    finally:
        target.close()
        lab.cleanup(quiet=True)


def grade(ctx, image: str, only=None, reg=None) -> Checker:
    g = ex.Grading(ctx["lab"], ctx["target"], reg or ctx["reg"], ctx["keys"], image)
    return Checker(ex.LESSON, "test").grade(ex.CRITERIA, g, only=only)


def _ship(ctx, tag, *, path=None, platforms="linux/amd64,linux/arm64", provenance_mode="mode=max", buildargs=ARGS,
          bom="image", sign=True):
    """Push (with the helper), attach an SBOM (``image``: made in the image; ``requirements``: from requirements.txt;
    None: none), sign. Returns REPO@DIGEST."""
    path = path or ctx["app"]
    pushed = provenance.build_push(path, f"{ctx['repo']}:{tag}", platforms=platforms, provenance=provenance_mode,
                                   labels=ctx["lab"].labels, buildargs=buildargs, quiet=True)
    ref = f"{ctx['repo']}@{pushed['digest']}"
    if bom == "image":
        ctx["client"].images.pull(ref)
        doc = sbom.cyclonedx(ref, client=ctx["client"], labels=ctx["lab"].labels, quiet=True)
    elif bom == "requirements":  # what the requirements file says, not what the image holds
        pins = [l.split("==") for l in (path / "requirements.txt").read_text().splitlines() if "==" in l]
        doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
               "components": [{"type": "library", "name": n, "version": v, "purl": f"pkg:pypi/{n}@{v}"} for n, v in pins]}
    else:
        doc = None
    if doc is not None:
        f = path / f"sbom-{tag}.json"
        f.write_text(json.dumps(doc))
        assert signing.attest(ref, ctx["keys"], f, quiet=True).ok
    if sign:
        assert signing.sign(ref, ctx["keys"], quiet=True).ok
    return ref


def test_nothing_pushed_and_an_empty_answer(ctx):
    for answer in (f"{ctx['repo']}:nothing-here", ""):
        sc = grade(ctx, answer)
        assert sc.failed_ids == ["l14.pushed"] and sc.by_id("l14.pushed").cause == "missing"
        assert [r.passed for r in sc.results[1:]] == [None] * 6  # not evaluated, each saying why


def test_another_registry_is_refused(ctx):
    sc = grade(ctx, f"ghcr.io/acme/{ex.REPO}:{ex.TAG}", only={"l14.pushed"})
    assert sc.failed_ids == ["l14.pushed"] and sc.by_id("l14.pushed").cause == "wrong-value"
    assert sc.by_id("l14.pushed").observed["image"] == f"ghcr.io/acme/{ex.REPO}:{ex.TAG}"


def test_single_platform_fails_on_platforms(ctx):
    ref = _ship(ctx, "one-platform", platforms="linux/amd64", bom=None, sign=False)
    sc = grade(ctx, ref, only={"l14.pushed", "l14.platforms", "l14.runs", "l14.provenance"})
    assert sc.failed_ids == ["l14.platforms"] and sc.by_id("l14.platforms").cause == "missing"
    assert sc.by_id("l14.platforms").observed["missing"] == ["linux/arm64"]
    assert sc.by_id("l14.runs").passed is None
    assert sc.by_id("l14.provenance").observed["modes"] == {"linux/amd64": "max"}  # its one platform has max


def test_min_provenance_and_a_missing_build_arg_fail_on_provenance(ctx):
    ref = _ship(ctx, "min", provenance_mode="mode=min", bom=None, sign=False)
    sc = grade(ctx, ref, only={"l14.pushed", "l14.provenance"})
    assert sc.failed_ids == ["l14.provenance"] and sc.by_id("l14.provenance").cause == "wrong-value"
    assert sc.by_id("l14.provenance").observed["modes"] == {"linux/amd64": "min", "linux/arm64": "min"}
    ref = _ship(ctx, "no-arg", buildargs=None, bom=None, sign=False)
    sc = grade(ctx, ref, only={"l14.pushed", "l14.provenance"})
    assert sc.failed_ids == ["l14.provenance"]
    assert sc.by_id("l14.provenance").observed["build_args"] == {"linux/amd64": "(none)", "linux/arm64": "(none)"}


def test_unsigned_image_fails_on_signed(ctx):
    ref = _ship(ctx, "unsigned", sign=False)
    sc = grade(ctx, ref, only={"l14.pushed", "l14.signed", "l14.sbom"})
    assert sc.failed_ids == ["l14.signed"] and sc.by_id("l14.signed").cause == "missing"
    # cosign 3 lists the SBOM attestation among the entries `cosign verify` verifies: that is not a signature
    assert sc.by_id("l14.signed").observed == {"signatures": 0, "tag_moved": False, "attestations_only": True}


def test_tag_moved_after_signing_fails(ctx):
    signed = _ship(ctx, "moved")
    provenance.build_push(ctx["app"], f"{ctx['repo']}:moved", labels=ctx["lab"].labels, quiet=True,
                          buildargs={"APP_VERSION": "1.0.1-unreviewed"})
    sc = grade(ctx, f"{ctx['repo']}:moved", only={"l14.pushed", "l14.signed"})
    assert sc.failed_ids == ["l14.signed"] and sc.by_id("l14.signed").observed["tag_moved"] is True
    # the digest that was signed still verifies: the check judges what the answer names, now
    assert signing.verify(signed, ctx["keys"].pub, quiet=True).ok


def test_sbom_from_requirements_misses_what_the_image_holds(ctx):
    ref = _ship(ctx, "sbom-from-requirements", bom="requirements", sign=False)
    sc = grade(ctx, ref, only={"l14.pushed", "l14.sbom", "l14.sbom-complete"})
    assert sc.failed_ids == ["l14.sbom-complete"] and sc.by_id("l14.sbom-complete").cause == "missing"
    # pip is installed in every Python image, and in no requirements file
    assert any(n.startswith("pip==") for n in sc.by_id("l14.sbom-complete").observed["not_listed"])


def test_no_sbom_fails(ctx):
    ref = _ship(ctx, "no-sbom", bom=None)
    sc = grade(ctx, ref, only={"l14.pushed", "l14.signed", "l14.sbom", "l14.sbom-complete"})
    assert sc.failed_ids == ["l14.sbom"] and sc.by_id("l14.sbom").observed["sboms"] == 0
    assert sc.by_id("l14.sbom-complete").passed is None


def test_arm64_entry_that_holds_an_amd64_image_fails(ctx):
    """A defect where the index looks right: the final stage pinned to amd64, so the arm64 entry runs amd64 code."""
    wrong = ctx["app"].with_name("buildinfo_pinned_amd64")
    shutil.copytree(ctx["app"], wrong, dirs_exist_ok=True)
    text = (wrong / "Dockerfile").read_text()
    assert f"\nFROM {images.ref('python')}\n" in text
    (wrong / "Dockerfile").write_text(text.replace(f"\nFROM {images.ref('python')}\n",
                                                   f"\nFROM --platform=linux/amd64 {images.ref('python')}\n"))
    ref = _ship(ctx, "pinned-amd64", path=wrong, bom=None, sign=False)
    sc = grade(ctx, ref, only={"l14.pushed", "l14.platforms", "l14.runs"})
    # BuildKit writes the target's platform in the arm64 config: only running the variant shows what it holds
    assert sc.failed_ids == ["l14.runs"] and sc.by_id("l14.runs").cause == "wrong-value"
    assert sc.by_id("l14.runs").observed["machines"] == {"linux/amd64": "x86_64", "linux/arm64": "x86_64"}


def test_registry_gone_is_a_verdict(ctx):
    gone = ctx["target"].registry(ctx["lab"], "registry-gone")
    gone.container.remove(force=True, v=True)
    sc = grade(ctx, f"{gone.host}/{ex.REPO}:{ex.TAG}", reg=gone)
    assert sc.failed_ids == ["l14.pushed"] and sc.by_id("l14.pushed").cause == "not-answering"


def test_another_correct_answer_passes(ctx, arm64):
    """Written differently: the docker CLI itself (`docker build`, platforms in the other order), answered by tag, a
    CycloneDX document made from importlib.metadata by hand (not cyclonedx-py), `cosign attest` and
    `cosign sign --recursive` called directly, another Dockerfile layout (wheels unpacked to /opt/site, uid 65534)."""
    other = ctx["app"].with_name("buildinfo_other")
    shutil.copytree(ctx["app"], other, dirs_exist_ok=True)
    (other / "Dockerfile").write_text(
        f"FROM --platform=$BUILDPLATFORM {images.ref('python')} AS wheels\n"
        "ARG TARGETARCH\n"
        "COPY requirements.txt .\n"
        'RUN pip download --no-deps --only-binary=:all: --python-version 3.13 --implementation cp \\\n'
        '      --platform "manylinux_2_17_$([ "$TARGETARCH" = arm64 ] && echo aarch64 || echo x86_64)" \\\n'
        "      -d /wheels -r requirements.txt \\\n"
        " && mkdir /site && for w in /wheels/*.whl; do python -m zipfile -e \"$w\" /site; done\n"
        f"FROM {images.ref('python')}\n"
        "ARG APP_VERSION=0.0.0\n"
        "ENV APP_VERSION=$APP_VERSION\n"
        "COPY --from=wheels /site /opt/site\n"
        "COPY app.py /srv/app.py\n"
        "ENV PYTHONPATH=/opt/site\n"
        "WORKDIR /srv\n"
        "USER 65534\n"
        'CMD ["python", "-m", "gunicorn", "-b", "0.0.0.0:8000", "app:app"]\n')
    ref = f"{ctx['repo']}:other"
    labels = [a for k, v in ctx["lab"].labels.items() for a in ("--label", f"{k}={v}")]  # so cleanup removes it here too
    cmd = ["docker", "build", "--platform", "linux/arm64,linux/amd64", "--provenance", "mode=max",
           "--build-arg", f"APP_VERSION={ex.VERSION}", *labels, "-t", ref, "--push", str(other)]
    out = tools.run(cmd, timeout=900, merge=True)  # the lesson's engine: a helper engine is the target engine
    assert out.returncode == 0, out.stdout[-1500:]
    client = ctx["client"]
    client.images.pull(ref)
    dists = json.loads(client.containers.run(ref, ["python", "-c", "import importlib.metadata as m, json; print(json.dumps("
                                                    "[[d.metadata['Name'], d.version] for d in m.distributions()]))"],
                                             remove=True, labels=ctx["lab"].labels).decode())
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
           "components": [{"type": "library", "name": n, "version": v} for n, v in dists]}
    (other / "bom.cdx.json").write_text(json.dumps(doc))
    digest = provenance.index(ctx["reg"], ctx["repo"], "other")["digest"]
    for args in (["attest", "--type", "cyclonedx", "--predicate", str(other / "bom.cdx.json")], ["sign", "--recursive"]):
        res = signing.run([args[0], "--key", str(ctx["keys"].key), "--signing-config", str(ctx["keys"].signing_config),
                           "-y", *args[1:], f"{ctx['repo']}@{digest}"], password=ctx["keys"].password, quiet=True)
        assert res.ok, res.message
    sc = grade(ctx, ref)
    assert sc.passed, str(sc)
    assert sc.by_id("l14.provenance").observed["build_args"]["linux/arm64"] == f"APP_VERSION={ex.VERSION}"
    if arm64:
        assert sc.by_id("l14.runs").observed["machines"] == {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}

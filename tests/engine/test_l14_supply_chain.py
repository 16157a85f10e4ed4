"""Lesson 14: the exercise check (ship buildinfo-api with an SBOM, a signature, amd64 + arm64), proven against the
registry on a containerd-store engine: it fails on nothing pushed and on plausible wrong answers (one platform, no
signature, a tag moved after signing, an SBOM from requirements.txt, no SBOM, an arm64 entry that is an amd64 image),
each naming its fix, and passes on the solution's way and on another correct answer written differently."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from dockerlab import CheckFailed, Lesson, images
from dockerlab.supply import platforms
from dockerlab.supply import provenance
from dockerlab.supply import sbom
from dockerlab.supply import signing
from dockerlab.supply import stores
from dockerlab.grading.lessons import l14_supply_chain as ex


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


def _check(ctx, answer):
    return ex.check(ctx["lab"], ctx["target"], ctx["reg"], ctx["keys"], answer)


def _failed(ctx, answer) -> dict:
    with pytest.raises(CheckFailed) as info:
        _check(ctx, answer)
    return {r.name: r for r in info.value.failures}


def _ship(ctx, tag, *, path=None, platforms="linux/amd64,linux/arm64", bom="image", sign=True, buildargs=None):
    """Push, attach an SBOM (``image``: made in the image; ``requirements``: from requirements.txt; None: none), sign.
    Returns REPO@DIGEST."""
    path = path or ctx["app"]
    pushed = provenance.build_push(path, f"{ctx['repo']}:{tag}", platforms=platforms, labels=ctx["lab"].labels,
                                   buildargs=buildargs, quiet=True)
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


def test_nothing_pushed_fails_with_the_push_command(ctx):
    failed = _failed(ctx, {"image": f"{ctx['repo']}:{ex.TAG}"})
    assert "nothing pushed" in failed["in the registry"].detail
    assert "--platform linux/amd64,linux/arm64" in failed["in the registry"].fix


def test_another_registry_is_refused(ctx):
    failed = _failed(ctx, {"image": f"ghcr.io/acme/{ex.REPO}:{ex.TAG}"})
    assert "does not name the lesson's registry" in failed["in the registry"].detail


def test_single_platform_fails_only_on_platforms(ctx):
    ref = _ship(ctx, "one-platform", platforms="linux/amd64")
    failed = _failed(ctx, {"image": ref})
    assert set(failed) == {"amd64 and arm64"}
    assert "single platform" in failed["amd64 and arm64"].detail and "linux/arm64" in failed["amd64 and arm64"].detail
    assert "--platform linux/amd64,linux/arm64" in failed["amd64 and arm64"].fix


def test_unsigned_image_fails_on_signed(ctx):
    ref = _ship(ctx, "unsigned", sign=False)
    failed = _failed(ctx, {"image": ref})
    assert set(failed) == {"signed"}
    # cosign 3 lists the SBOM attestation among the entries `cosign verify` verifies: that is not a signature
    assert "only attestations verify" in failed["signed"].detail
    assert "cosign sign" in failed["signed"].fix


def test_tag_moved_after_signing_fails(ctx):
    signed = _ship(ctx, "moved")
    provenance.build_push(ctx["app"], f"{ctx['repo']}:moved", labels=ctx["lab"].labels, quiet=True,
                          buildargs={"APP_VERSION": "1.0.1-unreviewed"})
    failed = _failed(ctx, {"image": f"{ctx['repo']}:moved"})
    assert "signed" in failed
    assert "pushing again after signing" in failed["signed"].fix
    # the digest that was signed still verifies: the check judges what the answer names, now
    assert signing.verify(signed, ctx["keys"].pub, quiet=True).ok


def test_sbom_from_requirements_misses_what_the_image_holds(ctx):
    ref = _ship(ctx, "sbom-from-requirements", bom="requirements")
    failed = _failed(ctx, {"image": ref})
    assert set(failed) == {"SBOM complete"}
    detail = failed["SBOM complete"].detail
    assert "pip==" in detail  # pip is installed in every Python image, and in no requirements file
    assert "cyclonedx-py environment" in failed["SBOM complete"].fix


def test_no_sbom_fails(ctx):
    ref = _ship(ctx, "no-sbom", bom=None)
    failed = _failed(ctx, {"image": ref})
    assert set(failed) == {"SBOM attached"}
    assert "cosign attest" in failed["SBOM attached"].fix


def test_arm64_entry_that_holds_an_amd64_image_fails(ctx):
    """A defect where the index looks right: the final stage pinned to amd64, so the arm64 entry runs amd64 code."""
    wrong = ctx["app"].with_name("buildinfo_pinned_amd64")
    shutil.copytree(ctx["app"], wrong, dirs_exist_ok=True)
    text = (wrong / "Dockerfile").read_text()
    (wrong / "Dockerfile").write_text(text.replace(f"\nFROM {images.ref('python')}\n",
                                                   f"\nFROM --platform=linux/amd64 {images.ref('python')}\n"))
    assert "FROM --platform=linux/amd64" in (wrong / "Dockerfile").read_text()
    ref = _ship(ctx, "pinned-amd64", path=wrong)
    failed = _failed(ctx, {"image": ref})
    assert {"amd64 and arm64", "runs on each CPU"} & set(failed), failed
    line = failed.get("amd64 and arm64") or failed["runs on each CPU"]
    assert "another CPU" in line.detail and "linux/amd64" in line.fix


def test_the_solutions_way_passes(ctx, arm64):
    ref = _ship(ctx, ex.TAG)
    result = _check(ctx, {"image": ref})
    assert result.passed, str(result)
    if arm64:
        assert "aarch64" in result.line("runs on each CPU").detail


def test_another_correct_answer_passes(ctx):
    """Written differently: the docker CLI itself, answered by tag, a CycloneDX document made from importlib.metadata
    by hand (not cyclonedx-py), `cosign attest`/`cosign sign --recursive` called directly, another Dockerfile layout."""
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
        "COPY --from=wheels /site /opt/site\n"
        "COPY app.py /srv/app.py\n"
        "ENV PYTHONPATH=/opt/site\n"
        "WORKDIR /srv\n"
        "USER 65534\n"
        'CMD ["python", "-m", "gunicorn", "-b", "0.0.0.0:8000", "app:app"]\n')
    ref = f"{ctx['repo']}:other"
    labels = [a for k, v in ctx["lab"].labels.items() for a in ("--label", f"{k}={v}")]  # so cleanup removes it here too
    env_cmd = ["docker", "build", "--platform", "linux/arm64,linux/amd64", *labels, "-t", ref, "--push", str(other)]
    # the lesson's engine: a helper engine is the package's target engine, not this process's DOCKER_HOST
    out = subprocess.run(env_cmd, capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, **ctx["target"].env()))
    assert out.returncode == 0, out.stderr[-1500:]
    client = ctx["client"]
    client.images.pull(ref)
    dists = json.loads(client.containers.run(ref, ["python", "-c", "import importlib.metadata as m, json; print(json.dumps("
                                                    "[[d.metadata['Name'], d.version] for d in m.distributions()]))"],
                                             remove=True, labels=ctx["lab"].labels).decode())
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
           "components": [{"type": "library", "name": n, "version": v} for n, v in dists]}
    (other / "bom.cdx.json").write_text(json.dumps(doc))
    digest = provenance.index(ctx["reg"], ctx["repo"], "other")["digest"]
    env = {"COSIGN_PASSWORD": ctx["keys"].password}
    for args in (["attest", "--type", "cyclonedx", "--predicate", str(other / "bom.cdx.json")], ["sign", "--recursive"]):
        res = signing.run([args[0], "--key", str(ctx["keys"].key), "--signing-config", str(ctx["keys"].signing_config),
                           "-y", *args[1:], f"{ctx['repo']}@{digest}"], password=env["COSIGN_PASSWORD"], quiet=True)
        assert res.ok, res.message
    result = _check(ctx, {"image": ref})
    assert result.passed, str(result)

"""The course's pins follow lesson 10's rule: images.toml holds supported tags that name their Debian release (no
frozen patch tag), every sample Dockerfile's FROM agrees with it, renovate.json moves them, and the doctor says how
each local image is pinned (stand-in by recipe, official by digest)."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from dockerlab import dockerfile as dfile
from dockerlab import images

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = ("python", "postgres", "redis", "registry")  # Official Images whose patch tags stop being rebuilt
FROZEN = re.compile(r"^\d+\.\d+\.\d+(-|$)")  # 3.13.5, 3.13.5-slim, 17.6.1-trixie (lesson 10[26])


def frozen_patch_tags(toml_text: str) -> list[str]:
    """The refs of images.toml (and the derived dockerlab/python-arm64) that name a frozen patch release."""
    out = []
    for entry in tomllib.loads(toml_text).values():
        repo, _, tag = entry["ref"].rpartition(":")
        if repo.rsplit("/", 1)[-1].removesuffix("-arm64") in OFFICIAL and FROZEN.match(tag):
            out.append(entry["ref"])
    return out


def from_disagreements(dockerfile_text: str, manifest: list[images.CourseImage]) -> list[str]:
    """FROM / COPY --from images (build args resolved) of a course repository that are not the manifest's pin."""
    by_repo: dict[str, set[str]] = {}
    for i in manifest:
        by_repo.setdefault(i.ref.rpartition(":")[0], set()).update({i.ref, i.pinned_ref})
    return [r for r in dfile.parse(dockerfile_text).external_refs()
            if r.split("@")[0].rpartition(":")[0] in by_repo and r not in by_repo[r.split("@")[0].rpartition(":")[0]]]


def test_images_toml_holds_no_frozen_patch_tag():
    assert frozen_patch_tags((images.HERE / "images.toml").read_text()) == []


def test_a_frozen_patch_tag_is_caught():
    old = '[python]\nref = "python:3.13.5-slim"\n[pg]\nref = "postgres:17.6"\n[arm]\nref = "dockerlab/python-arm64:3.13.5-slim"\n' \
          '[ok]\nref = "python:3.13-slim-trixie"\n[uv]\nref = "ghcr.io/astral-sh/uv:0.13.8"\n'
    assert frozen_patch_tags(old) == ["python:3.13.5-slim", "dockerlab/python-arm64:3.13.5-slim"]  # 17.6: no patch
    assert frozen_patch_tags('[pg]\nref = "postgres:17.6.2-trixie"\n') == ["postgres:17.6.2-trixie"]


def test_official_pins_name_their_debian_release_and_digests_are_real_or_empty():
    for img in images.manifest(on_demand=True):
        tag = img.ref.rpartition(":")[2]
        if img.ref.startswith(("python:", "postgres:", "redis:", "dockerlab/python-arm64:")):
            assert tag.endswith("-" + images.DEBIAN_SUITE), img.ref
        assert img.digest == "" or re.fullmatch(r"sha256:[0-9a-f]{64}", img.digest), img.key
        assert dfile.pin_kind(img.pinned_ref) in (None, "inexact")  # registry:3 is a major line, by choice
    refs = {i.key: i for i in images.manifest(on_demand=True)}
    assert refs["python-arm64"].ref.rpartition(":")[2] == refs["python"].ref.rpartition(":")[2]


def test_sample_dockerfiles_agree_with_the_manifest():
    manifest = images.manifest(on_demand=True)
    files = sorted(ROOT.glob("sample_apps/**/Dockerfile*")) + [ROOT / "Dockerfile"]
    wrong = {str(f.relative_to(ROOT)): bad for f in files if (bad := from_disagreements(f.read_text(), manifest))}
    assert wrong == {}
    assert from_disagreements("ARG PY=3.13.5\nFROM python:${PY}-slim\n", manifest) == ["python:3.13.5-slim"]
    assert from_disagreements("FROM python:3.13-slim-trixie AS b\nFROM b\n", manifest) == []


def test_pinned_ref_adds_the_digest():
    img = images.CourseImage("python", "python:3.13-slim-trixie", "", digest="sha256:" + "a" * 64)
    assert img.pinned_ref == "python:3.13-slim-trixie@sha256:" + "a" * 64
    assert images.CourseImage("python", "python:3.13-slim-trixie", "").pinned_ref == "python:3.13-slim-trixie"


def _image(**labels):
    return SimpleNamespace(labels=labels)


def test_pin_facts_name_stand_in_recipe_digest_or_tag():
    img = images.CourseImage("postgres", "postgres:17-trixie", "", standin_package="postgresql-17")
    standin = _image(**{images.LABEL_STANDIN: "true", images.LABEL_PACKAGE: "postgresql-17=17.12-0+deb13u1",
                        images.LABEL_SUITE: "trixie", images.LABEL_RECIPE: "f99430e305f7cbec"})
    assert images.pin_facts(img, standin) == {"kind": "stand-in", "recipe": "standins/postgres", "suite": "trixie",
                                              "package": "postgresql-17=17.12-0+deb13u1", "recipe_hash": "f99430e305f7cbec"}
    assert images.pinned_by(img, standin).split(", ")[0] == "stand-in" and "f99430e305f7cbec" in images.pinned_by(img, standin)
    assert images.pin_facts(img, None) == {"kind": "missing"}
    assert images.pin_facts(img, _image()) == {"kind": "official", "digest": ""}
    pinned = images.CourseImage("postgres", "postgres:17-trixie", "", digest="sha256:" + "b" * 64)
    assert images.pinned_by(pinned, _image()).endswith("sha256:" + "b" * 64)
    arm = images.CourseImage("python-arm64", "dockerlab/python-arm64:3.13-slim-trixie", "")
    assert images.pin_facts(arm, _image(**{images.LABEL_STANDIN: "true"}))["recipe"] == "standins/python"


@pytest.mark.parametrize("ref, recorded, gap", [
    ("registry:3", "docker-registry=2.8.3+ds1-2+b8", "docker-registry 2.8.3+ds1-2+b8, not 3.x"),
    ("redis:8-trixie", "redis-server=5:8.0.2-3+deb13u3", ""),
    ("python:3.13-slim-trixie", "python3=3.13.5-1", ""),
    ("python:3.14-slim-trixie", "python3=3.13.5-1", "python3 3.13.5-1, not 3.14.x"),
    ("postgres:17-trixie", "postgresql-17=17.12-0+deb13u1", ""),
])
def test_version_gap_between_tag_and_stand_in(ref, recorded, gap):
    img = images.CourseImage("x", ref, "")
    found = images.standin_version_gap(img, _image(**{images.LABEL_STANDIN: "true", images.LABEL_PACKAGE: recorded}))
    assert (gap in found) if gap else found == ""
    assert images.standin_version_gap(img, _image()) == ""  # an official image: nothing to compare


def _renovate():
    return json.loads((ROOT / "renovate.json").read_text())


def test_renovate_regex_manager_reads_every_pulled_pin_of_images_toml():
    cfg = _renovate()
    (manager,) = [m for m in cfg["customManagers"] if m["customType"] == "regex"]
    assert any(re.search(p.strip("/"), "src/dockerlab/images.toml") for p in manager["managerFilePatterns"])
    pattern = re.compile(manager["matchStrings"][0].replace("(?<", "(?P<"))  # JS named groups -> Python
    found = {m["depName"]: (m["currentValue"], m["currentDigest"]) for m in pattern.finditer((images.HERE / "images.toml").read_text())}
    pulled = {i.ref.rpartition(":")[0]: (i.ref.rpartition(":")[2], i.digest) for i in images.manifest(on_demand=True) if i.pull}
    assert found == pulled
    assert {"custom.regex", "dockerfile", "docker-compose", "github-actions", "pep621"} <= set(cfg["enabledManagers"])
    assert "helpers:pinGitHubActionDigests" in cfg["extends"]


def test_renovate_config_uses_documented_option_shapes():
    """Types as Renovate's options list them (lib/config/options/index.ts): descriptions and file patterns are arrays."""
    cfg = _renovate()
    blocks = [cfg, *cfg["customManagers"], *cfg["packageRules"]]
    assert all(isinstance(b.get("description", []), list) for b in blocks)
    assert all(isinstance(m["managerFilePatterns"], list) and "fileMatch" not in m for m in cfg["customManagers"])
    assert all(isinstance(r.get("matchManagers", []), list) and isinstance(r.get("matchDatasources", []), list)
               for r in cfg["packageRules"])

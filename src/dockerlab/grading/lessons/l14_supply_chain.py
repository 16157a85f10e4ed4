"""Lesson 14 exercise: ship a service so that its image, in the registry, exists for amd64 and arm64, is signed and
verifies with the learner's public key, and carries an SBOM that lists every distribution installed in it.

Everything is judged against the registry and the image itself: the index the registry serves (each platform's
config says which CPU it is for), each variant run and asked ``platform.machine()`` where the engine can run it,
``cosign verify`` and ``cosign verify-attestation`` with the public key, and the SBOM's components compared with
``importlib.metadata.distributions()`` run in the pushed image.
"""
from __future__ import annotations

import json
import re

from docker.errors import APIError, ImageNotFound, NotFound

from dockerlab.supply import provenance
from dockerlab.supply import sbom
from dockerlab.supply import signing
from dockerlab.grading.checker import Checker
from dockerlab.supply.platforms import can_run
from dockerlab.show import quiet_cli, short

LESSON = "14_supply_chain"
APP = "buildinfo_api"
REPO = "shipped"
TAG = "1.0"
PLATFORMS = ("linux/amd64", "linux/arm64")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MACHINE = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


def split(ref: str) -> tuple[str, str]:
    """``HOST/shipped@sha256:…`` or ``HOST/shipped:1.0`` -> (repository, digest or tag)."""
    ref = ref.strip()
    if "@" in ref:
        repo, digest = ref.split("@", 1)
        return repo, digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"


def _boms_from_statements(statements: list[dict], digest: str) -> list[list[tuple[str, str]]]:
    """(name, version) lists of each CycloneDX SBOM attested for ``digest`` (attestations add up: there may be several)."""
    hexd = digest.split(":", 1)[-1]
    out = []
    for st in statements:
        subjects = [(s.get("digest") or {}).get("sha256") for s in st.get("subject") or []]
        if hexd in subjects and isinstance(st.get("predicate"), dict):
            out.append([(c["name"], c["version"]) for c in sbom.components(st["predicate"])])
    return out


def _buildkit_sbom_pairs(ref: str) -> list[tuple[str, str]] | None:
    """(name, version) of the Python packages in a BuildKit SBOM attestation (SPDX), if the image has one."""
    try:
        out = provenance.imagetools(ref, "{{json .SBOM}}", quiet=True).strip()
    except provenance.InspectFailed:
        return None
    if not out or out == "null":
        return None
    data = json.loads(out)
    docs = [data] if "SPDX" in data else list(data.values())
    pairs = []
    for doc in docs:
        for pkg in ((doc or {}).get("SPDX") or {}).get("packages") or []:
            purls = [r.get("referenceLocator", "") for r in pkg.get("externalRefs") or []]
            if any(p.startswith("pkg:pypi/") for p in purls):
                pairs.append((pkg.get("name", ""), pkg.get("versionInfo", "")))
        if pairs:
            return pairs
    return pairs or None


def check(lab, target, reg, keys, answer: dict) -> Checker:
    """``target``: the lesson's containerd-store engine (stores.containerd_target); ``reg``: the registry on it;
    ``keys``: the learner's cosign key pair (its public key verifies); ``answer``: {"image": "HOST/shipped@sha256:…"
    (or a tag)}."""
    c = Checker(LESSON, "ship buildinfo-api: SBOM, signature, amd64 + arm64")
    client = target.client
    image = str((answer or {}).get("image") or "").strip()
    repo, reference = split(image) if image else (f"{reg.host}/{REPO}", TAG)
    with quiet_cli():
        # 1. in the registry
        if not repo.startswith(reg.host + "/"):
            c.fail("in the registry", f"the answer {image!r} does not name the lesson's registry {reg.host}",
                   f'push to {reg.host}/{REPO}:{TAG} and answer {{"image": "{reg.host}/{REPO}@sha256:…"}}')
            return c.report()
        try:
            idx = provenance.index(reg, repo, reference)
        except LookupError:
            c.fail("in the registry", f"nothing pushed: the registry has no {repo.split('/', 1)[1]}:{reference} "
                   f"(it holds {reg.catalog() or 'nothing'})",
                   f"build and push in one step: docker build --platform linux/amd64,linux/arm64 -t {repo}:{TAG} --push .")
            return c.report()
        digest = idx["digest"]
        if not DIGEST.match(digest or ""):
            c.fail("in the registry", f"the registry answered no digest for {image}", "push the image again")
            return c.report()
        by_digest = f"{repo}@{digest}"
        c.ok("in the registry", f"{image} -> {digest[:19]}… ({idx['media type'].rsplit('.', 2)[-2]})")

        # 2. amd64 and arm64, each what it says it is
        variants = {m["platform"]: m for m in idx["manifests"] if m["kind"] == "image"}
        missing = [p for p in PLATFORMS if p not in variants]
        lying = [f"{p} (its config says {m['architecture']})" for p, m in variants.items()
                 if p in PLATFORMS and m["architecture"] != p]
        if missing:
            c.fail("amd64 and arm64", f"single platform: the image has {', '.join(variants) or 'no image manifest'}, "
                   f"not {', '.join(missing)}",
                   "build both in one go: docker build --platform linux/amd64,linux/arm64 … --push "
                   "(needs the containerd image store; the $BUILDPLATFORM deps stage needs no emulation)")
        elif lying:
            c.fail("amd64 and arm64", f"an entry of the index holds an image of another CPU: {', '.join(lying)}",
                   "let every stage that ends up in the image follow the target platform: no --platform=linux/amd64 "
                   "on the final FROM (only the deps stage runs on $BUILDPLATFORM)")
        else:
            c.ok("amd64 and arm64", ", ".join(f"{p}: {variants[p]['digest'][:19]}…" for p in PLATFORMS))

        # 3. each variant runs on its CPU (where this engine can run it)
        if not missing and not lying:
            seen, skipped = [], []
            for p in PLATFORMS:
                try:  # the variant itself, from the registry (a no-op when the engine has it already)
                    client.images.pull(by_digest, platform=p)
                except APIError:
                    pass
                res = can_run(by_digest, p, command=["python", "-c", "import platform; print(platform.machine())"],
                              client=client, labels=lab.labels)
                if res["ok"]:
                    seen.append((p, res["result"].strip().splitlines()[-1]))
                else:
                    skipped.append((p, res["result"]))
            wrong = [f"{p} prints {m!r}" for p, m in seen if m != MACHINE[p]]
            if wrong:
                c.fail("runs on each CPU", f"a variant runs code of another CPU: {', '.join(wrong)}",
                       "build the final stage for the target platform (no --platform=linux/amd64 on it)")
            elif skipped and not seen:
                c.skip("runs on each CPU", f"this engine could run neither variant: {skipped[0][1]}")
            else:
                detail = ", ".join(f"{p}: {m}" for p, m in seen)
                detail += "".join(f"; {p} not run here ({short(why, 60)})" for p, why in skipped)
                c.ok("runs on each CPU", detail)

        # 4. signed, and the signature verifies for this digest
        ver = signing.verify(by_digest, keys.pub, quiet=True)
        # cosign 3 also lists attestations (type https://cyclonedx.org/bom, …) as verified entries: an image signature
        # is an entry of the cosign signature type for this very digest
        sigs = [cl for cl in signing.claims(ver) if cl["type"] == signing.SIGNATURE_TYPE and cl["manifest digest"] == digest]
        if ver.ok and sigs:
            c.ok("signed", f"cosign verify --key {keys.pub.name} {repo.split('/', 1)[1]}@{digest[:19]}…: "
                 f"{len(sigs)} signature(s) of the image verify")
        else:
            why = ("only attestations verify, the image itself is not signed" if ver.ok else
                   short((ver.message.splitlines() or ["no signature"])[-1], 140))
            moved = reference != digest
            c.fail("signed", f"no signature of {digest[:19]}… verifies with {keys.pub.name} ({why})",
                   f"cosign sign --key {keys.key.name} {repo}@{digest[:19]}… (sign the digest"
                   + (" the tag points to now: pushing again after signing makes a new, unsigned digest" if moved else "")
                   + "; with the key pair of the exercise)")

        # 5. an SBOM comes with it
        res, statements = signing.verify_attestation(by_digest, keys.pub, type="cyclonedx", quiet=True)
        boms = _boms_from_statements(statements, digest) if res.ok else []
        source = f"{len(boms)} CycloneDX attestation(s) verified with your key"
        if not boms:
            buildkit = _buildkit_sbom_pairs(by_digest)
            boms = [buildkit] if buildkit else []
            source = "BuildKit's SBOM attestation"
        if not boms:
            c.fail("SBOM attached", f"no SBOM: no CycloneDX attestation of {digest[:19]}… verifies with {keys.pub.name}, "
                   "and the image has no BuildKit SBOM attestation",
                   f"make the SBOM in the image (sbom.cyclonedx(IMAGE) / cyclonedx-py environment) and attach it: "
                   f"cosign attest --key {keys.key.name} --type cyclonedx --predicate sbom.json {repo}@DIGEST")
            return c.report()
        c.ok("SBOM attached", f"{source}: {max(len(b) for b in boms)} component(s)")

        # 6. it lists every distribution installed in the image
        try:
            client.images.pull(by_digest)
            installed = sbom.installed(by_digest, client=client, labels=lab.labels, quiet=True)
        except (APIError, ImageNotFound, NotFound, sbom.SbomFailed) as exc:
            c.skip("SBOM complete", f"the pushed image could not be run here: {short(exc, 160)}")
            return c.report()
        gaps = min((sbom.missing(b, installed) for b in boms), key=len)  # the most complete SBOM attested
        if gaps:
            shown = ", ".join(f"{n}=={v}" for n, v in gaps[:8]) + (f" and {len(gaps) - 8} more" if len(gaps) > 8 else "")
            c.fail("SBOM complete", f"the SBOM misses {len(gaps)} of the {len(installed)} distributions installed in "
                   f"the image: {shown}",
                   "make the SBOM from the image itself (cyclonedx-py environment run in it: sbom.cyclonedx), not from "
                   "requirements.txt, and attest it again")
        else:
            c.ok("SBOM complete", f"all {len(installed)} installed distributions are listed (importlib.metadata in "
                 f"the image vs the SBOM)")
    return c.report()

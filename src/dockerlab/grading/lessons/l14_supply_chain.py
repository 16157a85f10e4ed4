"""Lesson 14 exercise: ship a service, with your own ``docker buildx build`` and ``cosign`` lines, so that its image in
the registry exists for amd64 and arm64, carries max provenance that records its version build argument, an SBOM of
what it really holds, and a signature that verifies with the learner's public key.

Everything is judged against the registry and the image itself, never the spelling of the commands: the index the
registry serves (each platform's config says which CPU it is for, and which attestation manifests come with it),
each variant run and asked ``platform.machine()`` where the engine can run it, the provenance read back with
``docker buildx imagetools inspect``, ``cosign verify`` and ``cosign verify-attestation`` with the public key, and
the SBOM's components compared with ``importlib.metadata.distributions()`` run in the pushed image.
"""
from __future__ import annotations

import dataclasses
import json
import re

from docker.errors import APIError, ImageNotFound, NotFound

from dockerlab.grading.checker import Checker, NotEvaluated, criterion, failed, passed
from dockerlab.show import quiet_cli, short
from dockerlab.supply import provenance, sbom, signing
from dockerlab.supply.platforms import can_run
from dockerlab.grading.lessons import lesson_hints

LESSON = "14_supply_chain"
APP = "buildinfo_api"
REPO = "shipped"
TAG = "1.0"
VERSION = "1.0.0"  # the APP_VERSION build argument the provenance must record
PLATFORMS = ("linux/amd64", "linux/arm64")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MACHINE = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time


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


@dataclasses.dataclass
class Grading:
    lab: object
    target: object  # stores.Target: the containerd-store engine
    reg: object
    keys: signing.Keys
    image: str
    repo: str = ""
    reference: str = ""
    index: dict | None = None
    boms: list | None = None

    @property
    def digest(self) -> str:
        if self.index is None:
            raise NotEvaluated("nothing was found in the registry (line 1)")
        return self.index["digest"]

    @property
    def by_digest(self) -> str:
        return f"{self.repo}@{self.digest}"

    def variants(self) -> dict:
        self.digest  # noqa: B018 (raises NotEvaluated)
        return {m["platform"]: m for m in self.index["manifests"] if m["kind"] == "image"}


# --- the criteria ----------------------------------------------------------------------------------------------

@criterion("l14.pushed", "in the lesson's registry")
def in_registry(g: Grading):
    want = f"{g.reg.host}/{REPO}"
    g.repo, g.reference = split(g.image) if g.image else (want, TAG)
    if not g.repo.startswith(g.reg.host + "/"):
        return failed("wrong-value", f"the answer {g.image!r} does not name the lesson's registry {g.reg.host}",
                      f'push to {want}:{TAG} and answer {{"image": "{want}@DIGEST"}}', image=g.image)
    try:
        idx = provenance.index(g.reg, g.repo, g.reference)
    except OSError as exc:  # the registry does not answer (its container is gone)
        return failed("not-answering", f"the registry {g.reg.host} does not answer: {short(exc, 120)}",
                      "run the setup cell again (it starts the registry)", registry=g.reg.host)
    except LookupError:
        return failed("missing", f"nothing pushed: the registry has no {g.repo.split('/', 1)[1]}:{g.reference} "
                      f"(it holds {g.reg.catalog() or 'nothing'})",
                      f"build and push in one line: docker buildx build --platform linux/amd64,linux/arm64 … "
                      f"-t {want}:{TAG} --push", reference=g.reference)
    if not DIGEST.match(idx["digest"] or ""):
        return failed("missing", f"the registry answered no digest for {g.image}", "push the image again")
    g.index = idx
    kind = idx["media type"].rsplit(".", 2)[-2] if idx["media type"] else "manifest"
    return passed(f"{g.image} -> {idx['digest'][:19]}… ({kind})", digest=idx["digest"], media_type=idx["media type"])


@criterion("l14.platforms", "an index of linux/amd64 and linux/arm64")
def both_platforms(g: Grading):
    variants = g.variants()
    missing = [p for p in PLATFORMS if p not in variants]
    lying = {p: m["architecture"] for p, m in variants.items() if p in PLATFORMS and m["architecture"] != p}
    if missing:
        return failed("missing", f"single platform: the image has {', '.join(variants) or 'no image manifest'}, "
                      f"not {', '.join(missing)}", "build both in one line: docker buildx build --platform "
                      "linux/amd64,linux/arm64 … --push", platforms=sorted(variants), missing=missing)
    if lying:
        return failed("wrong-value", "an entry of the index holds an image of another CPU: "
                      + ", ".join(f"{p} (its config says {a})" for p, a in lying.items()),
                      "let the final stage follow the target platform: no --platform=linux/amd64 on its FROM",
                      platforms=sorted(variants), configs=lying)
    return passed(", ".join(f"{p}: {variants[p]['digest'][:19]}…" for p in PLATFORMS), platforms=sorted(variants))


@criterion("l14.runs", "each variant runs on its CPU")
def runs_on_each_cpu(g: Grading):
    variants = g.variants()
    if any(p not in variants or variants[p]["architecture"] != p for p in PLATFORMS):
        raise NotEvaluated("the index does not hold both platforms (line 2)")
    seen, skipped = {}, {}
    for p in PLATFORMS:
        try:  # the variant itself, from the registry (a no-op when the engine has it already)
            g.target.client.images.pull(g.by_digest, platform=p)
        except APIError:
            pass
        res = can_run(g.by_digest, p, command=["python", "-c", "import platform; print(platform.machine())"],
                      client=g.target.client, labels=g.lab.labels)
        if res["ok"]:
            seen[p] = res["result"].strip().splitlines()[-1]
        else:
            skipped[p] = short(res["result"], 80)
    wrong = {p: m for p, m in seen.items() if m != MACHINE[p]}
    if wrong:
        return failed("wrong-value", "a variant runs code of another CPU: "
                      + ", ".join(f"{p} prints {m!r}" for p, m in wrong.items()),
                      "build the final stage for the target platform (no --platform=linux/amd64 on it)", machines=seen)
    if not seen:
        raise NotEvaluated(f"this engine could run neither variant: {next(iter(skipped.values()))}")
    return passed(", ".join(f"{p}: {m}" for p, m in seen.items())
                  + "".join(f"; {p} not run here ({why})" for p, why in skipped.items()), machines=seen, not_run=skipped)


@criterion("l14.provenance", "max provenance, recording APP_VERSION")
def max_provenance(g: Grading):
    attested = {m["for"] for m in g.index["manifests"] if m["kind"] == "attestation"} if g.index else set()
    variants = g.variants()
    bare = [p for p, m in variants.items() if m["digest"] not in attested]
    if bare:
        return failed("missing", f"no attestation manifest comes with {', '.join(bare)} (the image index holds none "
                      "for it)", "let BuildKit attach them: --provenance=mode=max on the build line that pushes",
                      platforms=bare)
    try:
        prov = provenance.read(g.by_digest, quiet=True)
    except provenance.InspectFailed as exc:
        return failed("check-error", f"docker buildx imagetools inspect {g.by_digest} failed: {short(exc, 160)}",
                      "run the check again")
    prov = {p or next(iter(variants), ""): pred for p, pred in prov.items()}  # one platform: keyed ""
    args = {p: provenance.summary(prov[p])["build args"] for p in prov}
    modes = {p: "max" if provenance.dockerfile(prov[p]) else "min" for p in prov}
    if not prov or any(m != "max" for m in modes.values()):
        return failed("wrong-value", "the provenance is mode=min (" + (", ".join(f"{p}: {m}" for p, m in modes.items())
                      or "none") + "): no Dockerfile text, no build steps, no build arguments",
                      "build with --provenance=mode=max", modes=modes)
    wrong = {p: a for p, a in args.items() if f"APP_VERSION={VERSION}" not in a.split(", ")}
    if wrong:
        return failed("wrong-value", f"the provenance records no APP_VERSION={VERSION}: "
                      + "; ".join(f"{p}: {a}" for p, a in wrong.items()),
                      f"build with --build-arg APP_VERSION={VERSION}", build_args=args)
    return passed(f"mode=max for {', '.join(modes)}; build args {next(iter(args.values()))}", modes=modes,
                  build_args=args)


@criterion("l14.signed", "signed: the signature verifies with your key")
def signed(g: Grading):
    digest = g.digest
    ver = signing.verify(g.by_digest, g.keys.pub, quiet=True)
    # cosign 3 also lists attestations as verified entries: an image signature has the cosign signature type and
    # names this very digest
    sigs = [c for c in signing.claims(ver) if c["type"] == signing.SIGNATURE_TYPE and c["manifest digest"] == digest]
    if ver.ok and sigs:
        return passed(f"cosign verify --key {g.keys.pub.name}: {len(sigs)} signature(s) of {digest[:19]}… verify",
                      signatures=len(sigs))
    why = ("only attestations verify, the image itself is not signed" if ver.ok
           else short((ver.message.splitlines() or ["no signature"])[-1], 140))
    moved = g.reference != digest
    return failed("missing", f"no signature of {digest[:19]}… verifies with {g.keys.pub.name} ({why})",
                  f"cosign sign --key {g.keys.key} {g.repo}@{digest}"
                  + (" (the digest the tag points to now: pushing again after signing makes a new, unsigned digest)"
                     if moved else ""), signatures=0, tag_moved=moved, attestations_only=ver.ok)


def _buildkit_sbom(ref: str) -> list[tuple[str, str]] | None:
    """(name, version) of the Python packages in a BuildKit SBOM attestation (SPDX), if the image has one."""
    try:
        out = provenance.imagetools(ref, "{{json .SBOM}}", quiet=True).strip()
    except provenance.InspectFailed:
        return None
    if not out or out == "null":
        return None
    data = json.loads(out)
    for doc in [data] if "SPDX" in data else list(data.values()):
        pairs = [(pkg.get("name", ""), pkg.get("versionInfo", ""))
                 for pkg in ((doc or {}).get("SPDX") or {}).get("packages") or []
                 if any(r.get("referenceLocator", "").startswith("pkg:pypi/") for r in pkg.get("externalRefs") or [])]
        if pairs:
            return pairs
    return None


@criterion("l14.sbom", "an SBOM attached")
def sbom_attached(g: Grading):
    digest = g.digest
    res, statements = signing.verify_attestation(g.by_digest, g.keys.pub, type="cyclonedx", quiet=True)
    hexd = digest.split(":", 1)[-1]
    g.boms = [[(c["name"], c["version"]) for c in sbom.components(st["predicate"])] for st in statements if res.ok
              and hexd in [(s.get("digest") or {}).get("sha256") for s in st.get("subject") or []]
              and isinstance(st.get("predicate"), dict)]
    source = "cosign CycloneDX attestation(s) verified with your key"
    if not g.boms and (buildkit := _buildkit_sbom(g.by_digest)):
        g.boms, source = [buildkit], "BuildKit's SBOM attestation (--sbom=true)"
    if not g.boms:
        return failed("missing", f"no SBOM: no CycloneDX attestation of {digest[:19]}… verifies with "
                      f"{g.keys.pub.name}, and the image has no BuildKit SBOM attestation",
                      f"make the SBOM in the image (sbom.cyclonedx) and attach it: cosign attest --key {g.keys.key} "
                      f"--type cyclonedx --predicate sbom.json {g.repo}@{digest}", sboms=0)
    return passed(f"{source}: {max(len(b) for b in g.boms)} component(s)", sboms=len(g.boms), source=source)


@criterion("l14.sbom-complete", "the SBOM lists every installed distribution")
def sbom_complete(g: Grading):
    if not g.boms:
        raise NotEvaluated("no SBOM to compare (line 6)")
    try:
        g.target.client.images.pull(g.by_digest)
        installed = sbom.installed(g.by_digest, client=g.target.client, labels=g.lab.labels, quiet=True)
    except (APIError, ImageNotFound, NotFound, sbom.SbomFailed) as exc:
        raise NotEvaluated(f"the pushed image could not be run here: {short(exc, 160)}") from None
    gaps = min((sbom.missing(b, installed) for b in g.boms), key=len)  # the most complete SBOM attested
    if gaps:
        shown = ", ".join(f"{n}=={v}" for n, v in gaps[:8]) + (f" and {len(gaps) - 8} more" if len(gaps) > 8 else "")
        return failed("missing", f"the SBOM misses {len(gaps)} of the {len(installed)} distributions installed in the "
                      f"image: {shown}", "make the SBOM from the image itself (cyclonedx-py environment run in it: "
                      "sbom.cyclonedx), not from requirements.txt, and attest it again",
                      not_listed=[f"{n}=={v}" for n, v in gaps], installed=len(installed))
    return passed(f"all {len(installed)} installed distributions are listed (importlib.metadata in the image vs the "
                  "SBOM)", not_listed=[], installed=len(installed))


CRITERIA = [in_registry, both_platforms, runs_on_each_cpu, max_provenance, signed, sbom_attached, sbom_complete]


def check(lab, target, reg, keys, answer: dict, *, only=None) -> Checker:
    """``target``: the lesson's containerd-store engine (stores.containerd_target); ``reg``: the registry on it;
    ``keys``: the learner's cosign key pair (its public key verifies); ``answer``: {"image": "HOST/shipped@sha256:…"
    (or a tag)}."""
    image = str((answer or {}).get("image") or "").strip()
    with quiet_cli():
        c = Checker(LESSON, "ship buildinfo-api: two platforms, provenance, SBOM, signature",
                    planned=[x.title for x in CRITERIA])
        c.grade(CRITERIA, Grading(lab, target, reg, keys, image), only=only)
    return c.report()

"""What a registry holds for a multi-platform image, and the build provenance BuildKit attached to it (lesson 14).

    >>> provenance.index(reg, "buildinfo", "1.0")          # the image index: one row per manifest, with its platform
    >>> prov = provenance.read(ref)                         # docker buildx imagetools inspect REF --format '{{json .Provenance}}'
    >>> provenance.table(prov)                              # source, Dockerfile, build args, base images, per platform

BuildKit writes provenance as an *attestation manifest* in the image index (platform ``unknown/unknown``, annotated
``vnd.docker.reference.type: attestation-manifest``), one per platform, holding an in-toto statement whose predicate
is SLSA provenance (v0.2 by default): the build's parameters (``invocation``), the base images with their digests
(``materials``) and, with ``--provenance=mode=max``, the Dockerfile's text and the whole build graph.
"""
from __future__ import annotations

import base64
import json
import tempfile
import time
from pathlib import Path
import urllib.error
import urllib.request

from dockerlab import tools
from dockerlab.errors import DockerlabError, ToolFailed, indent, last_lines
from dockerlab.registry import MANIFEST_TYPES, Registry
from dockerlab.show import Table, cli, short

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
ATTESTATION = "attestation-manifest"


class InspectFailed(DockerlabError, RuntimeError):
    """``docker buildx imagetools inspect`` failed; the message holds its error."""


class PushBuildFailed(DockerlabError, RuntimeError):
    """``docker build … --push`` failed; the message holds the last lines of its log."""


def build_push(path, ref: str, *, platforms: str | None = "linux/amd64,linux/arm64", provenance: str | None = "mode=max",
               sbom: str | None = None, buildargs: dict | None = None, labels: dict | None = None,
               dockerfile: str | None = None, quiet: bool = False, timeout: float = 900) -> dict:
    """``docker build --platform … --provenance=… --push -t REF PATH``: build (for each platform) and push in one go,
    attestations included. Returns BuildKit's metadata: ``{"digest": the pushed index (or manifest) digest,
    "seconds": …, "ref": REF}``. Needs the containerd image store for more than one platform or for attestations."""
    args = ["docker", "build"]
    if platforms:
        args += ["--platform", platforms]
    if provenance is not None:
        args.append(f"--provenance={provenance}")
    if sbom is not None:
        args.append(f"--sbom={sbom}")
    for k, v in (buildargs or {}).items():
        args.append(f"--build-arg={k}={v}")
    if dockerfile:
        args += ["-f", str(Path(path) / dockerfile)]
    label_args = [a for k, v in (labels or {}).items() for a in ("--label", f"{k}={v}")]
    if not quiet:
        cli(args + ["-t", ref, "--push", str(path)])
    with tempfile.TemporaryDirectory(prefix="dockerlab-meta-") as tmp:
        meta_file = Path(tmp) / "metadata.json"
        t0 = time.monotonic()
        try:
            tools.run(args + label_args + ["-t", ref, "--push", "--progress=plain", "--metadata-file", str(meta_file),
                                           str(path)], timeout=timeout, env={"DOCKER_BUILDKIT": "1"}, check=True)
        except ToolFailed as exc:
            said = indent(last_lines(exc.stderr, 15)) if exc.exit_code is not None else exc.reason
            raise PushBuildFailed(f"docker build --push {ref} failed:\n{said}") from None
        seconds = time.monotonic() - t0
        meta = json.loads(meta_file.read_text() or "{}")
    digest = meta.get("containerimage.digest", "")
    if not quiet:
        print(f"pushed {ref} in {seconds:.1f} s: {digest}")
    return {"digest": digest, "seconds": seconds, "ref": ref, "metadata": meta}


def _get(reg: Registry, path: str, accept: str = MANIFEST_TYPES) -> tuple[dict, str, str]:
    req = urllib.request.Request(f"http://{reg.host}/v2/{path}", headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=15) as r:
        body = r.read()
        return json.loads(body), r.headers.get("Content-Type", ""), r.headers.get("Docker-Content-Digest", "")


def index(reg: Registry, repo: str, reference: str) -> dict:
    """What the registry serves for ``repo:reference``: ``{"digest", "media type", "manifests": [{"platform",
    "digest", "kind" (image/attestation), "architecture" (from the image's config), "for"}]}``; a single-platform
    image gives one row. Raises LookupError when the registry has no such manifest."""
    try:
        doc, ctype, digest = _get(reg, f"{reg.path(repo)}/manifests/{reference}")
    except urllib.error.HTTPError as e:
        raise LookupError(f"the registry has no manifest {repo}:{reference} (HTTP {e.code})") from None
    mtype = doc.get("mediaType") or ctype
    rows = []
    entries = doc.get("manifests") if mtype in INDEX_TYPES else [{"digest": digest, "mediaType": mtype}]
    for m in entries or []:
        ann = m.get("annotations") or {}
        kind = "attestation" if ann.get("vnd.docker.reference.type") == ATTESTATION else "image"
        plat = m.get("platform") or {}
        row = {"platform": f"{plat.get('os', '?')}/{plat.get('architecture', '?')}" if plat else "",
               "digest": m.get("digest", ""), "kind": kind, "architecture": "", "for": ann.get("vnd.docker.reference.digest", "")}
        if kind == "image":
            try:
                manifest = doc if m.get("digest") == digest and mtype not in INDEX_TYPES else \
                    _get(reg, f"{reg.path(repo)}/manifests/{m['digest']}")[0]
                config = _get(reg, f"{reg.path(repo)}/blobs/{manifest['config']['digest']}", "*/*")[0]
                row["architecture"] = f"{config.get('os', '?')}/{config.get('architecture', '?')}"
                if not row["platform"]:
                    row["platform"] = row["architecture"]
            except (urllib.error.HTTPError, KeyError, ValueError):
                row["architecture"] = "(config unreadable)"
        rows.append(row)
    return {"digest": digest, "media type": mtype, "manifests": rows}


def index_table(idx: dict, title: str = "") -> Table:
    rows = [{"platform": m["platform"] if m["kind"] == "image" else "unknown/unknown", "kind": m["kind"],
             "manifest digest": m["digest"][:19] + "…",
             "says": m["architecture"] if m["kind"] == "image" else f"provenance of {m['for'][:19]}…"}
            for m in idx["manifests"]]
    return Table(rows, columns=["platform", "kind", "manifest digest", "says"],
                 title=title or f"{idx['media type'].rsplit('.', 2)[-2] if idx['media type'] else 'manifest'} "
                                f"{idx['digest'][:19]}…: {len(rows)} manifest(s)")


def imagetools(ref: str, fmt: str | None = None, *, raw: bool = False, quiet: bool = False) -> str:
    """``docker buildx imagetools inspect REF`` (``--format FMT`` or ``--raw``): its output."""
    args = ["docker", "buildx", "imagetools", "inspect", ref]
    if raw:
        args.append("--raw")
    if fmt:
        args += ["--format", fmt]
    if not quiet:
        cli(args)
    try:
        return tools.run(args, timeout=120, check=True).stdout
    except ToolFailed as exc:
        raise InspectFailed(f"{' '.join(args[:5])} failed: {(exc.stderr.strip() or exc.reason)[-400:]}") from None


def read(ref: str, quiet: bool = False) -> dict:
    """The provenance of every platform of ``ref``: ``{"linux/amd64": {SLSA predicate}, …}`` (one platform: its
    predicate under its platform too). Empty when the image carries none."""
    out = imagetools(ref, "{{json .Provenance}}", quiet=quiet).strip()
    data = json.loads(out) if out and out != "null" else {}
    if "SLSA" in data:  # a single-platform image: the predicate itself
        return {"": data["SLSA"]}
    return {p: (v or {}).get("SLSA", {}) for p, v in data.items() if (v or {}).get("SLSA")}


def _buildkit_metadata(pred: dict) -> dict:
    return (pred.get("metadata") or {}).get("https://mobyproject.org/buildkit@v1#metadata") or {}


def dockerfile(pred: dict) -> str:
    """The Dockerfile's text as the provenance recorded it (``mode=max`` only; '' otherwise)."""
    for info in (_buildkit_metadata(pred).get("source") or {}).get("infos") or []:
        try:
            return base64.b64decode(info.get("data") or "").decode("utf-8", "replace")
        except (ValueError, TypeError):
            continue
    return ""


def summary(pred: dict) -> dict:
    """The parts of one provenance predicate a reviewer reads first."""
    inv = pred.get("invocation") or {}
    params = inv.get("parameters") or {}
    meta = pred.get("metadata") or {}
    vcs = _buildkit_metadata(pred).get("vcs") or {}
    args = {k.removeprefix("build-arg:"): v for k, v in (params.get("args") or {}).items() if k.startswith("build-arg:")}
    infos = (_buildkit_metadata(pred).get("source") or {}).get("infos") or []
    return {
        "build type": pred.get("buildType", ""),
        "source (vcs)": vcs.get("source", "") or "(no git remote recorded)",
        "revision": vcs.get("revision", "") or "(not a git checkout)",
        "context": vcs.get("localdir:context", "") or ", ".join(l.get("name", "") for l in params.get("locals") or []),
        "Dockerfile": (inv.get("configSource") or {}).get("entryPoint", "")
                      + (f" ({len(dockerfile(pred).splitlines())} lines recorded)" if infos else " (text not recorded: mode=min)"),
        "build args": ", ".join(f"{k}={v}" for k, v in args.items()) or "(none)",
        "frontend": params.get("frontend", ""),
        "base images": "; ".join(f"{m.get('uri', '')}@sha256:{(m.get('digest') or {}).get('sha256', '')[:12]}…"
                                 for m in pred.get("materials") or []) or "(none recorded)",
        "platform built on": (inv.get("environment") or {}).get("platform", ""),
        "started": meta.get("buildStartedOn", ""), "finished": meta.get("buildFinishedOn", ""),
    }


def table(prov: dict) -> Table:
    """One row per field, one column per platform."""
    platforms = list(prov)
    sums = {p: summary(prov[p]) for p in platforms}
    fields = list(next(iter(sums.values()))) if sums else []
    rows = [{"field": f, **{p or "image": short(sums[p][f], 90) for p in platforms}} for f in fields]
    return Table(rows, columns=["field"] + [p or "image" for p in platforms], title="build provenance (SLSA) per platform")

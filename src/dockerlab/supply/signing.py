"""Signing images with cosign (lesson 14): a key pair, sign by digest, verify, attest an SBOM, verify the attestation.

Every function runs the real ``cosign`` (3.x) and prints the command first. Signatures and attestations are stored
in the registry next to the image (an OCI referrer; on registries without the referrers API, such as registry 2.8,
under the tag ``sha256-<digest>``). Offline, with a key pair: no transparency log is written (a signing config
without Rekor, ``--signing-config``) and none is checked (``--insecure-ignore-tlog``); keyless signing (Fulcio
certificates for an OIDC identity, recorded in Rekor) needs Sigstore's public services.

    >>> keys = signing.key_pair(folder)                      # cosign.key (encrypted with COSIGN_PASSWORD), cosign.pub
    >>> signing.sign(f"{repo}@{digest}", keys)
    >>> signing.verify(f"{repo}@{digest}", keys.pub).ok      # True
"""
from __future__ import annotations

import base64
import dataclasses
import json
import shlex
import shutil
from pathlib import Path

from dockerlab import tools
from dockerlab.errors import DockerlabError, ToolFailed
from dockerlab.show import cli

SIGNATURE_TYPE = "https://sigstore.dev/cosign/sign/v1"  # the claim type of an image signature (not an attestation)
NO_TLOG = {"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json", "rekorTlogUrls": [], "tsaUrls": []}
PASSWORD = "course-password"  # the private key's password in the lessons (COSIGN_PASSWORD), never a real secret
NOISE = ("Could not fetch trusted_root.json from the TUF repository",)  # offline: cosign says it, then goes on


class CosignMissing(DockerlabError, RuntimeError):
    """cosign is not installed; the message says how to install it."""


@dataclasses.dataclass
class Keys:
    key: Path  # the private key, encrypted with the password
    pub: Path
    password: str
    folder: Path

    @property
    def signing_config(self) -> Path:
        return self.folder / "signing-config.json"


@dataclasses.dataclass
class Result:
    """One cosign run: did it succeed, what it printed (stdout parsed where it is JSON), the command."""

    ok: bool
    stdout: str
    stderr: str
    command: str

    @property
    def message(self) -> str:
        """The lines of stderr that explain the outcome (cosign's offline TUF warning left out)."""
        lines = [l for l in self.stderr.splitlines() if l.strip() and not any(n in l for n in NOISE)]
        return "\n".join(lines)

    def json_lines(self) -> list:
        out = []
        for line in self.stdout.splitlines():
            line = line.strip()
            if line.startswith(("{", "[")):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out


def version() -> str | None:
    """The installed cosign's version (``3.1.1``; ``devel`` builds say so), or None when it is missing."""
    exe = shutil.which("cosign")
    if not exe:
        return None
    try:
        out = tools.run([exe, "version", "--json"], timeout=20).stdout
        v = json.loads(out).get("gitVersion", "")
    except (ToolFailed, ValueError):
        v = ""
    if v in ("", "devel"):
        try:
            dpkg = tools.run(["dpkg-query", "-W", "-f=${Version}", "cosign"], timeout=10).stdout.strip()
            v = dpkg or v or "unknown"
        except ToolFailed:
            v = v or "unknown"
    return v


def _require() -> str:
    exe = shutil.which("cosign")
    if not exe:
        raise CosignMissing("cosign is not installed: `make supply-chain` (Debian, root), `brew install cosign`, or a "
                            "release binary from https://github.com/sigstore/cosign/releases")
    return exe


def run(args: list[str], *, password: str | None = None, quiet: bool = False, timeout: float = 120,
        cwd: Path | None = None) -> Result:
    """``cosign ARGS``: printed first (with ``COSIGN_PASSWORD=…`` in front when it is set: the course's key password,
    which is no secret, so the line can be pasted), then run."""
    exe = _require()
    prefix = (f"COSIGN_PASSWORD={shlex.quote(password)}",) if password is not None else ()
    line = cli(*prefix, ["cosign", *args]) if not quiet else " ".join(["cosign", *args])
    env = {"COSIGN_PASSWORD": password} if password is not None else None
    try:
        proc = tools.run([exe, *args], env=env, timeout=timeout, cwd=cwd)
    except ToolFailed as exc:  # out of time (or gone since _require): a failed result, as cosign's own failures are
        return Result(False, exc.stdout, exc.reason, line)
    return Result(proc.returncode == 0, proc.stdout, proc.stderr, line)


def key_pair(folder: Path, password: str = PASSWORD, quiet: bool = False) -> Keys:
    """A new key pair in ``folder`` (``cosign generate-key-pair``; the private key encrypted with ``password``), and a
    signing config without a transparency log next to it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("cosign.key", "cosign.pub"):
        (folder / name).unlink(missing_ok=True)
    res = run(["generate-key-pair"], password=password, quiet=quiet, cwd=folder)
    if not res.ok:
        raise DockerlabError(f"cosign generate-key-pair failed: {res.message}")
    (folder / "signing-config.json").write_text(json.dumps(NO_TLOG, indent=1) + "\n")
    return Keys(folder / "cosign.key", folder / "cosign.pub", password, folder)


def sign(ref: str, keys: Keys, *, recursive: bool = False, quiet: bool = False) -> Result:
    """Sign ``ref`` (give it by digest: ``repo@sha256:…``) with the private key; the signature goes to the registry.
    ``recursive`` also signs each platform's manifest of an image index."""
    args = ["sign", "--key", str(keys.key), "--signing-config", str(keys.signing_config), "-y"]
    if recursive:
        args.append("--recursive")
    return run(args + [ref], password=keys.password, quiet=quiet)


def verify(ref: str, pub: Path, *, quiet: bool = False) -> Result:
    """``cosign verify --key cosign.pub REF``: ok when a signature in the registry matches the manifest ``ref``
    resolves to *now* and the public key. ``--insecure-ignore-tlog``: these signatures were made without Rekor."""
    return run(["verify", "--key", str(pub), "--insecure-ignore-tlog=true", ref], quiet=quiet)


def claims(result: Result) -> list[dict]:
    """The verified signatures' claims (``docker-reference``, ``docker-manifest-digest``) of a :func:`verify` result."""
    out = []
    for doc in result.json_lines():
        for item in doc if isinstance(doc, list) else [doc]:
            crit = item.get("critical") or {}
            out.append({"signed reference": (crit.get("identity") or {}).get("docker-reference", ""),
                        "manifest digest": (crit.get("image") or {}).get("docker-manifest-digest", ""),
                        "type": crit.get("type", "")})
    return out


def attest(ref: str, keys: Keys, predicate: Path, *, type: str = "cyclonedx", quiet: bool = False) -> Result:
    """Attach a signed attestation (an in-toto statement whose predicate is the file, e.g. a CycloneDX SBOM) to ``ref``."""
    return run(["attest", "--key", str(keys.key), "--signing-config", str(keys.signing_config), "-y",
                "--type", type, "--predicate", str(predicate), ref], password=keys.password, quiet=quiet)


def verify_attestation(ref: str, pub: Path, *, type: str = "cyclonedx", quiet: bool = False) -> tuple[Result, list[dict]]:
    """Verify the attestations of ``type`` on ``ref`` with the public key; returns the result and the statements
    (``{"predicateType", "subject", "predicate"}``) whose signatures verified."""
    res = run(["verify-attestation", "--key", str(pub), "--insecure-ignore-tlog=true", "--type", type, ref],
              quiet=quiet)
    statements = []
    if res.ok:
        for env in res.json_lines():
            try:
                statements.append(json.loads(base64.b64decode(env["payload"])))
            except (KeyError, ValueError, TypeError):
                continue
    return res, statements


def tree(ref: str, *, quiet: bool = False) -> Result:
    """``cosign tree REF``: the signatures and attestations the registry holds for the image."""
    return run(["tree", ref], quiet=quiet)

"""SBOMs of Python images (lesson 14): CycloneDX made by ``cyclonedx-py environment`` run inside the image, and the
distributions the image really holds, to judge an SBOM against.

    >>> bom = sbom.cyclonedx(image_ref, client=client)   # dict: the CycloneDX JSON document
    >>> sbom.table(bom)                                   # name, version, purl, licence
    >>> sbom.installed(image_ref, client=client)          # [("flask", "3.1.3"), …]: importlib.metadata in the image
    >>> sbom.compare(bom_before, bom_after)               # what a dependency bump changed

The tool is the CycloneDX project's own (PyPI ``cyclonedx-bom``); its pure-Python files are fetched once with pip into
``~/.cache/dockerlab/`` and copied into a stopped container of the image (``docker cp``) before it starts, so the
image needs nothing but its Python, the scan sees exactly the image's interpreter and ``sys.path``, and the tool's own
packages are not in the result (the interpreter it scans is started without them).
"""
from __future__ import annotations

import io
import json
import re
import shutil
import sys
import tarfile
from pathlib import Path

from docker.errors import APIError, NotFound

from dockerlab import settings, tools
from dockerlab.errors import DockerlabError, ToolFailed
from dockerlab.show import Table, cli

TOOL_VERSION = "7.5.0"
# cyclonedx-bom and what it imports for `environment` (pure Python wheels: they run on any CPU of the image).
# JSON schema validation (lxml, jsonschema, compiled) is left out: the scan runs with --no-validate.
TOOL_WHEELS = [
    f"cyclonedx-bom=={TOOL_VERSION}", "cyclonedx-python-lib==11.12.0", "packageurl-python==0.17.6", "packaging==26.3",
    "py-serializable==2.1.0", "sortedcontainers==2.4.0", "license-expression==30.4.4", "boolean.py==5.0",
    "typing_extensions==4.16.0", "defusedxml==0.7.1", "pip-requirements-parser==32.0.1", "pyparsing==3.3.3",
    "chardet==5.2.0",
]
TOOL_DIR_IN_IMAGE = "/tmp/.cyclonedx-tool"
SCAN = (
    "import runpy, shutil, sys; tool = sys.argv.pop(1); python = shutil.which(sys.argv.pop(1)) or sys.executable; "
    "sys.path.insert(0, tool); "
    "sys.argv = ['cyclonedx-py', 'environment', '--no-validate', '--of', 'JSON', '--output-reproducible', python]; "
    "runpy.run_module('cyclonedx_py', run_name='__main__')"
)
INSTALLED = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted([d.metadata['Name'] or '', d.version] for d in m.distributions())))"
)


class SbomFailed(DockerlabError, RuntimeError):
    """Making or reading an SBOM failed; the message says where and shows the tool's output."""


def normalize(name: str) -> str:
    """PEP 503 names: ``Flask`` and ``flask``, ``typing_extensions`` and ``typing-extensions`` are the same."""
    return re.sub(r"[-_.]+", "-", (name or "").strip()).lower()


def tool_dir() -> Path:
    """The cyclonedx-bom files (fetched with pip the first time: PyPI must answer once)."""
    cache = settings.cache_dir() / f"cyclonedx-bom-{TOOL_VERSION}"
    if (cache / "cyclonedx_py").is_dir():
        return cache
    tmp = cache.with_name(cache.name + ".partial")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
           "--only-binary=:all:", "--python-version", "3.9", "--platform", "any", "--target", str(tmp), *TOOL_WHEELS]
    print(f"fetching cyclonedx-bom {TOOL_VERSION} (once) into {cache}", flush=True)
    try:
        proc = tools.run(cmd)
        if proc.returncode != 0 and "No module named pip" in proc.stderr:
            uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
            proc = tools.run([uv, "pip", "install", "--quiet", "--no-deps", "--python-version", "3.9",
                              "--target", str(tmp), *TOOL_WHEELS])
        if proc.returncode != 0:
            raise tools.failure(proc)
    except ToolFailed as exc:
        raise SbomFailed("fetching cyclonedx-bom from PyPI failed (it is fetched once, then kept in "
                         f"{cache}):\n{(exc.stderr or exc.stdout or exc.reason).strip()[-800:]}") from None
    tmp.rename(cache)
    return cache


def _tar_of(folder: Path, prefix: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.add(str(folder), arcname=prefix.lstrip("/"), filter=lambda t: None if "__pycache__" in t.name else t)
    return out.getvalue()


def _run_python(client, image: str, args: list[str], *, platform: str | None = None, tool: Path | None = None,
                name: str | None = None, labels: dict | None = None, timeout: float = 120) -> str:
    """``python ARGS`` in a fresh container of ``image`` (its own entrypoint bypassed), optionally with the tool copied
    in first; returns stdout (raises SbomFailed with the output on a non-zero exit)."""
    kwargs = dict(entrypoint=["python"], command=args, labels=labels or {}, name=name, detach=True,
                  environment={"PYTHONDONTWRITEBYTECODE": "1"})
    if platform:
        kwargs["platform"] = platform
    try:
        container = client.containers.create(image, **kwargs)
    except APIError as exc:
        raise SbomFailed(f"cannot create a container of {image}: {exc.explanation or exc}") from None
    try:
        if tool is not None:
            container.put_archive("/", _tar_of(tool, TOOL_DIR_IN_IMAGE))
        container.start()
        code = container.wait(timeout=timeout).get("StatusCode", -1)
        out = container.logs(stdout=True, stderr=False).decode(errors="replace")
        err = container.logs(stdout=False, stderr=True).decode(errors="replace")
    finally:
        try:
            container.remove(force=True)
        except NotFound:
            pass
    if code != 0:
        raise SbomFailed(f"python {' '.join(args[:2])}… in {image} exited with {code}:\n{(err or out).strip()[-800:]}")
    return out


def cyclonedx(image: str, *, client, platform: str | None = None, labels: dict | None = None,
              quiet: bool = False) -> dict:
    """The CycloneDX SBOM (a dict) of the Python distributions in ``image``: ``cyclonedx-py environment`` run by the
    image's own ``python`` against itself. CLI twin: ``docker create`` + ``docker cp`` + ``docker start -a``."""
    tool = tool_dir()
    if not quiet:
        plat = ["--platform", platform] if platform else []
        cli(["docker", "create", "--name", "sbom", *plat, "--entrypoint", "python", image, "-c", SCAN,
             TOOL_DIR_IN_IMAGE, "python"])
        cli(["docker", "cp", str(tool), f"sbom:{TOOL_DIR_IN_IMAGE}"])
        cli("docker start -a sbom > sbom.json && docker rm sbom  # cyclonedx-py environment --of JSON python")
    out = _run_python(client, image, ["-c", SCAN, TOOL_DIR_IN_IMAGE, "python"], platform=platform, tool=tool,
                      labels=labels)
    try:
        start = out.index("{")
        return json.loads(out[start:])
    except ValueError:
        raise SbomFailed(f"cyclonedx-py printed no JSON for {image}:\n{out[-800:]}") from None


def installed(image: str, *, client, platform: str | None = None, labels: dict | None = None,
              quiet: bool = False) -> list[tuple[str, str]]:
    """(name, version) of every distribution the image's ``python`` finds (importlib.metadata.distributions()), sorted;
    a name installed twice (two folders on sys.path) appears twice."""
    if not quiet:
        plat = ["--platform", platform] if platform else []
        cli(["docker", "run", "--rm", *plat, "--entrypoint", "python", image, "-c",
             "import importlib.metadata as m; print(sorted((d.metadata['Name'], d.version) for d in m.distributions()))"])
    out = _run_python(client, image, ["-c", INSTALLED], platform=platform, labels=labels)
    return [(n, v) for n, v in json.loads(out.strip().splitlines()[-1])]


def components(bom: dict) -> list[dict]:
    """The SBOM's components: name, version, purl, licence (id, expression or name), type."""
    rows = []
    for c in bom.get("components") or []:
        lic = []
        for entry in c.get("licenses") or []:
            if "expression" in entry:
                lic.append(entry["expression"])
            else:
                l = entry.get("license") or {}
                lic.append(l.get("id") or l.get("name") or "")
        rows.append({"name": c.get("name", ""), "version": c.get("version", ""), "purl": c.get("purl", ""),
                     "licence": ", ".join(x for x in lic if x)[:60] or "-", "type": c.get("type", "")})
    return sorted(rows, key=lambda r: (normalize(r["name"]), r["version"]))


def table(bom: dict, title: str = "") -> Table:
    """The components as a table (name, version, licence, purl)."""
    rows = components(bom)
    return Table([{k: r[k] for k in ("name", "version", "licence", "purl")} for r in rows],
                 columns=["name", "version", "licence", "purl"],
                 title=title or f"CycloneDX {bom.get('specVersion', '?')} SBOM: {len(rows)} components")


def pairs(bom: dict) -> list[tuple[str, str]]:
    """(normalized name, version) of every component (a multiset: duplicates kept)."""
    return sorted((normalize(c["name"]), c["version"]) for c in components(bom))


def missing(bom_pairs, installed_pairs) -> list[tuple[str, str]]:
    """Installed (name, version) the SBOM does not list (names normalized; each installed copy counts)."""
    listed = [(normalize(n), v) for n, v in bom_pairs]
    out = []
    for n, v in installed_pairs:
        key = (normalize(n), v)
        if key in listed:
            listed.remove(key)
        else:
            out.append((n, v))
    return out


def compare(before: dict, after: dict) -> Table:
    """What changed between two SBOMs: added, removed, and version changes, one row per distribution."""
    def versions(bom):
        out: dict[str, list[str]] = {}
        for c in components(bom):
            out.setdefault(normalize(c["name"]), []).append(c["version"])
        return out

    a, b = versions(before), versions(after)
    rows = []
    for name in sorted(set(a) | set(b)):
        va, vb = sorted(a.get(name, [])), sorted(b.get(name, []))
        if va == vb:
            continue
        change = "added" if not va else "removed" if not vb else "changed"
        rows.append({"distribution": name, "before": ", ".join(va) or "-", "after": ", ".join(vb) or "-",
                     "change": change})
    same = len(set(a) & set(b)) - sum(1 for r in rows if r["change"] == "changed")
    return Table(rows, columns=["distribution", "before", "after", "change"],
                 title=f"SBOM diff: {len(rows)} distribution(s) differ, {same} unchanged")

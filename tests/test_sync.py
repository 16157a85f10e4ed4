"""Copies that must not drift: exercises vs solutions, environment.yml vs pyproject, notebook hygiene."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_exercises_are_generated_from_solutions():
    proc = subprocess.run([sys.executable, "-m", "dockerlab.authoring", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_same_name_in_all_three_folders():
    names = {d: {p.name for p in (ROOT / d).glob("*.ipynb")} for d in ("notebooks", "solutions", "exercises")}
    assert names["solutions"] == names["exercises"]
    assert names["solutions"] <= names["notebooks"], names["solutions"] - names["notebooks"]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_pyproject_dependencies():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env_text = (ROOT / "environment.yml").read_text()
    pip_lines = re.findall(r"^\s+- ([A-Za-z0-9_.\-\[\]<>=!~,]+)\s*(#.*)?$", env_text.split("- pip:", 1)[1], re.M)
    env = {_name(line): (line, comment) for line, comment in pip_lines}
    want = {_name(d): d.split("#")[0].strip() for d in deps}
    assert set(env) == set(want), f"only in pyproject: {set(want) - set(env)}; only in environment.yml: {set(env) - set(want)}"
    for name, (line, comment) in env.items():
        assert line.replace(" ", "") == want[name].replace(" ", ""), f"{name}: environment.yml has {line}, pyproject {want[name]}"
        assert "lesson" in comment or "test" in comment, f"{name}: say which lessons need it in a comment"


def test_notebooks_committed_without_outputs():
    dirty = []
    for p in [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb"), *ROOT.glob("exercises/*.ipynb")]:
        nb = json.loads(p.read_text())
        if any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"):
            dirty.append(p.name)
    assert not dirty, f"outputs committed (run make strip): {dirty}"


def test_notebooks_have_a_parameters_cell_and_clean_up():
    for p in [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb")]:
        nb = json.loads(p.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert params, f"{p.name}: no cell tagged 'parameters'"
        src = "".join(params[0]["source"])
        assert "namespace = None" in src, f"{p.name}: the parameters cell must define namespace = None"
        all_src = "\n".join("".join(c["source"]) for c in code)
        assert "Lesson(" in all_src and ".cleanup()" in all_src, f"{p.name}: must create a Lesson and end with lab.cleanup()"

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


def _manifest() -> dict[str, set[str]]:
    """Repository (without tag) -> its pinned references, from src/dockerlab/images.toml."""
    data = tomllib.loads((ROOT / "src" / "dockerlab" / "images.toml").read_text())
    pins: dict[str, set[str]] = {}
    for entry in data.values():
        pins.setdefault(entry["ref"].rsplit(":", 1)[0], set()).add(entry["ref"])
    return pins


def _image_refs():
    """Every FROM, COPY --from=IMAGE and Compose image: of the sample apps and the course's own files."""
    files = [p for p in ROOT.glob("sample_apps/**/*") if p.is_file() and (p.name.startswith("Dockerfile")
             or p.suffix in (".yaml", ".yml") and "compose" in p.name)]
    files += [ROOT / "Dockerfile", ROOT / "compose.yaml"]
    for f in files:
        for n, line in enumerate(f.read_text().splitlines(), 1):
            m = (re.match(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", line, re.I) or re.search(r"--from=(\S+)", line)
                 or re.match(r"^\s*image:\s*['\"]?([^'\"\s#]+)", line))
            if m:
                yield f.relative_to(ROOT), n, m.group(1)


def test_every_image_reference_agrees_with_the_manifest():
    pins = _manifest()
    wrong = []
    for f, n, ref in _image_refs():
        if "$" in ref or ":" not in ref.split("/")[-1]:
            continue  # a stage name, a build arg, or a local image of the app
        repo = ref.rsplit(":", 1)[0]
        if repo in pins and ref not in pins[repo]:
            wrong.append(f"{f}:{n}: {ref} (images.toml pins {', '.join(sorted(pins[repo]))})")
    assert not wrong, "image references that differ from src/dockerlab/images.toml:\n" + "\n".join(wrong)


def test_engine_tests_take_image_tags_from_the_manifest():
    """A pin bump is one edit in images.toml: tests name course images through dockerlab.images.ref()."""
    refs = [r for rs in _manifest().values() for r in rs]
    wrong = [f"{f.relative_to(ROOT)}:{n}: {r}" for f in sorted((ROOT / "tests" / "engine").glob("*.py"))
             for n, line in enumerate(f.read_text().splitlines(), 1) for r in refs if r in line]
    assert not wrong, "literal course image tags (use dockerlab.images.ref):\n" + "\n".join(wrong)


def test_build_arg_defaults_agree_with_the_manifest():
    """ARG PYTHON_VERSION=… defaults must name the manifest's Python version."""
    version = sorted(_manifest()["python"])[0].split(":")[1].split("-")[0]
    wrong = []
    for f in ROOT.glob("sample_apps/**/Dockerfile*"):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            m = re.match(r"^\s*ARG\s+PYTHON_VERSION=(\S+)", line)
            if m and m.group(1) != version:
                wrong.append(f"{f.relative_to(ROOT)}:{n}: PYTHON_VERSION={m.group(1)} (images.toml: {version})")
    assert not wrong, "\n".join(wrong)


def test_solutions_hold_the_exercise_not_a_copy_of_the_lesson():
    """A solution notebook holds its exercise; code copied from the lesson runs (and drifts) twice."""
    copied = []
    for sol in sorted((ROOT / "solutions").glob("*.ipynb")):
        lesson = ROOT / "notebooks" / sol.name
        if not lesson.exists():
            continue
        taught = {"".join(c["source"]).strip() for c in json.loads(lesson.read_text())["cells"] if c["cell_type"] == "code"}
        for i, c in enumerate(json.loads(sol.read_text())["cells"]):
            text = "".join(c["source"]).strip()
            if c["cell_type"] == "code" and len(text.splitlines()) >= 3 and text in taught and "Lesson(" not in text:  # setup may repeat
                copied.append(f"{sol.relative_to(ROOT)} cell {i}: {text.splitlines()[0][:60]}")
    assert not copied, "solution cells copied from the lesson:\n" + "\n".join(copied)

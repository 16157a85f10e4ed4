"""Copies that must not drift: exercises vs solutions, environment.yml vs pyproject, notebook hygiene."""
from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from dockerlab import dockerfile

ROOT = Path(__file__).resolve().parents[1]


def test_exercises_are_generated_from_solutions():
    proc = subprocess.run([sys.executable, "-m", "dockerlab", "exercises", "--check"], cwd=ROOT, capture_output=True, text=True)
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
        assigned = {(t.id, getattr(n.value, "value", ...)) for n in ast.parse("".join(params[0]["source"])).body
                    if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        assert ("namespace", None) in assigned, f"{p.name}: the parameters cell must define namespace = None"
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
        if f.name.startswith("Dockerfile"):  # read as BuildKit reads it: FROM images and --from= images
            for ins in dockerfile.instructions(f.read_text()):
                refs = [ins.args[0]] if ins.name == "FROM" and ins.args else []
                refs += [flag.split("=", 1)[1] for flag in ins.flags if flag.startswith("--from=")]
                yield from ((f.relative_to(ROOT), ins.start_line, ref) for ref in refs)
            continue
        for n, line in enumerate(f.read_text().splitlines(), 1):
            m = re.match(r"^\s*image:\s*['\"]?([^'\"\s#]+)", line)
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


# Exercises still being rewritten as transfer tasks (issue 20): each leaves this list when its solution holds no
# answer its lesson shows. The list only shrinks.
NOT_YET_TRANSFER: set[str] = set()


def _normalised(text: str) -> str:
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines() if line.strip())


def _answers(sol: Path) -> list[str]:
    """The code between ### BEGIN SOLUTION and ### END SOLUTION in a solution notebook, per answer block."""
    out = []
    for c in json.loads(sol.read_text())["cells"]:
        text = "".join(c["source"])
        for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", text, re.S):
            out.append(block)
    return out


def test_no_answer_is_shown_in_its_lesson():
    """Practice that transfers: no answer block of three or more lines appears, normalised for whitespace, in a code
    or markdown cell of its lesson notebook (a learner who copies a cell of the lesson has practised nothing)."""
    shown = []
    for sol in sorted((ROOT / "solutions").glob("*.ipynb")):
        lesson = ROOT / "notebooks" / sol.name
        if not lesson.exists() or sol.stem in NOT_YET_TRANSFER:
            continue
        taught = _normalised("\n".join("".join(c["source"]) for c in json.loads(lesson.read_text())["cells"]))
        for block in _answers(sol):
            lines = [l for l in _normalised(block).splitlines() if not l.startswith("#")]
            for i in range(len(lines) - 2):
                window = "\n".join(lines[i:i + 3])
                if window in taught:
                    shown.append(f"{sol.name}: lines shown in the lesson:\n    " + window.replace("\n", "\n    "))
                    break
    assert not shown, "answers the lesson already shows:\n" + "\n".join(shown)


def test_the_transfer_list_only_shrinks():
    assert NOT_YET_TRANSFER <= {"04_multi_stage", "05_uv", "06_config_and_secrets", "08_compose",
                                "09_health_and_shutdown", "10_security", "11_registries_and_ci", "14_supply_chain"}


def test_every_lesson_states_its_time_at_the_top():
    """The first cell of each lesson says how long it takes a learner, for the lesson and for its exercise, from its
    cells, builds and the exercise's size (no cap: a lesson that needs more says so, or is split)."""
    wrong = []
    for p in sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")):
        first = "".join(json.loads(p.read_text())["cells"][0]["source"])
        if not re.search(r"\*\*Time: about (\d+) minutes\*\*", first):
            wrong.append(f"{p.name}: no '**Time: about N minutes**' line in the first cell")
    assert not wrong, "\n".join(wrong)


# Asserts that pin a sentence (a string of 12+ characters with a space, compared with `in`, `not in` or `==`): the
# wording of checks lives with their criteria and in tests/snapshots/check-wording.md, tests assert ids, causes and
# values. Exact CLI twins ("$ docker …", "docker compose …", "dockerlab clean …", "COSIGN_PASSWORD=… cosign …") are
# commands a learner pastes, not prose. This ceiling only goes down (issue: at most 40).
MAX_PROSE_ASSERTS = 13
_COMMAND = re.compile(r"^\s*(\$ |(docker|dockerlab|cosign|uv|pip|python3?|cd)\b|COSIGN_PASSWORD=… |[A-Z_]+=\S+ docker\b)")


def _prose(node) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    else:
        return False
    return len(text) >= 12 and " " in text.strip() and not _COMMAND.match(text)


def prose_asserts() -> list[str]:
    found = []
    for f in sorted(ROOT.glob("tests/**/*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if not isinstance(node, ast.Assert):
                continue
            for cmp in [n for n in ast.walk(node.test) if isinstance(n, ast.Compare)]:
                sides = [cmp.left, *cmp.comparators]
                if any(isinstance(op, (ast.In, ast.NotIn, ast.Eq)) for op in cmp.ops) and any(_prose(x) for x in sides):
                    found.append(f"{f.relative_to(ROOT)}:{node.lineno}")
                    break
    return found


def test_prose_asserts_stay_under_the_ceiling():
    found = prose_asserts()
    assert len(found) <= MAX_PROSE_ASSERTS, f"{len(found)} asserts pin prose (ceiling {MAX_PROSE_ASSERTS}): {found[:20]}"


# --- exercises: hints hidden until asked, pointing at the idea ---------------------------------------------

def _exercise_module(nn: str):
    import importlib

    sys.path.insert(0, str(ROOT / "src"))
    path = next((ROOT / "src" / "dockerlab" / "grading" / "lessons").glob(f"l{nn}_*.py"))
    return importlib.import_module(f"dockerlab.grading.lessons.{path.stem}")


def _cells(p: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(p.read_text())["cells"]]


def _headings(nn: str) -> list[str]:
    lesson = next((ROOT / "notebooks").glob(f"{nn}_*.ipynb"))
    return [l.lstrip("#").strip().replace("`", "").lower() for cell in _cells(lesson) for l in cell.splitlines()
            if l.startswith("#")]


EXERCISE_LESSONS = [f"{n:02d}" for n in range(1, 15)]


def test_every_exercise_has_hints_in_its_check_module():
    """Lessons 01-14 have hints (lessons/hints.toml, the module's HINTS): progressive, the last naming a lesson."""
    wrong = []
    for nn in EXERCISE_LESSONS:
        hints = getattr(_exercise_module(nn), "HINTS", None)
        if not (isinstance(hints, tuple) and len(hints) >= 2 and all(isinstance(h, str) and h.strip() for h in hints)):
            wrong.append(f"l{nn}: HINTS must be a tuple of at least two texts, got {hints!r:.80}")
        elif not re.search(r"\blesson \d\d\b", hints[-1], re.I):
            wrong.append(f"l{nn}: the last hint must point at where the idea is taught (lesson NN, section \"…\")")
    assert not wrong, "\n".join(wrong)


def test_hint_text_is_in_no_notebook_cell():
    """The cell above the hint button shows no hint: exercise and solution notebooks call hints(<module>)."""
    wrong = []
    for nn in EXERCISE_LESSONS:
        hints = _exercise_module(nn).HINTS
        for folder in ("exercises", "solutions"):
            nb = next((ROOT / folder).glob(f"{nn}_*.ipynb"))
            cells = _cells(nb)
            if not any(re.search(r"\bhints\(\s*[A-Za-z_][\w.]*\s*[,)]", c) for c in cells):
                wrong.append(f"{folder}/{nb.name}: no cell shows the module's hints (dockerlab.hints(ex))")
            for i, cell in enumerate(cells):
                for n, hint in enumerate(hints, 1):
                    flat = " ".join(hint.split())
                    windows = {flat[k:k + 40] for k in range(max(1, len(flat) - 39))}
                    if any(w in " ".join(cell.split()) for w in windows):
                        wrong.append(f"{folder}/{nb.name} cell {i}: holds the text of hint {n}")
    assert not wrong, "\n".join(wrong)


def test_last_hint_points_at_the_idea_not_the_answer():
    """No line of the solution appears in the last hint, and every lesson section a hint names exists."""
    wrong = []
    for nn in EXERCISE_LESSONS:
        hints = _exercise_module(nn).HINTS
        sol = next((ROOT / "solutions").glob(f"{nn}_*.ipynb"))
        answer, inside = [], False
        for cell in _cells(sol):
            for line in cell.splitlines():
                if line.strip().startswith("### BEGIN SOLUTION"):
                    inside = True
                elif line.strip().startswith("### END SOLUTION"):
                    inside = False
                elif inside and len(line.strip()) >= 12 and not line.strip().startswith("#"):
                    answer.append(" ".join(line.split()).strip('"\',\\'))
        last = " ".join(hints[-1].split())
        wrong += [f"l{nn}: the last hint holds a line of the answer: {a!r}" for a in answer if " " in a and a in last]
        for hint in hints:  # lesson NN, sections "A" and "B": each section is a heading of lesson NN
            for m in re.finditer(r"\blesson (\d\d)\b(.*?)(?=\blesson \d\d\b|$)", hint, re.I | re.S):
                headings = _headings(m.group(1))
                for title in re.findall(r'"([^"]+)"', m.group(2)):
                    want = title.replace("`", "").lower()
                    if not any(want in h for h in headings):
                        wrong.append(f"l{nn}: lesson {m.group(1)} has no section {title!r}")
    assert not wrong, "\n".join(wrong)


def test_report_figures_are_recorded_by_helpers_not_lesson_cells():
    """Measurements for run-all are recorded by the helpers that take them (lab.build, layers, stop, …)."""
    call = re.compile(r"\bdockerlab\.(figure|ratio)\(|\bfigures\.(record|figure|ratio)\(|import[^\n]*\b(figure|ratio)\b")
    found = []
    for p in [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb")]:
        for i, c in enumerate(json.loads(p.read_text())["cells"]):
            if c["cell_type"] == "code" and call.search("".join(c["source"])):
                found.append(f"{p.relative_to(ROOT)} cell {i}")
    assert not found, "report instrumentation in notebook cells:\n" + "\n".join(found)


def test_every_lesson_says_once_that_the_course_labels_what_it_creates():
    """The printed CLI twins leave the course labels out; each lesson says so once, near the top."""
    missing = []
    for p in sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")):
        if p.name.startswith("00_"):
            continue  # the preflight introduces names and labels in a section of its own
        cells = json.loads(p.read_text())["cells"]
        top = " ".join("".join(c["source"]) for c in cells[:4] if c["cell_type"] == "markdown")
        if not re.search(r"leave (those|the) labels out", " ".join(top.split())):
            missing.append(p.name)
    assert not missing, "lessons that do not say their printed commands leave the course labels out: " + ", ".join(missing)


def test_no_placeholder_in_printed_commands():
    """A CLI twin is pasted as it is: no "…" placeholder and no --label flag in what a lesson cell hands to cli()."""
    wrong = []
    for p in sorted(ROOT.glob("notebooks/*.ipynb")):
        for i, c in enumerate(json.loads(p.read_text())["cells"]):
            for line in "".join(c["source"]).splitlines() if c["cell_type"] == "code" else []:
                if re.search(r"\bcli\(", line) and ("…" in line or "--label" in line):
                    wrong.append(f"{p.name} cell {i}: {line.strip()[:80]}")
    assert not wrong, "\n".join(wrong)


def test_capstone_solution_lists_the_scorecards_criteria():
    """The criteria table of solutions/13 (and the exercise made from it) lists CRITERIA of l13_capstone, in order."""
    module = _exercise_module("13")
    criteria = [c.title for c in module.CRITERIA]
    for folder in ("solutions", "exercises"):
        nb = next((ROOT / folder).glob("13_*.ipynb"))
        rows = [re.match(r"^\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*(.*?)\s*\|$", l) for cell in _cells(nb)
                for l in cell.splitlines()]
        table = [(int(m.group(1)), m.group(2).replace("`", "")) for m in rows if m]
        how = [m.group(3) for m in rows if m]
        # One spec: the "how the scorecard measures it" column is l13_capstone.HOW, word for word (finding N8).
        assert how == [module.HOW[c.id] for c in module.CRITERIA], f"{folder}/{nb.name}: the table's third column " \
            "must be l13_capstone.HOW, in order"
        assert table == list(enumerate(criteria, 1)), (
            f"{folder}/{nb.name}: the criteria table must list the {len(criteria)} criteria of "
            f"src/dockerlab/grading/lessons/l13_capstone.py (CRITERIA) in order:\n"
            + "\n".join(f"  {n}. {t}" for n, t in enumerate(criteria, 1)) + "\nit lists:\n"
            + "\n".join(f"  {n}. {t}" for n, t in table))


def test_cells_of_nbformat_4_5_notebooks_have_unique_ids():
    """nbformat 4.5 gives every cell an id (a missing one is a warning today, an error in future nbformat)."""
    wrong = []
    for p in sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb"), *ROOT.glob("exercises/*.ipynb")]):
        nb = json.loads(p.read_text())
        if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):
            continue
        ids = [c.get("id") for c in nb["cells"]]
        if None in ids or len(set(ids)) != len(ids):
            wrong.append(f"{p.relative_to(ROOT)}: {sum(i is None for i in ids)} cells without an id, "
                         f"{len(ids) - len(set(ids))} repeated")
    assert not wrong, "\n".join(wrong)


# Where a lesson's prose may send a learner for a claim it does not show live: the projects' own documentation,
# specifications and source (issue 21: "every claim has a live cell or a cited source"), never a blog or a forum.
SOURCES = {
    "docs.docker.com", "hub.docker.com", "docker-py.readthedocs.io", "docs.astral.sh", "docs.python.org",
    "peps.python.org", "packaging.python.org", "pip.pypa.io", "www.postgresql.org", "docs.gunicorn.org",
    "flask.palletsprojects.com", "www.psycopg.org", "psycopg.org", "man7.org", "www.kernel.org", "docs.kernel.org", "www.gnu.org",
    "pubs.opengroup.org", "git.busybox.net", "packages.debian.org", "www.debian.org", "kubernetes.io", "compose-spec.io",
    "distribution.github.io", "docs.renovatebot.com", "docs.github.com", "docs.sigstore.dev", "slsa.dev",
    "edu.chainguard.dev", "images.chainguard.dev", "python-poetry.org", "testcontainers-python.readthedocs.io", "www.uvicorn.org",
    "fastapi.tiangolo.com", "ipywidgets.readthedocs.io", "jupyterhub.readthedocs.io", "pypi.org", "sigstore.dev",
}
GITHUB_OWNERS = {  # github.com/<owner>/…: the project's own repositories (and GitHub's advisory database)
    "moby", "docker", "docker-library", "astral-sh", "compose-spec", "opencontainers", "containerd", "distribution",
    "sigstore", "actions", "dependabot", "hadolint", "GoogleContainerTools", "python", "pypa", "kubernetes",
    "testcontainers", "jupyterhub", "renovatebot", "advisories", "tj-actions", "docker-hardened-images", "chainguard-dev",
    "torvalds", "psycopg", "pallets", "benoitc", "encode", "nestybox", "containers", "aquasecurity",
}
LOCAL = re.compile(r"^(127\.0\.0\.1|localhost|HOST|\{)")  # the learner's own services, and f-string placeholders


def test_lessons_cite_only_the_projects_own_sources():
    """Every link in a lesson's or solution's prose goes to an authoritative source (SOURCES, GITHUB_OWNERS)."""
    wrong = []
    for p in sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb")]):
        for i, c in enumerate(json.loads(p.read_text())["cells"]):
            if c["cell_type"] != "markdown":
                continue
            for url in re.findall(r"https?://[^\s)>\"'`\]]+", "".join(c["source"])):
                host, _, path = url.split("://", 1)[1].partition("/")
                owner = path.split("/", 1)[0]
                ok = LOCAL.match(host) or host in SOURCES or (host == "github.com" and owner in GITHUB_OWNERS)
                if not ok:
                    wrong.append(f"{p.relative_to(ROOT)} cell {i}: {url}")
    assert not wrong, "links to sources that are not the project's own:\n" + "\n".join(wrong)

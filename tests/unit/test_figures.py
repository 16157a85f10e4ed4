"""Figures for the run-all report are recorded by the helpers that measure them, silently, to $DOCKERLAB_FIGURES."""
import json
import re
from types import SimpleNamespace

import readhtml

from dockerlab import build as build_mod
from dockerlab import figures
from dockerlab.ops import runall
from dockerlab.build import BuildResult, Step


def test_record_is_silent_and_appends_one_json_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "figures.jsonl"
    monkeypatch.setenv("DOCKERLAB_FIGURES", str(path))
    name, note = "build 03-good:latest", "7/7 steps cached"
    assert figures.record(name, 2.345, "s", note, steps=7, cached=7) == 2.345
    figures.record("image 04-multi:latest", 150_000_000, "bytes")
    assert capsys.readouterr().out == ""
    got = figures.read_figures(str(path))
    assert [(f["text"], f["facts"]) for f in got] == [("2.3 s", {"steps": 7, "cached": 7}), ("150.0 MB", {})]
    assert figures.describe(got[0]) == f"{name}: 2.3 s ({note})" and figures.describe(got[1]).endswith(": 150.0 MB")


def test_record_without_the_variable_does_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKERLAB_FIGURES", raising=False)
    monkeypatch.chdir(tmp_path)
    figures.record("x", 1, "s")
    assert list(tmp_path.iterdir()) == []


def test_a_cut_line_does_not_break_the_report(tmp_path):
    path = tmp_path / "figures.jsonl"
    path.write_text(json.dumps({"name": "a", "text": "1.0 s"}) + "\n{\"name\": \"b\", \"te")
    assert [f["name"] for f in figures.read_figures(str(path))] == ["a"]


def test_short_name_drops_the_namespace(monkeypatch):
    monkeypatch.setenv("DOCKERLAB_NAMESPACE", "ada")
    assert figures.short_name("dl-ada/03-good:latest") == "03-good:latest"
    assert figures.short_name("dl-ada-09-stop-1") == "09-stop-1"
    assert figures.short_name("python:3.13.5-slim") == "python:3.13.5-slim"


def test_a_build_records_its_seconds_cache_hits_and_sizes(tmp_path, monkeypatch):
    path = tmp_path / "figures.jsonl"
    monkeypatch.setenv("DOCKERLAB_FIGURES", str(path))
    monkeypatch.setenv("DOCKERLAB_NAMESPACE", "ada")
    steps = [Step(1, 3, "FROM python:3.13.5-slim", True, 0.0), Step(2, 3, "RUN pip install -r requirements.txt", False, 4.2),
             Step(3, 3, "COPY . .", False, 0.2)]
    image = SimpleNamespace(attrs={"Size": 150_000_000})
    build_mod._record(BuildResult(image, "dl-ada/03-good:latest", steps, 5.0, [], 4096))
    (fig,) = figures.read_figures(str(path))
    assert fig["name"].split() == ["build", "03-good:latest"] and (fig["value"], fig["unit"]) == (5.0, "s")
    assert fig["facts"] == {"steps": 3, "cached": 1, "image_bytes": 150_000_000, "context_bytes": 4096,
                            "slowest_step": {"instruction": steps[1].instruction, "seconds": 4.2}}
    assert all(said in fig["note"] for said in ("1/3", "150.0 MB", "4.1 kB", steps[1].instruction))  # the note says them


def test_run_all_report_lists_the_figures_with_their_notes(tmp_path, monkeypatch):
    monkeypatch.setattr(runall, "_doctor_lines", lambda: [("engine", "28.5.2", True)])
    figs = [{"name": "build 03-good:latest", "text": "5.0 s", "note": "1/3 steps cached | image 150.0 MB"}]
    md, page = runall.write_report([runall.NotebookRun("notebooks/03_layers_and_cache.ipynb", True, 12.0, figures=figs)],
                                   tmp_path)
    header, _, row = [l for l in md.read_text().splitlines() if l.startswith("|")][:3]
    cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row)[1:-1]]  # | escaped inside a cell
    assert len(cells) == header.count("|") - 1 and cells[3] == figures.describe(figs[0])
    assert readhtml.rows(page.read_text())[1][3] == figures.describe(figs[0])

"""`dockerlab report`: the progress file exported as JSON and as one self-contained HTML page."""
import json
import os
import re
from pathlib import Path

from dockerlab.grading import report
from dockerlab.grading.checker import Result, record_progress
from dockerlab.ops.commands import main

import readhtml

PROGRESS = {
    "namespace": "ada",
    "attempts": [
        {"lesson": "12_debugging", "exercise": "broken-services", "time": "2025-01-01T10:00:00", "seconds": 20.5,
         "passed": False, "results": [
             {"name": "wrong_cmd is fixed", "passed": False, "detail": "exited with code 2", "fix": "fix CMD <path>"},
             {"name": "missing_env is fixed", "passed": True, "detail": "200", "fix": ""}]},
        {"lesson": "12_debugging", "exercise": "broken-services", "time": "2025-01-01T10:05:00", "seconds": 10.0,
         "passed": True, "results": [{"name": "wrong_cmd is fixed", "passed": True, "detail": "200", "fix": ""}]},
        {"lesson": "13_capstone", "exercise": "capstone", "time": "2025-01-01T11:00:00", "seconds": 30.0,
         "passed": False, "results": [
             {"name": "1. builds", "passed": True, "detail": "built", "fix": ""},
             {"name": "3. runs as a non-root user", "passed": False, "detail": "runs as root", "fix": "add USER app"}]},
    ],
}


def write_progress(tmp_path):
    p = tmp_path / "progress.json"
    p.write_text(json.dumps(PROGRESS))
    return p


def test_summary_per_lesson(tmp_path):
    rep = report.summarize(report.load_progress(write_progress(tmp_path)))
    assert rep["namespace"] == "ada"
    assert rep["summary"] == {"exercises": 2, "passed": 1, "failing": 1, "not_started": 12, "course_exercises": 14, "check_cells_edited": 0,
                              "attempts": 3, "check_seconds": 60.5}
    assert len(rep["not_started"]) == 12 and "01_images_and_containers" in rep["not_started"]
    assert "12_debugging" not in rep["not_started"]
    l12, l13 = rep["lessons"]
    assert (l12["lesson"], l12["status"], l12["attempts"], l12["check_seconds"]) == ("12_debugging", "passed", 2, 30.5)
    assert l12["first_passed"] == "2025-01-01T10:05:00" and l12["failing"] == []
    assert l13["status"] == "failing" and l13["checks_passed"] == 1 and l13["checks_total"] == 2
    assert l13["failing"] == [PROGRESS["attempts"][2]["results"][1]]
    assert [h["passed"] for h in l12["history"]] == [False, True]


def test_main_writes_both_into_runs_by_default(tmp_path, monkeypatch, capsys):
    """Into runs/ of the course folder (gitignored, never the current folder), saying where."""
    src = write_progress(tmp_path)
    course, elsewhere = tmp_path / "course", tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.setenv("DOCKERLAB_ROOT", str(course))
    monkeypatch.chdir(elsewhere)
    assert main(["report", "--progress", str(src)]) == 0
    assert not list(elsewhere.iterdir())
    data = json.loads((course / "runs" / "dockerlab-report.json").read_text())
    assert [l["lesson"] for l in data["lessons"]] == ["12_debugging", "13_capstone"]
    page = (course / "runs" / "dockerlab-report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page.split("<body>")[1]
    rows = {r[0]: r for r in readhtml.rows(page)[1:]}  # lesson -> its row
    assert [rows[l][1:5] for l in ("12_debugging", "13_capstone")] == [["broken-services", "✔ passed", "1/1", "2"],
                                                                      ["capstone", "✘ failing", "1/2", "1"]]
    failing = PROGRESS["attempts"][2]["results"][1]
    assert all(failing[k] in rows["13_capstone"][7] for k in ("name", "detail", "fix")) and rows["12_debugging"][7] == "—"
    assert len(rows) == 14 and rows["01_images_and_containers"][3:5] == ["-", "0"]  # not started: no checks, 0 attempts
    line = report.progress_line(data["summary"])
    assert [int(n) for n in re.findall(r"\d+", line)] == [1, 14, 1, 12]  # passing of the course, failing, not started
    assert line in readhtml.text(page)
    out = capsys.readouterr().out
    assert out.startswith(line)
    assert f"wrote {course / 'runs' / 'dockerlab-report.json'}" in out and "dockerlab-report.html" in out


def test_the_default_folder_is_ignored_by_git():
    root = Path(__file__).resolve().parents[2]
    assert "runs/" in (root / ".gitignore").read_text().split()
    assert report.report_dir() == Path(os.environ.get("DOCKERLAB_ROOT") or root).resolve() / "runs"


def test_options_choose_the_files(tmp_path):
    src = write_progress(tmp_path)
    assert main(["report", "--progress", str(src), "--json", str(tmp_path / "only.json")]) == 0
    assert (tmp_path / "only.json").exists() and not (tmp_path / "dockerlab-report.html").exists()
    assert main(["report", "--progress", str(src), "--html", str(tmp_path / "page.html")]) == 0
    rows = {r[0]: r for r in readhtml.rows((tmp_path / "page.html").read_text())[1:]}
    assert rows["12_debugging"][7] == "—" and rows["13_capstone"][2] == "✘ failing"  # latest attempt passed: no failing line


def test_reads_what_the_checks_record(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "p.json"))
    line = Result("1. builds", False, "no Dockerfile", "write one")
    record_progress("13_capstone", "capstone", [line], 1.2)
    rep = report.write_report(tmp_path / "r.json", tmp_path / "r.html")
    recorded = rep["lessons"][0]["failing"]
    assert [(r["name"], r["passed"], r["detail"], r["fix"]) for r in recorded] == [(line.name, False, line.detail, line.fix)]
    assert line.fix in readhtml.rows((tmp_path / "r.html").read_text())[1][7]


def test_no_progress_yet(tmp_path):
    rep = report.write_report(tmp_path / "r.json", tmp_path / "r.html", progress=tmp_path / "missing.json")
    assert rep["summary"]["exercises"] == 0 and rep["lessons"] == []
    rows = readhtml.rows((tmp_path / "r.html").read_text())
    assert len(rows[1]) == 1 and [r[4] for r in rows[2:]] == ["0"] * 14  # a one-cell notice, no lesson row; none started


def test_an_edited_check_cell_is_flagged(tmp_path, monkeypatch):
    """The attempt's check_cell (recorded by the check from the cell that ran it) shows in the report and the room."""
    from dockerlab.grading import checkcell
    from dockerlab.ops.room import room_summary

    nb = {"cells": [{"cell_type": "code", "metadata": {}, "source": "ex.check(lab, app);"}]}
    checkcell.mark(nb, "02_first_dockerfile")
    (tmp_path / "02_first_dockerfile.ipynb").write_text(json.dumps(nb))
    monkeypatch.setattr(checkcell, "running_cell_code", lambda: "ex.check(lab, app);  \n")  # trailing blanks: no edit
    assert checkcell.state("02_first_dockerfile", tmp_path) == "as written"
    monkeypatch.setattr(checkcell, "running_cell_code", lambda: "ex.check(lab, app) or True;")
    assert checkcell.state("02_first_dockerfile", tmp_path) == "edited"
    progress = {"namespace": "ada", "attempts": [
        {"lesson": "02_first_dockerfile", "exercise": "x", "time": "2026-12-06T10:00:00", "seconds": 1, "passed": True,
         "check_cell": "edited", "results": [{"name": "a", "id": "l02.a", "passed": True}]}]}
    rep = report.summarize(progress)
    assert rep["lessons"][0]["check_cell_edited"] and rep["summary"]["check_cells_edited"] == 1
    assert room_summary({"ada": progress})["lessons"][0]["check_cell_edited"] == ["ada"]

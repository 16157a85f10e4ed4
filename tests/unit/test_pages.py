"""The HTML pages come from Jinja2 templates with autoescape: what learners and notebooks write is shown, never run."""
from __future__ import annotations

from dockerlab.grading import report
from dockerlab.ops import room, runall

import readhtml

EVIL = "<script>alert('x')</script> & \"more\""


def attempt(name=EVIL, detail=EVIL):
    return {"lesson": "01_images_and_containers", "exercise": "", "time": "2026-11-21T10:00:00", "seconds": 1.0,
            "passed": False, "results": [{"name": name, "passed": False, "detail": detail, "fix": EVIL}]}


def test_progress_report_escapes_what_the_checks_recorded():
    page = report.render_html(report.summarize({"namespace": EVIL, "attempts": [attempt()]}, course=[]))
    assert "<script" not in page and page.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;more&#34;") == 5


def test_room_and_learner_pages_escape_names_and_reasons():
    progress = {EVIL: {"namespace": EVIL, "attempts": [attempt()]}}
    page = room.render_room_html(room.room_summary(progress), title=EVIL)
    assert "<script" not in page and "&lt;script&gt;" in page and "1 of 1" in page
    assert "<script" not in room.render_learner_html(EVIL, progress[EVIL])


def test_run_all_page_escapes_errors_and_the_doctor(tmp_path, monkeypatch):
    monkeypatch.setattr(runall, "_doctor_lines", lambda: [(EVIL, EVIL, False)])
    _, html_path = runall.write_report([runall.NotebookRun("notebooks/01.ipynb", False, 2.0, error=EVIL)], tmp_path)
    page = html_path.read_text()
    assert "<script" not in page and page.count("&lt;script&gt;") == 3
    assert readhtml.texts(page, "h1")[0].endswith("NOT ready") and readhtml.rows(page)[-1] == ["NO", EVIL, EVIL]

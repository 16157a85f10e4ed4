import json

import pytest

from dockerlab.grading import checker as checks
from dockerlab.imagelayers import instruction_of
from dockerlab.show import Table, cli, human_size


def test_human_size():
    assert human_size(999) == "999 B"
    assert human_size(1_500_000) == "1.5 MB"
    assert human_size(None) == "-"


def test_cli_prints_the_command(capsys, monkeypatch):
    monkeypatch.delenv("DOCKERLAB_SHOW_CLI", raising=False)
    line = cli("docker", ["run", "--rm", "it's"])
    assert line == "docker run --rm 'it'\"'\"'s'"
    assert capsys.readouterr().out.startswith("$ docker run")


def test_table_text_and_html():
    t = Table([{"a": 1, "b": "<x>"}], title="T")
    assert "a  b" in str(t) and "&lt;x&gt;" in t._repr_html_()


@pytest.mark.parametrize("created_by,want", [
    ("/bin/sh -c #(nop)  CMD [\"python\"]", "CMD"),
    ("/bin/sh -c pip install flask", "RUN"),
    ("|1 TOKEN=x /bin/sh -c echo", "RUN"),
    ("RUN /bin/sh -c pip install . # buildkit", "RUN"),
    ("COPY . . # buildkit", "COPY"),
    ("", "FROM"),
])
def test_instruction_of(created_by, want):
    assert instruction_of(created_by) == want


def test_checker_raises_with_every_failure_and_records_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "p.json"))
    c = checks.Checker("01", "ex")
    c.ok("runs")
    c.fail("user", "runs as root", "add a USER line after installing dependencies")
    with pytest.raises(checks.CheckFailed) as info:
        c.report()
    (failed,) = info.value.failures
    assert failed is c.results[1] and f"{failed.name}: {failed.detail} → {failed.fix}" in str(info.value)  # each failure, its fix
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["attempts"][0]["passed"] is False


def test_checker_with_no_results_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "p.json"))
    with pytest.raises(checks.CheckFailed):
        checks.Checker("01").report()

"""dockerlab.lint: the real hadolint binary on Dockerfiles written to tmp_path (no engine needed)."""
import pytest

from dockerlab import Table
from dockerlab import lint as L

BAD = """FROM python:3.13.5-slim
WORKDIR app
ADD app.py /app/
RUN pip install flask
CMD python app.py
"""

GOOD = """FROM python:3.13.5-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
USER 10001
CMD ["python", "app.py"]
"""


def test_binary_is_found():
    assert L.hadolint_path().endswith("hadolint")


def test_findings_of_a_bad_dockerfile(tmp_path):
    (tmp_path / "Dockerfile").write_text(BAD)
    table = L.lint(tmp_path / "Dockerfile", quiet=True)
    assert isinstance(table, Table)
    assert table.columns == ["file", "line", "code", "level", "message"]
    by_code = {r["code"]: r for r in table.rows}
    assert by_code["DL3000"]["level"] == "error" and by_code["DL3000"]["line"] == 2
    assert by_code["DL3020"]["level"] == "error" and by_code["DL3020"]["line"] == 3
    assert by_code["DL3025"]["level"] == "warning" and by_code["DL3025"]["line"] == 5
    assert all(r["file"] == "Dockerfile" for r in table.rows)
    assert {r["code"] for r in L.errors(table)} == {"DL3000", "DL3020"}


def test_clean_dockerfile_has_no_finding(tmp_path):
    (tmp_path / "Dockerfile").write_text(GOOD)
    assert len(L.lint(tmp_path, quiet=True)) == 0


def test_lint_text_and_folder_of_many(tmp_path):
    for name, text in (("a", BAD), ("b", GOOD)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(text)
    table = L.lint(tmp_path, quiet=True)
    assert set(table.column("file")) == {"a/Dockerfile"}
    assert table.files == ["a/Dockerfile", "b/Dockerfile"] and table.title.split()[1] == "2"  # both looked at
    assert [r["code"] for r in L.errors(L.lint_text(BAD, quiet=True))] == ["DL3000", "DL3020"]


def test_parse_empty_and_missing_binary(monkeypatch, tmp_path):
    assert L.parse("") == [] and L.parse("[]") == []
    monkeypatch.setattr(L.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(L.HadolintMissing, match="hadolint is not installed"):
        L.hadolint_path()


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        L.lint(tmp_path / "nope")

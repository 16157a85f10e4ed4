"""Lesson 12 exercise check (dice_roller, a service that never becomes healthy), real engine.

Proofs: the unsolved folder and plausible half-fixes fail with what was observed; the solution and a fix written
differently (the line endings repaired in the Dockerfile, an exec-form health check) pass.
"""
import json

import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons import l12_debugging as ex

pytestmark = pytest.mark.engine

CURL = "CMD curl -fsS http://127.0.0.1:8000/health || exit 1"
PY_CHECK = """CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]"""


@pytest.fixture(scope="module")
def lab():
    with Lesson(ex.LESSON, quiet=True) as lesson:
        yield lesson


@pytest.fixture
def app(lab):
    return lab.workspace(ex.APP)


def lf_script(app):
    script = app / "entrypoint.sh"
    script.write_bytes(script.read_bytes().replace(b"\r\n", b"\n"))


def edit(app, old, new):
    df = app / "Dockerfile"
    text = df.read_text()
    assert old in text
    df.write_text(text.replace(old, new))


def failure(lab, app) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, app)
    return info.value


def names(err) -> list[str]:
    return [r.name for r in err.failures]


def test_unsolved_names_the_script_that_is_there(lab, app, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "progress.json"))
    err = failure(lab, app)
    assert names(err) == ["starts and keeps running"]
    assert "exec /usr/local/bin/dice-entrypoint: no such file or directory`, yet `ls -l" in str(err)
    assert "\\r" not in str(err) and "CRLF" not in str(err)  # the check says what it saw, not the answer
    lines = json.loads((tmp_path / "progress.json").read_text())["attempts"][-1]["results"]
    assert [r["passed"] for r in lines] == [True, False, None, None, None]


def test_line_endings_fixed_but_curl_health_check_fails(lab, app):
    lf_script(app)
    err = failure(lab, app)
    assert names(err) == ["HEALTHCHECK reports healthy"]
    assert "curl: not found" in str(err)


def test_removing_the_health_check_fails(lab, app):
    lf_script(app)
    edit(app, "HEALTHCHECK --interval=2s --timeout=3s --start-period=5s --retries=3 \\\n  " + CURL + "\n", "")
    err = failure(lab, app)
    assert names(err) == ["HEALTHCHECK reports healthy"]
    assert "the image has no HEALTHCHECK" in str(err)


def test_a_health_check_that_cannot_fail_fails(lab, app):
    lf_script(app)
    edit(app, CURL, "CMD curl -fsS http://127.0.0.1:8000/health || exit 0")
    err = failure(lab, app)
    assert names(err) == ["the health check can fail"]
    assert "exits 0 in a container where the app is not running" in str(err)


def test_bypassing_the_entrypoint_fails(lab, app):
    """Skip the script instead of fixing it: the defaults it sets are missing, the app refuses to start."""
    edit(app, 'ENTRYPOINT ["dice-entrypoint"]', "ENTRYPOINT []")
    edit(app, CURL, PY_CHECK)
    err = failure(lab, app)
    assert names(err) == ["starts and keeps running"]
    assert "DICE_SIDES is not set" in str(err)


def test_a_health_check_on_the_wrong_port_fails(lab, app):
    lf_script(app)
    edit(app, CURL, PY_CHECK.replace("8000", "8080"))
    err = failure(lab, app)
    assert names(err) == ["HEALTHCHECK reports healthy"]
    assert "unhealthy" in str(err)


def test_other_correct_answer_passes(lab, app):
    """The script repaired by the Dockerfile (as root, before USER), an exec-form check with other timings."""
    edit(app, "USER 10001", "RUN sed -i 's/\\r$//' /usr/local/bin/dice-entrypoint\nUSER 10001")
    edit(app, "HEALTHCHECK --interval=2s --timeout=3s --start-period=5s --retries=3 \\\n  " + CURL,
         'HEALTHCHECK --interval=1s --retries=5 CMD ["python", "-c", '
         '"import sys, urllib.request as u; sys.exit(u.urlopen(\'http://localhost:8000/health\').status != 200)"]')
    assert ex.check(lab, app).passed

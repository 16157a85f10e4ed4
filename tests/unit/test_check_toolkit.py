"""The exercise checks' shared toolkit, the parts that need no engine: the Dockerfile parser and pin rules, root
users, /proc/net/tcp, exit causes, health-check commands, the one pass/fail model and its rendering."""
import json

import pytest

from dockerlab.grading import checker as checks
from dockerlab import dockerfile as dfile
from dockerlab.grading.rebuild import INSTALL
from dockerlab.grading.contents import PIP_CACHE, UV_CACHE, env_secrets
from dockerlab.grading.probes import describe_listeners, is_root_user, parse_listeners
from dockerlab.grading.serving import explain_exit, healthcheck_argv
from dockerlab.grading.report import summarize
from dockerlab.show import TINTS, Raw, html_table, inline_code

UV_DOCKERFILE = """\
ARG PY=3.13.5
FROM python:${PY}-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /bin/uv
RUN --mount=type=bind,from=build,source=/x,target=/y true

FROM build AS test
RUN pytest

FROM python:${PY}-slim
COPY --from=build /app /app
"""


def test_pin_rules():
    assert dfile.pin_problem("python:3.13.5-slim") is None
    assert dfile.pin_problem("python:3.13.5-slim@sha256:" + "a" * 64) is None
    assert "latest" in dfile.pin_problem("python")
    assert "latest" in dfile.pin_problem("python:latest")
    assert "not an exact version" in dfile.pin_problem("python:3")
    assert dfile.pin_problem("localhost:5000/python:3.13.5") is None  # a registry port is not a tag


def test_parse_stages_bases_and_external_images():
    df = dfile.parse(UV_DOCKERFILE)
    assert [(s.name, s.base) for s in df.stages] == [("build", "python:3.13.5-slim"), ("test", "build"),
                                                      ("", "python:3.13.5-slim")]
    assert df.copy_from == ["ghcr.io/astral-sh/uv:0.13.8"]  # stages are not images to pin
    assert df.external_refs() == ["python:3.13.5-slim", "ghcr.io/astral-sh/uv:0.13.8"]
    assert df.final_base() == "python:3.13.5-slim"
    assert [s.label for s in df.inherits(df.stages[1])] == ["test", "build"]
    assert dfile.parse("FROM python:3.13.5-slim AS b\nFROM b\n").final_base() == "python:3.13.5-slim"


def test_every_stage_gets_a_name_for_target():
    text, names = dfile.with_stage_names("FROM a\nRUN x\nFROM b AS Named\nFROM named\n")
    assert names == ["dockerlab-stage-0", "named", "dockerlab-stage-2"]
    assert text.splitlines()[0] == "FROM a AS dockerlab-stage-0" and "FROM b AS Named" in text


@pytest.mark.parametrize("user", ["", "root", "0", "0:0", "root:root", "0:1000", None])
def test_root_users(user):
    assert is_root_user(user)


@pytest.mark.parametrize("user", ["10001", "app", "10001:10001", "65532:0", "nobody"])
def test_non_root_users(user):
    assert not is_root_user(user)


PROC_NET_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 1 1 0 100 0 0 10 0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001        0 2 1 0 100 0 0 10 0
   2: 0100007F:1F40 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000 10001        0 3 1 0 100 0 0 10 0
  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000
"""


def test_listeners_from_proc_net_tcp():
    found = parse_listeners(PROC_NET_TCP)
    assert found == [("::1", 80), ("127.0.0.1", 8000), ("0.0.0.0", 8080)]  # the ESTABLISHED line is not one
    assert describe_listeners([("127.0.0.1", 8000)], 8000)[0] == "loopback"
    assert describe_listeners([("0.0.0.0", 8080)], 8000) == ("other_port", "the app listens on 0.0.0.0:8080, not on port 8000")
    assert describe_listeners([], 8000)[0] == "not_listening"
    assert describe_listeners([("::", 8000)], 8000)[0] == "listening"


@pytest.mark.parametrize("logs,kind,names", [
    ("Traceback …\nModuleNotFoundError: No module named 'flask'", "module", "`flask`"),
    ("python: can't open file '/app/server.py': [Errno 2] No such file or directory", "file", "`/app/server.py`"),
    ("Error: Could not import 'quote_api'.", "file", "`quote_api`"),
    ("Traceback …\nKeyError: 'GREETING'", "env", "GREETING"),
    ("PermissionError: [Errno 13] Permission denied (while binding port 80)", "bind_denied", "refused"),
    ("OSError: [Errno 30] Read-only file system: '/app/state'", "read_only", "read-only"),
    ("", "exited", "(no log output)"),
])
def test_exit_causes_are_named(logs, kind, names):
    got_kind, cause = explain_exit(1, logs)
    assert got_kind == kind and names in cause and cause.startswith("the container exited with code 1")
    if not logs:  # one pair of parentheses, not "((no log output))"
        assert cause == "the container exited with code 1 (no log output)"


def test_healthcheck_commands():
    assert healthcheck_argv(["CMD-SHELL", "curl -f http://x || exit 1"]) == ["/bin/sh", "-c", "curl -f http://x || exit 1"]
    assert healthcheck_argv(["CMD", "python", "-c", "pass"]) == ["python", "-c", "pass"]
    assert healthcheck_argv(["NONE"]) == [] and healthcheck_argv(None) == []


@pytest.mark.parametrize("instruction", ["RUN pip install -r r.txt", "RUN /usr/bin/pip3 install x",
                                         "RUN python3 -m pip install x", "RUN pip3.13 install x",
                                         "RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked",
                                         "RUN /bin/uv pip install --system x", "RUN poetry install"])
def test_install_steps_recognised(instruction):
    assert INSTALL.search(instruction)


@pytest.mark.parametrize("instruction", ["RUN pip wheel -w /w .", "RUN echo pipinstall", "RUN uvx ruff"])
def test_not_install_steps(instruction):
    assert not INSTALL.search(instruction)


def test_caches_by_layout_not_by_place():
    assert UV_CACHE.match("/opt/uv-cache/archive-v0/abc/flask/__init__.py").group(1) == "/opt/uv-cache"
    assert UV_CACHE.match("/home/app/.cache/uv/wheels-v5/pypi/x.whl").group(1) == "/home/app/.cache/uv"
    assert PIP_CACHE.match("/root/.cache/pip/http-v2/a/b").group(1) == "/root/.cache/pip"
    assert not UV_CACHE.match("/app/.venv/lib/python3.13/site-packages/flask/app.py")


def test_env_secrets(tmp_path):
    (tmp_path / ".env").write_text("# local\nPORT=8000\nCAPSTONE_SECRET=capstone-fake-7f3a\nDEBUG=true\n"
                                   "SESSION=ab12cd34ef56gh78ij90\n")
    (tmp_path / ".env.local").write_text("STRIPE_API_KEY='sk_live_123456'\n")
    assert env_secrets(tmp_path) == {"CAPSTONE_SECRET": "capstone-fake-7f3a", "SESSION": "ab12cd34ef56gh78ij90",
                                     "STRIPE_API_KEY": "sk_live_123456"}


# --- the one pass/fail model --------------------------------------------------------------------------------

def test_expect_takes_fix_and_ok_by_keyword_only():
    c = checks.Checker("01")
    with pytest.raises(TypeError):
        c.expect(True, "x", "bad", "the fix", "the ok")  # noqa: the old positional form
    assert c.expect(True, "x", "bad", fix="f", ok="fine") and c.results[0].detail == "fine"


def test_criteria_not_evaluated_is_neither_pass_nor_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "p.json"))

    def needs_image(_ctx):
        raise checks.NotEvaluated("the image did not build (line 1)")

    def broken(_ctx):
        raise KeyError("State")

    card = checks.Checker("13_capstone", "capstone").grade([
        checks.Criterion("builds", lambda _ctx: (False, "no Dockerfile", "write one")),
        checks.Criterion("runs", needs_image),
        checks.Criterion("pinned", lambda _ctx: (True, "pinned: python:3.13.5-slim")),
        checks.Criterion("odd", broken),
    ], ctx=None)
    assert [r.name for r in card.results] == ["1. builds", "2. runs", "3. pinned", "4. odd"]
    assert [r.passed for r in card.results] == [False, None, True, False]
    assert card.line(2).detail == "not evaluated: the image did not build (line 1)"
    assert card.line(4).cause == "check-error" and "KeyError" in card.line(4).detail
    assert card.score == 0.25 and card.passed_count == 1 and [r.name for r in card.failures] == ["1. builds", "4. odd"]
    assert "--   2. runs: not evaluated" in str(card) and "FAIL 1. builds: no Dockerfile → write one" in str(card)
    page = card._repr_html_()
    assert "– not evaluated" in page and "✘ FAIL" in page and "✔ ok" in page and "how to fix" in page
    with pytest.raises(checks.CheckFailed) as info:
        card.report()
    assert "2 check(s) failed" in str(info.value)
    attempt = json.loads((tmp_path / "p.json").read_text())["attempts"][0]
    assert attempt["passed"] is False and attempt["results"][1]["passed"] is None
    lesson = summarize({"attempts": [attempt]})["lessons"][0]
    assert lesson["checks_passed"] == 1 and len(lesson["failing"]) == 3  # the report lists the unevaluated line too


def test_only_unevaluated_lines_still_do_not_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "p.json"))
    c = checks.Checker("08")
    c.ok("db has a health check")
    c.skip("stack comes up healthy", "fix the file first")
    with pytest.raises(checks.CheckFailed) as info:
        c.report()
    assert "not evaluated: fix the file first" in str(info.value)


def test_one_html_table():
    html = html_table(["", "name"], [[Raw("<b>✓</b>"), "<x>"]], "caption & more")
    assert "<b>✓</b>" in html and "&lt;x&gt;" in html and "caption &amp; more" in html


def test_verdicts_are_words_on_tinted_rows_no_emoji():
    """No colour-emoji font is needed: every verdict is a word (with a mark DejaVu has), on a green or red row;
    `code` in a message is shown as code; no "how to fix" column when nothing failed."""
    c = checks.Checker("02_first_dockerfile", "x")
    c.ok("builds", "3 steps")
    page = c._repr_html_()
    assert "✔ ok" in page and "how to fix" not in page and TINTS["ok"] in page
    c.fail("exec form", "PID 1 is `/bin/sh -c flask run`", "write `CMD [\"gunicorn\", \"app:app\"]`")
    c.skip("serves", "the check stopped")
    page = c._repr_html_()
    assert "✘ FAIL" in page and "– not evaluated" in page and "how to fix" in page
    assert TINTS["fail"] in page and TINTS["none"] in page
    assert "<code>/bin/sh -c flask run</code>" in page and "`" not in page
    assert "not evaluated: the check stopped" not in page  # the word is in the verdict cell, not repeated
    for emoji in ("✅", "❌", "⚪", "⏳", "⚠️"):
        assert emoji not in page and emoji not in str(c)
    assert str(c).splitlines() == ["ok   builds: 3 steps",
                                   "FAIL exec form: PID 1 is `/bin/sh -c flask run` → write `CMD [\"gunicorn\", \"app:app\"]`",
                                   "--   serves: not evaluated: the check stopped"]


def test_the_doctor_table_needs_no_emoji_font():
    from dockerlab.ops.doctor import Item, Report

    page = Report([Item("engine", "28.5.2"), Item("buildx", "0.10", warning="older than 0.17: no `--check`"),
                   Item("compose v2", "missing", False, "install the compose plugin")])._repr_html_()
    assert "✔ ok" in page and "⚠ warning" in page and "✘ NO" in page and "<code>--check</code>" in page
    assert all(TINTS[k] in page for k in ("ok", "warn", "fail"))
    assert not any(e in page for e in ("✅", "❌", "⚠️"))


def test_inline_code_only_pairs():
    assert inline_code("a `b` <c>") == "a <code>b</code> &lt;c&gt;"
    assert inline_code("one ` backtick") == "one ` backtick"

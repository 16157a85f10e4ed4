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

import readhtml

UV_DOCKERFILE = """\
ARG PY=3.13
FROM python:${PY}-slim-trixie AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /bin/uv
RUN --mount=type=bind,from=build,source=/x,target=/y true

FROM build AS test
RUN pytest

FROM python:${PY}-slim-trixie
COPY --from=build /app /app
"""


def test_pin_rules():
    assert [dfile.pin_kind(r) for r in ("python:3.13-slim-trixie", "postgres:17-trixie", "python:3.13.5-slim",
                                        "python:3.13-slim@sha256:" + "a" * 64, "python:3.14-alpine3.22")] == [None] * 5
    assert [dfile.pin_kind(r) for r in ("python", "python:latest", "python:3", "localhost:5000/python", "python:3.13-slim",
                                        "python:slim-trixie")] == \
        ["untagged", "latest", "inexact", "untagged", "inexact", "inexact"]
    assert dfile.pin_kind("localhost:5000/python:3.13-trixie") is None  # a registry port is not a tag
    assert dfile.pin_problem("python:3") == dfile.PIN_PROBLEMS["inexact"].format(ref="python:3", tag="3")


def test_parse_stages_bases_and_external_images():
    df = dfile.parse(UV_DOCKERFILE)
    assert [(s.name, s.base) for s in df.stages] == [("build", "python:3.13-slim-trixie"), ("test", "build"),
                                                      ("", "python:3.13-slim-trixie")]
    assert df.copy_from == ["ghcr.io/astral-sh/uv:0.13.8"]  # stages are not images to pin
    assert df.external_refs() == ["python:3.13-slim-trixie", "ghcr.io/astral-sh/uv:0.13.8"]
    assert df.final_base() == "python:3.13-slim-trixie"
    assert [s.label for s in df.inherits(df.stages[1])] == ["test", "build"]
    assert dfile.parse("FROM python:3.13-slim-trixie AS b\nFROM b\n").final_base() == "python:3.13-slim-trixie"


def test_every_stage_gets_a_name_for_target():
    original = "FROM a\nRUN x\nFROM b AS Named\nFROM named\n"
    text, names = dfile.with_stage_names(original)
    assert names == ["dockerlab-stage-0", "named", "dockerlab-stage-2"]
    assert [(s.name, s.base) for s in dfile.parse(text).stages] == [("dockerlab-stage-0", "a"), ("named", "b"),
                                                                    ("dockerlab-stage-2", "named")]
    assert text.splitlines()[1:3] == original.splitlines()[1:3]  # a named stage's line is left as it was


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
    got_kind, cause = explain_exit(137, logs)
    assert got_kind == kind and names in cause and "137" in cause  # the kind, the value it names, the exit code
    if not logs:  # one pair of parentheses, not "((no log output))"
        assert cause.count("(") == cause.count(")") == 1 and cause.endswith(names)


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
        c.expect(True, "x", "bad", "the fix", "the ok")  # the old positional form
    assert c.expect(True, "x", "bad", fix="f", ok="fine") and c.results[0].detail == "fine"


def test_criteria_not_evaluated_is_neither_pass_nor_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKERLAB_PROGRESS", str(tmp_path / "p.json"))

    why = "the image did not build (line 1)"

    def needs_image(_ctx):
        raise checks.NotEvaluated(why)

    def broken(_ctx):
        raise KeyError("State")

    card = checks.Checker("13_capstone", "capstone").grade([
        checks.Criterion("builds", lambda _ctx: (False, "no Dockerfile", "write one")),
        checks.Criterion("runs", needs_image),
        checks.Criterion("pinned", lambda _ctx: (True, "pinned: python:3.13-slim-trixie")),
        checks.Criterion("odd", broken),
    ], ctx=None)
    assert [r.name for r in card.results] == ["1. builds", "2. runs", "3. pinned", "4. odd"]
    assert [r.passed for r in card.results] == [False, None, True, False]
    assert card.line(2).detail == f"{checks.NOT_EVALUATED}: {why}"
    assert card.line(4).cause == "check-error" and "KeyError" in card.line(4).detail
    assert card.score == 0.25 and card.passed_count == 1 and [r.name for r in card.failures] == ["1. builds", "4. odd"]
    text = str(card).splitlines()
    assert [line.split()[:2] for line in text] == [["FAIL", "1."], ["--", "2."], ["ok", "3."], ["FAIL", "4."]]
    assert text[0].endswith(f"{card.line(1).detail} → {card.line(1).fix}") and "→" not in text[1]  # a fix only where failed
    table = readhtml.rows(card._repr_html_())
    assert table[0][-1] == "how to fix" and [row[0] for row in table[1:]] == \
        [checks.HTML_MARKS[r.passed] for r in card.results]
    with pytest.raises(checks.CheckFailed) as info:
        card.report()
    assert info.value.failures == card.failures  # the failed lines, not the one not evaluated
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
    assert info.value.failures == [c.results[1]] and c.results[1].passed is None
    assert str(info.value).splitlines()[1].split(maxsplit=1)[0] == checks.MARKS[None]  # listed as not evaluated


def test_one_html_table():
    caption = "caption & more"
    html = html_table(["", "name"], [[Raw("<b>✓</b>"), "<x>"]], caption)
    assert readhtml.rows(html) == [["", "name"], ["✓", "<x>"]]  # text escaped, Raw markup kept
    assert readhtml.texts(html, "caption") == [caption] and readhtml.texts(html, "b")[-1] == "✓"


def test_verdicts_are_words_on_tinted_rows_no_emoji():
    """No colour-emoji font is needed: every verdict is a word (with a mark DejaVu has), on a green or red row;
    `code` in a message is shown as code; no "how to fix" column when nothing failed."""
    c = checks.Checker("02_first_dockerfile", "x")
    c.ok("builds", "3 steps")
    page = c._repr_html_()
    assert readhtml.rows(page) == [["result", "check", "what was seen"], [checks.HTML_MARKS[True], "builds", "3 steps"]]
    assert TINTS["ok"] in page
    pid1, cmd, why = "/bin/sh -c flask run", 'CMD ["gunicorn", "app:app"]', "the check stopped"
    c.fail("exec form", f"PID 1 is `{pid1}`", f"write `{cmd}`")
    c.skip("serves", why)
    page = c._repr_html_()
    table = readhtml.rows(page)
    assert table[0][-1] == "how to fix" and [row[0] for row in table[1:]] == [checks.HTML_MARKS[k] for k in (True, False, None)]
    assert table[3][1:3] == ["serves", why]  # "not evaluated" is in the verdict cell, not repeated in the message
    assert TINTS["fail"] in page and TINTS["none"] in page
    assert readhtml.texts(page, "code") == [pid1, cmd] and "`" not in page
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
    html = inline_code("a `b` <c>")
    assert readhtml.texts(html, "code") == ["b"] and readhtml.text(html) == "a b <c>"
    unpaired = "one ` backtick"
    assert inline_code(unpaired) == unpaired and not readhtml.texts(inline_code(unpaired), "code")


def test_build_failed_names_the_step_and_buildkits_own_error():
    from dockerlab.errors import BuildFailed
    from dockerlab.grading.rebuild import build_error, build_failed

    exc = BuildFailed("t", "RUN pip install -r requirements.txt", "docker build exited with 1",
                      ["#7 ERROR: process did not complete", "ERROR: failed to solve: process \"/bin/sh -c pip\" did not complete"], [])
    v = build_failed(exc, "fix it", lacking="requirements.txt")
    assert (v.passed, v.cause) == (False, "build-failed")
    assert v.observed == {"step": "RUN pip install -r requirements.txt", "lacking": "requirements.txt"}
    assert exc.step in v.detail and build_error(exc) in v.detail and build_error(exc) != exc.error
    assert build_failed(BuildFailed("t", "", "boom", [], []), "x").observed["step"] == ""


def test_a_measurement_is_asked_again_and_never_taken_as_empty(monkeypatch):
    """A size or package list the engine could not measure (busy machine: the helper did not start or finish) is
    asked again, and an error when it fails twice: an empty answer read as 0 bytes moved l04's budget in CI."""
    from dockerlab.grading import contents, probes

    du = "10781482\t/usr/lib/python3/dist-packages"
    answers = [probes.Helper(None, "the container did not start: 409 Conflict"), probes.Helper(0, du)]
    monkeypatch.setattr(probes, "helper", lambda *a, **k: answers.pop(0))
    monkeypatch.setattr(probes.time, "sleep", lambda s: None)

    class Lab:
        class client:
            class images:
                @staticmethod
                def get(ref):
                    return type("Image", (), {"id": f"sha256:{ref}"})()

    assert contents.site_packages_bytes(Lab, "measured-twice") == 10781482 and answers == []
    answers += [probes.Helper(0, ""), probes.Helper(0, du)]
    assert contents.site_packages_bytes(Lab, "cut-short-once") == 10781482 and answers == []  # exit 0, no output
    answers += [probes.Helper(None, "still running after 120 s"), probes.Helper(137, "killed")]
    with pytest.raises(probes.ProbeFailed, match="exit code 137"):
        contents.site_packages_bytes(Lab, "fails-twice")
    assert "sha256:fails-twice" not in contents._SIZES  # a failure is not cached as a size

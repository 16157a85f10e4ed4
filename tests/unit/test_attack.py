"""The attack's reading of a Dockerfile and of `docker history` (no engine needed): which step and line leaked what."""
from __future__ import annotations

from dockerlab.grading.attack import (SECRET_FILE, SYSTEM, AttackReport, Attempt, _secret_assignments, dockerfile_lines,
                                      history_instruction, line_for)

DOCKERFILE = """# a comment
FROM python:3.13.5-slim AS build
ARG FX_FEED_KEY
ENV API_KEY=sk-live-123456 \\
    LOG_LEVEL=info
RUN --mount=type=secret,id=fx_feed_key,env=FX_FEED_KEY python fetch_rates.py && rm -rf feed
COPY --chown=10001:10001 app.py ./
"""


def test_logical_lines_keep_their_first_line_number():
    assert [n for n, _ in dockerfile_lines(DOCKERFILE)] == [2, 3, 4, 6, 7]
    assert dockerfile_lines(DOCKERFILE)[2] == (4, "ENV API_KEY=sk-live-123456 LOG_LEVEL=info")  # continuation joined


def test_history_entries_as_instructions_with_their_build_arguments():
    run = "RUN |2 FX_FEED_KEY=fxk_live_8Hq2 MODE=prod /bin/sh -c python fetch_rates.py && rm -rf feed # buildkit"
    assert history_instruction(run) == ("RUN python fetch_rates.py && rm -rf feed",
                                        {"FX_FEED_KEY": "fxk_live_8Hq2", "MODE": "prod"})
    assert history_instruction("COPY app.py ./ # buildkit") == ("COPY app.py ./", {})
    assert history_instruction("/bin/sh -c #(nop)  ENV A=b") == ("ENV A=b", {})


def test_each_history_entry_finds_its_dockerfile_line():
    lines = dockerfile_lines(DOCKERFILE)
    assert line_for("RUN python fetch_rates.py && rm -rf feed", lines)[0] == 6  # the mount flags are not in history
    assert line_for("ENV API_KEY=sk-live-123456 LOG_LEVEL=info", lines)[0] == 4
    assert line_for("ARG FX_FEED_KEY=fxk_live", lines)[0] == 3
    assert line_for("COPY app.py ./", lines)[0] == 7
    assert line_for("RUN pip install flask", lines) == (None, "")


def test_secrets_by_name_not_paths_variables_or_public_keys():
    text = ("API_KEY=sk-live-123456 DB_PASSWORD_FILE=/run/secrets/db GPG_KEY=7169605F62C7 "
            'TOKEN="$(cat /run/secrets/t)" PORT=8000 SHORT_KEY=abc')
    assert _secret_assignments(text) == [("API_KEY", "sk-live-123456")]


def test_secret_files_by_name_outside_system_directories():
    found = [p for p in ("app/.env", "app/.env.local", "root/.ssh/id_rsa", "run/secrets/index_token", "app/token.txt",
                         "etc/ssl/private/ssl-cert-snakeoil.key", "app/.venv/lib/x/site-packages/certifi/cacert.pem",
                         "app/secrets.py", "app/environment.py")
             if SECRET_FILE.search(p) and not SYSTEM.search(p)]
    assert found == ["app/.env", "app/.env.local", "root/.ssh/id_rsa", "run/secrets/index_token", "app/token.txt"]


def test_the_report_reads_as_text_and_html():
    report = AttackReport("img:1", [Attempt("read the history", True, "ARG T=abc***", "step 3/9"),
                                    Attempt("write to /", False, "Read-only file system")])
    assert [a.attack for a in report.leaks] == ["read the history"]
    assert str(report).splitlines()[1].startswith("GOT  read the history")
    assert report._repr_html_().count("got it") == 1 and report._repr_html_().count("✔ stopped") == 1

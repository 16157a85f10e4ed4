"""The one Dockerfile parser: what BuildKit's parsing rules give for what the course writes, and what it makes of it.

The expectations for the tricky file below were read from BuildKit's own Go parser (the `dockerfile` package from
PyPI, run once by hand): the Python port the course uses agrees with it on every Dockerfile of the course.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from e2b_dockerfile_utils import parse_dockerfile_ast

from dockerlab import dockerfile as dfile

ROOT = Path(__file__).resolve().parents[2]

TRICKY = """\
# syntax=docker/dockerfile:1.7
ARG PY=3.12
ARG BASE="python:${PY}-slim"
FROM --platform=$BUILDPLATFORM ${BASE} AS build
RUN <<EOT
set -e
FROM not-a-stage
EOT
RUN pip install \\
    # a comment inside a continuation
    flask
COPY --from=ghcr.io/astral-sh/uv:0.13.8 --chown=1000:1000 /uv /bin/
RUN --mount=type=cache,target=/root/.cache/uv,from=${PY} uv sync

from build as Final
COPY <<-'SH' /usr/local/bin/x
\t#!/bin/sh
\tSH
CMD ["python", "-m", "app"]
"""


def test_directives_heredocs_and_comments_inside_continuations():
    ins = dfile.instructions(TRICKY)
    assert [(i.name, i.start_line, i.end_line) for i in ins] == [
        ("ARG", 2, 2), ("ARG", 3, 3), ("FROM", 4, 4), ("RUN", 5, 8), ("RUN", 9, 11), ("COPY", 12, 12), ("RUN", 13, 13),
        ("FROM", 15, 15), ("COPY", 16, 18), ("CMD", 19, 19)]
    assert ins[3].heredocs[0].content == TRICKY.split("<<EOT\n")[1].split("EOT\n")[0]  # a heredoc's FROM is no stage
    first, _comment, last = TRICKY.splitlines()[8:11]  # a continuation: the backslash goes, the comment line too
    assert dfile.line_of(ins[4]) == first.removesuffix("\\") + last and ins[2].flags == ["--platform=$BUILDPLATFORM"]
    assert ins[-1].json and ins[-1].args == ["python", "-m", "app"]


def test_stages_args_and_images_of_the_tricky_file():
    df = dfile.parse(TRICKY)
    assert [(s.name, s.base) for s in df.stages] == [("build", "python:3.12-slim"), ("final", "build")]
    assert df.args == {"PY": "3.12", "BASE": "python:3.12-slim"}  # quotes gone, ${PY} expanded, as BuildKit does
    assert df.copy_from == ["ghcr.io/astral-sh/uv:0.13.8", "3.12"]  # --mount from= counts too
    assert df.final_base() == "python:3.12-slim"
    assert dfile.stage_order(TRICKY) == {"build": 0, "stage-0": 0, "final": 1, "stage-1": 1}
    assert [label for label, _ in dfile.dockerfile_stages(TRICKY)] == ["build", "Final"]
    assert dfile.dockerfile_stages(TRICKY)[1][1] == ["COPY <<-'SH' /usr/local/bin/x"]  # FROM build: no step


def test_stage_names_go_on_the_last_line_of_a_from_and_never_into_a_heredoc():
    original = "FROM a\nRUN <<EOF\nFROM c\nEOF\nFROM \\\n  b\nFROM d AS Named\n"
    text, names = dfile.with_stage_names(original)
    assert names == ["dockerlab-stage-0", "dockerlab-stage-1", "named"]
    named = {0: names[0], 5: names[1]}  # line 5: the FROM's last line; line 2 is the heredoc's, no stage
    assert text.splitlines() == [line + (f" AS {named[i]}" if i in named else "")
                                 for i, line in enumerate(original.splitlines())]


def test_escape_directive_and_crlf():
    assert dfile.logical_lines("# escape=`\nFROM x\nRUN echo a `\n    b\n") == ["FROM x", "RUN echo a     b"]
    assert dfile.logical_lines("FROM x\r\nRUN a \\\r\n b\r\n") == ["FROM x", "RUN a  b"]


def test_what_buildkit_cannot_read_reads_up_to_the_error_and_never_raises():
    """A learner's typo: BuildKit's build fails with its own message; the display and the checks go on."""
    assert [s.base for s in dfile.parse("FROM a\nRUNN pip install x\nFROM b\n").stages] == ["a"]
    assert dfile.stage_order("RUNN x\n") == {} and dfile.dockerfile_stages("") == []
    assert dfile.instructions("FROM a\nRUN <<EOF\nnever ends\n") == dfile.instructions("FROM a\n")


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in [
    *ROOT.glob("sample_apps/**/Dockerfile"), *ROOT.glob("src/dockerlab/standins/*/Dockerfile"),
    *ROOT.glob("classroom/*/Dockerfile"), ROOT / "Dockerfile"]))
def test_every_dockerfile_of_the_course_reads_whole(path):
    parse_dockerfile_ast((ROOT / path).read_text())  # raises on anything BuildKit's parser would refuse
    assert dfile.instructions((ROOT / path).read_text())


def test_a_from_step_is_recognised_with_the_digest_buildkit_resolved():
    """A base shared with another build (another learner's, on the same engine) comes as "[builder 1/4] FROM
    docker.io/library/python:3.13.5-slim@sha256:…": it is still this Dockerfile's FROM python:3.13.5-slim."""
    printed = "FROM docker.io/library/python:3.13.5-slim@sha256:" + "a" * 64
    assert dfile.same_base(printed, "FROM python:3.13.5-slim")
    assert dfile.same_base(printed, "FROM --platform=linux/amd64 python:3.13.5-slim AS base")
    assert dfile.same_base(printed, "FROM python:3.13.5-slim@sha256:" + "a" * 64)
    assert not dfile.same_base(printed, "FROM python:3.13.5-slim@sha256:" + "b" * 64)
    assert not dfile.same_base(printed, "FROM python:3.13.5") and not dfile.same_base(printed, "FROM slim")

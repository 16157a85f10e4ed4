"""BuildKit's rawjson progress, folded into steps. The data file is real output of Engine 28.5 / Buildx 0.29
for data/Dockerfile.rawjson (three stages, one unused; the last step fails), recorded once."""
import base64
import json
from pathlib import Path

from dockerlab.build import BuildFailed
from dockerlab.buildprogress import RawProgress
from dockerlab.dockerfile import dockerfile_stages, stage_order

DATA = Path(__file__).parent / "data"


def folded() -> RawProgress:
    raw = RawProgress(stage_order((DATA / "Dockerfile.rawjson").read_text()))
    for line in (DATA / "rawjson_failed.jsonl").read_text().splitlines():
        raw.feed(line)
    return raw


def test_steps_in_dockerfile_order_and_unused_stage_skipped():
    steps = folded().steps()
    assert [(s.stage, s.number, s.keyword) for s in steps] == [
        ("builder", 1, "FROM"), ("builder", 2, "RUN"),
        ("stage-2", 2, "COPY"), ("stage-2", 3, "COPY"), ("stage-2", 4, "RUN")]
    # stage-2's FROM is the same base as builder's: BuildKit runs one vertex for both, named once
    assert not [s for s in steps if s.stage == "unused"]  # BuildKit never ran the stage nothing needs


def test_seconds_come_from_started_and_completed():
    steps = {(s.stage, s.number): s for s in folded().steps()}
    assert steps[("builder", 2)].seconds >= 1.0  # RUN … && sleep 1
    assert steps[("builder", 1)].cached  # a FROM counts as cached


def test_failure_names_the_step_and_its_output_in_order():
    failure = folded().failure()
    assert failure["step"].endswith("RUN echo out; echo err >&2; exit 3")
    assert failure["exit_code"] == 3 and failure["message"]  # BuildKit's error, and the code it names
    assert failure["log"] == ["out", "err"]


def test_failure_is_the_step_that_failed_not_one_cancelled_beside_it():
    """Two stages run side by side; one RUN fails, BuildKit stops the other (exit 137, "context canceled"), which may
    come first in the stream and have output of its own: the failure is the step that failed by itself."""
    raw = RawProgress()
    other = {"digest": "sha256:w", "name": "[wheel 5/5] RUN uv build --wheel --out-dir /dist",
             "started": "2026-12-06T20:00:00Z", "completed": "2026-12-06T20:00:09Z",
             "error": 'process "/bin/sh -c uv build --wheel --out-dir /dist" did not complete successfully: '
                      "exit code: 137: context canceled: context canceled"}
    real = {"digest": "sha256:r", "name": "[runtime 4/6] RUN uv sync --locked --no-dev",
            "started": "2026-12-06T20:00:01Z", "completed": "2026-12-06T20:00:08Z",
            "error": 'process "/bin/sh -c uv sync --locked --no-dev" did not complete successfully: exit code: 1'}
    raw.feed(json.dumps({"vertexes": [other]}))
    raw.feed(json.dumps({"logs": [{"vertex": "sha256:w", "stream": 1, "data": "QnVpbGRpbmcgd2hlZWwuLi4K",
                                   "timestamp": "2026-12-06T20:00:02Z"}]}))
    raw.feed(json.dumps({"vertexes": [real]}))
    failure = raw.failure()
    assert failure["step"].endswith("RUN uv sync --locked --no-dev") and failure["exit_code"] == 1


def test_non_json_lines_are_kept_for_the_error_summary():
    assert any("ERROR" in line for line in folded().other)


def test_cached_vertex_and_context_size():
    raw = RawProgress()
    name = "[2/2] COPY app.py ."
    raw.feed(json.dumps({"vertexes": [{"digest": "sha256:a", "name": name, "started": "2026-11-21T09:00:00.5Z",
                                       "completed": "2026-11-21T09:00:00.5Z", "cached": True}]}))
    raw.feed(json.dumps({"statuses": [{"id": "transferring context:", "vertex": "sha256:b", "current": 2048}]}))
    raw.feed(json.dumps({"logs": [{"vertex": "sha256:a", "data": base64.b64encode(b"x\n").decode()}]}))
    (step,) = raw.steps()
    assert step.cached and step.seconds == 0.0 and raw.context_bytes == 2048


def test_running_step_reports_its_start():
    raw = RawProgress()
    name = "[1/1] RUN sleep 60"
    raw.feed(json.dumps({"vertexes": [{"digest": "sha256:a", "name": name, "started": "2026-11-21T09:00:00.25Z"}]}))
    instr, started = raw.running()
    assert instr == name.split("] ", 1)[1] and started % 1 == 0.25  # the instruction, without BuildKit's [n/total]


def test_stage_order_names_unnamed_stages_like_buildkit():
    order = stage_order("FROM a AS builder\nFROM b\nFROM --platform=$BUILDPLATFORM c as Tools\n")
    assert order["builder"] == 0 and order["stage-1"] == 1 and order["tools"] == 2


def test_build_failed_message_shows_step_and_tail():
    e = BuildFailed("t:1", "RUN false", "exit code: 1", ["a", "b"], ["a", "b"])
    lines = str(e).splitlines()
    assert e.step in lines[0] and e.error in lines[1] and [l.split("| ", 1)[1] for l in lines[-2:]] == e.log_tail
    assert e._render_traceback_()[0].startswith("BuildFailed:")


def test_a_from_named_by_another_build_gets_this_dockerfiles_stage():
    text = "FROM python:3.13-slim-trixie\nWORKDIR /app\nCOPY . .\n"
    raw = RawProgress(stage_order(text), text)
    for name in ("[build 1/7] FROM docker.io/library/python:3.13-slim-trixie", "[2/3] WORKDIR /app", "[3/3] COPY . ."):
        raw.feed(json.dumps({"vertexes": [{"digest": name, "name": name, "started": "2026-11-21T09:00:00Z",
                                           "completed": "2026-11-21T09:00:01Z"}]}))
    assert [(s.stage, s.number, s.total, s.keyword) for s in raw.steps()] == [
        ("", 1, 3, "FROM"), ("", 2, 3, "WORKDIR"), ("", 3, 3, "COPY")]


def test_every_step_named_after_this_dockerfile_when_another_build_named_it():
    text = "FROM python:3.13-slim-trixie AS build\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install \\\n  -r requirements.txt\nCOPY . .\nCMD [\"python\"]\n"
    raw = RawProgress(stage_order(text), text)
    for name in ("[stage-0 1/3] FROM docker.io/library/python:3.13-slim-trixie", "[2/4] WORKDIR /app",
                 "[build 3/5] COPY requirements.txt .", "[build 4/5] RUN pip install   -r requirements.txt",
                 "[build 5/5] COPY . ."):
        raw.feed(json.dumps({"vertexes": [{"digest": name, "name": name, "started": "2026-11-21T09:00:00Z",
                                           "completed": "2026-11-21T09:00:01Z"}]}))
    raw.feed(json.dumps({"logs": [{"vertex": "[build 4/5] RUN pip install   -r requirements.txt",
                                   "data": base64.b64encode(b"Collecting flask\n").decode(), "timestamp": "t"}]}))
    steps = raw.steps()
    assert [(s.stage, s.number, s.total) for s in steps] == [("", n, 5) for n in range(1, 6)]  # one stage: no label
    assert steps[3].output == ["Collecting flask"]
    assert f"#4 {steps[3].output[0]}" in raw.readable()  # the 4th vertex's output line, as --progress=plain prints it


def test_derived_stages_and_repeated_instructions_keep_their_stage():
    """FROM <earlier stage> is no step; `COPY app.py .` in two stages belongs to the stage BuildKit printed."""
    text = "FROM python:3.13-slim-trixie AS base\nWORKDIR /app\nFROM base AS test\nCOPY app.py .\nRUN pytest\nFROM base AS runtime\nCOPY app.py .\n"
    assert dockerfile_stages(text) == [("base", ["FROM python:3.13-slim-trixie AS base", "WORKDIR /app"]),
                                       ("test", ["COPY app.py .", "RUN pytest"]), ("runtime", ["COPY app.py ."])]
    raw = RawProgress(stage_order(text), text)
    for name in ("[base 1/2] FROM docker.io/library/python:3.13-slim-trixie", "[base 2/2] WORKDIR /app", "[runtime 1/1] COPY app.py ."):
        raw.feed(json.dumps({"vertexes": [{"digest": name, "name": name, "started": "2026-11-21T09:00:00Z",
                                           "completed": "2026-11-21T09:00:01Z"}]}))
    assert [(s.stage, s.number, s.total) for s in raw.steps()] == [("base", 1, 2), ("base", 2, 2), ("runtime", 1, 1)]


def test_counts_are_this_builds_announced_and_finished_steps():
    raw = folded()
    done, total = raw.counts()
    assert total == 5 and done == 5  # the unused stage is never announced; the failed step did complete (with an error)
    fresh = RawProgress()
    fresh.feed(json.dumps({"vertexes": [{"digest": "a", "name": "[1/2] FROM x"}, {"digest": "b", "name": "[2/2] RUN y"},
                                        {"digest": "c", "name": "[internal] load build context"}]}))
    fresh.feed(json.dumps({"vertexes": [{"digest": "a", "name": "[1/2] FROM x", "completed": "2026-11-21T09:00:00Z"}]}))
    assert fresh.counts() == (1, 2)


def test_secrets_and_ssh_reach_the_build_command_line(tmp_path, monkeypatch):
    """The SDK has no --secret or --ssh: build() passes them to `docker build` (lesson 06's SSH agent)."""
    from dockerlab import build as build_module

    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    seen = {}

    def fake_run(args, path, tag, dockerfile, quiet, log, timeout, client):
        seen["args"] = args
        return "built"

    monkeypatch.setattr(build_module, "_run_build", fake_run)
    out = build_module.build(tmp_path, "t", secrets={"index_token": "/s/token"}, ssh={"default": "/s/agent.sock"},
                             quiet=True, client=object())
    assert out == "built"
    args = seen["args"]
    assert args[args.index("--secret") + 1] == "id=index_token,src=/s/token"
    assert args[args.index("--ssh") + 1] == "default=/s/agent.sock"

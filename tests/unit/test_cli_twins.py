"""Every printed CLI twin is a command a learner can paste into a shell: quoted, complete, without the course labels."""
import shlex

from dockerlab.run import _cli_run_args
from dockerlab.show import cli


def test_run_twin_is_quoted_and_leaves_the_labels_out():
    code = 'import os; print("PID", os.getpid(), "$(whoami)")'
    words = _cli_run_args("python:3.13-slim-trixie", "dl-ada-01-web", ["python", "-c", code],
                          {"detach": True, "ports": {"8000/tcp": 8080}, "environment": {"APP_MODE": "a b"},
                           "volumes": {"/tmp/x y": {"bind": "/data", "mode": "ro"}}, "labels": {"org.dockerlab.course": "x"}})
    line = cli(words)
    assert "--label" not in line and "…" not in line
    assert shlex.split(line) == ["docker", "run", "-d", "--name", "dl-ada-01-web", "-e", "APP_MODE=a b", "-p", "8080:8000",
                                 "-v", "/tmp/x y:/data:ro", "python:3.13-slim-trixie", "python", "-c", code]


def test_run_twin_of_a_foreground_run_with_an_entrypoint_list():
    words = _cli_run_args("img", "n", ["-c", "echo hi"], {"detach": False, "remove": True, "entrypoint": ["sh", "-x"],
                                                           "ports": {"8000/tcp": None, "9000/tcp": ("127.0.0.1", 9001)}})
    assert words == ["docker", "run", "--rm", "--name", "n", "-p", "8000", "-p", "127.0.0.1:9001:9000",
                     "--entrypoint", "sh", "img", "-x", "-c", "echo hi"]
    assert "" not in words


def test_a_string_command_is_split_like_the_sdk_splits_it():
    assert _cli_run_args("img", "n", 'sh -c "echo a b"', {})[-3:] == ["sh", "-c", "echo a b"]

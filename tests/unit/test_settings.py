"""dockerlab.settings: every environment variable read in one module, at call time; and the two pieces of explicit
state (quiet CLI twins, the target engine) as context variables that leave the process environment alone."""
from __future__ import annotations

import contextvars
import os
import re
import threading
from pathlib import Path

import pytest

from dockerlab import settings
from dockerlab.show import cli, in_notebook, quiet_cli

SRC = Path(__file__).resolve().parents[2] / "src" / "dockerlab"


def test_variables_are_read_when_asked(monkeypatch):
    monkeypatch.delenv("DOCKERLAB_NAMESPACE", raising=False)
    assert settings.NAMESPACE.get() is None
    monkeypatch.setenv("DOCKERLAB_NAMESPACE", "ada")  # after the import: read at call time
    assert settings.NAMESPACE.get() == "ada"
    monkeypatch.setenv("DOCKERLAB_NAMESPACE", "")  # empty counts as unset
    assert settings.NAMESPACE.get() is None
    monkeypatch.setenv("DOCKERLAB_DEBIAN_MIRROR", "")
    assert settings.DEBIAN_MIRROR.get() == "http://deb.debian.org/debian"


def test_every_variable_has_its_doc_line_and_modules_ask_settings(monkeypatch):
    assert all(v.name and v.doc for v in settings.VARS)
    assert len({v.name for v in settings.VARS}) == len(settings.VARS)
    monkeypatch.setenv(settings.image_var("python-full"), "python:3.13.6")
    from dockerlab import images, namespace
    assert settings.image_var("python-full") == "DOCKERLAB_IMAGE_PYTHON_FULL" == images.override_var("python-full")
    assert images.ref("python-full") == "python:3.13.6"
    monkeypatch.setenv("DOCKERLAB_NAMESPACE", "Grace Hopper")
    namespace.set_namespace(None)
    assert namespace.namespace() == "grace-hopper"
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert settings.docker_host() == "unix:///var/run/docker.sock"
    monkeypatch.setenv("XDG_CACHE_HOME", "/tmp/xdg")
    assert settings.cache_dir() == Path("/tmp/xdg/dockerlab")


def test_no_module_reads_the_environment_itself():
    """os.environ is read in settings.py (variables) and tools.py (a child's environment) only; a module may still
    write a variable for the processes it starts (run-all sets DOCKERLAB_FIGURES for each notebook's kernel)."""
    read = re.compile(r"os\.environ\.get|os\.getenv|os\.environ\[[^]]+\](?!\s*=)|dict\(os\.environ|os\.environ\)")
    found = [f"{p.relative_to(SRC)}:{n}" for p in SRC.rglob("*.py") if p.name not in ("settings.py", "tools.py")
             for n, line in enumerate(p.read_text().splitlines(), 1) if read.search(line)]
    assert found == []


def test_quiet_cli_is_a_context_variable_not_an_env_flip(capsys, monkeypatch):
    monkeypatch.delenv("DOCKERLAB_SHOW_CLI", raising=False)
    before = dict(os.environ)
    with quiet_cli():
        assert "DOCKERLAB_SHOW_CLI" not in os.environ
        cli("docker ps")
        with quiet_cli(False):  # quiet=False changes nothing: still quiet
            cli("docker images")
    assert dict(os.environ) == before
    assert capsys.readouterr().out == ""
    cli("docker ps")
    assert capsys.readouterr().out == "$ docker ps\n"
    monkeypatch.setenv("DOCKERLAB_SHOW_CLI", "0")  # the variable stays the default
    cli("docker ps")
    assert capsys.readouterr().out == ""


def test_quiet_cli_stays_in_its_thread_unless_the_context_is_copied(capsys, monkeypatch):
    monkeypatch.delenv("DOCKERLAB_SHOW_CLI", raising=False)
    with quiet_cli():
        other = threading.Thread(target=cli, args=("docker info",))
        other.start()
        other.join()
        copied = threading.Thread(target=contextvars.copy_context().run, args=(cli, "docker version"))
        copied.start()
        copied.join()
    assert capsys.readouterr().out == "$ docker info\n"


def test_target_engine_leaves_the_process_environment_alone(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    monkeypatch.delenv("DOCKERLAB_HOST_ADDR", raising=False)
    before = dict(os.environ)
    helper = {"DOCKER_HOST": "tcp://172.17.0.9:2375", "DOCKERLAB_HOST_ADDR": "172.17.0.9"}
    assert settings.engine_env() == {} and settings.host_addr() == "127.0.0.1"
    with settings.target_engine(helper):
        assert settings.engine_env() == helper and settings.host_addr() == "172.17.0.9"
        assert dict(os.environ) == before and settings.docker_host() == "unix:///var/run/docker.sock"
    assert settings.engine_env() == {} and dict(os.environ) == before
    monkeypatch.setenv("DOCKERLAB_HOST_ADDR", "10.0.0.2")
    assert settings.host_addr() == "10.0.0.2"


def test_set_and_reset_target_engine_also_across_contexts():
    token = settings.set_target_engine({"DOCKER_HOST": "tcp://a:2375"})
    assert settings.engine_env()["DOCKER_HOST"] == "tcp://a:2375"
    settings.reset_target_engine(token)
    assert settings.engine_env() == {}
    ctx = contextvars.copy_context()
    token = ctx.run(settings.set_target_engine, {"DOCKER_HOST": "tcp://b:2375"})
    settings.reset_target_engine(token)  # a token of another context: the value before it is set back here
    assert settings.engine_env() == {}


def test_stores_target_sets_and_restores_the_target_engine(monkeypatch):
    from dockerlab.supply import stores

    class Helper:
        name, host, removed = "dl-t-14-engine", "tcp://172.17.0.9:2375", False

        def env(self):
            return {"DOCKER_HOST": self.host, "DOCKERLAB_HOST_ADDR": "172.17.0.9"}

        def remove(self):
            self.removed = True

    before = dict(os.environ)
    helper = Helper()
    with stores.Target(client=None, helper=helper) as target:
        assert settings.engine_env()["DOCKER_HOST"] == helper.host and target.remote
        assert target.env() == helper.env()
    assert helper.removed and settings.engine_env() == {} and dict(os.environ) == before
    target = stores.Target(client=None, helper=Helper()).activate()
    assert settings.host_addr() == "172.17.0.9"
    target.close()
    target.close()  # idempotent
    assert settings.engine_env() == {}


def test_one_in_notebook():
    from dockerlab import progressbar

    assert progressbar.in_notebook is in_notebook
    assert in_notebook() is False  # pytest is no Jupyter kernel


@pytest.mark.parametrize("module", ["show", "progressbar", "widgets"])
def test_nobody_defines_another_in_notebook(module):
    text = (SRC / f"{module}.py").read_text()
    assert text.count("def in_notebook") == (1 if module == "show" else 0)

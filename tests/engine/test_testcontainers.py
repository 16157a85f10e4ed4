"""Lesson 11's integration test (sample_apps/ci_service/integration): testcontainers starts the course's Postgres with
the lesson's name and labels, the test passes against it, and no container is left behind."""
from __future__ import annotations

import json
import sys

import docker
import pytest

from dockerlab import Lesson, tools
from dockerlab.paths import sample_app

pytestmark = pytest.mark.engine


def test_integration_test_runs_against_postgres_and_leaves_nothing():
    with Lesson("11_registries_and_ci", quiet=True) as lab:
        name = lab.name("tc-postgres-test")
        env = {"TESTCONTAINERS_RYUK_DISABLED": "true", "POSTGRES_IMAGE": lab.base("postgres"),
               "CONTAINER_NAME": name, "CONTAINER_LABELS": json.dumps(lab.labels)}
        run = tools.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "integration"],
                        cwd=sample_app("ci_service"), env=env, timeout=300, merge=True)
        assert run.returncode == 0, run.stdout[-2000:]
        assert name in run.stdout and lab.base("postgres") in run.stdout
        assert "1 passed" in run.stdout
        with pytest.raises(docker.errors.NotFound):
            lab.client.containers.get(name)
        labels = [f"{k}={v}" for k, v in lab.labels.items()]
        assert not lab.client.containers.list(all=True, filters={"label": labels})

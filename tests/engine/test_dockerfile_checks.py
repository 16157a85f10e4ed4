"""Every sample app's Dockerfile passes BuildKit's build checks (`docker build --check`: nothing is built).

Lesson 04 ("A Dockerfile in its 2026 form") teaches `# check=error=true`; the course's own Dockerfiles are held to
the same rules. Two starters carry a finding on purpose, because the finding is their lesson's subject; for those
the test asserts exactly that rule, so any other finding (or the deliberate one fixed by accident) still fails.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from dockerlab import build

pytestmark = pytest.mark.engine

SAMPLE_APPS = Path(__file__).resolve().parents[2] / "sample_apps"
DOCKERFILES = sorted(p.relative_to(SAMPLE_APPS).as_posix() for p in SAMPLE_APPS.rglob("Dockerfile*") if p.is_file())

# The starter's flaw is what its lesson is about: a rule the starter must show, and nothing else.
DELIBERATE = {
    "fx_rates/Dockerfile": {"SecretsUsedInArgOrEnv"},      # lesson 06: a licence key passed as a build argument
    "graceful_service/Dockerfile": {"JSONArgsRecommended"},  # lesson 09: shell-form CMD, so the app misses SIGTERM
}


def test_every_sample_app_has_a_dockerfile_here():
    apps_with_one = {name.split("/")[0] for name in DOCKERFILES}
    assert {"uv_service", "native_ext", "flask_hello"} <= apps_with_one
    assert set(DELIBERATE) <= set(DOCKERFILES)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_build_checks_pass(dockerfile):
    path = SAMPLE_APPS / dockerfile
    table = build.check(path.parent, dockerfile=path.name, quiet=True)
    rules = {row["rule"] for row in table.rows}
    assert rules == DELIBERATE.get(dockerfile, set()), [(row["rule"], row["line"]) for row in table.rows]

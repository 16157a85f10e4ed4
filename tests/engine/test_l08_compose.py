"""Lesson 08: the Compose check fails on the starter and on wrong answers, passes on correct ones."""
import pytest
import yaml

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons.l08_compose import check

pytestmark = pytest.mark.engine

DB_HEALTH = {"test": ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U app -d app"], "interval": "1s", "timeout": "3s", "retries": 30}
HEALTHY = {"db": {"condition": "service_healthy"}, "queue": {"condition": "service_healthy"}}


@pytest.fixture
def lab():
    lab = Lesson("08_compose", quiet=True)
    try:
        yield lab
    finally:
        lab.cleanup(quiet=True)


def write(lab, edit=None):
    app = lab.workspace("compose_stack")
    compose = yaml.safe_load((app / "compose.start.yaml").read_text())
    if edit:
        edit(compose["services"])
    (app / "compose.yaml").write_text(yaml.safe_dump(compose, sort_keys=False))
    return app


def failing(lab, app):
    with pytest.raises(CheckFailed) as exc:
        check(lab, app, wait_timeout=40)
    return str(exc.value)


def test_starter_fails(lab):
    msg = failing(lab, write(lab))
    assert "db has no healthcheck" in msg
    assert "web depends on db with condition service_started" in msg


def test_depends_on_without_condition_fails(lab):
    def edit(s):
        s["db"]["healthcheck"] = DB_HEALTH
    msg = failing(lab, write(lab, edit))
    assert "db has no healthcheck" not in msg
    assert "web depends on db with condition service_started" in msg
    assert "condition: service_healthy" in msg


def test_no_healthcheck_on_db_fails(lab):
    def edit(s):
        s["web"]["depends_on"] = HEALTHY
    msg = failing(lab, write(lab, edit))
    assert "db has no healthcheck" in msg
    assert "depends on db" not in msg


def test_wrong_healthcheck_command_fails_with_clear_message(lab):
    def edit(s):
        s["db"]["healthcheck"] = {"test": ["CMD-SHELL", "pg_isready -U app -d app -p 5433"], "interval": "1s",
                                  "timeout": "3s", "retries": 3}
        s["web"]["depends_on"] = HEALTHY
    msg = failing(lab, write(lab, edit))
    assert "db never became healthy" in msg
    assert "last check exit 2" in msg  # pg_isready: no response


def test_other_correct_answer_passes(lab):
    def edit(s):
        s["db"]["healthcheck"] = {"test": ["CMD", "pg_isready", "--host=127.0.0.1", "--username=app"],
                                  "interval": "2s", "retries": 20, "start_period": "1s"}
        s["web"]["depends_on"] = {"queue": {"condition": "service_healthy"},
                                  "db": {"condition": "service_healthy", "restart": True}}
    assert check(lab, write(lab, edit)).passed


# --- issue 10: a health check that can never fail, another spelling ------------------------------------------

@pytest.mark.parametrize("test", [["CMD", "true"], ["CMD-SHELL", "pg_isready -U app -d app || exit 0"]],
                         ids=["true", "or-exit-0"])
def test_health_check_that_cannot_fail_fails(lab, test):
    """Up --wait passes with it, and web answers in the end: only running it where Postgres is down shows it."""
    def edit(s):
        s["db"]["healthcheck"] = {"test": test, "interval": "1s", "retries": 30}
        s["web"]["depends_on"] = HEALTHY
    msg = failing(lab, write(lab, edit))
    assert "db's health check can report unhealthy" in msg
    assert "exits 0 in a container where the app is not running" in msg
    assert "stack comes up healthy" not in msg  # the stack itself came up: only the probe is wrong


def test_shorthand_string_test_passes(lab):
    """`test: pg_isready …` as one string is CMD-SHELL: the same check."""
    def edit(s):
        s["db"]["healthcheck"] = {"test": "pg_isready -h 127.0.0.1 -U app -d app", "interval": "1s", "retries": 30}
        s["web"]["depends_on"] = HEALTHY
    assert check(lab, write(lab, edit)).passed

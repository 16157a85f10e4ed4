"""Lesson 02 exercise check: plausible wrong Dockerfiles each lose their own line (asserted by id, cause and the values
seen), correct Dockerfiles written otherwise pass, and every input ends in a verdict (no Dockerfile, an empty one, one
that does not build, a host port taken, the check's container removed mid-check). The unsolved exercise and the
solution notebook prove the starter and the solution (tests/test_exercises.py). Real engine."""
import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading import serving
from dockerlab.grading.lessons import l02_first_dockerfile as ex
from dockerlab.run import remove

pytestmark = pytest.mark.engine

ALL = [c.id for c in ex.CRITERIA]
# The answers below are written otherwise than the solution notebook's (another WORKDIR, two workers, no EXPOSE, a
# .dockerignore of other patterns); each wrong answer changes one thing.
IGNORE = "# local only\n.git\n.env*\n.venv\n"
GUNICORN = '["gunicorn", "--workers", "2", "--bind", "0.0.0.0:8000", "app:app"]'


def dockerfile(base: str, cmd: str = GUNICORN, install: bool = True, req: str = "requirements.txt",
               workdir: str = "/srv/quotes", copy: str = "COPY . .") -> str:
    lines = [f"FROM {base}", f"WORKDIR {workdir}", "COPY requirements.txt ./"]
    if install:
        lines.append(f"RUN pip install --no-cache-dir -r {req}")
    lines += [copy, f"CMD {cmd}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def lab():
    with Lesson(ex.LESSON, quiet=True) as lesson:
        yield lesson


@pytest.fixture
def app(lab):
    path = lab.workspace(ex.APP)
    ex.add_local_junk(path)
    return path


def write(app, text, dockerignore=IGNORE):
    (app / "Dockerfile").write_text(text)
    if dockerignore is not None:
        (app / ".dockerignore").write_text(dockerignore)


def grade(lab, app, timeout=30):
    return ex.grade(lab, app, timeout=timeout)


def not_evaluated(sc) -> list[str]:
    return [r.id for r in sc.not_evaluated]


def waiting_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("… no answer")]


# --- every input ends in a verdict ------------------------------------------------------------------------------

def test_no_dockerfile_fails(lab, app):
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, app)
    assert [r.id for r in info.value.failures] == ["l02.builds"]
    assert info.value.failures[0].cause == "missing" and info.value.failures[0].observed == {"file": "Dockerfile"}


def test_empty_dockerfile_is_a_build_failure(lab, app):
    write(app, "")
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.builds"] and sc.by_id("l02.builds").cause == "build-failed"
    assert not_evaluated(sc) == ALL[1:]


def test_broken_dockerfile_names_the_failing_step(lab, app):
    write(app, dockerfile(lab.base("python"), req="requirement.txt"))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.builds"] and sc.by_id("l02.builds").cause == "build-failed"
    assert sc.by_id("l02.builds").observed["step"].endswith("-r requirement.txt")


def test_host_port_taken_is_the_checks_own_trouble(lab, app, monkeypatch):
    """The free port the check picked is taken before its container starts: a failed line that says so (and the
    container created but never started is removed), not a traceback."""
    port = lab.free_port()
    lab.run(lab.base("python"), "holder", ["sleep", "120"], ports={"8000/tcp": port})
    monkeypatch.setattr(serving, "free_port", lambda: port)
    write(app, dockerfile(lab.base("python")))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.health"] and sc.by_id("l02.health").cause == "check-error"
    assert not_evaluated(sc) == ["l02.quote", "l02.production-server"]
    assert not lab.client.containers.list(all=True, filters={"name": lab.name(ex.THING)})


def test_container_removed_mid_check_is_a_verdict(lab, app, monkeypatch):
    """Someone removes the check's container while it runs (a `dockerlab clean` in a terminal): failed, no traceback."""
    def removed_then_read(container, lab_=None):
        remove(container, client=lab.client, quiet=True)
        return original(container, lab_)
    original = ex.pid1_info
    monkeypatch.setattr(ex, "pid1_info", removed_then_read)
    write(app, dockerfile(lab.base("python")))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.quote"], str(sc)
    assert sc.by_id("l02.quote").cause == "exited"


# --- plausible wrong answers: each loses its own line ----------------------------------------------------------

def test_no_dockerignore_ships_env_and_git(lab, app):
    write(app, dockerfile(lab.base("python")), dockerignore=None)
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.no-env", "l02.no-git"]
    assert sc.by_id("l02.no-env").cause == "leaked" and sc.by_id("l02.no-env").observed["paths"] == ["/srv/quotes/.env"]
    assert sc.by_id("l02.no-git").observed["paths"] == ["/srv/quotes/.git"]


def test_shell_form_cmd_fails(lab, app):
    write(app, dockerfile(lab.base("python"), cmd="gunicorn --bind 0.0.0.0:8000 app:app"))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.exec-form"] and sc.by_id("l02.exec-form").cause == "wrong-value"
    assert sc.by_id("l02.exec-form").observed["pid1"].split() == ["/bin/sh", "-c", "gunicorn", "--bind", "0.0.0.0:8000",
                                                                  "app:app"]


def test_a_shell_in_a_json_array_fails(lab, app):
    """The words of the expected answer (a JSON array) but a shell as PID 1: judged by what runs."""
    write(app, dockerfile(lab.base("python"), cmd='["sh", "-c", "gunicorn --bind 0.0.0.0:8000 app:app"]'))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.exec-form"]
    assert sc.by_id("l02.exec-form").observed["pid1"].startswith("sh -c ")


def test_wrong_module_is_named(lab, app):
    write(app, dockerfile(lab.base("python"), cmd='["flask", "--app", "quote_api", "run", "--host", "0.0.0.0"]'))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.health"] and not_evaluated(sc) == ["l02.quote", "l02.production-server"]
    health = sc.by_id("l02.health")
    assert health.cause == "missing" and health.observed["kind"] == "file"


def test_missing_pip_install_names_the_program(lab, app):
    """The first symptom is a container that does not start; the cause named is the program absent from the image."""
    write(app, dockerfile(lab.base("python"), install=False))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.health"]
    assert sc.by_id("l02.health").cause == "missing" and sc.by_id("l02.health").observed["program"] == "gunicorn"


def test_listening_on_loopback_fails_at_once(lab, app, capsys):
    """gunicorn's default bind is 127.0.0.1:8000: a published port never reaches it. The check reads the container's
    listeners and stops, instead of waiting out its timeout in silence."""
    write(app, dockerfile(lab.base("python"), cmd='["gunicorn", "app:app"]'))
    sc = grade(lab, app, timeout=120)
    health = sc.by_id("l02.health")
    assert sc.failed_ids == ["l02.health"] and health.cause == "not-answering"
    assert health.observed["kind"] == "loopback" and health.observed["listening"] == ["127.0.0.1:8000"]
    assert len(waiting_lines(capsys.readouterr().out)) <= 2  # a round or two of 3 s, not 120 s


def test_quote_that_fails_is_named_with_the_apps_error(lab, app):
    """/health answers, /quote does not (a placeholder quotes.py with no quotes): HTTP 500, and the app's own log
    line says why."""
    write(app, dockerfile(lab.base("python"), copy="COPY . .\nRUN echo 'QUOTES = []' > quotes.py"))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.quote"] and sc.by_id("l02.quote").cause == "not-answering"
    quote = sc.by_id("l02.quote").observed
    assert quote["status"] == 500 and quote["error"].startswith("IndexError"), quote


# --- a development server is not a production CMD, however it is started --------------------------------------

def test_flask_run_fails(lab, app):
    write(app, dockerfile(lab.base("python"), cmd='["flask", "--app", "app", "run", "--host", "0.0.0.0", "--port", "8000"]'))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.production-server"]
    server = sc.by_id("l02.production-server").observed
    assert server["server"].startswith("Werkzeug/") and server["dev_warning"] is True


def test_python_app_py_fails(lab, app):
    """app.py calls app.run(): the same development server, started another way."""
    write(app, dockerfile(lab.base("python"), cmd='["python", "app.py"]'))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.production-server"] and sc.by_id("l02.exec-form").observed["pid1"].split() == ["python", "app.py"]


def test_flask_cli_through_entrypoint_fails(lab, app):
    """The development server split over ENTRYPOINT and CMD: judged by what answers, not by the words."""
    write(app, dockerfile(lab.base("python"), cmd='["run", "--host", "0.0.0.0", "--port", "8000"]').replace(
        "CMD [", 'ENTRYPOINT ["flask", "--app", "app"]\nCMD ['))
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.production-server"]


# --- judged by what every layer holds ------------------------------------------------------------------------

def test_env_under_usr_is_found(lab, app):
    """The old scan skipped /usr: a WORKDIR under /usr hid the .env it shipped."""
    write(app, dockerfile(lab.base("python"), workdir="/usr/src/app"), dockerignore=None)
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.no-env", "l02.no-git"]
    assert sc.by_id("l02.no-env").observed["paths"] == ["/usr/src/app/.env"]


def test_env_deleted_in_a_later_layer_is_found(lab, app):
    write(app, dockerfile(lab.base("python"), copy="COPY . .\nRUN rm -rf .env .git"), dockerignore=None)
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.no-env", "l02.no-git"]
    assert sc.by_id("l02.no-env").observed["earlier_layer"] == ["/srv/quotes/.env"]


def test_non_root_image_gets_a_verdict(lab, app):
    """A non-root image whose files are readable only by their owner: the layer scan still sees them."""
    write(app, dockerfile(lab.base("python"), copy="RUN useradd --uid 10001 app\nCOPY --chown=10001 --chmod=700 . .\n"
                          "USER 10001"), dockerignore=None)
    sc = grade(lab, app)
    assert sc.failed_ids == ["l02.no-env", "l02.no-git"], str(sc)
    assert sc.by_id("l02.no-env").observed["paths"] == ["/srv/quotes/.env"]


# --- correct answers written differently -------------------------------------------------------------------------

def test_other_correct_answer_passes(lab, app):
    """gunicorn split over ENTRYPOINT + CMD, only the two modules copied, the .dockerignore with a wildcard."""
    write(app, dockerfile(lab.base("python"), cmd='["--bind", "0.0.0.0:8000", "app:app"]', copy="COPY app.py quotes.py ./")
          .replace("CMD [", 'ENTRYPOINT ["gunicorn", "--workers", "2"]\nCMD ['))
    sc = ex.check(lab, app)
    assert sc.by_id("l02.exec-form").observed["entrypoint"] == ["gunicorn", "--workers", "2"]
    assert sc.by_id("l02.production-server").observed["server"].startswith("gunicorn")


def test_another_production_server_passes(lab, app):
    """waitress, another production WSGI server (pure Python), instead of gunicorn."""
    write(app, dockerfile(lab.base("python"), cmd='["waitress-serve", "--listen=0.0.0.0:8000", "app:app"]',
                          copy="RUN pip install --no-cache-dir waitress==3.0.2\nCOPY . ."))
    sc = ex.check(lab, app)
    assert sc.by_id("l02.production-server").observed["server"].startswith("waitress")


def test_equivalent_spellings_pass(lab, app):
    """A program through /usr/bin/env (env execs it: PID 1 is the server) as a non-root user; shell form with exec."""
    write(app, dockerfile(lab.base("python"), cmd='["/usr/bin/env", "gunicorn", "--bind", "0.0.0.0:8000", "app:app"]',
                          workdir="/usr/src/app", copy="COPY . .\nRUN useradd --uid 10001 app\nUSER 10001"))
    assert ex.check(lab, app).passed
    write(app, dockerfile(lab.base("python"), cmd="exec gunicorn --bind 0.0.0.0:8000 app:app"))
    assert ex.check(lab, app).passed

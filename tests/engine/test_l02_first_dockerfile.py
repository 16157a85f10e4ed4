"""Lesson 02 exercise check: fails on the starter and on wrong Dockerfiles, passes on correct ones (real engine)."""
import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons import l02_first_dockerfile as ex

pytestmark = pytest.mark.engine

IGNORE = ".venv/\n.git/\n.env\n__pycache__/\n"


GUNICORN = '["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]'


def solution(base: str, cmd: str = GUNICORN, install: bool = True, req: str = "requirements.txt") -> str:
    lines = [f"FROM {base}", "WORKDIR /app", "COPY requirements.txt ."]
    if install:
        lines.append(f"RUN pip install --no-cache-dir -r {req}")
    lines += ["COPY . .", "EXPOSE 8000", f"CMD {cmd}"]
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


def write(app, dockerfile, dockerignore=IGNORE):
    (app / "Dockerfile").write_text(dockerfile)
    if dockerignore is not None:
        (app / ".dockerignore").write_text(dockerignore)


def failure_text(lab, app, timeout=30) -> str:
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, app, timeout=timeout)
    return str(info.value)


def test_no_dockerfile_fails(lab, app):
    assert "no Dockerfile in" in failure_text(lab, app)


def test_starter_fails(lab, app):
    write(app, f"FROM {lab.base('python')}\nCOPY . .\n", "")
    msg = failure_text(lab, app)
    assert "no CMD of its own: Config.Cmd is ['python3']" in msg
    assert "/.env is in the image" in msg
    assert "list .env in .dockerignore" in msg


def test_broken_dockerfile_names_the_failing_step(lab, app):
    write(app, solution(lab.base("python"), req="requirement.txt"))
    msg = failure_text(lab, app)
    assert "the build failed at step 'RUN pip install --no-cache-dir -r requirement.txt'" in msg


def test_no_dockerignore_fails(lab, app):
    write(app, solution(lab.base("python")), dockerignore=None)
    msg = failure_text(lab, app)
    assert "/app/.env is in the image" in msg
    assert "/app/.git is in the image" in msg
    assert "create a .dockerignore" in msg
    assert "serves /health" not in msg


def test_shell_form_cmd_fails(lab, app):
    write(app, solution(lab.base("python"), cmd="gunicorn --bind 0.0.0.0:8000 app:app"))
    msg = failure_text(lab, app)
    assert "PID 1 in the running container is `/bin/sh -c gunicorn --bind 0.0.0.0:8000 app:app`, a shell" in msg
    assert "serves /health" not in msg and "production server" not in msg


def test_wrong_module_fails(lab, app):
    write(app, solution(lab.base("python"), cmd='["flask", "--app", "quote_api", "run", "--host", "0.0.0.0", "--port", "8000"]'))
    msg = failure_text(lab, app)
    assert "the container exited with code" in msg
    assert "CMD names a module or file that is not in the image" in msg


def test_missing_pip_install_fails(lab, app):
    write(app, solution(lab.base("python"), install=False))
    msg = failure_text(lab, app)
    assert 'exec: "gunicorn": executable file not found' in msg
    assert "RUN pip install -r requirements.txt" in msg


def test_listening_on_localhost_only_fails(lab, app):
    write(app, solution(lab.base("python"), cmd='["flask", "--app", "app", "run", "--port", "8000"]'))
    assert "listen on 0.0.0.0 (not 127.0.0.1)" in failure_text(lab, app, timeout=5)


# --- a development server is not a production CMD, however it is started --------------------------------------

def test_flask_run_fails(lab, app):
    write(app, solution(lab.base("python"), cmd='["flask", "--app", "app", "run", "--host", "0.0.0.0", "--port", "8000"]'))
    msg = failure_text(lab, app)
    assert "production server: /health was answered by Flask's development server (Server: Werkzeug/" in msg
    assert "WARNING: This is a development server" in msg
    assert "exec-form CMD" not in msg and "serves /health" not in msg


def test_python_app_py_fails(lab, app):
    """app.py calls app.run(): the same development server, started another way."""
    write(app, solution(lab.base("python"), cmd='["python", "app.py"]'))
    msg = failure_text(lab, app)
    assert "answered by Flask's development server (Server: Werkzeug/" in msg and "PID 1 `python app.py`" in msg


def test_flask_cli_through_entrypoint_fails(lab, app):
    """The development server split over ENTRYPOINT and CMD: judged by what answers, not by the words."""
    write(app, solution(lab.base("python"), cmd='["run", "--host", "0.0.0.0", "--port", "8000"]').replace(
        "CMD [", 'ENTRYPOINT ["flask", "--app", "app"]\nCMD ['))
    assert "answered by Flask's development server" in failure_text(lab, app)


def test_other_correct_answer_passes(lab, app):
    """Another WORKDIR, gunicorn split over ENTRYPOINT + CMD with two workers, a .dockerignore written differently."""
    write(app, f"""FROM {lab.base('python')}
WORKDIR /srv/quotes
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py quotes.py ./
ENTRYPOINT ["gunicorn", "--workers", "2"]
CMD ["--bind", "0.0.0.0:8000", "app:app"]
""", "# local only\n.git\n.env*\n.venv\n")
    assert ex.check(lab, app).passed


def test_another_production_server_passes(lab, app):
    """waitress, another production WSGI server (pure Python), instead of gunicorn."""
    write(app, solution(lab.base("python"), cmd='["waitress-serve", "--listen=0.0.0.0:8000", "app:app"]').replace(
        "COPY . .", "RUN pip install --no-cache-dir waitress==3.0.2\nCOPY . ."))
    card = ex.check(lab, app)
    assert card.passed and "answered by waitress" in card.line("production server").detail


# --- issue 10: judged by what runs and what every layer holds ---------------------------------------------

def test_equivalent_spellings_pass(lab, app):
    """A program through /usr/bin/env (env execs it: PID 1 is the server), shell form with exec, another WORKDIR
    under /usr, a non-root user."""
    write(app, f"""FROM {lab.base('python')}
WORKDIR /usr/src/app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --uid 10001 app
USER 10001
CMD ["/usr/bin/env", "gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
""")
    assert ex.check(lab, app).passed
    write(app, solution(lab.base("python"), cmd="exec gunicorn --bind 0.0.0.0:8000 app:app"))
    assert ex.check(lab, app).passed


def test_a_shell_in_a_json_array_fails(lab, app):
    """The words of the expected answer (a JSON array) but a shell as PID 1: judged by what runs."""
    write(app, solution(lab.base("python"), cmd='["sh", "-c", "gunicorn --bind 0.0.0.0:8000 app:app"]'))
    msg = failure_text(lab, app)
    assert "PID 1 in the running container is `sh -c gunicorn --bind 0.0.0.0:8000 app:app`, a shell" in msg
    assert "serves /health" not in msg


def test_env_under_usr_is_found(lab, app):
    """The old scan skipped /usr: a WORKDIR under /usr hid the .env it shipped."""
    write(app, solution(lab.base("python")).replace("WORKDIR /app", "WORKDIR /usr/src/app"), dockerignore=None)
    msg = failure_text(lab, app)
    assert "/usr/src/app/.env is in the image" in msg and "/usr/src/app/.git is in the image" in msg


def test_env_deleted_in_a_later_layer_is_found(lab, app):
    write(app, solution(lab.base("python")).replace("COPY . .\n", "COPY . .\nRUN rm -rf .env .git\n"), dockerignore=None)
    msg = failure_text(lab, app)
    assert "/app/.env is in the image (layer" in msg and "deleted by a later layer but still shipped" in msg


def test_non_root_image_gets_a_verdict(lab, app):
    """A non-root image whose files are readable only by their owner: the layer scan still sees them."""
    write(app, solution(lab.base("python")).replace(
        "COPY . .", "RUN useradd --uid 10001 app\nCOPY --chown=10001 --chmod=700 . .\nUSER 10001"), dockerignore=None)
    msg = failure_text(lab, app)
    assert "/app/.env is in the image" in msg and "serves /health" not in msg

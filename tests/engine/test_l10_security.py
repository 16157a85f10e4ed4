"""Lesson 10 exercise check: fails on the root starter and on wrong hardenings, passes on correct ones (real engine)."""
import pytest

from dockerlab import CheckFailed, Lesson
from dockerlab.grading.lessons import l10_security as ex

pytestmark = pytest.mark.engine


@pytest.fixture
def lab():
    with Lesson(ex.LESSON, quiet=True) as lesson:
        yield lesson


@pytest.fixture
def app(lab):
    return lab.workspace(ex.APP)


GUNICORN = '["gunicorn", "--bind", "0.0.0.0:8000", "--no-control-socket", "app:app"]'
DEV = '["python", "app.py"]'  # Flask's development server, which reads $PORT: for the port and write tests only


def dockerfile(base, *, user_first=False, workdir="/app", env="", expose=8000, chown="", cmd=GUNICORN):
    lines = [f"FROM {base}", "ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1", f"WORKDIR {workdir}",
             "RUN useradd --system --uid 10001 app"]
    if user_first:
        lines.append("USER app")
    lines += ["COPY requirements.txt .", "RUN pip install --no-cache-dir -r requirements.txt"]
    if chown:
        lines.append(chown)
    lines += [f"COPY {'--chown=app:app ' if chown else ''}app.py ."]
    if env:
        lines.append(f"ENV {env}")
    if not user_first:
        lines.append("USER app")
    lines += [f"EXPOSE {expose}", f"CMD {cmd}"]
    return "\n".join(lines) + "\n"


def failure_text(lab, app, text=None) -> str:
    if text is not None:
        (app / "Dockerfile").write_text(text)
    with pytest.raises(CheckFailed) as info:
        ex.check(lab, app, timeout=20)
    return str(info.value)


def test_starter_runs_as_root(lab, app):
    msg = failure_text(lab, app)  # the sample app's own Dockerfile
    assert "Config.User is '', so the process is uid 0 → runs as root: add a USER line after installing dependencies" in msg
    assert "read-only" not in msg and "capabilities" not in msg and "hadolint" not in msg


def test_user_before_pip_install_fails_the_build(lab, app):
    msg = failure_text(lab, app, dockerfile(lab.base("python"), user_first=True))
    assert "the build failed at step 'RUN pip install --no-cache-dir -r requirements.txt'" in msg
    assert "the install ran as the non-root user: install dependencies as root first, then add USER" in msg


def test_writing_into_the_code_dir_fails_read_only(lab, app):
    text = dockerfile(lab.base("python"), env="STATE_DIR=/app/state",
                      chown="RUN mkdir /app/state && chown app:app /app/state", cmd=DEV)
    msg = failure_text(lab, app, text)
    assert "read-only root filesystem: with --read-only --tmpfs /tmp: the container exited with code 1" in msg
    assert "Read-only file system" in msg
    assert "the app writes outside /tmp" in msg
    assert "runs as root" not in msg


def test_port_80_fails_without_capabilities(lab, app):
    msg = failure_text(lab, app, dockerfile(lab.base("python"), env="PORT=80", expose=80, cmd=DEV))
    assert "all capabilities dropped: with --cap-drop ALL" in msg
    assert "port 80 is below 1024: binding it needs NET_BIND_SERVICE" in msg
    assert "read-only root filesystem" not in msg and "runs as root" not in msg


def test_hadolint_error_fails(lab, app):
    msg = failure_text(lab, app, dockerfile(lab.base("python"), workdir="app"))
    assert "hadolint DL3000: line 3: Use absolute WORKDIR (level error)" in msg
    assert "runs as root" not in msg


def test_root_by_number_fails(lab, app):
    text = dockerfile(lab.base("python")).replace("USER app", "USER 0:0")
    assert "Config.User is '0:0', so the process is uid 0" in failure_text(lab, app, text)


def test_other_correct_answer_passes(lab, app):
    # a venv built in a first stage, a numeric user with no useradd, the code owned by it, another WORKDIR
    base = lab.base("python")
    (app / "Dockerfile").write_text(f"""FROM {base} AS deps
COPY requirements.txt /tmp/
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

FROM {base}
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
COPY --from=deps /opt/venv /opt/venv
WORKDIR /srv/api
COPY --chown=10001:10001 app.py .
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["gunicorn", "--bind", "0.0.0.0:8000"]
CMD ["app:app"]
""")
    assert ex.check(lab, app).passed


# --- issue 10: root by what runs, another uid, another spelling ----------------------------------------------

def test_other_uid_and_spelling_pass(lab, app):
    """A uid with no passwd entry, uid:gid, the server found through /usr/bin/env."""
    text = dockerfile(lab.base("python")).replace("USER app", "USER 65532:65532").replace(
        f"CMD {GUNICORN}", 'ENTRYPOINT ["/usr/bin/env", "gunicorn"]\nCMD ["--bind", "0.0.0.0:8000", "app:app"]')
    (app / "Dockerfile").write_text(text)
    assert ex.check(lab, app).passed


def test_a_name_for_uid_0_is_found(lab, app):
    """Config.User names a user, but the user is uid 0: only the running process tells."""
    text = dockerfile(lab.base("python")).replace("RUN useradd --system --uid 10001 app",
                                                  "RUN useradd --system --non-unique --uid 0 app")
    msg = failure_text(lab, app, text)
    assert "Config.User is 'app' but PID 1 in the container runs as uid 0" in msg


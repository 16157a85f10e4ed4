"""A learner's view: JupyterLab started as `make lab` starts it, a lesson opened in headless Chromium, cells run.

The server is the Makefile's own `lab` command (``make -n lab LAB_ARGS=…`` prints it; the test runs that line), so
what is proven is `make lab`'s: it starts as root too (scripts/lab adds --allow-root when uid is 0) and shows no
"Jupyter news?" toast (etc/jupyter/labconfig/page_config.json). Only the test's private state (config, settings,
runtime and progress dirs; autosave off) and its port and token are added.

Drives Debian's Chromium (/usr/bin/chromium, see scripts/install-browser) through Playwright's Python API; no
browser is downloaded. The lesson notebook is opened and run but never saved: its bytes on disk must not change.
Screenshots land in build/artifacts/: browser-lesson01.png (a widget), browser-lesson03-build.png (a build's
progress display, which must end full and green, never red, after a successful build), browser-lesson03-midbuild.png
(a build's step on one line while it runs), browser-check-marks.png
(a failed check's table: its verdicts in words on green and red rows, readable without an emoji font).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple

import pytest

from dockerlab.cleanup import cleanup as cleanup_objects
from dockerlab.cleanup import course_objects
from dockerlab.namespace import slug
from dockerlab.run import free_port

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACT = ROOT / "build" / "artifacts" / "browser-lesson01.png"
NS = slug(os.environ.get("DOCKERLAB_NAMESPACE", "test") + "-br")
JUPYTER = ROOT / ".venv" / "bin" / "jupyter"  # what the Makefile's lab target runs ($(VENV)/bin/jupyter)
SERVER_TIMEOUT = 90
UI_TIMEOUT_MS = 90_000


def lesson_notebook() -> str:
    """Lesson 01 once it exists, else the preflight notebook."""
    nb = "notebooks/01_images_and_containers.ipynb"
    return nb if (ROOT / nb).exists() else "notebooks/00_preflight.ipynb"


def api(base: str, token: str, path: str, method: str = "GET", timeout: float = 10):
    req = urllib.request.Request(f"{base}{path}", method=method, headers={"Authorization": f"token {token}"},
                                 data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        body = r.read()
        return json.loads(body) if body else None


class Server(NamedTuple):
    base: str
    token: str
    command: str  # the line `make -n lab` printed, run as it is
    log: Path
    pid: int  # the process that command started (scripts/lab execs JupyterLab)


def make_lab_command(lab_args: list[str]) -> str:
    """The command `make lab` runs to start JupyterLab, with ``lab_args`` in LAB_ARGS: the last line `make -n lab`
    prints (the lines before it prepare the environment and the images: printed, not run)."""
    out = subprocess.run(["make", "-n", "--no-print-directory", "lab", "LAB_ARGS=" + shlex.join(lab_args)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"make -n lab failed: {out.stderr[-2000:]}"
    line = [l for l in out.stdout.splitlines() if l.strip()][-1]
    assert "scripts/lab" in line and lab_args[-1] in line, f"make lab's last command is not scripts/lab: {line}"
    return line


@pytest.fixture
def jupyter_server(tmp_path):
    """JupyterLab started by `make lab`'s own command, on a free localhost port with a random token; its state
    (config, settings, runtime, progress) in temp dirs, autosave off.

    One server per test: a shared one restores the previous test's open notebook, which can take the focus."""
    if shutil.which("make") is None:
        pytest.skip("no make")
    if not JUPYTER.exists():
        pytest.skip(f"no {JUPYTER}: run `make env` first")
    home = tmp_path / "jupyter"
    settings = home / "lab-settings"
    (settings / "@jupyterlab" / "docmanager-extension").mkdir(parents=True)
    # Autosave off: running cells makes the notebook dirty, and it must never be written back.
    (settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings").write_text(
        json.dumps({"autosave": False}))
    # An empty private config dir (and no inherited JUPYTER_CONFIG_PATH): the toast must be switched off by the
    # course's etc/jupyter alone, which scripts/lab adds, and the user's ~/.jupyter must not change what is tested.
    (home / "config").mkdir(parents=True)
    port, token = free_port(), secrets.token_hex(16)
    runtime = tempfile.mkdtemp(prefix="dl-jr-")  # short: a kernel's Unix socket path must fit in 107 characters
    env = dict(os.environ, DOCKERLAB_NAMESPACE=NS, DOCKERLAB_ROOT=str(ROOT),
               DOCKERLAB_PROGRESS=str(tmp_path / "progress.json"),  # the checks run here are not the learner's
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=runtime, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), IPYTHONDIR=str(home / "ipython"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    env.pop("JUPYTER_CONFIG_PATH", None)
    command = make_lab_command([
        "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--LabApp.extension_manager=readonly",
        # Kernels on Unix sockets, not TCP ports: a port the server picks for a kernel can be taken by another
        # process before the kernel binds it (jupyter/jupyter_client#154), and a restart reuses the same ports.
        "--KernelManager.transport=ipc", f"--IdentityProvider.token={token}"])
    log_path = tmp_path / "jupyter.log"
    log = open(log_path, "w+")
    proc = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_TIMEOUT
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                api(base, token, "/api/status", timeout=3)
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"no answer from {base}/api/status after {SERVER_TIMEOUT} s:\n{log.read()[-3000:]}")
                time.sleep(0.5)
        yield Server(base, token, command, log_path, proc.pid)
    finally:
        # The kernel's work: shut every kernel down, then the server (gracefully, then by signal).
        try:
            for k in api(base, token, "/api/kernels") or []:
                api(base, token, f"/api/kernels/{k['id']}", method="DELETE", timeout=30)
            api(base, token, "/api/shutdown", method="POST")
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.seek(0)
        print("jupyter lab's last log lines:\n" + "\n".join(log.read().splitlines()[-40:]))  # shown if the test failed
        log.close()
        shutil.rmtree(runtime, ignore_errors=True)
        cleanup_objects(ns=NS, quiet=True)


def open_and_start(page, base: str, token: str, nb: str):
    """Open ``nb`` in JupyterLab, wait for its kernel, run its parameters cell and its Lesson cell."""
    from playwright.sync_api import expect

    page.goto(f"{base}/lab/tree/{nb}?token={token}")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    expect(notebook.locator(".jp-Cell").first).to_be_visible()
    # The kernel is up when the status bar says Idle. Rarely the page's first kernel connection stalls
    # at "Connecting" (the server has the kernel up): one reload reconnects to the same kernel.
    idle = page.get_by_role("button", name=re.compile(r"\|\s*Idle"))
    # A kernel can take over a minute to start on a busy 2-core machine (nbval and papermill wait 240 s too).
    try:
        expect(idle).to_be_visible(timeout=150_000)
    except AssertionError:
        page.reload()
        expect(idle).to_be_visible(timeout=90_000)
    # Run the parameters cell and the cell that makes the Lesson (Shift+Enter twice, as a learner does).
    code_cells = notebook.locator(".jp-CodeCell")
    code_cells.nth(0).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    expect(code_cells.nth(1).locator(".jp-OutputArea-output").first).to_contain_text("namespace " + NS)
    return code_cells


def new_cell_below(page, code: str) -> None:
    """A new cell above the active one (command mode, "a"), run; never saved."""
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    page.keyboard.press("Enter")
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")


@pytest.fixture
def browser_page(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no {CHROMIUM}: run scripts/install-browser (Debian's chromium package)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900})
        ctx.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield ctx.pages[0] if ctx.pages else ctx.new_page()
        finally:
            ctx.close()


def test_lesson_runs_in_jupyterlab_and_shows_a_widget(jupyter_server, browser_page):
    from playwright.sync_api import expect

    base, token, *_ = jupyter_server
    page = browser_page
    nb = lesson_notebook()
    before = (ROOT / nb).read_bytes()
    try:
        code_cells = open_and_start(page, base, token, nb)
        new_cell_below(page, 'import dockerlab; dockerlab.hints("a first hint", "a second hint")')
        widget = code_cells.nth(2).locator(".jupyter-widgets")
        expect(widget.first).to_be_visible()
        # hints() displays its widget once and returns None: exactly one button must be shown.
        expect(code_cells.nth(2).locator(".widget-button")).to_have_count(1)
        button = code_cells.nth(2).locator(".widget-button").first
        expect(button).to_contain_text("Show hint 1 of 2")
        button.click()  # the widget talks to the kernel: the first hint appears, the button moves on
        expect(code_cells.nth(2).get_by_text("a first hint").first).to_be_visible()
        expect(button).to_contain_text("Show hint 2 of 2")
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACT))
    except Exception:
        page.screenshot(path=str(ARTIFACT.with_name("browser-lesson01-failed.png")))
        raise

    assert ARTIFACT.stat().st_size > 10_000
    assert (ROOT / nb).read_bytes() == before, f"{nb} was modified on disk"
    left = course_objects(ns=NS, kinds=("containers", "networks", "volumes"))
    assert not any(left.values()), f"left behind: {left}"


def test_a_successful_build_ends_with_a_full_green_bar(jupyter_server, browser_page):
    """Lesson 03, a build of its sample app: the progress display must end full and 'success', never 'danger'."""
    from playwright.sync_api import expect

    base, token, *_ = jupyter_server
    page = browser_page
    nb = "notebooks/03_layers_and_cache.ipynb"
    before = (ROOT / nb).read_bytes()
    shot = ARTIFACT.with_name("browser-lesson03-build.png")
    try:
        code_cells = open_and_start(page, base, token, nb)
        new_cell_below(page, 'built = lab.build(lab.workspace("cache_demo"), "browser-build"); built')
        cell = code_cells.nth(2)
        expect(cell.locator(".jp-OutputArea-output").get_by_text("built in").first).to_be_visible()  # the step table
        bar = cell.locator(".widget-hprogress .progress-bar").first
        expect(bar).to_be_visible()
        classes = bar.get_attribute("class") or ""
        width = bar.evaluate("el => el.style.width || el.style.flexBasis || el.style.height")
        page.wait_for_timeout(300)
        page.screenshot(path=str(shot))
    except Exception:
        page.screenshot(path=str(shot.with_name("browser-lesson03-build-failed.png")))
        raise
    assert "progress-bar-success" in classes and "danger" not in classes, classes
    assert width in ("100%", ""), width
    assert (ROOT / nb).read_bytes() == before, f"{nb} was modified on disk"


SLOW_BUILD = """import pathlib, tempfile
app = pathlib.Path(tempfile.mkdtemp(prefix="dl-browser-"))
(app / "Dockerfile").write_text(f"FROM {lab.base('python')}\\nRUN sleep 8 && pip --disable-pip-version-check "
                                "--no-cache-dir --version && echo --no-install-recommends --progress-bar=off\\n")
lab.build(app, "browser-slow", nocache=True)"""


def test_a_running_build_names_its_step_on_one_line(jupyter_server, browser_page):
    """Mid-build the label shows the running step and its seconds on one line: a long RUN full of hyphens does not
    wrap it to two (the walk review saw the output jump between one and two lines). The build then ends green."""
    from playwright.sync_api import expect

    base, token, *_ = jupyter_server
    page = browser_page
    nb = "notebooks/03_layers_and_cache.ipynb"
    before = (ROOT / nb).read_bytes()
    shot = ARTIFACT.with_name("browser-lesson03-midbuild.png")
    try:
        code_cells = open_and_start(page, base, token, nb)
        new_cell_below(page, SLOW_BUILD)
        cell = code_cells.nth(2)
        bar = cell.locator(".widget-hprogress").first
        title = bar.locator("xpath=preceding-sibling::*[1]")  # tqdm's title, before the bar
        label = bar.locator("xpath=following-sibling::*[1]")  # tqdm's text, after the bar
        expect(label).to_contain_text("RUN sleep 8", timeout=120_000)
        expect(label).to_contain_text(re.compile(r"\(\d+\u2007s\)"))  # the step's seconds, counting
        label.scroll_into_view_if_needed()
        page.mouse.wheel(0, 200)
        page.wait_for_timeout(300)
        page.screenshot(path=str(shot))
        heights = [w.evaluate("el => el.getBoundingClientRect().height") for w in (title, label, bar)]
        expect(cell.locator(".widget-hprogress .progress-bar-success").first).to_be_visible(timeout=120_000)
    except Exception:
        page.screenshot(path=str(shot.with_name("browser-lesson03-midbuild-failed.png")))
        raise
    assert max(heights[:2]) <= 1.5 * heights[2], f"title, text and bar are {heights} px high: a text wrapped"
    assert (ROOT / nb).read_bytes() == before, f"{nb} was modified on disk"


CHECK_CELL = """from dockerlab.grading.checker import Checker
c = Checker("00_browser", "marks")
c.ok("builds", "3 steps")
c.fail("listens on 0.0.0.0", "the app listens on `127.0.0.1:8000`", "bind `0.0.0.0:8000`")
c.skip("serves /health", "the app does not listen")
c.report()"""
DOCTOR_CELL = """from dockerlab.ops.doctor import Item, Report
Report([Item("engine", "28.5.2"), Item("buildx (BuildKit)", "0.16.2", warning="older than 0.17: no `docker build --check`"),
        Item("compose v2", "missing", False, "install the compose plugin")])"""


def _rgba(css: str) -> tuple[float, ...]:
    """'rgba(26, 127, 55, 0.13)' or 'rgb(26, 127, 55)' -> (26.0, 127.0, 55.0, alpha)."""
    nums = [float(x) for x in re.findall(r"[\d.]+", css)]
    return tuple(nums + [1.0] * (4 - len(nums)))


def test_make_lab_starts_as_root_and_a_failed_check_reads_without_emoji(jupyter_server, browser_page):
    """`make lab`'s server (as root when the test runs as root), a check that fails: the table's verdicts are
    words ("ok", "FAIL", "not evaluated") with marks DejaVu draws, on green and red rows; the doctor's table too
    ("ok", "warning", "NO"); no news toast."""
    from playwright.sync_api import expect

    base, token, command, log, pid = jupyter_server
    if os.getuid() == 0:  # JupyterLab refuses root without --allow-root: scripts/lab adds it
        import psutil

        server = psutil.Process(pid)
        argvs = [p.cmdline() for p in (server, *server.children(recursive=True))]
        assert any("--allow-root" in argv for argv in argvs), argvs
    page = browser_page
    nb = lesson_notebook()
    before = (ROOT / nb).read_bytes()
    shot = ARTIFACT.with_name("browser-check-marks.png")
    try:
        code_cells = open_and_start(page, base, token, nb)
        new_cell_below(page, CHECK_CELL)
        cell = code_cells.nth(2)
        table = cell.locator("table").filter(has_text="00_browser · marks")
        expect(table).to_be_visible()
        expect(cell.locator(".jp-OutputArea-output").get_by_text("CheckFailed: 1 check(s) failed")).to_be_visible()
        rows = table.locator("tbody tr")
        expect(rows).to_have_count(3)
        marks = [rows.nth(i).locator("td").first.inner_text().strip() for i in range(3)]
        tints = [_rgba(rows.nth(i).evaluate("el => getComputedStyle(el).backgroundColor")) for i in range(3)]
        inks = [_rgba(rows.nth(i).locator("td span").first.evaluate("el => getComputedStyle(el).color"))
                for i in range(2)]
        headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
        fail_row = rows.nth(1).inner_text()
        code = rows.nth(1).locator("code").all_inner_texts()
        new_cell_below(page, DOCTOR_CELL)
        doctor = code_cells.nth(3).locator("table").filter(has_text="dockerlab doctor")
        expect(doctor).to_be_visible()
        doctor_marks = [t.strip() for t in doctor.locator("tbody tr td:first-child").all_inner_texts()]
        cell.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        page.screenshot(path=str(shot))
        toasts = page.get_by_text("Would you like to get notified about official Jupyter news?").count()
    except Exception:
        page.screenshot(path=str(shot.with_name("browser-check-marks-failed.png")))
        raise
    assert marks == ["✔ ok", "✘ FAIL", "– not evaluated"], marks
    assert doctor_marks == ["✔ ok", "⚠ warning", "✘ NO"], doctor_marks
    (okr, okg, okb, oka), (fr, fg, fb, fa), (_, _, _, na) = tints
    assert oka > 0 and okg > okr and okg > okb, f"the ok row is not tinted green: {tints[0]}"
    assert fa > 0 and fr > fg and fr > fb, f"the FAIL row is not tinted red: {tints[1]}"
    assert na > 0, f"the not-evaluated row has no tint: {tints[2]}"
    assert inks[0][1] > inks[0][0] and inks[1][0] > inks[1][1], f"verdict colours: {inks}"
    assert headers == ["result", "check", "what was seen", "how to fix"], headers
    assert "`" not in fail_row and code == ["127.0.0.1:8000", "0.0.0.0:8000"], (fail_row, code)
    assert toasts == 0, "JupyterLab's news toast is shown: make lab's page_config did not switch it off"
    assert shot.stat().st_size > 10_000
    assert (ROOT / nb).read_bytes() == before, f"{nb} was modified on disk"

"""A learner's view: JupyterLab from the course venv, a lesson opened in headless Chromium, a cell run, a widget shown.

Drives Debian's Chromium (/usr/bin/chromium, see scripts/install-browser) through Playwright's Python API; no
browser is downloaded. The lesson notebook is opened and run but never saved: its bytes on disk must not change.
Screenshots land in build/artifacts/: browser-lesson01.png (a widget), browser-lesson03-build.png (a build's
progress display, which must end full and green, never red, after a successful build).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import dockerlab as dl
from dockerlab.cleanup import cleanup as cleanup_objects
from dockerlab.cleanup import course_objects
from dockerlab.namespace import slug

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACT = ROOT / "build" / "artifacts" / "browser-lesson01.png"
NS = slug(os.environ.get("DOCKERLAB_NAMESPACE", "test") + "-br")
JUPYTER = Path(sys.executable).parent / "jupyter"
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


@pytest.fixture
def jupyter_server(tmp_path):
    """JupyterLab on a free localhost port with a random token, its state in a temp dir, autosave off.

    One server per test: a shared one restores the previous test's open notebook, which can take the focus."""
    if not JUPYTER.exists():
        pytest.skip(f"no {JUPYTER}: run `make env` first")
    home = tmp_path / "jupyter"
    settings = home / "lab-settings"
    (settings / "@jupyterlab" / "docmanager-extension").mkdir(parents=True)
    # Autosave off: running cells makes the notebook dirty, and it must never be written back.
    (settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings").write_text(
        json.dumps({"autosave": False}))
    (home / "config" / "labconfig").mkdir(parents=True)
    # No "would you like news?" toast over the screenshot, no update checks.
    (home / "config" / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    port, token = dl.free_port(), secrets.token_hex(16)
    runtime = tempfile.mkdtemp(prefix="dl-jr-")  # short: a kernel's Unix socket path must fit in 107 characters
    env = dict(os.environ, DOCKERLAB_NAMESPACE=NS, DOCKERLAB_ROOT=str(ROOT),
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=runtime, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), IPYTHONDIR=str(home / "ipython"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    log = open(tmp_path / "jupyter.log", "w+")
    proc = subprocess.Popen(
        [str(JUPYTER), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.getuid() == 0 else []),
         # Kernels on Unix sockets, not TCP ports: a port the server picks for a kernel can be taken by another
         # process before the kernel binds it (jupyter/jupyter_client#154), and a restart reuses the same ports.
         "--KernelManager.transport=ipc"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
        yield base, token
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

    base, token = jupyter_server
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

    base, token = jupyter_server
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

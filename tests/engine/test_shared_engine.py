"""A classroom on one engine: the course runs headless (run-all) in a namespace of its own; cleaning one namespace
leaves the other untouched."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dockerlab import Lesson
from dockerlab.cleanup import cleanup
from dockerlab.engine import get_client
from dockerlab.namespace import set_namespace

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
BASE = os.environ.get("DOCKERLAB_NAMESPACE", "test")


def test_run_all_runs_the_course_headless_and_writes_a_report(tmp_path):
    """`dockerlab run-all` (papermill) on one lesson. That namespaces share one engine without colliding is what
    every suite run proves: its units run side by side in namespaces of their own, and the leak check finds nothing
    of one left in another."""
    ns = f"{BASE}-share-runall"
    try:
        proc = subprocess.run([str(ROOT / ".venv/bin/dockerlab"), "run-all", "00", "--namespace", ns, "--out", str(tmp_path)],
                              capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        report = (tmp_path / "report.md").read_text()
        assert "00_preflight" in report and "FAIL" not in report.split("## This machine")[0], report
        assert (tmp_path / "report.html").exists()
    finally:
        cleanup(ns=ns, quiet=True)


def test_cleaning_one_namespace_leaves_the_other_untouched():
    a, b = f"{BASE}-share-a", f"{BASE}-share-b"
    made = {}
    try:
        for ns in (a, b):
            set_namespace(ns)
            lab = Lesson("01_images_and_containers", quiet=True)
            made[ns] = {
                "container": lab.run(lab.base(), "sleeper", ["sleep", "120"]).name,
                "volume": lab.volume("data").name,
                "network": lab.network("net").name,
            }
        assert made[a]["container"] != made[b]["container"]
        set_namespace(a)
        cleanup()
        client = get_client()
        # other units create and remove containers meanwhile: one gone between the list and its inspect is skipped
        containers = {c.name for c in client.containers.list(all=True, ignore_removed=True)}
        volumes = {v.name for v in client.volumes.list()}
        networks = {n.name for n in client.networks.list()}
        assert made[a]["container"] not in containers and made[a]["volume"] not in volumes and made[a]["network"] not in networks
        assert made[b]["container"] in containers and made[b]["volume"] in volumes and made[b]["network"] in networks
    finally:
        for ns in (a, b):
            cleanup(ns=ns, quiet=True)
        set_namespace(None)

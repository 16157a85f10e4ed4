"""A classroom on one engine: two namespaces run the same lessons at the same time and both pass;
cleaning one namespace leaves the other untouched."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import dockerlab as dl
from dockerlab.cleanup import cleanup

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
BASE = os.environ.get("DOCKERLAB_NAMESPACE", "test")
LESSONS = [l for l in ("00", "01", "02") if list((ROOT / "notebooks").glob(f"{l}_*.ipynb"))]


def test_two_namespaces_run_the_same_lessons_concurrently(tmp_path):
    procs = {}
    for who in ("a", "b"):
        ns = f"{BASE}-share-{who}"
        procs[ns] = subprocess.Popen(
            [str(ROOT / ".venv/bin/dockerlab"), "run-all", *LESSONS, "--namespace", ns, "--out", str(tmp_path / who)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    outputs = {}
    for ns, p in procs.items():
        try:
            outputs[ns] = p.communicate(timeout=900)[0]
        except subprocess.TimeoutExpired:
            p.kill()
            outputs[ns] = p.communicate()[0]
            pytest.fail(f"{ns}: the course run did not finish in 15 minutes:\n{outputs[ns][-2000:]}")
    for ns, p in procs.items():
        assert p.returncode == 0, f"{ns} failed:\n{outputs[ns][-3000:]}"
    for who in ("a", "b"):
        report = (tmp_path / who / "report.md").read_text()
        assert "FAIL" not in report.split("## This machine")[0], report


def test_cleaning_one_namespace_leaves_the_other_untouched():
    a, b = f"{BASE}-share-a", f"{BASE}-share-b"
    made = {}
    try:
        for ns in (a, b):
            dl.set_namespace(ns)
            lab = dl.Lesson("01_images_and_containers", quiet=True)
            made[ns] = {
                "container": lab.run(lab.base(), "sleeper", ["sleep", "120"]).name,
                "volume": lab.volume("data").name,
                "network": lab.network("net").name,
            }
        assert made[a]["container"] != made[b]["container"]
        dl.set_namespace(a)
        cleanup()
        client = dl.get_client()
        # other units create and remove containers meanwhile: one gone between the list and its inspect is skipped
        containers = {c.name for c in client.containers.list(all=True, ignore_removed=True)}
        volumes = {v.name for v in client.volumes.list()}
        networks = {n.name for n in client.networks.list()}
        assert made[a]["container"] not in containers and made[a]["volume"] not in volumes and made[a]["network"] not in networks
        assert made[b]["container"] in containers and made[b]["volume"] in volumes and made[b]["network"] in networks
    finally:
        for ns in (a, b):
            cleanup(ns=ns, quiet=True)
        dl.set_namespace(None)

"""tests/cpu_usage.py without an engine: a child process that burns CPU is charged to its namespace (psutil)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cpu_usage import CpuSampler, _machine_busy  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sampler reads Linux's accounting")


def test_a_process_is_charged_to_its_namespace_and_the_summary_keeps_its_shape():
    sampler = CpuSampler(interval=0.2).start()
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\nwhile True: time.sleep(1)"
    child = subprocess.Popen([sys.executable, "-c", burn], env=dict(os.environ, DOCKERLAB_NAMESPACE="cpu-t01"))
    try:
        deadline = time.monotonic() + 20
        while sampler.unit_seconds("cpu") < 0.5 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        child.kill()
        child.wait()
        sampler.stop()
    assert 0.5 <= sampler.unit_seconds("cpu") <= 1.5, dict(sampler.by_ns)
    assert sampler.unit_seconds("cpu-t01") == sampler.unit_seconds("cpu") and sampler.unit_seconds("cp") == 0
    assert sampler.busy > 0 and sampler.wall > 0
    sampler.wall = max(sampler.wall, 10.0)  # the summary speaks only of runs of 10 s or more
    unit = types.SimpleNamespace(key="tests/engine/test_x.py", ns="cpu", group="engine")
    lines = sampler.summary_lines([unit], cores=2)
    assert lines[0].startswith("\n=== CPU: ")
    # the machine; the daemons, BuildKit, one row per group, the rest; then the largest units: each row "label N s"
    assert len(lines) == 7 and all(l.split()[-1] == "s" for l in lines[1:5] + lines[6:])
    assert lines[3].split()[0] == unit.group and lines[6].split()[:2] == [unit.key, f"{sampler.unit_seconds('cpu'):.0f}"]


def test_machine_busy_counts_up():
    busy, steal = _machine_busy()
    assert busy > 0 and steal >= 0

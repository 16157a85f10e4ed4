"""`dockerlab bench` measures each published claim live and says whether its ratio held (no timing or ratio asserts)."""
from __future__ import annotations

import os

import pytest

from dockerlab import images
from dockerlab.cleanup import cleanup, leaks
from dockerlab.engine import get_client
from dockerlab.imagelayers import unpacked_size
from dockerlab.namespace import set_namespace
from dockerlab.ops.bench import bench, markdown, verdicts

pytestmark = pytest.mark.engine


def test_bench_measures_every_claim_and_leaves_nothing():
    ns = os.environ.get("DOCKERLAB_NAMESPACE", "test") + "-bench"
    # The installer claim (pip vs uv, two builds without cache) is left to `dockerlab bench` itself: its table
    # and verdict are rendered by the same code (tests/unit/test_bench_claims.py).
    table, claims = bench(which=["multi-stage", "cache-order"], namespace=ns)
    try:
        assert [c.name for c in claims] == ["multi-stage", "cache order"]
        for c in claims:
            assert c.before > 0 and c.after > 0, c
        # Sizes are not timings: structure holds on any engine.
        ms = claims[0]
        client = get_client()
        full = unpacked_size(client.images.get(images.ref("python-full")), client)  # the sizes the claim compares
        slim = unpacked_size(client.images.get(images.ref("python")), client)
        assert ms.before > full, "the single-stage image starts FROM the full image"
        assert ms.after < ms.before
        assert ms.floor is not None and slim < ms.floor <= ms.after, (slim, ms.floor, ms.after)
        assert "floor" in ms.row()["floor"] and "slim" in ms.row()["floor"]
        assert all(c.floor is None and c.row()["floor"] == "-" for c in claims[1:])
        # The code change is new to BuildKit's cache: code copied first always reruns the dependency step.
        assert claims[1].facts["code_first"] == "rebuilt", claims[1].facts
        lines = verdicts(claims)
        assert len(lines) == 2 and "floor" in lines[0]
        assert all(l.startswith(f"{c.name}: {c.verdict} here") for c, l in zip(claims, lines))
        md = markdown(claims)
        assert "held" in md and "floor" in md
        assert len(table) == 2
        assert not any(leaks(ns=ns).values())
        assert not client.images.list(filters={"label": f"org.dockerlab.namespace={ns}"})
    finally:
        cleanup(ns=ns, quiet=True)
        set_namespace(None)

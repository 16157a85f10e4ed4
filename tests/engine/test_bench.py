"""`dockerlab bench` measures each published claim live and says whether its ratio held (no timing asserts)."""
from __future__ import annotations

import os

import pytest

import dockerlab as dl
from dockerlab.bench import bench, markdown

pytestmark = pytest.mark.engine


def test_bench_measures_every_claim_and_leaves_nothing():
    ns = os.environ.get("DOCKERLAB_NAMESPACE", "test") + "-bench"
    table, claims = bench(namespace=ns)
    try:
        assert [c.name for c in claims] == ["multi-stage", "cache order", "installer"]
        for c in claims:
            assert c.before > 0 and c.after > 0, c
            assert c.row()["held"] in ("yes", "no")
            assert c.row()["measured ratio"].endswith("x")
        # Sizes are not timings: the multi-stage image is smaller than the single-stage one, always.
        assert claims[0].after < claims[0].before
        md = markdown(claims)
        assert md.count("\n") == 5 and "held" in md
        assert len(table) == 3
        assert not any(dl.leaks(ns=ns).values())
        client = dl.get_client()
        assert not client.images.list(filters={"label": f"org.dockerlab.namespace={ns}"})
    finally:
        dl.cleanup(ns=ns, quiet=True)
        dl.set_namespace(None)

"""`dockerlab bench` claims render their verdict and the multi-stage floor; the manifest holds both Python images."""
from dockerlab import images
from dockerlab.ops.bench import VERDICTS, Claim, markdown, verdicts

MB = 1_000_000


def test_size_claim_shows_its_floor_next_to_the_ratio():
    c = Claim("multi-stage", "claim", 4.0, 1000 * MB, 220 * MB, "bytes", floor=200 * MB,
              floor_parts="slim 170 MB + packages 30 MB")
    row = c.row()
    assert row["measured ratio"] == "4.5x" and row["held"] == "yes" and c.verdict == VERDICTS[True]
    assert round(c.after / c.floor, 2) == 1.1 and c.best_ratio == 5.0
    assert all(said in row["floor"] for said in (c.floor_parts, "1.10x", "5.0x"))  # how far from the floor, the best
    assert verdicts([c])[0].startswith(f"{c.name}: {c.verdict} here") and "5.0x" in verdicts([c])[0]


def test_timing_claim_has_no_floor_and_may_fail():
    c = Claim("installer", "claim", 9.0, 30.0, 6.0, "s")
    assert c.row()["floor"] == "-" and c.row()["held"] == "no"
    assert not c.held and c.verdict == VERDICTS[False] and verdicts([c])[0].startswith(f"{c.name}: {c.verdict} here")
    assert "floor" not in verdicts([c])[0]
    md = markdown([c])
    assert md.splitlines()[0].count("|") == 7 and md.count("\n") == 3


def test_manifest_has_full_and_slim_python_of_one_version():
    refs = {i.key: i.ref for i in images.manifest()}
    slim, full = refs["python"], refs["python-full"]
    assert full.rsplit(":", 1)[1] + "-slim" == slim.rsplit(":", 1)[1]
    assert (images.STANDINS / "python-full" / "Dockerfile").exists()
    assert images.override_var("python-full") == "DOCKERLAB_IMAGE_PYTHON_FULL"

"""The resilience toolkit on the engine: a crash that a restart policy undoes, seen by a Watch; a network cut and
its repair, aliases kept. (Lessons 08 and 09 prove stop_in_flight and the crash on real stacks.)"""
import pytest

from dockerlab import Lesson
from dockerlab.grading import resilience

pytestmark = pytest.mark.engine


@pytest.fixture
def lab():
    lab = Lesson("08_compose", quiet=True)
    try:
        yield lab
    finally:
        lab.cleanup(quiet=True)


def test_crash_is_undone_by_a_restart_policy_and_recorded(lab):
    c = lab.run(lab.base("python"), "res-crash", ["sleep", "300"], restart_policy={"Name": "on-failure"})
    tl = resilience.Timeline()
    watch = resilience.Watch(tl, {"sleeper": c})
    watch.start()
    assert resilience.crash(lab, c, tl)
    assert watch.until(lambda w: w.state("sleeper").restarts >= 1 and w.state("sleeper").status == "running", 30)
    assert [e.actor for e in tl.events[:2]] == ["stack", "course"]
    restarted = [e for e in tl.events if e.actor == "stack" and e.cause]
    assert restarted and watch.state("sleeper").policy == "on-failure" and watch.history["sleeper"][-1] == "running"


def test_network_cut_and_repair_keep_the_alias(lab):
    net = lab.network("res-net")
    c = lab.run(lab.base("python"), "res-net-member", ["sleep", "300"], network=net.name,
                networking_config={net.name: lab.client.api.create_endpoint_config(aliases=["cache"])})
    tl = resilience.Timeline()
    aliases = resilience.disconnect(net, c, tl)
    c.reload()
    assert "cache" in aliases and net.name not in c.attrs["NetworkSettings"]["Networks"]
    resilience.reconnect(net, c, tl, aliases)
    c.reload()
    assert "cache" in c.attrs["NetworkSettings"]["Networks"][net.name]["Aliases"]
    assert [e.actor for e in tl.events] == ["course", "course"]

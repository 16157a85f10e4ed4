"""dockerlab.compose without an engine: the labels override and the parsing of `docker compose ps --format json`."""
import json

import pytest

from dockerlab.compose import depends_on, healthcheck_test, labels_override, parse_ps_json
from dockerlab.namespace import LABEL_COURSE, LABEL_LESSON, LABEL_NAMESPACE

CONFIG = {
    "services": {
        "web": {"build": {"context": "."}, "depends_on": {"db": {"condition": "service_healthy"}}},
        "worker": {"build": ".", "image": "mine/worker:1", "networks": ["back"]},
        "db": {"image": "postgres:17-trixie", "healthcheck": {"test": ["CMD-SHELL", "pg_isready"]}},
        "host": {"image": "redis:8-trixie", "network_mode": "host", "depends_on": ["db"]},
    },
    "networks": {"back": {}, "outside": {"external": True}},
    "volumes": {"pgdata": {}, "shared": {"external": True, "name": "shared"}},
}


def test_every_service_network_and_named_volume_gets_the_three_labels():
    ov = labels_override(CONFIG, "08_compose", ns="alice")
    want = {LABEL_COURSE: "docker-python-course", LABEL_LESSON: "08", LABEL_NAMESPACE: "alice"}
    assert set(ov["services"]) == {"web", "worker", "db", "host"}
    for svc in ov["services"].values():
        assert svc["labels"] == want
    assert set(ov["networks"]) == {"default", "back"}  # the implicit default network too, never external ones
    assert all(n["labels"] == want for n in ov["networks"].values())
    assert set(ov["volumes"]) == {"pgdata"}
    assert ov["volumes"]["pgdata"]["labels"] == want


def test_built_services_get_a_course_image_name_and_labelled_images():
    ov = labels_override(CONFIG, "08_compose", ns="alice")
    assert ov["services"]["web"]["image"] == "dl-alice/08-web:latest"
    assert ov["services"]["web"]["build"]["labels"][LABEL_NAMESPACE] == "alice"
    assert "image" not in ov["services"]["worker"]  # names its own image
    assert "build" not in ov["services"]["db"] and "image" not in ov["services"]["db"]


def test_override_is_json_serialisable_and_empty_config_is_harmless():
    assert json.loads(json.dumps(labels_override(CONFIG, "08_compose", ns="a")))
    assert labels_override({}, "08_compose", ns="a") == {"services": {}}


def test_parse_ps_one_object_per_line():
    text = (json.dumps({"Service": "db", "State": "running", "Health": "healthy"}) + "\n"
            + json.dumps({"Service": "web", "State": "running", "Health": ""}) + "\n\n")
    rows = parse_ps_json(text)
    assert [r["Service"] for r in rows] == ["db", "web"]
    assert rows[0]["Health"] == "healthy"


def test_parse_ps_array_and_empty():
    assert [r["Service"] for r in parse_ps_json('[{"Service": "a"}, {"Service": "b"}]')] == ["a", "b"]
    assert parse_ps_json("") == [] and parse_ps_json("  \n") == []
    with pytest.raises(json.JSONDecodeError):
        parse_ps_json("not json")


def test_depends_on_and_healthcheck_helpers():
    assert depends_on(CONFIG, "web") == {"db": "service_healthy"}
    assert depends_on(CONFIG, "host") == {"db": "service_started"}
    assert depends_on(CONFIG, "db") == {}
    assert healthcheck_test(CONFIG, "db") == ["CMD-SHELL", "pg_isready"]
    assert healthcheck_test(CONFIG, "web") is None
    assert healthcheck_test({"services": {"x": {"healthcheck": {"disable": True, "test": ["CMD", "true"]}}}}, "x") is None


def test_a_watch_lock_left_by_an_earlier_watch_is_cleared_and_a_live_one_kept(tmp_path, monkeypatch):
    """docker compose watch never removes its PID file (docker/compose#11066): once the PID belongs to another
    process, the next watch of the project fails (ci9, lesson 07). A lock of a process that is not a Compose goes;
    the lock of a running Compose stays."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    from dockerlab import compose

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    locks = tmp_path / ".docker" / "docker-compose"
    locks.mkdir(parents=True)
    stale, live = locks / "dl-t-07-dev.pid", locks / "dl-t-07-live.pid"
    stale.write_text(str(os.getpid()))  # a live process, but pytest, not a Compose
    watcher = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "docker-compose", "watch"])
    try:
        live.write_text(str(watcher.pid))
        for _ in range(100):  # until the child has exec'd (before, its cmdline is pytest's)
            if Path(f"/proc/{watcher.pid}/cmdline").read_bytes().endswith(b"watch\0"):
                break
            time.sleep(0.05)
        compose.clear_stale_watch_lock("dl-t-07-dev")
        compose.clear_stale_watch_lock("dl-t-07-live")
        assert not stale.exists() and live.exists()
    finally:
        watcher.kill()
        watcher.wait()

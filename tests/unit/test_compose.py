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

"""The classroom's instructor page, from fake progress records (the format dockerlab.grading.checker writes)."""
from __future__ import annotations

import json

from dockerlab.ops import room as classroom


def attempt(lesson, time, results, exercise=""):
    return {"lesson": lesson, "exercise": exercise, "time": time, "seconds": 1.0,
            "passed": all(r[1] is True for r in results),
            "results": [{"name": n, "passed": p, "detail": d, "fix": f} for n, p, d, f in results]}


PORT_FAIL = ("port answers HTTP", False, "no answer from http://10.213.0.3:41237", "publish the port with ports=")
PORT_FAIL_2 = ("port answers HTTP", False, "no answer from http://10.213.0.19:38001", "publish the port with ports=")
MEM_FAIL = ("memory limit", False, "no memory limit", "mem_limit='96m'")
OK = lambda name: (name, True, "ok", "")  # noqa: E731


def room_records():
    return {
        "ada": {"namespace": "ada", "attempts": [
            attempt("01_images_and_containers", "2026-11-21T10:00:00", [OK("name"), PORT_FAIL, MEM_FAIL]),
            attempt("01_images_and_containers", "2026-11-21T10:05:00", [OK("name"), OK("port answers HTTP"),
                                                                        OK("memory limit")]),
            attempt("02_first_dockerfile", "2026-11-21T10:30:00", [OK("builds"), ("runs as non-root", None,
                                                                                  "not evaluated: no image", "")]),
        ]},
        "bob": {"namespace": "bob", "attempts": [
            attempt("01_images_and_containers", "2026-11-21T10:02:00", [OK("name"), PORT_FAIL_2, OK("memory limit")]),
        ]},
        "cy": {"namespace": "cy", "attempts": [
            attempt("01_images_and_containers", "2026-11-21T10:03:00", [OK("name"), PORT_FAIL, MEM_FAIL]),
        ]},
    }


def test_reason_masks_incidental_numbers():
    assert classroom.reason(PORT_FAIL[2]) == classroom.reason(PORT_FAIL_2[2]) == "no answer from http://#.#.#.#:#"
    assert classroom.reason("image 3f2a9c81d0e4aa is 812.5 MB") == "image … is #.# MB"


def test_room_per_learner_per_lesson_and_stuck_checks():
    room = classroom.room_summary(room_records(), learners=["dee"])
    assert list(room["learners"]) == ["ada", "bob", "cy", "dee"]
    ada = {l["lesson"]: l for l in room["learners"]["ada"]["lessons"]}
    assert ada["01_images_and_containers"]["status"] == "passed"
    assert ada["01_images_and_containers"]["attempts"] == 2
    assert ada["01_images_and_containers"]["checks_passed"] == 3
    assert ada["02_first_dockerfile"]["status"] == "failing"  # a line not evaluated is not a pass
    assert room["learners"]["dee"]["lessons"] == []
    l01 = next(l for l in room["lessons"] if l["lesson"] == "01_images_and_containers")
    assert l01["passed"] == ["ada"] and l01["failing"] == ["bob", "cy"] and l01["not_started"] == ["dee"]

    checks = {(c["lesson"], c["check"]): c for c in room["checks"]}
    port = checks[("01_images_and_containers", "port answers HTTP")]
    assert port["failing_now"] == 2 and port["failing"] == ["bob", "cy"]  # ada failed it once, passes now
    assert port["attempted_by"] == 3
    assert port["top_reason_key"] == "no answer from http://#.#.#.#:#" and port["top_reason_learners"] == 2
    assert port["top_reason"] in (PORT_FAIL[2], PORT_FAIL_2[2])  # a learner's own words, numbers and all
    assert port["top_fix"] == "publish the port with ports="
    mem = checks[("01_images_and_containers", "memory limit")]
    assert mem["failing_now"] == 1 and mem["failing"] == ["cy"]
    assert checks[("02_first_dockerfile", "runs as non-root")]["not_evaluated"] == ["ada"]
    assert room["checks"][0] is port  # the line the most learners are stuck on comes first
    assert room["summary"] == {"learners": 4, "learners_with_records": 3, "exercises": 2, "checks_failing_now": 2}


def test_room_page_names_learners_and_the_common_reason():
    page = classroom.render_room_html(classroom.room_summary(room_records()))
    for text in ("ada", "bob", "cy", "port answers HTTP", "2 of 3", "no answer from http://10.213.0.",
                 "(2 learners)", "publish the port with ports=", "✔ 3/3 checks · 2 attempts", "3 learners"):
        assert text in page, text
    assert "<script" not in page


def test_collect_reads_each_home_and_survives_a_broken_file(tmp_path):
    for name, data in room_records().items():
        p = tmp_path / name / ".dockerlab" / "progress.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps(data))
    (tmp_path / "eve" / ".dockerlab").mkdir(parents=True)
    (tmp_path / "eve" / ".dockerlab" / "progress.json").write_text('{"attempts": [')  # mid-write
    (tmp_path / "fay").mkdir()
    got = classroom.collect(tmp_path)
    assert sorted(got) == ["ada", "bob", "cy", "eve", "fay"]
    assert got["eve"]["attempts"] == [] and got["fay"]["attempts"] == []
    assert len(got["ada"]["attempts"]) == 3
    assert classroom.collect(tmp_path / "missing") == {}


def test_learner_page_shows_only_their_records():
    page = classroom.render_learner_html("bob", room_records()["bob"])
    assert "bob" in page and "ada" not in page and "port answers HTTP" in page

"""The offline wheelhouse resolves each sample app's pins on its own: two apps may pin different versions."""
from dockerlab.ops import offline


def test_each_app_is_its_own_requirement_set():
    sets = offline.course_requirement_sets()
    assert sets and all(reqs for reqs in sets.values())
    for name, reqs in sets.items():
        pins: dict[str, str] = {}
        for r in reqs:
            pkg, _, version = r.partition("==")
            key = pkg.lower().replace("_", "-")
            assert pins.setdefault(key, version) == version, f"{name} pins {pkg} twice"
    assert offline.course_requirements() == sorted({r for reqs in sets.values() for r in reqs})

"""Layer tables and charts: the base image apart from the Dockerfile's steps, settings folded, values not Go structs."""
from types import SimpleNamespace

import pytest

from dockerlab import imagelayers
from dockerlab.imagelayers import Layers, find_base, step_of
from dockerlab.widgets import _scale, size_bars

import readhtml


@pytest.mark.parametrize("created_by,want", [
    ("RUN /bin/sh -c pip install --no-cache-dir -r requirements.txt # buildkit",
     ("RUN", "pip install --no-cache-dir -r requirements.txt")),
    ("RUN |1 INDEX_TOKEN=ghp_x /bin/sh -c python install_private.py # buildkit", ("RUN", "python install_private.py")),
    ("/bin/sh -c apt-get update && apt-get install -y tini", ("RUN", "apt-get update && apt-get install -y tini")),
    ("COPY . . # buildkit", ("COPY", ". .")),
    ("/bin/sh -c #(nop) COPY file:896438f07c5276bb6dff7124d55b80dafa9d64a3 in /usr/local/bin/x.sh ",
     ("COPY", "/usr/local/bin/x.sh")),
    ("/bin/sh -c #(nop)  CMD [\"python3\"]", ("CMD", '["python3"]')),
    ("EXPOSE [8000/tcp]", ("EXPOSE", "8000/tcp")),
    ("EXPOSE map[8000/tcp:{} 9000/tcp:{}]", ("EXPOSE", "8000/tcp 9000/tcp")),
    ("SHELL [/bin/bash -c]", ("SHELL", '["/bin/bash", "-c"]')),
    ("WORKDIR /app", ("WORKDIR", "/app")),
    ("", ("FROM", "(the root filesystem)")),
])
def test_step_of_reads_like_the_dockerfile(created_by, want):
    assert step_of(created_by) == want


def test_healthcheck_go_struct_becomes_the_dockerfile_line():
    go = ("HEALTHCHECK &{[\"CMD\" \"python\" \"-c\" \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')\"]"
          " \"1s\" \"3s\" \"10s\" \"0s\" '\\x03'}")
    keyword, what = step_of(go)
    assert keyword == "HEALTHCHECK" and "&{" not in what
    assert what.startswith("--interval=1s --timeout=3s --start-period=10s --retries=3 CMD [\"python\", \"-c\",")
    shell = step_of("HEALTHCHECK &{[\"CMD-SHELL\" \"curl -f http://localhost/ || exit 1\"] \"30s\" \"0s\" \"0s\" \"0s\" '\\x00'}")
    assert shell == ("HEALTHCHECK", "--interval=30s CMD curl -f http://localhost/ || exit 1")


def _hist(*entries):
    """history() as the SDK returns it: newest first; entries given oldest first as (created_by, size)."""
    return [{"Created": n, "CreatedBy": cb, "Size": size} for n, (cb, size) in reversed(list(enumerate(entries)))]


BASE = [("", 87_000_000), ("/bin/sh -c apt-get install python3", 82_000_000), ("/bin/sh -c #(nop)  CMD [\"python3\"]", 0)]
APP = [("WORKDIR /app", 0), ("COPY requirements.txt . # buildkit", 100),
       ("RUN /bin/sh -c pip install -r requirements.txt # buildkit", 12_000_000), ("RUN /bin/sh -c rm -rf /tmp/x # buildkit", 0),
       ("EXPOSE [8000/tcp]", 0), ("CMD [\"python\" \"app.py\"]", 0)]


class FakeImages:
    def __init__(self, images):
        self.images = images

    def get(self, ref):
        from docker.errors import ImageNotFound

        if ref not in self.images:
            raise ImageNotFound(ref)
        return self.images[ref]


def _image(id_, entries):
    return SimpleNamespace(id=id_, tags=[id_], attrs={"Size": sum(s for _, s in entries)}, history=lambda: _hist(*entries))


def test_the_base_is_the_longest_course_image_the_history_starts_with(monkeypatch):
    app = _image("app", BASE + APP)
    client = SimpleNamespace(images=FakeImages({"python:3.13.5-slim": _image("py", BASE),
                                                "root:1": _image("root", BASE[:1]),
                                                "other:1": _image("other", [("", 5)])}))
    monkeypatch.setattr("dockerlab.images.manifest",
                        lambda **kw: [SimpleNamespace(ref=r) for r in ("root:1", "python:3.13.5-slim", "other:1", "gone:1")])
    assert find_base(app, client) == ("python:3.13.5-slim", 3)
    assert find_base(app, client, base="root:1") == ("root:1", 1)
    assert find_base(client.images.get("python:3.13.5-slim"), client) == ("root:1", 1)


def test_layers_folds_the_base_and_the_settings_but_not_a_0_byte_run(monkeypatch):
    app = _image("app", BASE + APP)
    client = SimpleNamespace(images=FakeImages({"dl-x/03-good:latest": app, "python:3.13.5-slim": _image("py", BASE)}))
    monkeypatch.setattr("dockerlab.images.manifest", lambda **kw: [SimpleNamespace(ref="python:3.13.5-slim")])
    table = imagelayers.layers("dl-x/03-good:latest", client=client)
    assert isinstance(table, Layers)
    assert [(r["part"], r["step"]) for r in table.rows] == [
        ("base", "FROM"), ("added", "COPY"), ("added", "RUN"), ("added", "RUN"), ("added", "3 settings")]
    assert table.rows[0]["bytes"] == 169_000_000 and table.added_bytes == 12_000_100
    assert table.rows[3]["what it did"] == step_of(APP[3][0])[1]  # a 0-byte RUN stays visible: it hides, it does not shrink
    settings = [step_of(cb) for cb, size in APP if not size and step_of(cb)[0] != "RUN"]
    assert [(s["keyword"], s["what"]) for s in table.folded] == settings  # WORKDIR, EXPOSE, CMD: one row
    assert table.rows[4]["what it did"].startswith(" ".join(settings[0])) and len(table.rows) == 5
    assert "169.0 MB" in table.title and "folded" in table.title
    assert not any("RUN RUN" in str(r) or "# buildkit" in str(r) or "[8000/tcp]" in str(r) for r in table.rows)
    assert table.bars() == {"FROM python:3.13.5-slim": (169_000_000, 0),
                            **{" ".join(step_of(cb)): (0, size) for cb, size in APP if step_of(cb)[0] in ("COPY", "RUN")}}
    shown = readhtml.text(table.chart().value)
    assert all(label in shown for label in table.bars()) and "WORKDIR" not in shown
    assert "(MB)" in shown and shown.endswith(f"{imagelayers.BASE} {imagelayers.ADDED}")  # the legend names both parts


def test_scale_is_round_and_in_the_right_unit():
    assert _scale(150e6, "bytes") == (200e6, 1e6, "MB")
    assert _scale(2_300, "bytes") == (2_500, 1e3, "kB")
    assert _scale(4.2, "s") == (5, 1, "s")


def test_size_bars_draws_pairs_as_two_parts_with_a_legend():
    html = size_bars({"a": (100e6, 50e6), "b": 20e6}, title="sizes", parts=("base", "added")).value
    assert "150.0 MB" in html and "20.0 MB" in html and ">base<" not in html and "base" in html and "added" in html
    assert "(MB)" in html and html.count("position:absolute") == 5  # five ticks on the axis

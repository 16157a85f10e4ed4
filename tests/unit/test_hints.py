"""The hints widget: one implementation, hints hidden until asked, read from the exercise's check module."""
import types

import pytest

from dockerlab import widgets
from dockerlab.grading.lessons import l03_layers_and_cache as l03

import readhtml


def test_outside_jupyter_it_says_how_many_hints_and_shows_none(capsys):
    assert widgets.hints(l03) is None
    out = capsys.readouterr().out
    assert out.split()[0] == str(len(l03.HINTS))  # how many there are, first
    assert not any(h[:30] in out for h in l03.HINTS)


def test_reveal_prints_only_the_first_ones(capsys):
    widgets.hints(l03, reveal=1)
    out = capsys.readouterr().out
    assert "Hint 1. " + l03.HINTS[0] in out and "Hint 2." not in out


def test_texts_come_from_a_module_or_are_given():
    assert widgets.hint_texts(types.SimpleNamespace(HINTS=("a", "b"))) == ("a", "b")
    assert widgets.hint_texts("a first hint", "a second hint") == ("a first hint", "a second hint")
    with pytest.raises(TypeError):
        widgets.hint_texts(l03, "and a text")


def test_code_spans_render_as_code():
    text = "use `COPY <a> .`"
    shown = widgets._inline(text)
    assert readhtml.texts(shown, "code") == ["COPY <a> ."] and readhtml.text(shown) == text.replace("`", "")

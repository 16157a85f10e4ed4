"""The exercise generator (dockerlab.ops.authoring): answers removed, starter kept, broken markers refused
(the cases of nbgrader's tests/preprocessors/test_clearsolutions.py)."""
import pytest

from dockerlab.ops import authoring as gen


def nb(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def code(src, tags=()):
    return {"cell_type": "code", "source": src, "metadata": {"tags": list(tags)}, "outputs": [{"x": 1}], "execution_count": 3}


def md(src):
    return {"cell_type": "markdown", "metadata": {}, "source": src}


PLACEHOLDER = "# YOUR CODE HERE"  # what nbgrader's ClearSolutions leaves, and every exercise notebook shows


def test_solution_block_replaced_and_starter_kept():
    src = "x = 1\n    ### BEGIN SOLUTION\n    x = 2\n    ### END SOLUTION\nprint(x)\n"
    out = gen.exercise_from_solution(nb(code(src)))
    first, last = src.splitlines()[0], src.splitlines()[-1]
    assert out["cells"][0]["source"].splitlines() == [first, "    " + PLACEHOLDER, last]  # at the block's indent
    assert out["cells"][0]["outputs"] == [] and out["cells"][0]["execution_count"] is None


def test_two_blocks_in_one_cell():
    out = gen.exercise_from_solution(nb(code("### BEGIN SOLUTION\na\n### END SOLUTION\nb\n### BEGIN SOLUTION\nc\n### END SOLUTION\n")))
    assert out["cells"][0]["source"].splitlines() == [PLACEHOLDER, "b", PLACEHOLDER]


def test_solution_only_cells_and_markdown_answers_removed():
    out = gen.exercise_from_solution(nb(md("Q?\n<!-- BEGIN SOLUTION -->A!\n<!-- END SOLUTION -->\n"),
                                        code("secret()", tags=["solution-only"])))
    assert len(out["cells"]) == 1 and out["cells"][0]["source"] == "Q?\n"


@pytest.mark.parametrize("src, kind, line", [
    ("x = 1\n### BEGIN SOLUTION\nanswer = 42\n", "never-closed", 2),  # the answer must not ship
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx\n### END SOLUTION\n### END SOLUTION\n", "nested", 2),
    ("x\n### END SOLUTION\n", "stray", 2),
])
def test_broken_code_markers_are_refused(src, kind, line):
    with pytest.raises(gen.MarkerError) as info:
        gen.exercise_from_solution(nb(code(src)), "solutions/99.ipynb")
    assert (info.value.kind, info.value.line) == (kind, line)


@pytest.mark.parametrize("src, kind", [("Q <!-- BEGIN SOLUTION --> A", "never-closed"), ("Q <!-- END SOLUTION -->", "stray"),
                                       ("<!-- BEGIN SOLUTION --> <!-- BEGIN SOLUTION --> x <!-- END SOLUTION -->", "nested")])
def test_broken_markdown_markers_are_refused(src, kind):
    with pytest.raises(gen.MarkerError) as info:
        gen.exercise_from_solution(nb(md(src)))
    assert info.value.kind == kind


def test_error_names_notebook_cell_and_line():
    with pytest.raises(gen.MarkerError) as info:
        gen.exercise_from_solution(nb(code("ok\n"), code("a\nb\n### BEGIN SOLUTION\nanswer\n")), "solutions/07_x.ipynb")
    assert (info.value.notebook, info.value.cell, info.value.line) == ("solutions/07_x.ipynb", 1, 3)
    assert str(info.value).startswith(f"{info.value.notebook} cell 1: line 3: ")  # the message starts with where


def test_markers_detected():
    assert gen.has_markers(nb(code("### BEGIN SOLUTION\n### END SOLUTION\n")))
    assert not gen.has_markers(nb(code("x")))

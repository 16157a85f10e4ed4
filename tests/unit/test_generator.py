import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("make_exercises", Path(__file__).parents[2] / "scripts/make_exercises.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


def nb(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def code(src, tags=()):
    return {"cell_type": "code", "source": src, "metadata": {"tags": list(tags)}, "outputs": [{"x": 1}], "execution_count": 3}


def test_solution_block_replaced_and_starter_kept():
    out = gen.exercise_from_solution(nb(code("x = 1\n    ### BEGIN SOLUTION\n    x = 2\n    ### END SOLUTION\nprint(x)\n")))
    assert out["cells"][0]["source"] == "x = 1\n    # YOUR CODE HERE\nprint(x)\n"
    assert out["cells"][0]["outputs"] == [] and out["cells"][0]["execution_count"] is None


def test_solution_only_cells_and_markdown_answers_removed():
    md = {"cell_type": "markdown", "metadata": {}, "source": "Q?\n<!-- BEGIN SOLUTION -->A!\n<!-- END SOLUTION -->\n"}
    out = gen.exercise_from_solution(nb(md, code("secret()", tags=["solution-only"])))
    assert len(out["cells"]) == 1 and out["cells"][0]["source"] == "Q?\n"


def test_markers_detected():
    assert gen.has_markers(nb(code("### BEGIN SOLUTION\n### END SOLUTION\n")))
    assert not gen.has_markers(nb(code("x")))

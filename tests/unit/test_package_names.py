"""Names that do not collide: a module is reachable as a module, and dockerlab.cli stays the CLI-twin helper."""
import importlib
import types

import dockerlab


def test_modules_are_modules():
    for name in ("build", "run", "cleanup", "namespace", "imagelayers", "ops.commands", "ops.authoring", "grading.checker"):
        mod = importlib.import_module(f"dockerlab.{name}")
        assert isinstance(mod, types.ModuleType), name
        parent, _, leaf = f"dockerlab.{name}".rpartition(".")
        assert getattr(importlib.import_module(parent), leaf) is mod, f"dockerlab.{name} is not the module"


def test_old_module_names_still_import_and_say_where_they_went():
    import pytest

    with pytest.warns(DeprecationWarning, match="dockerlab.grading.checker"):
        old = importlib.import_module("dockerlab.checks")
    assert old.Checker is importlib.import_module("dockerlab.grading.checker").Checker
    with pytest.warns(DeprecationWarning, match="dockerlab.grading.lessons"):
        from dockerlab.exercises import l05_uv
    assert l05_uv.check is importlib.import_module("dockerlab.grading.lessons.l05_uv").check


def test_cli_helper_survives_importing_the_command_line_module():
    import dockerlab.ops.commands  # noqa: F401  (the `dockerlab` command)

    assert callable(dockerlab.cli) and not isinstance(dockerlab.cli, types.ModuleType)
    assert dockerlab.cli(["docker", "run", "--rm", "python", "python", "-c", "print('$(id)')"]) == \
        "docker run --rm python python -c 'print('\"'\"'$(id)'\"'\"')'"


def test_build_check_reachable_as_documented():
    from dockerlab.build import check

    assert dockerlab.build.check is check


def _public_functions():
    """Every public function and method defined in the dockerlab package (not re-exports)."""
    import inspect
    import pkgutil

    for info in pkgutil.walk_packages(dockerlab.__path__, "dockerlab."):
        if info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if name.startswith("_"):
                continue
            if inspect.isfunction(obj) and obj.__module__ == mod.__name__:
                yield f"{mod.__name__}.{name}", obj
            elif inspect.isclass(obj) and obj.__module__ == mod.__name__:
                for m, fn in vars(obj).items():
                    if inspect.isfunction(fn) and (not m.startswith("_") or m == "__init__"):
                        yield f"{mod.__name__}.{name}.{m}", fn


def test_one_quiet_switch_and_the_client_passed_one_way():
    """The switch that silences CLI twins and displays is `quiet=` everywhere (never show=/show_cli=/verbose=),
    and a Docker client is a keyword argument `client=` (never a positional first parameter)."""
    import inspect

    bad = []
    for where, fn in _public_functions():
        params = inspect.signature(fn).parameters
        for off in ("show", "show_cli", "verbose"):
            if off in params:
                bad.append(f"{where}({off}=)")
        if "client" in params and params["client"].kind is not inspect.Parameter.KEYWORD_ONLY:
            names = list(params)
            # client=None after the leading positional parameters is accepted only as keyword-or-positional
            # with a default; a client that must come first positionally is not.
            if params["client"].default is inspect.Parameter.empty or names.index("client") == 0:
                bad.append(f"{where}(client positional)")
    assert not bad, bad


def _notebook_names() -> set[str]:
    """Every ``dockerlab.X`` and ``from dockerlab import X`` in the code cells of notebooks/, solutions/, exercises/."""
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    names = set()
    for nb in [p for d in ("notebooks", "solutions", "exercises") for p in (root / d).glob("*.ipynb")]:
        for cell in json.loads(nb.read_text())["cells"]:
            code = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
            names |= set(re.findall(r"(?<![\w.])dockerlab\.([A-Za-z_]\w*)", code))
            for imported in re.findall(r"^\s*from dockerlab import ([^\n#]+)", code, re.M):
                names |= {n.split(" as ")[0].strip() for n in imported.strip("()").split(",") if n.strip()}
    return names


def test_the_top_level_lists_what_a_learner_calls():
    """dockerlab.__all__ is what the notebooks call at the top (CheckFailed too: a failing check cell raises it), and
    every top-level name a notebook calls is listed or a module, never one of the old names that warn."""
    import pkgutil

    from dockerlab import _moved

    used = _notebook_names()
    modules = {m.name for m in pkgutil.iter_modules(dockerlab.__path__)}
    assert set(dockerlab.__all__) - used == {"CheckFailed"}
    assert not {n for n in used if n not in dockerlab.__all__ and n not in modules}, "call them from their module"
    assert not set(dockerlab.__all__) & set(_moved.NAMES)

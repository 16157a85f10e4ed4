"""Names that do not collide: a module is reachable as a module, and dockerlab.cli stays the CLI-twin helper."""
import importlib
import types

import dockerlab


def test_modules_are_modules():
    for name in ("build", "run", "cleanup", "namespace", "imagelayers", "commands", "authoring"):
        mod = importlib.import_module(f"dockerlab.{name}")
        assert isinstance(mod, types.ModuleType), name
        assert getattr(dockerlab, name) is mod, f"dockerlab.{name} is not the module"


def test_cli_helper_survives_importing_the_command_line_module():
    import dockerlab.commands  # noqa: F401  (the `dockerlab` command)

    assert callable(dockerlab.cli) and not isinstance(dockerlab.cli, types.ModuleType)
    assert dockerlab.cli(["docker", "run", "--rm", "python", "python", "-c", "print('$(id)')"]) == \
        "docker run --rm python python -c 'print('\"'\"'$(id)'\"'\"')'"


def test_build_check_reachable_as_documented():
    from dockerlab.build import check

    assert dockerlab.build.check is check

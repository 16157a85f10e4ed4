"""The package's one command line: `dockerlab SUBCOMMAND` (also `python -m dockerlab`), no engine needed here."""
import subprocess
import sys

import pytest

from dockerlab.ops import commands
from dockerlab.supply import platforms, stores


def test_every_subcommand_is_registered_once():
    names = [name for name, *_ in commands.COMMANDS]
    assert len(names) == len(set(names))
    assert {"doctor", "prepare", "clean", "leaks", "images", "report", "run-all", "wheelhouse", "bench",
            "exercises", "platforms", "supply"} == set(names)


def test_platforms_registers_each_arch_asked_for(monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(platforms, "register_emulation", lambda arch, quiet: asked.append(arch) or arch == "arm64")
    assert commands.main(["platforms", "register", "arm64", "riscv64"]) == commands.EXIT_OK
    assert asked == ["arm64", "riscv64"]
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{platforms.entry_name('arm64')}: registered", f"{platforms.entry_name('riscv64')}: was registered already"]


def test_platforms_without_root_is_a_problem_not_a_traceback(monkeypatch, capsys):
    def refuse(arch, quiet):
        raise platforms.EmulationUnavailable("needs root")

    monkeypatch.setattr(platforms, "unregister_emulation", refuse)
    assert commands.main(["platforms", "unregister"]) == commands.EXIT_PROBLEM
    assert capsys.readouterr().err.split(": ", 1)[1].strip() == "needs root"


def test_supply_prepare_is_what_make_supply_chain_runs(monkeypatch):
    ran = []
    monkeypatch.setattr(stores, "prepare_lesson", lambda: ran.append(True) or [])
    assert commands.main(["supply", "prepare"]) == commands.EXIT_OK and ran == [True]


def test_images_save_without_a_file_is_a_usage_error():
    assert commands.main(["images", "save"]) == commands.EXIT_USAGE
    with pytest.raises(SystemExit) as info:
        commands.main(["platforms", "arm64"])  # the action comes first
    assert info.value.code == commands.EXIT_USAGE


@pytest.mark.parametrize("old, new", [("dockerlab.ops.authoring", "dockerlab exercises"),
                                      ("dockerlab.grading.report", "dockerlab report"),
                                      ("dockerlab.supply.platforms", "dockerlab platforms"),
                                      ("dockerlab.supply.stores", "dockerlab supply prepare")])
def test_an_old_module_command_says_where_it_went_and_fails(old, new):
    """Run as before, a folded module exits 1 naming the subcommand (a CI step must not pass by doing nothing)."""
    proc = subprocess.run([sys.executable, "-m", old, "--check"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and f"`{new}" in proc.stderr

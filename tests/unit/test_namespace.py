import re

import pytest

import dockerlab.namespace as ns


@pytest.fixture(autouse=True)
def reset(monkeypatch):
    monkeypatch.delenv(ns.ENV_VAR, raising=False)
    ns.set_namespace(None)
    yield
    ns.set_namespace(None)


def test_default_is_the_user_name(monkeypatch):
    monkeypatch.setattr(ns.getpass, "getuser", lambda: "Ada.Lovelace")
    assert ns.namespace() == "ada-lovelace"


def test_env_var_beats_user_and_parameter_beats_env(monkeypatch):
    monkeypatch.setenv(ns.ENV_VAR, "Team_A")
    assert ns.namespace() == "team-a"
    ns.set_namespace("Bob")
    assert ns.namespace() == "bob"


def test_names_and_labels_carry_namespace_and_lesson():
    ns.set_namespace("ana")
    assert ns.resource_name("03_layers_and_cache", "Web App") == "dl-ana-03-web-app"
    assert ns.image_name("03_layers_and_cache", "good") == "dl-ana/03-good:latest"
    assert ns.labels("03_layers_and_cache") == {
        ns.LABEL_COURSE: ns.COURSE, ns.LABEL_LESSON: "03", ns.LABEL_NAMESPACE: "ana"}


def test_filters_select_namespace_lesson_or_everyone():
    ns.set_namespace("ana")
    assert f"{ns.LABEL_NAMESPACE}=ana" in ns.label_filters()
    assert f"{ns.LABEL_LESSON}=05" in ns.label_filters("05_uv")
    # every namespace: the label must be there (any value); objects of no namespace are shared and left alone
    assert ns.LABEL_NAMESPACE in ns.label_filters(all_namespaces=True)
    assert not any(f.startswith(ns.LABEL_NAMESPACE + "=") for f in ns.label_filters(all_namespaces=True))


def test_slug_keeps_docker_safe_characters():
    assert ns.slug("  Hé Llo!! ") == "h-llo"
    assert ns.slug("!!!") == "learner"


def test_leaks_looks_in_your_namespace_unless_told_otherwise(monkeypatch, capsys):
    """`dockerlab leaks`: your namespace ($DOCKERLAB_NAMESPACE, else your user name) by default, another one with
    --namespace, every namespace (grouped by namespace) only with --all-namespaces; the output says where it looked."""
    import dockerlab.cleanup
    from dockerlab.ops.commands import main

    asked = []

    def fake_leaks(ns=None, all_namespaces=False, client=None):
        asked.append(ns)
        return {"containers": ["dl-team-b-01-web"] if ns == "team-b" else [], "networks": [], "volumes": []}

    monkeypatch.setattr(dockerlab.cleanup, "leaks", fake_leaks)
    monkeypatch.setattr(dockerlab.cleanup, "leaks_by_namespace", lambda client=None: {
        "bob": {"containers": ["dl-bob-01-web"], "networks": [], "volumes": []},
        "team-b": {"containers": ["dl-team-b-01-web"], "networks": [], "volumes": ["dl-team-b-07-data"]}})
    monkeypatch.setenv(ns.ENV_VAR, "Ada")
    assert main(["leaks"]) == 0  # bob's container is not ada's leak
    assert asked[-1] == "ada" and "ada" in capsys.readouterr().out.split()  # it names where it looked
    assert main(["leaks", "--namespace", "Team B"]) == 1
    out = capsys.readouterr().out
    assert asked[-1] == "team-b" and {"team-b:", "dl-team-b-01-web"} <= set(out.split())
    assert out.splitlines()[-1].endswith("dockerlab clean --namespace team-b")  # the command that removes them
    assert main(["leaks", "--all-namespaces"]) == 1
    found = {l.split(":")[0].strip(): l for l in capsys.readouterr().out.splitlines() if l.startswith("  ")}
    assert sorted(found) == ["bob", "team-b"]  # one line per namespace, each with what is left in it
    named = {space: re.findall(r"dl-[\w-]+", line) for space, line in found.items()}
    assert named == {"bob": ["dl-bob-01-web"], "team-b": ["dl-team-b-01-web", "dl-team-b-07-data"]}

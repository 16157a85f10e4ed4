"""classroom/kubernetes: the Zero to JupyterHub values, loaded into KubeSpawner's own configuration classes.

No cluster: the values are turned into traitlets configuration the way the chart's hub does it (the mapping of
z2jh 4.4's jupyterhub_config.py for the keys these values use, then hub.config, hub.extraConfig), KubeSpawner is
configured from it (its traits validate every value) and builds the learner's pod (kubernetes_asyncio models),
for both engine modes (Sysbox and privileged). The other manifests load into the Kubernetes models without
losing a field (a misspelt key would vanish).
"""
from __future__ import annotations

import asyncio
import copy
import json
import re
import sys
import types
from pathlib import Path

import pytest
import yaml

pytest.importorskip("kubespawner", reason="the classroom dependency group is not installed (make env installs it)")

from kubernetes_asyncio.client import ApiClient  # noqa: E402
from traitlets.config import Config  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "classroom" / "kubernetes"
sys.path.insert(0, str(ROOT / "classroom" / "hub"))


def with_api(fn):
    """``fn(api)`` with a kubernetes_asyncio ApiClient (it needs an event loop; it sends nothing here)."""
    async def run():
        async with ApiClient() as api:
            return fn(api)

    return asyncio.run(run())


def merged(*files: str) -> dict:
    def merge(a, b):
        out = copy.deepcopy(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
        return out

    values: dict = {}
    for f in files:
        values = merge(values, yaml.safe_load((K8S / f).read_text()) or {})
    return values


def getter(values: dict):
    def get_config(key: str, default=None):
        value = values
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return default if value is None else value

    return get_config


def camel(s: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), s)


# z2jh 4.4.0's jupyterhub_config.py: singleuser.<key> -> KubeSpawner.<trait> (set when not None)
SINGLEUSER_TRAITS = {
    "pod_name_template": None, "start_timeout": None, "image_pull_policy": "image.pullPolicy",
    "events_enabled": "events", "extra_labels": None, "extra_annotations": None, "uid": None, "fs_gid": None,
    "service_account": "serviceAccountName", "storage_extra_labels": "storage.extraLabels", "node_selector": None,
    "lifecycle_hooks": None, "init_containers": None, "extra_containers": None, "mem_limit": "memory.limit",
    "mem_guarantee": "memory.guarantee", "cpu_limit": "cpu.limit", "cpu_guarantee": "cpu.guarantee",
    "environment": "extraEnv", "profile_list": None, "extra_pod_config": None,
}
# the singleuser keys the chart maps some other way (below) or that only shape the chart's own objects
OTHER_SINGLEUSER_KEYS = {"image", "cmd", "defaultUrl", "storage", "networkPolicy", "extraTolerations",
                         "allowPrivilegeEscalation", "cloudMetadata", "networkTools"}


def hub_config(values: dict) -> Config:
    """The traitlets configuration the chart's hub would load from these values (KubeSpawner and hub parts)."""
    get = getter(values)
    c = Config()
    su = values["singleuser"]
    unknown = set(su) - {camel(t) if k is None else k.split(".")[0] for t, k in SINGLEUSER_TRAITS.items()} \
        - OTHER_SINGLEUSER_KEYS
    assert not unknown, f"singleuser keys this test does not map like the chart does: {unknown}"
    for trait, key in SINGLEUSER_TRAITS.items():
        value = get("singleuser." + (key or camel(trait)))
        if value is not None:
            c.KubeSpawner[trait] = value
    c.KubeSpawner.image = f"{get('singleuser.image.name')}:{get('singleuser.image.tag')}"
    c.KubeSpawner.allow_privilege_escalation = get("singleuser.allowPrivilegeEscalation", False)
    if get("singleuser.extraTolerations"):
        c.KubeSpawner.tolerations = get("singleuser.extraTolerations")
    home = get("singleuser.storage.homeMountPath")
    assert get("singleuser.storage.type") == "static"
    c.KubeSpawner.volumes = {"home": {"name": "home", "persistentVolumeClaim": {
        "claimName": get("singleuser.storage.static.pvcName")}}}
    c.KubeSpawner.volume_mounts = {"home": {"mountPath": home, "name": "home",
                                            "subPath": get("singleuser.storage.static.subPath")}}
    c.Spawner.cmd = get("singleuser.cmd")
    c.Spawner.default_url = get("singleuser.defaultUrl")
    c.JupyterHub.services = [dict(s, name=k) for k, s in get("hub.services", {}).items()]
    c.JupyterHub.load_roles = [dict(r, name=k) for k, r in get("hub.loadRoles", {}).items()]
    for section, cfg in get("hub.config", {}).items():
        assert section[:1].isupper(), section
        c[section].update(cfg)
    z2jh = types.ModuleType("z2jh")
    z2jh.get_config = get
    sys.modules["z2jh"] = z2jh
    try:
        for key, snippet in sorted(get("hub.extraConfig", {}).items()):
            exec(compile(snippet, f"hub.extraConfig.{key}", "exec"), {"c": c, "get_config": get})
    finally:
        sys.modules.pop("z2jh", None)
    return c


class User:
    def __init__(self, name):
        self.name, self.id, self.url, self.escaped_name = name, 7, f"/user/{name}/", name
        self.spawners = {}


@pytest.fixture
def quiet_kubernetes(monkeypatch):
    """KubeSpawner connects to a cluster when made: here it gets no cluster (nothing is sent anywhere)."""
    import kubespawner.spawner as ks

    monkeypatch.setattr(ks, "load_config", lambda **kw: None)
    monkeypatch.setattr(ks, "shared_client", lambda *a, **kw: None)


def pod_for(values: dict, name: str = "ada"):
    """KubeSpawner, configured from the values, and the pod it makes for learner ``name``."""
    from kubespawner import KubeSpawner

    spawner = KubeSpawner(config=hub_config(values), _mock=True, user=User(name))
    spawner.api_token = "t0ken"
    return spawner, asyncio.run(spawner.get_pod_manifest())


@pytest.fixture(params=["sysbox", "privileged"])
def mode(request, monkeypatch, quiet_kubernetes):
    monkeypatch.setenv("CLASSROOM_CODE", "harbor-crane-42")
    monkeypatch.setenv("CLASSROOM_INSTRUCTOR", "teacher")
    monkeypatch.setenv("CLASSROOM_INSTRUCTOR_PASSWORD", "s3cret")
    return request.param


def test_learner_pod_has_the_engine_as_a_sidecar(mode):
    values = merged("values.yaml", f"values-{mode}.yaml")
    spawner, pod = pod_for(values)
    # what the Kubernetes API would receive; read back into the V1Pod model without losing a field
    body = with_api(lambda api: api.sanitize_for_serialization(pod))
    as_model(body)
    spec = body["spec"]
    assert [c["name"] for c in spec["containers"]] == ["notebook"]
    notebook = spec["containers"][0]
    inits = {c["name"]: c for c in spec["initContainers"]}
    assert list(inits)[-2:] == ["course-copy", "engine"], list(inits)
    engine = inits["engine"]
    assert engine["restartPolicy"] == "Always"  # a native sidecar: started before the notebook, kept running
    assert engine["startupProbe"]["exec"]["command"] == ["docker", "info"]
    assert "tcp://127.0.0.1:2375" in engine["command"][-1] and "0.0.0.0" not in engine["command"][-1]
    assert engine["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    env_engine = {e["name"]: e["value"] for e in engine["env"]}
    daemon = json.loads(env_engine["DOCKERLAB_ENGINE_CONFIG"])  # KubeSpawner's expansion left valid JSON
    assert daemon["insecure-registries"] == ["classroom-registry:5000"]
    assert "docker pull" in engine["lifecycle"]["postStart"]["exec"]["command"][-1]

    # the home folder at the same path in the notebook and in the engine: bind mounts work
    mounts = {m["name"]: m for m in notebook["volumeMounts"]}
    assert (mounts["home"]["mountPath"], mounts["home"]["subPath"]) == ("/home/learner", "homes/ada")
    emounts = {m["name"]: m for m in engine["volumeMounts"]}
    assert (emounts["home"]["mountPath"], emounts["home"]["subPath"]) == ("/home/learner", "homes/ada")
    assert emounts["engine-data"]["mountPath"] == "/var/lib/docker"
    copy_mounts = {m["name"]: m for m in inits["course-copy"]["volumeMounts"]}
    assert copy_mounts["home"]["subPath"] == "homes/ada"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["home"]["persistentVolumeClaim"]["claimName"] == "classroom-homes"
    assert volumes["engine-data"]["emptyDir"]["sizeLimit"] == "20Gi"

    env = {e["name"]: e.get("value") for e in notebook["env"]}
    assert env["DOCKER_HOST"] == "tcp://127.0.0.1:2375" and env["DOCKERLAB_HOST_ADDR"] == "127.0.0.1"
    assert env["DOCKERLAB_NAMESPACE"] == "ada" and env["DOCKERLAB_ROOT"] == "/home/learner/course"
    limits = notebook["resources"]["limits"]
    assert float(limits["cpu"]) == 1 and int(limits["memory"]) == 2**30  # 1 CPU, 1G (JupyterHub: G = 2**30)
    assert notebook["securityContext"]["runAsUser"] == 1000
    assert not notebook["securityContext"].get("privileged")
    assert notebook["image"] == "registry.example.org/dockerlab/classroom-learner-z2jh:2026.11"
    # the image's entrypoint (the course container's) stays; it runs jupyterhub-singleuser
    assert notebook["args"][0] == "jupyterhub-singleuser" and "command" not in notebook

    if mode == "sysbox":
        assert spec["runtimeClassName"] == "sysbox-runc" and spec["hostUsers"] is False
        assert not engine.get("securityContext", {}).get("privileged")
        assert body["metadata"]["annotations"]["io.kubernetes.cri-o.userns-mode"] == "auto:size=65536"
    else:
        assert engine["securityContext"]["privileged"] is True and "runtimeClassName" not in spec
        assert spec["nodeSelector"] == {"dockerlab.org/dind-nodes": "true"}
        assert {"key": "dockerlab.org/dind-nodes", "operator": "Equal", "value": "true",
                "effect": "NoSchedule"} in spec["tolerations"]


def test_hub_settings_load_into_jupyterhub_classes(mode):
    from jupyterhub.app import JupyterHub
    from dockerlab_hub.auth import WorkshopAuthenticator

    values = merged("values.yaml", f"values-{mode}.yaml")
    c = hub_config(values)
    assert c.JupyterHub.authenticator_class == "dockerlab_hub.auth.WorkshopAuthenticator"
    auth = WorkshopAuthenticator(config=c)
    assert auth.workshop_code == "harbor-crane-42" and auth.instructor == "teacher"
    assert auth.admin_users == {"teacher"} and auth.store_path == "/srv/jupyterhub/learners.json"
    hub = JupyterHub(config=c)  # the traits validate services and roles
    assert {s["name"] for s in hub.services} == {"progress"}
    assert hub.services[0]["url"] == "http://classroom-progress:10101"
    roles = {r["name"]: r for r in hub.load_roles}
    assert "access:services!service=progress" in roles["user"]["scopes"]


def test_culler_pre_puller_and_network_policy_values():
    values = merged("values.yaml")
    assert values["cull"]["enabled"] and values["cull"]["timeout"] == 1800 and values["cull"]["every"] == 300
    assert values["prePuller"]["hook"]["enabled"] and values["prePuller"]["continuous"]["enabled"]
    net = values["singleuser"]["networkPolicy"]
    assert net["enabled"] and net["ingress"] == [] and net["allowedIngressPorts"] == []
    assert net["egressAllowRules"]["privateIPs"] is False  # a learner's pod reaches no other pod


def load_manifests(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def as_model(doc: dict):
    """The manifest as a kubernetes_asyncio model; a key the model does not know would be lost: it must not be."""
    klass = f"{doc.get('apiVersion', 'v1').split('/')[-1].capitalize()}{doc.get('kind', 'Pod')}"  # V1Deployment…
    model, back = with_api(lambda api: (m := api._ApiClient__deserialize(doc, klass),
                                        api.sanitize_for_serialization(m)))

    def norm(x):  # quantities given as numbers or as strings aside, the same tree
        if isinstance(x, dict):
            return {k: norm(v) for k, v in x.items() if v is not None}
        if isinstance(x, list):
            return [norm(v) for v in x]
        return str(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else x

    assert norm(back) == norm(doc), f"{doc.get('kind', 'Pod')} {doc['metadata']['name']}: a field was lost"
    return model


def test_network_policies_let_nothing_reach_a_learners_engine():
    policies = {d["metadata"]["name"]: as_model(d) for d in load_manifests("networkpolicy.yaml")}
    learners = policies["classroom-learner-pods"]
    assert learners.spec.pod_selector.match_labels == {"component": "singleuser-server"}
    assert learners.spec.policy_types == ["Ingress"]
    allowed_ports = {p.port for rule in learners.spec.ingress for p in rule.ports or []}
    assert allowed_ports == {8888}, allowed_ports  # never 2375 (the engine) nor any published port
    sources = [f.pod_selector.match_labels for rule in learners.spec.ingress for f in rule._from]
    assert sources == [{"hub.jupyter.org/network-access-singleuser": "true"}]  # the hub and the proxy only


def test_other_manifests_load_into_kubernetes_models():
    for name in ("course-registry.yaml", "progress-service.yaml", "homes-pvc.yaml"):
        for doc in load_manifests(name):
            as_model(doc)
    progress = next(d for d in load_manifests("progress-service.yaml") if d["kind"] == "Deployment")
    env = {e["name"]: e for e in progress["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hub",
                                                                       "key": "hub.services.progress.apiToken"}
    mounts = progress["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert mounts == [{"name": "homes", "mountPath": "/srv/classroom", "readOnly": True}]

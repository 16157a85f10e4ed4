"""Reading what Compose says about a project: its merged config (``docker compose config --format json``) and
``docker compose ps --format json``. Pure functions, unit-tested without an engine; :mod:`dockerlab.compose` runs
Compose itself.
"""
from __future__ import annotations

import json
from typing import Any

from dockerlab.namespace import image_name, labels as course_labels


def parse_ps_json(text: str) -> list[dict[str, Any]]:
    """Parse ``docker compose ps --format json``: one JSON object per line (compose 2.21+) or one JSON array (older)."""
    text = (text or "").strip()
    if not text:
        return []
    if text.startswith("["):
        data = json.loads(text)
        return [d for d in data if isinstance(d, dict)]
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        obj = json.loads(line)
        if isinstance(obj, list):
            rows.extend(d for d in obj if isinstance(d, dict))
        elif isinstance(obj, dict):
            rows.append(obj)
    return rows


def _is_external(spec: Any) -> bool:
    if not isinstance(spec, dict):
        return False
    ext = spec.get("external")
    return bool(ext.get("name") if isinstance(ext, dict) else ext)


def _service_networks(svc: dict) -> list[str]:
    nets = svc.get("networks")
    if nets is None:
        return [] if svc.get("network_mode") else ["default"]
    return list(nets) if isinstance(nets, (list, dict)) else []


def labels_override(config: dict, lesson: str, ns: str | None = None) -> dict:
    """The override that labels a Compose project for the course.

    ``config`` is the Compose file as a dict (``docker compose config --format json`` or the YAML loaded).
    Adds the course labels to every service (its containers), every non-external network (the implicit
    ``default`` too, when a service uses it) and every non-external named volume; a service that builds
    gets ``image: lab.image(service)`` (unless it names one) and the labels on the built image.
    """
    lbls = dict(course_labels(lesson, ns))
    services = config.get("services") or {}
    out: dict[str, Any] = {"services": {}}
    networks: dict[str, Any] = {}
    for name, svc in services.items():
        svc = svc or {}
        entry: dict[str, Any] = {"labels": dict(lbls)}
        if svc.get("build") is not None:
            entry["build"] = {"labels": dict(lbls)}
            if not svc.get("image"):
                entry["image"] = image_name(lesson, name, ns=ns)
        out["services"][name] = entry
        for net in _service_networks(svc):
            networks.setdefault(net, None)
    for net, spec in (config.get("networks") or {}).items():
        networks.setdefault(net, spec)
    for net, spec in list(networks.items()):
        if spec is None and net in (config.get("networks") or {}):
            spec = config["networks"][net]
        if _is_external(spec):
            continue
        out.setdefault("networks", {})[net] = {"labels": dict(lbls)}
    for vol, spec in (config.get("volumes") or {}).items():
        if _is_external(spec):
            continue
        out.setdefault("volumes", {})[vol] = {"labels": dict(lbls)}
    return out


def depends_on(config: dict, service: str) -> dict[str, str]:
    """``{dependency: condition}`` of a service, whichever form (list or mapping) the file uses."""
    dep = ((config.get("services") or {}).get(service) or {}).get("depends_on") or {}
    if isinstance(dep, list):
        return {d: "service_started" for d in dep}
    return {d: ((spec or {}).get("condition") or "service_started") for d, spec in dep.items()}


def healthcheck_test(config: dict, service: str) -> list[str] | str | None:
    """A service's healthcheck test as written (None when it has none or disables it)."""
    hc = ((config.get("services") or {}).get(service) or {}).get("healthcheck")
    if not hc or hc.get("disable"):
        return None
    test = hc.get("test")
    if test in (None, [], ["NONE"]):
        return None
    return test


# --- the stack ---------------------------------------------------------------------------------------------

"""Known vulnerabilities of an image's Python packages (lesson 14): pip-audit, live when its service answers.

pip-audit asks a vulnerability service about each ``name==version``: by default the PyPI JSON API
(``https://pypi.org/pypi/NAME/VERSION/json``, whose ``vulnerabilities`` come from the PyPA advisory database), or
OSV (``-s osv``, ``https://api.osv.dev``). :func:`probe` asks both, as pip-audit would; :func:`audit` runs pip-audit
(in a throwaway container of the course's Python image) only when one of them answers. Where neither does (a
machine without internet, a proxy that blocks them), there is no live result: :data:`RECORDED` is an example
kept in the course, and everything that shows it says so.
"""
from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

from dockerlab import images
from dockerlab.errors import DockerlabError
from dockerlab.show import Table, cli

PIP_AUDIT = "pip-audit==2.10.1"
SERVICES = {
    "pypi": ("PyPI JSON API (pip-audit's default service)", "https://pypi.org/pypi/jinja2/3.1.4/json", None),
    "osv": ("OSV (pip-audit -s osv)", "https://api.osv.dev/v1/query",
            {"package": {"name": "jinja2", "ecosystem": "PyPI"}, "version": "3.1.4"}),
}

# NOT a result from this machine: an example of `pip-audit -r requirements.txt -f json --desc off` output for a
# requirements file pinning jinja2==3.1.4 (the pin of the lesson's release 0.9), written from the advisories the PyPA
# advisory database / GitHub published for Jinja2 (December 2024 and March 2025). Kept so that the lesson can show
# what the output means where no vulnerability service answers.
RECORDED = {
    "source": "recorded example (kept in the course: dockerlab/vulns.py), NOT a live result",
    "command": "pip-audit -r requirements.txt --no-deps --disable-pip -f json",
    "dependencies": [
        {"name": "jinja2", "version": "3.1.4", "vulns": [
            {"id": "GHSA-q2x7-8rv6-6q7h", "aliases": ["CVE-2024-56326"], "fix_versions": ["3.1.5"],
             "description": "Jinja has a sandbox breakout through indirect reference to format method"},
            {"id": "GHSA-gmj6-6f8f-6699", "aliases": ["CVE-2024-56201"], "fix_versions": ["3.1.5"],
             "description": "Jinja has a sandbox breakout through malicious filenames"},
            {"id": "GHSA-cpwx-vrp4-4pq7", "aliases": ["CVE-2025-27516"], "fix_versions": ["3.1.6"],
             "description": "Jinja2 vulnerable to sandbox breakout through attr filter selecting format method"},
        ]},
    ],
    "fixes": [],
}


class AuditFailed(DockerlabError, RuntimeError):
    """pip-audit could not run (its output says why)."""


def probe(timeout: float = 8) -> Table:
    """Does each vulnerability service pip-audit uses answer from here? One row per service: what it answered."""
    rows = []
    ctx = ssl.create_default_context()
    for key, (what, url, body) in SERVICES.items():
        cli(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *(["-d", json.dumps(body)] if body else []), url])
        data = json.dumps(body).encode() if body else None
        req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
                answer, ok = f"HTTP {r.status}", r.status == 200
        except urllib.error.HTTPError as e:
            answer, ok = f"HTTP {e.code} ({e.reason})", False
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            answer, ok = f"unreachable ({str(reason)[:80]})", False
        rows.append({"service": what, "asked": url, "answered": answer, "usable": "yes" if ok else "no", "key": key})
    return Table(rows, columns=["service", "asked", "answered", "usable"], title="pip-audit's vulnerability services, from here")


def usable(services: Table) -> str | None:
    """The pip-audit service key to use (``pypi`` or ``osv``), or None when none answered."""
    return next((r["key"] for r in services if r["usable"] == "yes"), None)


def audit(pins: list[str], service: str, *, client, labels: dict | None = None, timeout: float = 300) -> dict:
    """Run pip-audit on ``pins`` (``name==version`` lines) against ``service`` in a throwaway container of the course's
    Python image; returns its JSON report. CLI twin: ``docker run --rm python pip install pip-audit && pip-audit …``."""
    script = ('printf "%s\\n" "$PINS" > /tmp/requirements.txt && pip install -q --disable-pip-version-check '
              f'{PIP_AUDIT} >/dev/null && pip-audit -r /tmp/requirements.txt --no-deps --disable-pip '
              f'-s {service} -f json --progress-spinner off')
    cli(["docker", "run", "--rm", "-e", "PINS=" + "\n".join(pins), images.ref("python"), "sh", "-c", script])
    out = client.containers.run(images.ref("python"), ["sh", "-c", script + " || true"], remove=True,
                                environment={"PINS": "\n".join(pins)}, labels=labels or {})
    text = out.decode(errors="replace")
    try:
        return json.loads(text[text.index("{"):])
    except ValueError:
        raise AuditFailed(f"pip-audit printed no report:\n{text[-600:]}") from None


TITLES = {True: "LIVE: pip-audit on this machine", False: "RECORDED EXAMPLE, not run here"}  # how a table starts


def table(report: dict, *, live: bool) -> Table:
    """One row per (distribution, advisory); the title says whether the report is live or recorded."""
    rows = []
    for dep in report.get("dependencies") or []:
        for v in dep.get("vulns") or []:
            rows.append({"distribution": f"{dep.get('name')}=={dep.get('version')}", "advisory": v.get("id", ""),
                         "aliases": ", ".join(v.get("aliases") or []), "fixed in": ", ".join(v.get("fix_versions") or []),
                         "what": (v.get("description") or "")[:90]})
    scanned = len(report.get("dependencies") or [])
    title = (f"{TITLES[True]}: {scanned} distribution(s), {len(rows)} advisory(ies)" if live else
             f"{TITLES[False]} ({report.get('source', 'recorded')}): {len(rows)} advisory(ies)")
    return Table(rows, columns=["distribution", "advisory", "aliases", "fixed in", "what"], title=title)

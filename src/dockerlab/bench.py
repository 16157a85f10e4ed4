"""`dockerlab bench`: check, live on this engine, the figures Docker-for-Python guides commonly publish.

Three claims, each measured in one run with small generated projects (nothing pasted):

1. multi-stage: "a single-stage image of ~800 MB becomes 150-200 MB with a multi-stage build";
2. cache order: "a code-only rebuild drops from ~2 minutes to ~5 s when dependencies are installed before the code";
3. installer: "a cold dependency install takes ~90 s with pip and under 10 s with uv".

For each: the claim, what was measured (sizes or seconds), both ratios, and whether the claimed ratio held.
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from .figures import figure
from .images import ref
from .show import Table, human_size

LESSON = "bench"
REQUIREMENTS = """flask==3.1.3
requests==2.34.2
pydantic==2.14.3
sqlalchemy==2.1.9
markupsafe==3.0.4
pyyaml==6.0.3
httpx==0.28.1
rich==15.0.0
"""
APP = 'import flask, markupsafe\nprint("app ok", markupsafe.__version__)\n'


@dataclasses.dataclass
class Claim:
    name: str
    claim: str
    claimed_ratio: float  # the smallest ratio the claim implies
    before: float
    after: float
    unit: str

    @property
    def ratio(self) -> float:
        return self.before / self.after if self.after else float("inf")

    @property
    def held(self) -> bool:
        return self.ratio >= self.claimed_ratio

    def row(self) -> dict:
        fmt = human_size if self.unit == "bytes" else (lambda v: f"{v:.1f} s")
        return {
            "claim": self.claim,
            "measured": f"{fmt(self.before)} → {fmt(self.after)}",
            "claimed ratio": f"≥ {self.claimed_ratio:.1f}x",
            "measured ratio": f"{self.ratio:.1f}x",
            "held": "yes" if self.held else "no",
        }


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def multi_stage(lab, root: Path, show: bool) -> Claim:
    py = ref("python")
    toolchain = "apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*"
    single = _write(root / "single", {"requirements.txt": REQUIREMENTS, "app.py": APP, "Dockerfile": f"""FROM {py}
WORKDIR /app
RUN {toolchain}
COPY requirements.txt .
RUN pip install --no-cache-dir --no-binary markupsafe -r requirements.txt
COPY app.py .
CMD ["python", "app.py"]
"""})
    multi = _write(root / "multi", {"requirements.txt": REQUIREMENTS, "app.py": APP, "Dockerfile": f"""FROM {py} AS builder
RUN {toolchain}
RUN python -m venv /venv
COPY requirements.txt .
RUN /venv/bin/pip install --no-cache-dir --no-binary markupsafe -r requirements.txt

FROM {py}
COPY --from=builder /venv /venv
ENV PATH=/venv/bin:$PATH
WORKDIR /app
COPY app.py .
CMD ["python", "app.py"]
"""})
    a = lab.build(single, "single-stage", show=show)
    b = lab.build(multi, "multi-stage", show=show)
    figure("single-stage image", a.size, "bytes")
    figure("multi-stage image", b.size, "bytes")
    return Claim("multi-stage", "single-stage ~800 MB becomes 150-200 MB with multi-stage", 800 / 200, a.size, b.size, "bytes")


def cache_order(lab, root: Path, show: bool) -> Claim:
    py = ref("python")
    bad = _write(root / "bad", {"requirements.txt": REQUIREMENTS, "app.py": APP, "Dockerfile": f"""FROM {py}
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -r requirements.txt
CMD ["python", "app.py"]
"""})
    good = _write(root / "good", {"requirements.txt": REQUIREMENTS, "app.py": APP, "Dockerfile": f"""FROM {py}
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
CMD ["python", "app.py"]
"""})
    lab.build(bad, "bad-order", show=show)
    lab.build(good, "good-order", show=show)
    for folder in (bad, good):  # a one-line code change
        (folder / "app.py").write_text(APP + "# changed\n")
    rb = lab.build(bad, "bad-order", show=show)
    rg = lab.build(good, "good-order", show=show)
    figure("code-only rebuild, code copied first", rb.seconds, "s",
           f"dependency step {'cached' if rb.cached('RUN') else 'rebuilt'}")
    figure("code-only rebuild, dependencies first", rg.seconds, "s",
           f"dependency step {'cached' if rg.cached('RUN') else 'rebuilt: the build cache was disturbed, run again'}")
    return Claim("cache order", "code-only rebuild ~2 min → ~5 s with dependencies before code", 120 / 5,
                 rb.seconds, rg.seconds, "s")


def installer(lab, root: Path, show: bool) -> Claim:
    py, uv = ref("python"), ref("uv")
    pip_dir = _write(root / "pip", {"requirements.txt": REQUIREMENTS, "Dockerfile": f"""FROM {py}
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
"""})
    uv_dir = _write(root / "uv", {"requirements.txt": REQUIREMENTS, "Dockerfile": f"""FROM {py}
COPY --from={uv} /uv /bin/uv
COPY requirements.txt .
RUN uv pip install --system --no-cache -r requirements.txt
"""})
    p = lab.build(pip_dir, "pip-cold", nocache=True, show=show)
    u = lab.build(uv_dir, "uv-cold", nocache=True, show=show)
    pip_s = sum(s.seconds for s in p.steps if "pip install" in s.instruction)
    uv_s = sum(s.seconds for s in u.steps if "uv pip install" in s.instruction)
    figure("cold install with pip", pip_s, "s")
    figure("cold install with uv", uv_s, "s")
    return Claim("installer", "cold install ~90 s with pip, under 10 s with uv", 90 / 10, pip_s, uv_s, "s")


def bench(which: list[str] | None = None, show: bool = False, namespace: str | None = None) -> tuple[Table, list[Claim]]:
    """Measure the claims (all, or ``which`` of multi-stage, cache-order, installer); return a table and the claims."""
    from .lesson import Lesson

    lab = Lesson(LESSON, namespace=namespace, quiet=True)
    steps = {"multi-stage": multi_stage, "cache-order": cache_order, "installer": installer}
    claims = []
    try:
        with tempfile.TemporaryDirectory(prefix="dockerlab-bench-") as tmp:
            for key, fn in steps.items():
                if which and key not in which:
                    continue
                print(f"measuring: {key}", flush=True)
                claims.append(fn(lab, Path(tmp), show))
    finally:
        lab.cleanup(quiet=True)
    table = Table([c.row() for c in claims], title="Published claims vs this engine")
    return table, claims


def markdown(claims: list[Claim]) -> str:
    rows = [c.row() for c in claims]
    cols = ["claim", "measured", "claimed ratio", "measured ratio", "held"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(out) + "\n"

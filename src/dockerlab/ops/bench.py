"""`dockerlab bench`: check, live on this engine, the figures Docker-for-Python guides commonly publish.

Three claims, each measured in one run with small generated projects (nothing pasted):

1. multi-stage: "multi-stage shrinks a Python image ~4x or more": a single-stage image FROM the full ``python``
   image (Debian with the build toolchain, about 1 GB) against a multi-stage build whose builder is that full image
   and whose runtime is the slim image, installing the builder's wheels from a bind mount. Next to the ratio: the
   runtime's floor (slim base + the installed packages, measured) and how close the runtime comes to it;
2. cache order: "a code-only rebuild drops from ~2 minutes to ~5 s when dependencies are installed before the code";
3. installer: "a cold dependency install takes ~90 s with pip and under 10 s with uv".

For each: the claim, what was measured (sizes or seconds), both ratios, and whether the claimed ratio held.
The verdicts are printed, never asserted: they depend on this engine, its network and its images.
"""
from __future__ import annotations

import dataclasses
import tempfile
import uuid
from pathlib import Path

from dockerlab.figures import figure
from dockerlab.imagelayers import unpacked_size
from dockerlab.images import ref
from dockerlab.show import Table, human_size

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


VERDICTS = {True: "held", False: "did not hold"}  # what a verdict line says of a claim


@dataclasses.dataclass
class Claim:
    name: str
    claim: str
    claimed_ratio: float  # the smallest ratio the claim implies
    before: float
    after: float
    unit: str
    floor: float | None = None  # the least `after` can be (sizes: base image + what was installed), measured
    floor_parts: str = ""  # what the floor is made of, e.g. "slim 170 MB + packages 40 MB"
    note: str = ""  # what else the measurement showed, in words (which steps came from the cache)
    facts: dict = dataclasses.field(default_factory=dict)  # the same as values: {"code_first": "rebuilt", …}

    @property
    def ratio(self) -> float:
        return self.before / self.after if self.after else float("inf")

    @property
    def held(self) -> bool:
        return self.ratio >= self.claimed_ratio

    @property
    def verdict(self) -> str:
        return VERDICTS[self.held]

    @property
    def best_ratio(self) -> float | None:
        """The ratio if `after` sat exactly on its floor: the most any build could show here."""
        return self.before / self.floor if self.floor else None

    def floor_text(self) -> str:
        if not self.floor:
            return "-"
        fmt = human_size if self.unit == "bytes" else (lambda v: f"{v:.1f} s")
        return (f"{fmt(self.floor)} = {self.floor_parts}; after at {self.after / self.floor:.2f}x floor; "
                f"best possible {self.best_ratio:.1f}x")

    def row(self) -> dict:
        fmt = human_size if self.unit == "bytes" else (lambda v: f"{v:.1f} s")
        return {
            "claim": self.claim,
            "measured": f"{fmt(self.before)} → {fmt(self.after)}",
            "claimed ratio": f"≥ {self.claimed_ratio:.1f}x",
            "measured ratio": f"{self.ratio:.1f}x",
            "floor": self.floor_text(),
            "held": "yes" if self.held else "no",
        }


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def layer_size(image, needle: str) -> int:
    """Bytes of the image's layers whose instruction contains ``needle`` (``docker history``'s SIZE column)."""
    return sum(h.get("Size", 0) for h in image.history() if needle in (h.get("CreatedBy") or ""))


def multi_stage(lab, root: Path, quiet: bool) -> Claim:
    full, slim = ref("python-full"), ref("python")
    # markupsafe from source: a compiled extension, so the toolchain of the full image is used, not just carried.
    install = "--no-cache-dir --no-binary markupsafe -r requirements.txt"
    single = _write(root / "single", {"requirements.txt": REQUIREMENTS, "app.py": APP, "Dockerfile": f"""FROM {full}
WORKDIR /app
COPY requirements.txt .
RUN pip install {install}
COPY app.py .
CMD ["python", "app.py"]
"""})
    multi = _write(root / "multi", {"requirements.txt": REQUIREMENTS, "app.py": APP, "Dockerfile": f"""FROM {full} AS builder
COPY requirements.txt .
RUN pip wheel --wheel-dir /wheels {install}

FROM {slim}
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels pip install --no-cache-dir --no-index /wheels/*.whl
WORKDIR /app
COPY app.py .
CMD ["python", "app.py"]
"""})
    a = lab.build(single, "single-stage", quiet=quiet)
    b = lab.build(multi, "multi-stage", quiet=quiet)
    base = unpacked_size(lab.client.images.get(slim), lab.client)  # unpacked, as the layer sizes and the images below
    packages = layer_size(b.image, "--no-index")  # the runtime's install layer: the packages, nothing else
    single, multi_size = unpacked_size(a.image, lab.client), unpacked_size(b.image, lab.client)
    figure("single-stage image (FROM the full image)", single, "bytes")
    figure("multi-stage image (slim runtime)", multi_size, "bytes")
    figure("multi-stage floor", base + packages, "bytes",
           f"slim base {human_size(base)} + installed packages {human_size(packages)}")
    return Claim("multi-stage", "FROM the full python image (~1 GB), multi-stage with a slim runtime shrinks it ~4x+",
                 4.0, single, multi_size, "bytes", floor=base + packages,
                 floor_parts=f"slim {human_size(base)} + packages {human_size(packages)}")


def cache_order(lab, root: Path, quiet: bool) -> Claim:
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
    lab.build(bad, "bad-order", quiet=quiet)
    lab.build(good, "good-order", quiet=quiet)
    # A one-line code change, new to this run: BuildKit's cache outlives the images, so a change an earlier run
    # already built would come back from the cache and the code-first rebuild would cost nothing.
    change = f"# changed {uuid.uuid4().hex}\n"
    for folder in (bad, good):
        (folder / "app.py").write_text(APP + change)
    rb = lab.build(bad, "bad-order", quiet=quiet)
    rg = lab.build(good, "good-order", quiet=quiet)
    bad_dep = "cached" if rb.cached("RUN") else "rebuilt"
    good_dep = "cached" if rg.cached("RUN") else "rebuilt"
    figure("code-only rebuild, code copied first", rb.seconds, "s", f"dependency step {bad_dep}")
    figure("code-only rebuild, dependencies first", rg.seconds, "s",
           f"dependency step {good_dep}" + ("" if rg.cached("RUN") else ": the build cache was disturbed, run again"))
    return Claim("cache order", "code-only rebuild ~2 min → ~5 s with dependencies before code", 120 / 5,
                 rb.seconds, rg.seconds, "s",
                 note=f"dependency step {bad_dep} with code copied first, {good_dep} with dependencies first",
                 facts={"code_first": bad_dep, "dependencies_first": good_dep})


def installer(lab, root: Path, quiet: bool) -> Claim:
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
    p = lab.build(pip_dir, "pip-cold", nocache=True, quiet=quiet)
    u = lab.build(uv_dir, "uv-cold", nocache=True, quiet=quiet)
    pip_s = sum(s.seconds for s in p.steps if "pip install" in s.instruction)
    uv_s = sum(s.seconds for s in u.steps if "uv pip install" in s.instruction)
    figure("cold install with pip", pip_s, "s")
    figure("cold install with uv", uv_s, "s")
    return Claim("installer", "cold install ~90 s with pip, under 10 s with uv", 90 / 10, pip_s, uv_s, "s")


def bench(which: list[str] | None = None, quiet: bool = True, namespace: str | None = None) -> tuple[Table, list[Claim]]:
    """Measure the claims (all, or ``which`` of multi-stage, cache-order, installer); return a table and the claims."""
    from dockerlab.lesson import Lesson

    lab = Lesson(LESSON, namespace=namespace, quiet=True)
    steps = {"multi-stage": multi_stage, "cache-order": cache_order, "installer": installer}
    claims = []
    try:
        with tempfile.TemporaryDirectory(prefix="dockerlab-bench-") as tmp:
            for key, fn in steps.items():
                if which and key not in which:
                    continue
                print(f"measuring: {key}", flush=True)
                claims.append(fn(lab, Path(tmp), quiet))
    finally:
        lab.cleanup(quiet=True)
    table = Table([c.row() for c in claims], title="Published claims vs this engine")
    return table, claims


def verdicts(claims: list[Claim]) -> list[str]:
    """One sentence per claim: held or not, with the measured ratio (and the floor where there is one)."""
    out = []
    for c in claims:
        line = (f"{c.name}: {c.verdict} here "
                f"(measured {c.ratio:.1f}x, claimed ≥ {c.claimed_ratio:.1f}x)")
        if c.floor:
            line += (f"; the result is {c.after / c.floor:.2f}x its floor ({c.floor_parts}), "
                     f"so from this start no build could show more than {c.best_ratio:.1f}x")
        if c.note:
            line += f"; {c.note}"
        out.append(line)
    return out


def markdown(claims: list[Claim]) -> str:
    rows = [c.row() for c in claims]
    cols = ["claim", "measured", "claimed ratio", "measured ratio", "floor", "held"]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(out) + "\n"

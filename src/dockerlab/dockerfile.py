"""The one Dockerfile parser of the checks: stages, their bases, the final base, external images, pins.

Checks judge what was built, and read the Dockerfile only for what the image cannot say: which stage a base
belongs to, which images are pulled by name (pins), how to build each stage on its own (``--target``).
"""
from __future__ import annotations

import dataclasses
import re

_ARG_REF = re.compile(r"\$\{?(\w+)(?::?-([^}]*))?\}?")


@dataclasses.dataclass
class Stage:
    index: int
    base: str  # the FROM image or stage, ARG defaults substituted
    name: str = ""  # "" for a stage without AS
    instructions: list[str] = dataclasses.field(default_factory=list)  # logical lines after FROM

    @property
    def label(self) -> str:
        """How BuildKit names it: ``AS name``, else ``stage-N``."""
        return self.name or f"stage-{self.index}"


@dataclasses.dataclass
class Dockerfile:
    stages: list[Stage]
    args: dict[str, str]
    copy_from: list[str]  # images named in COPY --from= / RUN --mount=…,from= that are not stages

    @property
    def names(self) -> set[str]:
        return {s.name for s in self.stages if s.name}

    def is_stage(self, ref: str) -> bool:
        return ref.lower() in self.names or (ref.isdigit() and int(ref) < len(self.stages))

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def final_base(self) -> str:
        """The image the final stage starts from, following ``FROM <stage>`` chains."""
        by_name = {s.name: s for s in self.stages if s.name}
        ref, seen = (self.final.base if self.final else ""), set()
        while ref.lower() in by_name and ref.lower() not in seen:
            seen.add(ref.lower())
            ref = by_name[ref.lower()].base
        return ref

    def inherits(self, stage: Stage) -> list[Stage]:
        """``stage`` and the stages it starts FROM, final first (their layers are all in its image)."""
        by_name = {s.name: s for s in self.stages if s.name}
        chain = [stage]
        while chain[-1].base.lower() in by_name and by_name[chain[-1].base.lower()] not in chain:
            chain.append(by_name[chain[-1].base.lower()])
        return chain

    def external_refs(self) -> list[str]:
        """Every image pulled by name (FROM that is not a stage or scratch, COPY --from=image), in order."""
        refs = [s.base for s in self.stages if not self.is_stage(s.base) and s.base.lower() != "scratch"]
        return list(dict.fromkeys(refs + self.copy_from))

    @property
    def instructions(self) -> list[str]:
        return [i for s in self.stages for i in [f"FROM {s.base}"] + s.instructions]


def logical_lines(text: str) -> list[str]:
    """Instructions with continuation lines joined, comments and blank lines dropped."""
    out, cur = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not cur and (not line.strip() or line.strip().startswith("#")):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        out.append((cur + line).strip())
        cur = ""
    if cur:
        out.append(cur.strip())
    return out


def parse(text: str) -> Dockerfile:
    """Stages, ARG defaults (substituted in FROM and --from) and external COPY --from images of a Dockerfile."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    froms: list[str] = []

    def subst(s: str) -> str:
        return _ARG_REF.sub(lambda m: args.get(m.group(1), m.group(2) or ""), s)

    for line in logical_lines(text):
        kw, _, rest = line.partition(" ")
        kw = kw.upper()
        if kw == "FROM":
            toks = [t for t in rest.split() if not t.startswith("--")]
            name = toks[2].lower() if len(toks) >= 3 and toks[1].upper() == "AS" else ""
            stages.append(Stage(len(stages), subst(toks[0]) if toks else "", name))
            continue
        if kw == "ARG":  # defaults, for FROM and --from (a later ARG does not override an earlier default)
            for tok in rest.split():
                k, _, v = tok.partition("=")
                args.setdefault(k, v.strip("'\""))
        if stages:
            stages[-1].instructions.append(f"{kw} {rest}".strip())
        if kw in ("COPY", "ADD", "RUN"):
            froms += [subst(m) for m in re.findall(r"--(?:from=|mount=\S*?from=)([^\s,]+)", rest)]
    df = Dockerfile(stages, args, [])
    df.copy_from = list(dict.fromkeys(r for r in froms if not df.is_stage(r)))
    return df


def stages(text: str) -> list[Stage]:
    return parse(text).stages


def with_stage_names(text: str) -> tuple[str, list[str]]:
    """The Dockerfile with a name on every stage (``AS dockerlab-stage-N`` where it had none), and the names in
    order: every stage can then be built on its own with ``--target`` (the steps are the same, so cached)."""
    out, names, i = [], [], 0
    for raw in text.splitlines(keepends=True):
        m = re.match(r"^(\s*FROM\s+(?:--\S+\s+)*\S+)(\s+AS\s+(\S+))?(\s*)$", raw.rstrip("\n"), re.I)
        if m:
            name = m.group(3) or f"dockerlab-stage-{i}"
            names.append(name.lower())
            raw = f"{m.group(1)} AS {name}\n" if not m.group(3) else raw
            i += 1
        out.append(raw)
    return "".join(out), names


def pin_problem(ref: str) -> str | None:
    """None when ``ref`` is pinned (exact version tag or digest), else what is wrong with it."""
    if "@sha256:" in ref:
        return None
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"`{ref}` has no tag, which means `latest`: it changes under you"
    tag = last.split(":", 1)[1]
    if tag == "latest":
        return f"`{ref}` uses the moving tag `latest`"
    if not re.search(r"\d+\.\d+\.\d+", tag):
        return f"`{ref}`: tag `{tag}` is not an exact version (it moves with every patch release)"
    return None


# --- the steps BuildKit reports, named as the Dockerfile names them ---------------------------------------

_FROM_LINE = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*\S+(?:\s+AS\s+(\S+))?", re.I | re.M)


def stage_order(dockerfile_text: str) -> dict[str, int]:
    """Stage names in Dockerfile order, as BuildKit names them (``AS name``, else ``stage-N``)."""
    order = {}
    for i, m in enumerate(_FROM_LINE.finditer(dockerfile_text)):
        order[(m.group(1) or f"stage-{i}").lower()] = i
        order[f"stage-{i}"] = i
    return order


_VERTEX_KEYWORDS = ("FROM", "RUN", "COPY", "ADD", "WORKDIR")  # the instructions BuildKit numbers as steps


def step_text(instruction: str) -> str:
    return " ".join(instruction.replace("\\\n", " ").split())


def dockerfile_stages(dockerfile_text: str) -> list[tuple[str, list[str]]]:
    """Per stage, as BuildKit labels it ("" for a one-stage file), the instructions it numbers as steps.

    Continuation lines are joined and comments dropped; heredoc bodies are not parsed (rare in the course).
    """
    stages: list[tuple[str, list[str]]] = []
    logical = logical_lines(dockerfile_text)
    for line in logical:
        words = line.split()
        kw = words[0].upper()
        if kw == "FROM":
            m = re.search(r"\s+AS\s+(\S+)\s*$", line, re.I)
            base = next((w for w in words[1:] if not w.startswith("--")), "").lower()
            # BuildKit prints no step for FROM <an earlier stage> (or scratch): "[test 1/4] COPY …" after FROM base
            own_from = [] if base == "scratch" or base in {label.lower() for label, _ in stages} else [step_text(line)]
            stages.append((m.group(1) if m else f"stage-{len(stages)}", own_from))
        elif kw in _VERTEX_KEYWORDS and stages:
            stages[-1][1].append(step_text(line))
    if len(stages) == 1:
        stages = [("", stages[0][1])]
    return stages


def same_base(printed: str, written: str) -> bool:
    """'FROM docker.io/library/python:3.13.5-slim' (as BuildKit prints it) vs 'FROM python:3.13.5-slim AS x'."""
    ref = printed.split()[-1]
    words = [w for w in written.split()[1:] if not w.startswith("--")]
    base = words[0] if words else ""
    return bool(base) and (ref == base or ref.endswith("/" + base) or ref.endswith("/library/" + base)
                           or ref.split("@")[0] == base.split("@")[0])

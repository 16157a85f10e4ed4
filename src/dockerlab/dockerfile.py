"""The one Dockerfile parser of the course: stages, their bases, the final base, external images, pins, and the
steps BuildKit numbers.

The parsing is BuildKit's own, ported to Python (``e2b_dockerfile_utils``: parser directives such as ``# syntax=``
and ``# escape=``, continuation lines and the comments inside them, JSON forms, heredocs; ARG values through
BuildKit's shell lexer); what the course makes of it is here. Checks judge what was built, and read the Dockerfile
only for what the image cannot say: which stage a base belongs to, which images are pulled by name (pins), how to
build each stage on its own (``--target``). The build display reads it to name BuildKit's steps as written.
"""
from __future__ import annotations

import dataclasses
import re

from e2b_dockerfile_utils import DockerfileAst, DockerfileSyntaxError, ShellLex, parse_dockerfile_ast
from e2b_dockerfile_utils import DockerfileInstruction as Instruction  # noqa: F401 (the parser's instruction)


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


def _lines(text: str) -> list[str]:
    return re.findall(r"[^\n]*\n|[^\n]+$", text)  # as BuildKit's scanner splits them (line numbers agree)


def read(text: str) -> DockerfileAst:
    """BuildKit's reading of a Dockerfile (parser directives, continuation lines and the comments inside them,
    JSON forms, heredocs). A Dockerfile BuildKit cannot read (an unknown instruction, an unterminated heredoc)
    reads up to the line in error: its build then fails with BuildKit's own message, and nothing here raises."""
    try:
        return parse_dockerfile_ast(text)
    except DockerfileSyntaxError as exc:
        line = exc.line or 1
        if line <= 1 or not text:
            return DockerfileAst([], "\\")
        return read("".join(_lines(text)[: line - 1]))


def instructions(text: str) -> list[Instruction]:
    """One :class:`Instruction` per instruction: ``name`` (upper case), ``flags``, ``args``, ``start_line``,
    ``end_line``, ``heredocs``, ``original`` (its line with continuations joined; a heredoc's body is apart)."""
    return read(text).instructions


def line_of(ins: Instruction) -> str:
    """The instruction as one line, its keyword in upper case: ``RUN pip install -r requirements.txt``."""
    rest = ins.original.strip().split(None, 1)
    return f"{ins.name} {rest[1]}" if len(rest) > 1 else ins.name


def logical_lines(text: str) -> list[str]:
    """Instructions with continuation lines joined, comments, directives and blank lines dropped."""
    return [ins.original.strip() for ins in instructions(text)]


def _from_parts(ins: Instruction) -> tuple[str, str]:
    """(image or stage as written, the name after AS or "") of a FROM."""
    args = list(ins.args)
    name = args[2] if len(args) >= 3 and args[1].upper() == "AS" else ""
    return (args[0] if args else ""), name


def parse(text: str) -> Dockerfile:
    """Stages, ARG defaults (substituted in FROM and --from, as BuildKit's shell lexer does) and external COPY
    --from / RUN --mount=…,from= images of a Dockerfile."""
    ast = read(text)
    args: dict[str, str] = {}
    stages: list[Stage] = []
    froms: list[str] = []

    def subst(word: str) -> str:
        try:
            return ShellLex(ast.escape_token, env=args, skip_unset_env=False).process_word(word)
        except ValueError:  # a malformed ${…}: left as written
            return word

    for ins in ast.instructions:
        if ins.name == "FROM":
            base, name = _from_parts(ins)
            stages.append(Stage(len(stages), subst(base), name.lower()))
            continue
        if ins.name == "ARG":  # defaults, for FROM and --from (a later ARG does not override an earlier default)
            for word in ins.args:
                k, _, v = word.partition("=")
                args.setdefault(k, subst(v))
        if stages:
            stages[-1].instructions.append(line_of(ins))
        for flag in ins.flags if ins.name in ("COPY", "ADD", "RUN") else ():
            if flag.startswith("--from="):
                froms.append(subst(flag[len("--from="):]))
            elif flag.startswith("--mount="):
                froms += [subst(kv[len("from="):]) for kv in flag[len("--mount="):].split(",") if kv.startswith("from=")]
    df = Dockerfile(stages, args, [])
    df.copy_from = list(dict.fromkeys(r for r in froms if not df.is_stage(r)))
    return df


def stages(text: str) -> list[Stage]:
    return parse(text).stages


def with_stage_names(text: str) -> tuple[str, list[str]]:
    """The Dockerfile with a name on every stage (``AS dockerlab-stage-N`` where it had none), and the names in
    order: every stage can then be built on its own with ``--target`` (the steps are the same, so cached)."""
    lines, names = _lines(text), []
    for i, ins in enumerate(ins for ins in instructions(text) if ins.name == "FROM"):
        name = _from_parts(ins)[1]
        names.append((name or f"dockerlab-stage-{i}").lower())
        if not name:  # the FROM's last line (a FROM may go on over continuation lines)
            last = lines[ins.end_line - 1]
            lines[ins.end_line - 1] = last.rstrip() + f" AS dockerlab-stage-{i}" + ("\n" if last.endswith("\n") else "")
    return "".join(lines), names


# Why a reference is not pinned, by kind: the kind is what checks and tests key on, the text what a learner reads.
PIN_PROBLEMS = {
    "untagged": "`{ref}` has no tag, which means `latest`: it changes under you",
    "latest": "`{ref}` uses the moving tag `latest`",
    "inexact": "`{ref}`: tag `{tag}` is not an exact version (it moves with every patch release)",
}


def pin_kind(ref: str) -> str | None:
    """None when ``ref`` is pinned (an exact version tag or a digest), else the kind of problem (:data:`PIN_PROBLEMS`)."""
    if "@sha256:" in ref:
        return None
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        return "untagged"
    tag = last.split(":", 1)[1]
    if tag == "latest":
        return "latest"
    return None if re.search(r"\d+\.\d+\.\d+", tag) else "inexact"


def pin_problem(ref: str) -> str | None:
    """None when ``ref`` is pinned (exact version tag or digest), else what is wrong with it."""
    kind = pin_kind(ref)
    return PIN_PROBLEMS[kind].format(ref=ref, tag=ref.rsplit("/", 1)[-1].partition(":")[2]) if kind else None


# --- the steps BuildKit reports, named as the Dockerfile names them ---------------------------------------

def stage_order(dockerfile_text: str) -> dict[str, int]:
    """Stage names in Dockerfile order, as BuildKit names them (``AS name``, else ``stage-N``)."""
    order = {}
    for i, ins in enumerate(ins for ins in instructions(dockerfile_text) if ins.name == "FROM"):
        order[(_from_parts(ins)[1] or f"stage-{i}").lower()] = i
        order[f"stage-{i}"] = i
    return order


_VERTEX_KEYWORDS = ("FROM", "RUN", "COPY", "ADD", "WORKDIR")  # the instructions BuildKit numbers as steps


def step_text(instruction: str) -> str:
    return " ".join(instruction.replace("\\\n", " ").split())


def dockerfile_stages(dockerfile_text: str) -> list[tuple[str, list[str]]]:
    """Per stage, as BuildKit labels it ("" for a one-stage file), the instructions it numbers as steps (one line
    each, keyword in upper case as BuildKit prints it; a heredoc's body is not part of the line)."""
    stages: list[tuple[str, list[str]]] = []
    for ins in instructions(dockerfile_text):
        if ins.name == "FROM":
            base, name = _from_parts(ins)
            # BuildKit prints no step for FROM <an earlier stage> (or scratch): "[test 1/4] COPY …" after FROM base
            earlier = {label.lower() for label, _ in stages}
            own_from = [] if base.lower() == "scratch" or base.lower() in earlier else [step_text(line_of(ins))]
            stages.append((name or f"stage-{len(stages)}", own_from))
        elif ins.name in _VERTEX_KEYWORDS and stages:
            stages[-1][1].append(step_text(line_of(ins)))
    if len(stages) == 1:
        stages = [("", stages[0][1])]
    return stages


def same_base(printed: str, written: str) -> bool:
    """'FROM docker.io/library/python:3.13.5-slim' (as BuildKit prints it; with ``@sha256:…`` when it resolved the
    digest) vs 'FROM python:3.13.5-slim AS x'."""
    ref = printed.split()[-1]
    words = [w for w in written.split()[1:] if not w.startswith("--")]
    base = words[0] if words else ""
    named = ref.split("@")[0] if "@" not in base else ref  # a digest BuildKit added is not in what was written
    return bool(base) and (ref == base or named.endswith("/" + base) or named.endswith("/library/" + base)
                           or ref.split("@")[0] == base.split("@")[0])

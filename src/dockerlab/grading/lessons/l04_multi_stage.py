"""Lesson 04 exercise: a multi-stage build for ``dsn_api``, whose psycopg2 compiles against the system's libpq.

The lesson's package compiled with gcc alone and ran on the C library every Debian image has. psycopg2 also needs a
system library: gcc and libpq-dev (headers, pg_config) to build it, only libpq's shared library to run it. The
check builds the learner's Dockerfile and inspects the final image, one line each (stable ids, causes, values seen):

1. ``l04.builds``: it builds (the build error names the tool that was missing where the wheel is built);
2. ``l04.no-compiler``: no C compiler anywhere in it (gcc, cc, cc1, clang …, on PATH or not);
3. ``l04.runtime-lib``: psycopg2's compiled module is there and every shared library it loads resolves (``ldd``);
4. ``l04.answers``: the service answers ``/parse`` with libpq's reading of a connection string;
5. ``l04.size``: the image weighs at most the base + what it adds to site-packages + the shared libraries the
   compiled modules load that the base lacks (measured inside the image) + 10 MB.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from urllib.parse import quote

from dockerlab.build import BuildFailed, BuildResult
from dockerlab.dockerfile import parse
from dockerlab.grading.checker import Checker, NotEvaluated, criterion, failed, needed, passed
from dockerlab.grading.rebuild import build_failed
from dockerlab.grading.contents import size_budget
from dockerlab.grading.probes import measure
from dockerlab.grading.serving import serve
from dockerlab.imagelayers import unpacked_size
from dockerlab.images import ref as image_ref
from dockerlab.run import remove
from dockerlab.show import human_size, short
from dockerlab.grading.lessons import lesson_hints

LESSON = "04_multi_stage"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
APP = "dsn_api"
CONTAINER_PORT = 8000
PINNED = "psycopg2==2.9.13"
EXTENSION = "_psycopg"  # psycopg2's compiled module: psycopg2/_psycopg.cpython-3XX-….so
DSN = "postgresql://shop:s3cret@db.internal:6432/orders?sslmode=require&application_name=dsn-check"
PARSE_PATH = "/parse?dsn=" + quote(DSN, safe="")
EXPECTED = {"user": "shop", "password": "***", "host": "db.internal", "port": "6432", "dbname": "orders",
            "sslmode": "require", "application_name": "dsn-check"}
SLACK = 10_000_000  # app files, package metadata, the library packages' data and docs: 10 MB
_EXCLUDE = "\\( -path /proc -o -path /sys -o -path /dev \\) -prune"
# A C compiler by any of its names, wherever it is (not only on PATH): the drivers and the compiler proper (cc1).
COMPILER_SCRIPT = (f"find / -xdev {_EXCLUDE} -o \\( -type f -o -type l \\) -perm /111 "
                   "\\( -name gcc -o -name cc -o -name c99 -o -name cc1 -o -name 'gcc-[0-9]*' -o -name '*-gcc' "
                   "-o -name '*-gcc-[0-9]*' -o -name clang -o -name 'clang-[0-9]*' \\) -print")
# One helper container: the compilers, every compiled module of every site-packages with what `ldd` resolves it to,
# the size of each library it loads, and the Debian packages with their installed size.
INVENTORY_SCRIPT = (
    "echo '## compilers'; " + COMPILER_SCRIPT + "; "
    f"echo '## modules'; find / -xdev {_EXCLUDE} -o -type f -name '*.so*' "
    "\\( -path '*/site-packages/*' -o -path '*/dist-packages/*' \\) -print > /tmp/.mods; "
    "while read -r m; do echo \"== $m\"; ldd \"$m\" 2>&1; done < /tmp/.mods; "
    "echo '## sizes'; while read -r m; do ldd \"$m\" 2>/dev/null; done < /tmp/.mods "
    "| awk '$2 == \"=>\" && $3 ~ /^\\// {print $3}' | sort -u | xargs -r stat -L -c '%s %n'; "
    f"echo '## dists'; find / -xdev {_EXCLUDE} -o -type d -name '*.dist-info' "
    "\\( -path '*/site-packages/*' -o -path '*/dist-packages/*' \\) -print; "
    "echo '## packages'; dpkg-query -W -f '${Package} ${Installed-Size}\\n' 2>/dev/null; "
    "echo '## apt'; du -sb /var/lib/apt/lists /var/cache/apt/archives 2>/dev/null; true")


@dataclasses.dataclass
class Inventory:
    """What the final image holds, read in one helper container (as root, the standard PATH)."""

    compilers: list[str] = dataclasses.field(default_factory=list)
    modules: dict[str, dict[str, str | None]] = dataclasses.field(default_factory=dict)  # module: {soname: path|None}
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)  # library path: bytes
    packages: dict[str, int] = dataclasses.field(default_factory=dict)  # Debian package: installed KiB
    apt: dict[str, int] = dataclasses.field(default_factory=dict)  # apt lists / archives: bytes
    dists: dict[str, str] = dataclasses.field(default_factory=dict)  # installed distribution (normalised): version

    @classmethod
    def read(cls, output: str) -> "Inventory":
        inv, section, module = cls(), "", ""
        for line in output.splitlines():
            if line.startswith("## "):
                section = line[3:].strip()
                continue
            words = line.split()
            if section == "compilers" and line.startswith("/") and ": " not in line and not line.startswith("/usr/share/"):
                inv.compilers.append(line.strip())
            elif section == "modules" and line.startswith("== "):
                module = line[3:].strip()
                inv.modules[module] = {}
            elif section == "modules" and module and len(words) >= 3 and words[1] == "=>":
                inv.modules[module][words[0]] = None if words[2] == "not" else words[2]
            elif section == "sizes" and len(words) == 2 and words[0].isdigit():
                inv.sizes[words[1]] = int(words[0])
            elif section == "packages" and len(words) == 2 and words[1].isdigit():
                inv.packages[words[0]] = int(words[1])
            elif section == "apt" and len(words) == 2 and words[0].isdigit():
                inv.apt[words[1]] = int(words[0])
            elif section == "dists" and line.endswith(".dist-info"):
                name, _, version = line.rsplit("/", 1)[-1][: -len(".dist-info")].partition("-")
                inv.dists[re.sub(r"[-_.]+", "-", name).lower()] = version
        inv.compilers.sort(key=lambda p: (p.rsplit("/", 1)[-1] != "gcc", "/bin/" not in p, p))  # /usr/bin/gcc first
        return inv

    def extension(self) -> str | None:
        return next((m for m in sorted(self.modules) if m.rsplit("/", 1)[-1].startswith(EXTENSION + ".")), None)

    def not_found(self) -> dict[str, list[str]]:
        return {m: sorted(s for s, p in libs.items() if p is None) for m, libs in self.modules.items()
                if any(p is None for p in libs.values())}


def inventory(lab, image: str) -> Inventory:
    res = measure(lab, image, ["/bin/sh", "-c", INVENTORY_SCRIPT + "; echo '## end'"], thing="check-inventory",
                  system_path=True, timeout=120, complete=lambda out: "## end" in out)  # exit 0 (`true`), all of it
    return Inventory.read(res.output)


def present_in(lab, image: str, paths: list[str]) -> set[str]:
    """Which of ``paths`` exist in ``image`` (one helper container)."""
    if not paths:
        return set()
    script = 'for p in "$@"; do [ -e "$p" ] && echo "$p"; done; echo "## end"'
    res = measure(lab, image, ["/bin/sh", "-c", script, "sh", *paths], thing="check-base-libs", system_path=True,
                  complete=lambda out: "## end" in out)
    return {l.strip() for l in res.output.splitlines() if l.strip() in paths}


def compiler_fix(text: str) -> str:
    df = parse(text)
    final = df.final
    if len(df.stages) < 2 or final is None:
        return ("one stage only: build the wheels in a `FROM … AS builder` stage that installs gcc and libpq-dev, then "
                "start a second `FROM` the plain python image that installs them without the compiler")
    if df.is_stage(final.base):
        return f"the final stage starts `FROM {final.base}`, so it inherits the compiler: start it from the plain python image"
    if any(re.match(r"COPY\s+(?:--\S+\s+)*--from=\S+\s+(?:--\S+\s+)*/\s", i, re.I) for i in final.instructions):
        return "the final stage copies the builder's whole filesystem (`COPY --from=… / …`): bring only the wheels"
    return "install gcc (and libpq-dev) only in the builder stage; the final stage needs the runtime library alone"


def build_fix(step: str, error: str, log: list[str]) -> tuple[str, str]:
    """(what was missing, how to fix it) for a build that failed at ``step``, from what its log says."""
    said = "\n".join(log or []) + "\n" + (error or "")
    m = re.search(r"--mount=(\S+)", step or "")
    if m and "type=bind" in m.group(1) and "from=" not in m.group(1):
        return "mount-source", ("a bind mount without `from=` mounts the build context, which has no wheels: mount the "
                                "builder's (`--mount=type=bind,from=STAGE,source=/wheels,target=/wheels`)")
    if "pg_config" in said:
        return "pg_config", ("psycopg2 builds against libpq: install libpq-dev (it brings pg_config and the headers) "
                             "where the wheel is built")
    if re.search(r"command '(?:\S*/)?(?:gcc|cc)' failed|gcc: not found|No such file or directory: '(?:gcc|cc)'", said):
        return "gcc", "compiling psycopg2 needs a C compiler: install gcc (and libc6-dev) where the wheel is built"
    if "libpq-fe.h" in said:
        return "libpq-fe.h", "the libpq headers are missing where the wheel is built: install libpq-dev there"
    return "", "read the build log (lab.build(app, 'x', log=True)); gcc and libpq-dev are needed where the wheel is built"


# --- what the criteria share ----------------------------------------------------------------------------------

@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    dockerfile: str = "Dockerfile"
    timeout: float = 30
    text: str = ""
    result: BuildResult | None = None
    _inventory: Inventory | None = None
    library_failed: str = ""  # why psycopg2 cannot load (line 3), so line 4 is not judged twice

    def need_image(self) -> BuildResult:
        return needed(self.result)

    def inventory(self) -> Inventory:
        if self._inventory is None:
            self._inventory = inventory(self.lab, self.need_image().tag)
        return self._inventory


@criterion("l04.builds", "the image builds")
def builds(g: Grading):
    path = g.app / g.dockerfile
    g.text = path.read_text() if path.exists() else ""
    if not g.text.strip():
        return failed("missing", f"{g.dockerfile} is {'empty' if path.exists() else 'not there'}",
                      "write the Dockerfile text in the answer cell", file=g.dockerfile)
    try:
        g.result = g.lab.build(g.app, "exercise", dockerfile=g.dockerfile)
    except BuildFailed as exc:
        lacking, fix = build_fix(exc.step, exc.error, exc.log_tail)
        return build_failed(exc, fix, width=160, lacking=lacking)
    return passed(f"built {g.result.tag} ({len(parse(g.text).stages)} stages)", stages=len(parse(g.text).stages))


@criterion("l04.no-compiler", "no C compiler in the final image")
def no_compiler(g: Grading):
    found = g.inventory().compilers
    if found:
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        return failed("leaked", f"found {', '.join(found[:3])}{more} in the final image", compiler_fix(g.text),
                      compilers=found[:10], count=len(found))
    return passed("no gcc, cc, cc1 or clang anywhere in the image", compilers=[])


@criterion("l04.runtime-lib", "psycopg2's compiled module finds every library it loads")
def runtime_lib(g: Grading):
    inv = g.inventory()
    module = inv.extension()
    if module is None:
        g.library_failed = "psycopg2 is not installed"
        return failed("missing", f"psycopg2's compiled module ({EXTENSION}….so) is in no site-packages of the final image",
                      "install the wheels the builder built in the final stage (pip install --no-index from them)",
                      module=None, modules=sorted(inv.modules)[:10])
    if "psycopg2" not in inv.dists and "psycopg2-binary" in inv.dists:
        g.library_failed = "psycopg2-binary instead of psycopg2"
        return failed("wrong-value", f"the image installs psycopg2-binary {inv.dists['psycopg2-binary']}, which bundles a "
                      f"libpq of its own; requirements.txt pins {PINNED} (built against the system's libpq, as psycopg's "
                      "docs advise for production)", "install requirements.txt as it is: build psycopg2's wheel in "
                      "the builder", module=module, dists={k: v for k, v in inv.dists.items() if k.startswith("psycopg")})
    lost = inv.not_found()
    if lost:
        names = sorted({s for libs in lost.values() for s in libs})
        g.library_failed = f"{', '.join(names)} not found"
        return failed("missing", f"`{module.rsplit('/', 1)[-1]}` loads {', '.join(names)}, which the final image does not "
                      f"have (`ldd` says not found)", "install the library's runtime package in the final stage (for "
                      "libpq.so.5: apt-get install --no-install-recommends libpq5); gcc and libpq-dev stay in the builder",
                      module=module, not_found=names, modules=sorted(lost))
    libs = inv.modules[module]
    return passed(f"`{module.rsplit('/', 1)[-1]}` finds every library it loads ({len(libs)}, libpq.so.5 at "
                  f"{libs.get('libpq.so.5', '?')})", module=module, libraries=sorted(libs))


KIND_CAUSE = {"module": "missing", "file": "missing", "exited": "exited", "not_started": "exited", "env": "missing"}


@criterion("l04.answers", "the service answers with libpq's reading of a connection string")
def answers(g: Grading):
    image = g.need_image()
    if g.library_failed:
        raise NotEvaluated(f"psycopg2 cannot load in this image: {g.library_failed} (line 3)")
    served = serve(g.lab, image.tag, "exercise-app", port=CONTAINER_PORT, path=PARSE_PATH, timeout=g.timeout)
    try:
        if served.port_taken:
            raise RuntimeError(f"the host port {served.host_port} the check picked was taken meanwhile: {served.cause}")
        if not served.ok:
            m = re.search(r"cannot import `([\w.]+)`|`([\w./-]+)` is not in the image", served.cause)
            missing = next((x for x in (m.groups() if m else ()) if x), "")
            fix = ("COPY app.py into the final stage's WORKDIR" if missing in ("app", "app.py") else
                   f"install the wheels of requirements.txt in the final stage ({missing} is one)" if missing else
                   "the final stage must start `gunicorn --bind 0.0.0.0:8000 app:app`")
            return failed(KIND_CAUSE.get(served.kind, "not-answering"), served.cause, fix, kind=served.kind,
                          missing=missing, status=served.status)
        try:
            got = json.loads(served.body)
        except ValueError:
            got = served.body
        if got != EXPECTED:
            return failed("wrong-value", f"GET /parse answered {short(served.body, 120)}",
                          "run the service as given (app.py, served by gunicorn)", body=got)
        return passed(f"GET /parse -> HTTP {served.status}: libpq read host {got['host']}, port {got['port']}, "
                      f"sslmode {got['sslmode']}", status=served.status, body=got)
    finally:
        if served.container is not None:
            remove(served.container, client=g.lab.client, quiet=True)


@criterion("l04.size", "the final image is within its size budget")
def size(g: Grading):
    image, inv = g.need_image(), g.inventory()
    base_ref = image_ref("python")
    module = inv.extension()
    needed = sorted({p for p in (inv.modules.get(module) or {}).values() if p}) if module else []
    in_base = present_in(g.lab, base_ref, needed)
    libs = {p: inv.sizes.get(p, 0) for p in needed if p not in in_base}
    budget = size_budget(g.lab, image.image, base_ref, SLACK,
                         {"the libraries psycopg2 loads that the base lacks": sum(libs.values())})
    got, how = unpacked_size(image.image, g.lab.client), budget.how()
    if got > budget.limit:
        base_pkgs = set(package_list(g.lab, base_ref))
        extra = sorted(((p, k) for p, k in inv.packages.items() if p not in base_pkgs), key=lambda x: -x[1])
        apt = {p: b for p, b in inv.apt.items() if b > 1_000_000}
        seen = [f"{p} ({human_size(k * 1024)})" for p, k in extra[:5]] + [f"{p} ({human_size(b)})" for p, b in apt.items()]
        return failed("too-big", f"the image is {human_size(got)}, over its {how}"
                      + (f"; it adds {', '.join(seen)}" if seen else ""),
                      compiler_fix(g.text) if inv.compilers else (
                          "install only the runtime package of the library (not -dev) with --no-install-recommends, "
                          "remove /var/lib/apt/lists in the same RUN, and bring the wheels without copying them"),
                      bytes=got, limit=budget.limit, packages=[p for p, _ in extra[:10]], apt=apt)
    return passed(f"{human_size(got)} within its {how}", bytes=got, limit=budget.limit, libraries=sorted(libs))


_PACKAGES: dict[str, list[str]] = {}


def package_list(lab, image: str) -> list[str]:
    """The Debian packages installed in ``image`` (cached per image ID)."""
    key = lab.client.images.get(image).id
    if key not in _PACKAGES:
        res = measure(lab, image, ["dpkg-query", "-W", "-f", "${Package}\\n"], thing="check-base-pkgs",
                      system_path=True, complete=lambda out: "dpkg" in out.split())
        _PACKAGES[key] = [l.strip() for l in res.output.splitlines() if l.strip()]
    return _PACKAGES[key]


CRITERIA = [builds, no_compiler, runtime_lib, answers, size]


def grade(lab, app, dockerfile: str = "Dockerfile", timeout: float = 30, only=None) -> Checker:
    """Grade the Dockerfile in ``app`` (a workspace of sample_apps/dsn_api); return the filled check (never raises)."""
    return Checker(LESSON, "multi-stage build").run(CRITERIA, Grading(lab, Path(app), dockerfile, timeout), only=only)


def check(lab, app, dockerfile: str = "Dockerfile", timeout: float = 30, only=None) -> Checker:
    """Build ``app`` and check the final image; raises CheckFailed unless every line passed."""
    return grade(lab, app, dockerfile, timeout, only).raise_unless_passed()

"""What an image contains, looked for everywhere: every layer (a file deleted later is still shipped), every
stage of its Dockerfile (``--target`` builds: what a builder stage holds is in the build cache), whatever the
user (helpers run as root). One definition each, for every exercise check:

* :func:`files_named`: files or directories by name (``.env``, ``.git``) in any layer;
* :func:`package_caches`: uv and pip caches under any path, in any layer;
* :func:`site_packages_bytes` and :func:`size_budget`: a size budget from the base and what the image installs;
* :func:`env_secrets`, :func:`stage_images` and :func:`secrets_anywhere`: every secret a folder's .env files
  plant, looked for in the config, history and layers of the image and of every stage it was built from.
"""
from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path

from docker.errors import DockerException

from dockerlab.build import BuildFailed
from dockerlab.imagelayers import unpacked_size
from dockerlab.secrets import LayerFile, find_secrets, image_index
from dockerlab.show import human_size
from dockerlab import dockerfile as dfile
from dockerlab.grading.probes import measure

# Every site-packages / dist-packages directory in the image, with its size in bytes.
SITE_PACKAGES_SCRIPT = ("find / -xdev \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -type d "
                        "\\( -name site-packages -o -name dist-packages \\) -print -prune | xargs -r du -sb")
# A uv cache root holds versioned buckets (archive-v0, wheels-v5, simple-v16 …); pip's holds http*/ and wheels/.
SECRET_KEY = re.compile(r"SECRET|PASSW|TOKEN|KEY|CREDENTIAL|PRIVATE|AUTH", re.I)
UV_CACHE = re.compile(r"^(.*?)/(?:archive|wheels|sdists|simple|built-wheels|git|interpreter|builds)-v\d+(?:/|$)")
PIP_CACHE = re.compile(r"^(.*?/pip)/(?:http-v2|http|wheels|selfcheck)(?:/|$)")


def files_named(lab, image, names: set[str]) -> list[LayerFile]:
    """Files or directories whose path has a part in ``names`` (``{".env", ".git"}``), in every layer of
    ``image``: one finding per top-most match (``/app/.git``, not each file under it)."""
    def match(path, _is_file):
        return path.rsplit("/", 1)[-1] in names
    found = image_index(image, client=lab.client).files(match)
    tops = {(f.layer, f.path) for f in found}
    return [f for f in found if not any(f.path.startswith(p + "/") and l == f.layer for l, p in tops)]


@dataclasses.dataclass
class Cache:
    tool: str  # "uv" or "pip"
    path: str
    files: int
    layers: list[int]
    deleted_later: bool

    def __str__(self) -> str:
        where = f"layer{'s' if len(self.layers) > 1 else ''} {', '.join(map(str, self.layers))}"
        gone = ", deleted by a later layer but still shipped in the earlier one" if self.deleted_later else ""
        return f"a {self.tool} cache at {self.path} ({self.files} files, {where}{gone})"


def package_caches(lab, image, tools: tuple[str, ...] = ("uv", "pip")) -> list[Cache]:
    """uv and pip caches anywhere in ``image`` (any path: UV_CACHE_DIR, a non-root user's home …), in every
    layer, recognised by their layout rather than their default location."""
    kinds = [(t, rx) for t, rx in (("uv", UV_CACHE), ("pip", PIP_CACHE)) if t in tools]
    found = image_index(image, client=lab.client).files(
        lambda path, is_file: is_file and any(rx.match("/" + path) for _, rx in kinds))
    caches: dict[str, Cache] = {}
    for f in found:
        for tool, rx in kinds:
            m = rx.match(f.path)
            if m:
                c = caches.setdefault(m.group(1), Cache(tool, m.group(1), 0, [], True))
                c.files += 1
                if f.layer not in c.layers:
                    c.layers.append(f.layer)
                c.deleted_later = c.deleted_later and f.deleted_later
                break
    return list(caches.values())


_SIZES: dict[str, int] = {}


def site_packages_bytes(lab, image: str) -> int:
    """Total bytes of every site-packages/dist-packages directory in ``image`` (``du -sb``, as root)."""
    key = lab.client.images.get(image).id
    if key not in _SIZES:
        res = measure(lab, image, ["/bin/sh", "-c", SITE_PACKAGES_SCRIPT], thing="check-site", system_path=True,
                      timeout=120, complete=lambda out: "-packages" in out)  # a Python image has one at least
        _SIZES[key] = sum(int(p[0]) for p in (l.split(None, 1) for l in res.output.splitlines())
                          if len(p) == 2 and p[0].isdigit())
    return _SIZES[key]


@dataclasses.dataclass
class Budget:
    limit: int
    base_ref: str
    base_bytes: int
    added: int
    slack: int
    extra: dict[str, int] = dataclasses.field(default_factory=dict)  # what else the app needs: {what: bytes}

    def how(self) -> str:
        more = "".join(f" + {what} {human_size(n)}" for what, n in self.extra.items())
        return (f"budget {human_size(self.limit)} = base {self.base_ref} {human_size(self.base_bytes)} + packages "
                f"the image adds to site-packages {human_size(self.added)} (measured with du inside both images)"
                f"{more} + {human_size(self.slack)} slack")


def _base_bytes(base, image) -> int:
    """Bytes of the base image inside ``image``: the base's size, or, when its tag has moved since the build,
    the size of the image's first history entries (as many as the base has)."""
    base_layers = (base.attrs.get("RootFS") or {}).get("Layers") or []
    layers = (image.attrs.get("RootFS") or {}).get("Layers") or []
    if layers[:len(base_layers)] == base_layers:
        return unpacked_size(base)
    n = len(base.history())
    return sum(h.get("Size", 0) for h in list(reversed(image.history()))[:n])


def size_budget(lab, image, base_ref: str, slack: int, extra: dict[str, int] | None = None) -> Budget:
    """What ``image`` may weigh: its base, plus what it adds to site-packages, plus ``extra`` (``{what: bytes}``: what
    else the app needs, e.g. the shared libraries its compiled modules load), plus ``slack``. Raises docker's
    ImageNotFound when the base is not on this engine."""
    base = lab.client.images.get(base_ref)
    base_bytes = _base_bytes(base, image)
    added = max(0, site_packages_bytes(lab, image.id) - site_packages_bytes(lab, base.id))
    extra = {k: v for k, v in (extra or {}).items() if v}
    return Budget(base_bytes + added + sum(extra.values()) + slack, base_ref, base_bytes, added, slack, extra)


def stage_images(lab, app, thing: str, dockerfile: str = "Dockerfile", **build_kwargs) -> dict[str, object]:
    """Every stage of ``app``'s Dockerfile whose layers are not in the final image, built on its own (``--target``;
    the steps come from the build cache): {stage label: image}. What a builder stage holds is not in the final image, but it is in
    the build cache, and in every image built ``--target`` it. A stage that fails to build is left out."""
    text = (Path(app) / dockerfile).read_text()
    named, names = dfile.with_stage_names(text)
    parsed = dfile.parse(named)
    if len(names) < 2 or parsed.final is None:
        return {}
    inherited = {s.index for s in parsed.inherits(parsed.final)}  # already in the final image: its layers
    out = {}
    with tempfile.TemporaryDirectory(prefix="dockerlab-stages-") as tmp:
        path = Path(tmp) / "Dockerfile"
        path.write_text(named)
        for i, name in enumerate(names):
            if i in inherited:
                continue
            try:
                result = lab.build(app, f"{thing}-stage{i}", dockerfile=str(path), target=name, quiet=True,
                                   **build_kwargs)
            except (BuildFailed, DockerException):
                continue
            label = name if not name.startswith("dockerlab-stage-") else f"stage-{i}"
            out[label] = result.image
    return out


def secrets_anywhere(lab, image, values: dict[str, str], stages: dict[str, object] | None = None) -> list[str]:
    """Where each secret value (``{name: value}``) can be read: the config, history and every layer of ``image``
    and of each of ``stages``. One line per finding, ``"NAME in WHERE: what"``, values redacted."""
    out = []
    for where, img in [("the image", image)] + [(f"stage {k}", v) for k, v in (stages or {}).items()]:
        image_index(img, client=lab.client, needles=values.values())  # one `docker save` per image, every value
        for name, value in values.items():
            out += [f"{name} in {where}: {f}" for f in find_secrets(img, value, client=lab.client, quiet=True)]
    return out


def env_file_values(app_dir) -> dict[str, str]:
    """KEY=value lines of a folder's ``.env`` files (``.env``, ``.env.local`` …)."""
    out = {}
    for f in sorted(Path(app_dir).glob(".env*")):
        for line in f.read_text().splitlines():
            k, sep, v = line.strip().partition("=")
            if sep and not k.startswith("#"):
                out[k.strip()] = v.strip().strip("'\"")
    return out


def env_secrets(app_dir) -> dict[str, str]:
    """Every secret the folder's .env files hold: a key that names one (…SECRET, …TOKEN, …KEY, …PASSWORD), or a
    long value of letters and digits. ``PORT=8000`` is not one."""
    return {k: v for k, v in env_file_values(app_dir).items() if len(v) >= 6 and (
        SECRET_KEY.search(k) or (len(v) >= 16 and re.search(r"\d", v) and re.search(r"[A-Za-z]", v)))}

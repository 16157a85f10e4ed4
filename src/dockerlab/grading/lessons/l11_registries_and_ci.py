"""Lesson 11 exercise: publish the given image to the local registry as ci-service:1.0 and answer its digest.

The check asks the registry what it holds, removes every local copy of the answered image, pulls it back
by digest (so it can only come from the registry), runs ``python app.py --version`` in it, and compares
the pulled image with the given one.
"""
from __future__ import annotations

from docker.errors import APIError, ImageNotFound, NotFound

from dockerlab.grading.checker import Checker
from dockerlab.namespace import LABEL_COURSE, LABEL_NAMESPACE, COURSE, namespace
from dockerlab.registry import DIGEST, Registry, pull, remove_image, remove_local
from dockerlab.show import cli
from dockerlab.grading.probes import helper

LESSON = "11_registries_and_ci"
APP = "ci_service"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "A push goes to the registry named at the start of the image's name: give the image a second name that starts "
    "with the registry's host (the SDK's twin of `docker tag`).",
    "`docker push` has an SDK twin on `client.images`; read its stream for an error line.",
    "The digest is the sha256 of the manifest the registry serves for your tag, not the image ID: lesson 11, "
    "sections \"Image ID and manifest digest\" and \"A tag moves, a digest does not\".",
)
REPO = "ci-service"
TAG = "1.0"
VERSION_CMD = ["python", "app.py", "--version"]


def expected_repo(reg: Registry) -> str:
    return f"{reg.host}/{REPO}"


LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def same_repository(answer: str, reg: Registry, repo: str = REPO) -> bool:
    """``answer`` names ``repo`` in ``reg``, whatever name it gives the registry's host (127.0.0.1:PORT,
    localhost:PORT and [::1]:PORT are the same registry on this engine)."""
    host, _, path = answer.strip().rstrip("/").partition("/")
    name, _, port = host.rpartition(":")
    return path == repo and port == str(reg.port) and name in LOOPBACK


def split_digest(answer: str) -> str:
    """``sha256:…`` from an answer that may be a whole reference (``HOST/ci-service@sha256:…``)."""
    return answer.strip().rsplit("@", 1)[-1]


def _ours(image) -> bool:
    labels = image.labels or {}
    return labels.get(LABEL_COURSE) == COURSE and labels.get(LABEL_NAMESPACE) == namespace()


def _drop_local_copies(client, reg: Registry, ref: str) -> None:
    """Remove the local image ``ref`` names: entirely if the course made it, else only its registry names."""
    try:
        img = client.images.get(ref)
    except (ImageNotFound, NotFound):
        return
    if _ours(img):
        remove_image(img, client=client)
        return
    for name in list(img.tags) + list(img.attrs.get("RepoDigests") or []):
        if name.startswith(reg.host + "/"):
            remove_local(name, client=client)


def run_version(lab, ref: str) -> str:
    """Output of ``python app.py --version`` in ``ref`` (or the error it printed, after its exit code)."""
    res = helper(lab, ref, VERSION_CMD, thing="published-run", user=None)
    out = res.output.strip()
    if res.ok:
        return out
    return f"(exit {res.exit_code}) " + (out.splitlines()[-1] if out else "")


def check(lab, reg: Registry, given, answer: dict) -> Checker:
    """``given``: the image to publish (BuildResult, image or id); ``answer``: {"repo": …, "digest": …}."""
    c = Checker(LESSON, "publish ci-service:1.0 and pull it by digest")
    client = lab.client
    given_image = getattr(given, "image", given)
    given_id = given_image.id if hasattr(given_image, "id") else client.images.get(given_image).id
    want_repo = expected_repo(reg)
    repo = str(answer.get("repo") or "").strip()
    digest = split_digest(str(answer.get("digest") or ""))

    # 1. something is in the registry
    cli("curl", f"{reg.url}/v2/_catalog")
    catalog = reg.catalog()
    if not catalog:
        c.fail("pushed", f"nothing pushed: the registry at {reg.host} holds no repository",
               f"tag the given image as {want_repo}:{TAG} and push it (client.images.push or registry.push)")
        return c.report()
    c.ok("pushed", f"the registry holds {catalog}")

    # 2. the right repository
    if not same_repository(repo, reg):
        c.fail("repository", f"wrong repo: the answer names {repo!r}, the exercise asks for {want_repo!r} "
               f"(the registry holds {catalog})", f'push to {want_repo}:{TAG} and answer "repo": "{want_repo}"')
        return c.report()
    if REPO not in catalog:
        c.fail("repository", f"wrong repo: the registry holds {catalog}, not {REPO!r}",
               f"tag the image as {want_repo}:{TAG} (not another name) and push that")
        return c.report()
    c.ok("repository", f"{want_repo} is in the registry")

    # 3. the tag
    tags = reg.tags(REPO)
    tag_digest = reg.manifest_digest(REPO, TAG)
    if TAG not in tags or not tag_digest:
        c.fail("tag", f"tag not pushed: {want_repo} has tags {tags}, not {TAG!r}",
               f"tag the given image as {want_repo}:{TAG} and push that tag")
    else:
        c.ok("tag", f"{want_repo}:{TAG} -> {tag_digest}")

    # 4. the digest answers, and is the given image
    if not DIGEST.match(digest):
        c.fail("digest", f"the answer's digest {digest!r} is not a digest",
               "answer sha256:<64 hex digits>: the digest the push printed (or RepoDigests after the push)")
        return c.report()
    if not reg.manifest_digest(REPO, digest):
        c.fail("digest", f"the registry has no manifest {digest} in {REPO}",
               "answer the digest of the push to this registry (an image ID is not a manifest digest)")
        return c.report()
    ref = f"{want_repo}@{digest}"
    _drop_local_copies(client, reg, ref)
    try:
        pulled = pull(ref, client=client)
    except APIError as exc:
        c.fail("pull by digest", f"pulling {ref} failed: {exc.explanation or exc}", "push the image again")
        return c.report()
    output = run_version(lab, ref)
    if pulled.id != given_id:
        c.fail("same image", f"digest of a different image: {digest[:19]}… pulls image {pulled.id[:19]}… "
               f"(prints {output!r}), the given image is {given_id[:19]}…",
               f"push the given image itself as {want_repo}:{TAG} and answer the digest that push printed")
    else:
        c.ok("same image", f"pulled by digest: image {pulled.id[:19]}… prints {output!r}")
        if tag_digest and tag_digest != digest:
            c.fail("tag", f"{want_repo}:{TAG} points to {tag_digest[:19]}…, not to the answered {digest[:19]}…",
                   f"push the given image as {want_repo}:{TAG} again")
    return c.report()

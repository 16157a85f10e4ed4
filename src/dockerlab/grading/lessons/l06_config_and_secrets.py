"""Lesson 06 exercise check: the private-package install works, and the index token is nowhere in the image.

The check builds the learner's ``private_pkg_install`` the way a CI job would, with the token on offer both
as a BuildKit secret (``--secret id=index_token,src=FILE``) and as a build argument (``--build-arg INDEX_TOKEN``):
a correct Dockerfile takes it from the secret only. Then it

1. runs ``import acme_private`` in the image (the install really happened), and
2. searches the image for the token with :func:`dockerlab.secrets.find_secrets`: config (``docker inspect``),
   history (``docker history --no-trunc``) and every file of every layer (``docker save``), and so every
   earlier stage of the Dockerfile, built on its own (what a builder stage holds is in the build cache).
"""
from __future__ import annotations

from pathlib import Path

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker
from dockerlab.grading.contents import secrets_anywhere, stage_images
from dockerlab.grading.probes import helper

LESSON = "06_config_and_secrets"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "ARG values end up in `docker history`, ENV values in `docker inspect`, and a file deleted in a later layer is "
    "still in the layer that added it: none of these can carry the token. `docker build --check` names the leaking "
    "line: `from dockerlab.build import check; check(ex)`.",
    "BuildKit can hand a secret to one RUN without writing it into any layer. install_private.py reads the token "
    "from /run/secrets/index_token or from $INDEX_TOKEN, and the check passes the secret with the id `index_token`.",
    "Lesson 06, section \"The fix at build time: a secret mount\", shows the RUN option and its `docker build --secret` twin.",
)
SECRET_ID = "index_token"
# The token of the course's simulated private index (install_private.py knows only its SHA-256).
TOKEN = "ghp_acmeIndex7Q2xK9vLm4Rt"


def check(lab, app, token_file) -> Checker:
    """Check the Dockerfile in ``app`` (a workspace of sample_apps/private_pkg_install). Raises CheckFailed."""
    app, token_file = Path(app), Path(token_file)
    chk = Checker(LESSON, "private package without leaking the token")
    token = token_file.read_text().strip()
    offered = {"secrets": {SECRET_ID: token_file}, "buildargs": {"INDEX_TOKEN": token}}
    try:
        result = lab.build(app, "check-private", quiet=True, **offered)
    except BuildFailed as exc:
        log = " | ".join(exc.log_tail[-3:])[-300:]
        chk.fail("image builds with the secret", f"the build failed at `{exc.step}`: {exc.error} ({log})",
                 f"mount the secret in the RUN that installs: RUN --mount=type=secret,id={SECRET_ID} "
                 "python install_private.py (it reads /run/secrets/index_token)")
        return chk.report()
    chk.ok("image builds with the secret", f"built {result.tag}")

    res = helper(lab, result.tag, ["python", "-c", "import acme_private; print(acme_private.hello())"],
                 thing="check-import", user=None)
    out = res.output.strip()
    chk.expect(res.ok, "acme_private installed", f"`import acme_private` failed in the image: {out[-200:]}",
               fix="keep the RUN python install_private.py step (with the secret mounted)",
               ok=out.splitlines()[-1] if out else "")

    print(f"searching {result.tag} and each stage it is built from for the token (config, history, every layer)…")
    stages = stage_images(lab, app, "check-private", **offered)
    findings = secrets_anywhere(lab, result.image, {"the token": token}, stages)
    chk.expect(not findings, "token nowhere in the image",
               f"the token can be read in {len(findings)} place(s): " + "; ".join(findings),
               fix="no ARG/ENV for the token and no COPY of a token file, in any stage (a builder stage is in the "
                   "build cache, and deleting the file later does not help): "
                   f"use RUN --mount=type=secret,id={SECRET_ID} for the one step that needs it",
               ok="not in the config, the history or any layer" + (f", nor in stage {', '.join(stages)}" if stages else ""))
    return chk.report()

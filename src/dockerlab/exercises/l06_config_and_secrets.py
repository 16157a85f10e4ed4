"""Lesson 06 exercise check: the private-package install works, and the index token is nowhere in the image.

The check builds the learner's ``private_pkg_install`` the way a CI job would, with the token on offer both
as a BuildKit secret (``--secret id=index_token,src=FILE``) and as a build argument (``--build-arg INDEX_TOKEN``):
a correct Dockerfile takes it from the secret only. Then it

1. runs ``import acme_private`` in the image (the install really happened), and
2. searches the image for the token with :func:`dockerlab.secrets.find_secrets`: config (``docker inspect``),
   history (``docker history --no-trunc``) and every file of every layer (``docker save``).
"""
from __future__ import annotations

from pathlib import Path

from ..build import BuildFailed
from ..checks import Checker
from ..run import remove, wait_exit
from ..secrets import find_secrets

LESSON = "06_config_and_secrets"
SECRET_ID = "index_token"
# The token of the course's simulated private index (install_private.py knows only its SHA-256).
TOKEN = "ghp_acmeIndex7Q2xK9vLm4Rt"


def check_no_token_leak(lab, app, token_file) -> Checker:
    """Check the Dockerfile in ``app`` (a workspace of sample_apps/private_pkg_install). Raises CheckFailed."""
    app, token_file = Path(app), Path(token_file)
    chk = Checker(LESSON, "private package without leaking the token")
    token = token_file.read_text().strip()
    try:
        result = lab.build(app, "check-private", secrets={SECRET_ID: token_file},
                           buildargs={"INDEX_TOKEN": token}, show=False)
    except BuildFailed as exc:
        log = " | ".join(exc.log_tail[-3:])[-300:]
        chk.fail("image builds with the secret", f"the build failed at `{exc.step}`: {exc.error} ({log})",
                 f"mount the secret in the RUN that installs: RUN --mount=type=secret,id={SECRET_ID} "
                 "python install_private.py (it reads /run/secrets/index_token)")
        return chk.report()
    chk.ok("image builds with the secret", f"built {result.tag}")

    c = lab.run(result.tag, "check-import", entrypoint=["python", "-c", "import acme_private; print(acme_private.hello())"])
    try:
        state = wait_exit(c, timeout=60)
        out = c.logs().decode(errors="replace").strip()
    finally:
        remove(c, quiet=True)
    chk.expect(state.get("ExitCode") == 0, "acme_private installed",
               f"`import acme_private` failed in the image: {out[-200:]}",
               "keep the RUN python install_private.py step (with the secret mounted)",
               out.splitlines()[-1] if out else "")

    print(f"searching {result.tag} for the token (config, history, every layer)…")
    findings = find_secrets(result.image, token, client=lab.client, show=False)
    chk.expect(not findings, "token nowhere in the image",
               f"the token can be read in {len(findings)} place(s): " + "; ".join(findings),
               "no ARG/ENV for the token and no COPY of a token file (deleting it later does not help): "
               f"use RUN --mount=type=secret,id={SECRET_ID} for the one step that needs it",
               "not in the config, the history, or any layer")
    return chk.report()

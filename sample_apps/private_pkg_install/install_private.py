"""Install acme_private from the "private index": simulated, but it needs the index token exactly like the real thing.

The token is read from the file /run/secrets/index_token (a BuildKit secret mount) or, failing that, from the
environment variable INDEX_TOKEN. The "index" accepts it only if its SHA-256 matches; then the package is copied
into site-packages (what pip would do after downloading it).
"""
import hashlib
import os
import shutil
import sys
import sysconfig
from pathlib import Path

ACCEPTED_SHA256 = "ea570e19826839495a0b51a8a440d150c5663197304c19119e3a1326c9cfdc2e"  # the index knows the token's hash, not the token
SECRET_FILE = Path("/run/secrets/index_token")


def read_token() -> str:
    if SECRET_FILE.is_file():
        return SECRET_FILE.read_text().strip()
    return os.environ.get("INDEX_TOKEN", "").strip()


def main() -> int:
    token = read_token()
    if not token:
        print("private index: 401 Unauthorized: no token (expected the secret index_token at "
              f"{SECRET_FILE}, or INDEX_TOKEN)", file=sys.stderr)
        return 1
    if hashlib.sha256(token.encode()).hexdigest() != ACCEPTED_SHA256:
        print("private index: 403 Forbidden: wrong token", file=sys.stderr)
        return 1
    src = Path(__file__).parent / "vendor" / "acme_private"
    dest = Path(sysconfig.get_paths()["purelib"]) / "acme_private"
    shutil.copytree(src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    print(f"private index: token accepted, installed acme_private into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

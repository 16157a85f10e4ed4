"""fx_rates: exchange rates over HTTP, from the licensed table fetch_rates.py wrote at build time.

At run time it needs its database password, and takes it the way official images take theirs
(POSTGRES_PASSWORD_FILE, MYSQL_ROOT_PASSWORD_FILE): DB_PASSWORD_FILE names a file that holds it; DB_PASSWORD, the
value itself, is read only when no file is named. It would hand the password to its database driver; here it only
reports where the password came from and its fingerprint (the first 12 hex digits of its SHA-256), never the value.

GET /health, GET /rates, GET /rates/<CUR> (e.g. /rates/USD).
"""
import hashlib
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EX_CONFIG = 78  # sysexits.h: "configuration error"
RATES = Path(__file__).resolve().parent / "data" / "rates.json"


def read_secret(name: str) -> tuple[str, str]:
    """(value, where it came from): the file that NAME_FILE names, else the variable NAME itself."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip(), f"file {path}"
        except OSError as exc:
            print(f"fx_rates: config error: {name}_FILE={path}: {exc.strerror}", file=sys.stderr, flush=True)
            sys.exit(EX_CONFIG)
    if os.environ.get(name):
        return os.environ[name], f"env {name}"
    print(f"fx_rates: config error: set {name}_FILE (the path of a file holding it) or {name}", file=sys.stderr,
          flush=True)
    sys.exit(EX_CONFIG)


DB_PASSWORD, DB_PASSWORD_FROM = read_secret("DB_PASSWORD")
TABLE = json.loads(RATES.read_text()) if RATES.is_file() else {"base": None, "rates": {}}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        parts = [p for p in self.path.split("?")[0].split("/") if p]
        if parts == ["health"]:
            body = {"status": "ok", "rates": len(TABLE["rates"]), "base": TABLE["base"],
                    "db_password_from": DB_PASSWORD_FROM,
                    "db_password_sha256": hashlib.sha256(DB_PASSWORD.encode()).hexdigest()[:12]}
        elif parts == ["rates"] and TABLE["rates"]:
            body = TABLE
        elif len(parts) == 2 and parts[0] == "rates" and parts[1].upper() in TABLE["rates"]:
            body = {"base": TABLE["base"], parts[1].upper(): TABLE["rates"][parts[1].upper()]}
        else:
            self.send_error(404 if TABLE["rates"] else 503)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    print(f"fx_rates: {len(TABLE['rates'])} rates; database password from {DB_PASSWORD_FROM}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()

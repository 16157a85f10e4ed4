"""config_app: reads its configuration from the environment (and one secret from a file), fails fast if any is missing."""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EX_CONFIG = 78  # sysexits.h: "configuration error"


def load_config() -> dict:
    missing = [name for name in ("DATABASE_URL",) if not os.environ.get(name)]
    if missing:
        print(f"config error: {', '.join(missing)} is required but not set "
              f"(pass it at run time: docker run -e {missing[0]}=...)", file=sys.stderr, flush=True)
        sys.exit(EX_CONFIG)
    # A secret: read from a file (Docker/Compose secrets live under /run/secrets), never from the image.
    key_file = Path(os.environ.get("API_KEY_FILE", "/run/secrets/api_key"))
    api_key = key_file.read_text().strip() if key_file.is_file() else os.environ.get("API_KEY", "")
    return {
        "database_url": os.environ["DATABASE_URL"],
        "log_level": os.environ.get("LOG_LEVEL", "info"),
        "app_version": os.environ.get("APP_VERSION", "dev"),
        "api_key_set": bool(api_key),
        "api_key_from": str(key_file) if key_file.is_file() else ("env API_KEY" if api_key else "nowhere"),
    }


CONFIG = load_config()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = {"status": "ok", "version": CONFIG["app_version"]}
        elif self.path == "/config":  # what the app sees; the secret's value is never shown
            body = {k: v for k, v in CONFIG.items() if k != "database_url"} | {"database": CONFIG["database_url"].split("@")[-1]}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        if CONFIG["log_level"] == "debug":
            super().log_message(fmt, *args)


if __name__ == "__main__":
    print(f"config_app {CONFIG['app_version']} starting (log level {CONFIG['log_level']})", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()

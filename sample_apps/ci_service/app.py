"""A tiny service for lesson 11: tested in CI inside its image, then published to a registry.

    python app.py              # serve GET /health and GET /greet?name=... on $PORT (8000)
    python app.py --version    # print the version baked into the image (APP_VERSION) and exit
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

VERSION = os.environ.get("APP_VERSION", "0.0.0-dev")


def greet(name: str) -> str:
    name = name.strip() or "world"
    return f"hello, {name}"


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            self._send(200, {"status": "ok", "version": VERSION})
        elif url.path == "/greet":
            name = parse_qs(url.query).get("name", [""])[0]
            self._send(200, {"message": greet(name), "version": VERSION})
        else:
            self._send(404, {"error": f"no route {url.path}"})

    def log_message(self, fmt, *args):
        print(f"{self.address_string()} {fmt % args}", flush=True)


def serve(port: int) -> ThreadingHTTPServer:
    return ThreadingHTTPServer(("0.0.0.0", port), Handler)


if __name__ == "__main__":
    if "--version" in sys.argv:
        print(f"ci_service {VERSION}")
        sys.exit(0)
    server = serve(int(os.environ.get("PORT", "8000")))
    print(f"ci_service {VERSION} listening on {server.server_address}", flush=True)
    server.serve_forever()

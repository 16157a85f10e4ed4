"""private_pkg_install: a tiny service that needs acme_private (installed at build time with a token)."""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import acme_private


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path not in ("/", "/health"):
            self.send_error(404)
            return
        data = json.dumps({"status": "ok", "uses": acme_private.hello()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()

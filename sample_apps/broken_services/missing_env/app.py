"""A tiny HTTP service that greets with $GREETING (required): GET /health -> 200 ok, GET / -> the greeting."""
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

GREETING = os.environ["GREETING"]  # required: fails at start when it is not set


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n" if self.path == "/health" else f"{GREETING}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    print(f"listening on 0.0.0.0:{port}", flush=True)
    HTTPServer(("0.0.0.0", port), Handler).serve_forever()

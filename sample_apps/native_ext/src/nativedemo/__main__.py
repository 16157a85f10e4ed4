"""python -m nativedemo: serve GET / (a Fibonacci number computed by the C extension) and GET /health."""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import _fast, fib


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        elif self.path == "/":
            self._send(200, {"fib_90": fib(90), "extension": os.path.basename(_fast.__file__)})
        else:
            self._send(404, {"error": "not found"})

    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # one short line per request
        print(f"{self.address_string()} {fmt % args}", flush=True)


def main():
    port = int(os.environ.get("PORT", "8000"))
    print(f"nativedemo on :{port}, C extension {_fast.__file__}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()


if __name__ == "__main__":
    main()

"""A tiny HTTP service (standard library only) for lesson 09: health checks and graceful shutdown.

GET /health      200 "ok", or 503 while the service is broken on purpose
GET /break       break it (the health check starts failing); GET /fix repairs it
GET /slow?s=2    answers after s seconds: an "in-flight" request to drain on shutdown
GET /            hello

Request threads are not daemons and ``server_close()`` joins them, so once ``serve_forever()`` returns
the in-flight requests are finished before the process exits. What makes ``serve_forever()`` return on
SIGTERM is up to ``shutdown.install(server)``.
"""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import shutdown

PORT = int(os.environ.get("PORT", "8000"))
BROKEN = "/tmp/broken"


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            self._send(503, "broken") if os.path.exists(BROKEN) else self._send(200, "ok")
        elif url.path == "/break":
            open(BROKEN, "w").close()
            self._send(200, "broken on purpose")
        elif url.path == "/fix":
            if os.path.exists(BROKEN):
                os.remove(BROKEN)
            self._send(200, "fixed")
        elif url.path == "/slow":
            seconds = float(parse_qs(url.query).get("s", ["2"])[0])
            print(f"slow request started ({seconds:g} s)", flush=True)
            time.sleep(seconds)
            self._send(200, "done")
            print("slow request done", flush=True)
        elif url.path == "/":
            self._send(200, f"hello from pid {os.getpid()}")
        else:
            self._send(404, "not found")

    def log_message(self, fmt, *args):  # quiet: the health check calls /health every second
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = False   # in-flight requests are not killed at exit...
    block_on_close = True    # ...and server_close() waits for them


if __name__ == "__main__":
    server = Server(("0.0.0.0", PORT), Handler)
    shutdown.install(server)
    print(f"serving on :{PORT} as pid {os.getpid()}", flush=True)
    server.serve_forever()
    server.server_close()
    print("drained in-flight requests, exiting 0", flush=True)
    sys.exit(0)

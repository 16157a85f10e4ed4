"""Starts the invoice renderer on a stock http.server.ThreadingHTTPServer. What it does on `docker stop`: nothing yet."""
from http.server import ThreadingHTTPServer

from renderer import PORT, Renderer

server = ThreadingHTTPServer(("0.0.0.0", PORT), Renderer)
print(f"renderer: serving on :{PORT}", flush=True)
server.serve_forever()

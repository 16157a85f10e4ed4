"""dsn_api: reads PostgreSQL connection strings the way libpq does, over HTTP (lesson 04's exercise).

psycopg2 compiles against the system's libpq: building it needs gcc and libpq-dev (headers, pg_config), running it
needs only libpq's shared library. GET /health, GET / (the libpq psycopg2 was built against and the one it loaded),
GET /parse?dsn=… (libpq's PQconninfoParse, the password hidden).
"""
import json
from urllib.parse import parse_qs

import psycopg2
from psycopg2 import extensions


def libpq_versions() -> dict:
    return {"psycopg2": psycopg2.__version__.split()[0], "built_with_libpq": psycopg2.__libpq_version__,
            "loaded_libpq": extensions.libpq_version()}


def parse(dsn: str) -> tuple[int, dict]:
    try:
        parts = extensions.parse_dsn(dsn)  # libpq itself parses the string: a URI or key=value pairs
    except psycopg2.ProgrammingError as exc:
        return 400, {"error": str(exc).strip()}
    if "password" in parts:
        parts["password"] = "***"
    return 200, parts


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/health":
        status, payload = 200, {"status": "ok"}
    elif path == "/":
        status, payload = 200, libpq_versions()
    elif path == "/parse":
        status, payload = parse(parse_qs(environ.get("QUERY_STRING", "")).get("dsn", [""])[0])
    else:
        status, payload = 404, {"error": "not found"}
    body = json.dumps(payload).encode()
    start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]

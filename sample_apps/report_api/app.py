"""report_api: an async FastAPI app, served by uvicorn (an ASGI server).

GET /health answers at once; GET /reports/{name}?seconds=S takes S seconds (a slow request to have one in
flight when the container is stopped). uvicorn handles SIGTERM itself: it stops accepting connections, lets the
requests in flight finish, runs the shutdown half of ``lifespan`` below, and exits 0.
"""
import asyncio
import os
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Query

STARTED = time.monotonic()
in_flight = 0


@asynccontextmanager
async def lifespan(app: FastAPI):
    print(f"report_api: ready (pid {os.getpid()})", flush=True)
    yield  # the app serves while suspended here
    print(f"report_api: shutdown, {in_flight} report(s) in flight", flush=True)


app = FastAPI(title="report_api", lifespan=lifespan)


@app.get("/health")
async def health():
    return {"status": "ok", "uptime_s": round(time.monotonic() - STARTED, 1)}


@app.get("/reports/{name}")
async def report(name: str, seconds: float = Query(1.0, ge=0, le=30)):
    global in_flight
    in_flight += 1
    print(f"report_api: report {name!r} started ({seconds:g} s)", flush=True)
    try:
        await asyncio.sleep(seconds)  # the slow work; other requests are served meanwhile
    finally:
        in_flight -= 1
    return {"report": name, "seconds": seconds, "status": "done"}

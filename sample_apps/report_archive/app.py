"""report_archive: a FastAPI service (served by uvicorn) that writes each report it makes into $DATA_DIR.

DATA_DIR (default /app/data) is the one place it writes: hardened, the container's root filesystem is read-only, the
code belongs to root, and DATA_DIR is a volume the app's user owns. At start-up it makes sure it can write there, and
stops at once, saying who owns the directory, when it cannot (better than failing at the first report).

GET /health; POST /reports/{name} (makes a report, writes DATA_DIR/name.json); GET /reports; GET /reports/{name}.
"""
import json
import os
import re
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException

DATA_DIR = Path(os.environ.get("DATA_DIR", "/app/data"))
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def writable_or_exit() -> None:
    probe = DATA_DIR / f".write-test-{os.getpid()}"
    try:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        owner = ""
        if DATA_DIR.exists():
            st = DATA_DIR.stat()
            owner = f", the directory belongs to uid {st.st_uid} with mode {st.st_mode & 0o777:o}"
        print(f"report_archive: cannot write to DATA_DIR {DATA_DIR} as uid {os.getuid()}: {exc.strerror}{owner}",
              file=sys.stderr, flush=True)
        sys.exit(73)  # sysexits.h EX_CANTCREAT


@asynccontextmanager
async def lifespan(app: FastAPI):
    writable_or_exit()
    print(f"report_archive: ready as uid {os.getuid()}, writing reports to {DATA_DIR}", flush=True)
    yield


app = FastAPI(title="report_archive", lifespan=lifespan)


@app.get("/health")
async def health():
    return {"status": "ok", "uid": os.getuid(), "gid": os.getgid(), "data_dir": str(DATA_DIR),
            "reports": len(list(DATA_DIR.glob("*.json")))}


@app.post("/reports/{name}", status_code=201)
async def make_report(name: str):
    if not NAME.match(name):
        raise HTTPException(422, "a report name is 1-64 letters, digits, - or _")
    report = {"report": name, "created": time.time(), "rows": 3}
    (DATA_DIR / f"{name}.json").write_text(json.dumps(report))
    return report


@app.get("/reports")
async def list_reports():
    return sorted(p.stem for p in DATA_DIR.glob("*.json"))


@app.get("/reports/{name}")
async def read_report(name: str):
    path = DATA_DIR / f"{name}.json"
    if not NAME.match(name) or not path.is_file():
        raise HTTPException(404, f"no report {name!r}")
    return json.loads(path.read_text())

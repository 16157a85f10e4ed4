"""A notes service for the lesson 07 exercise: it keeps each note as a file under $DATA_DIR/notes.

    PUT /notes/<name>   the body is the note          GET /notes          the names of the notes
    GET /notes/<name>   the note                      GET /health         status, the uid it runs as, its data dir

It runs as a non-root user (the image's USER 10001). At start it creates $DATA_DIR/notes: if that user may not
write $DATA_DIR, it stops at once with a PermissionError in its log.
"""
import os
import re
from pathlib import Path

from flask import Flask, abort, request

DATA_DIR = Path(os.environ.get("DATA_DIR", "/data"))
NOTES = DATA_DIR / "notes"
NOTES.mkdir(parents=True, exist_ok=True)  # fails fast when $DATA_DIR is not writable by this user
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

app = Flask(__name__)


def note_path(name: str) -> Path:
    if not NAME.match(name):
        abort(400, "a note name is 1-64 letters, digits, - or _")
    return NOTES / f"{name}.txt"


@app.get("/health")
def health():
    return {"status": "ok", "uid": os.getuid(), "data_dir": str(DATA_DIR)}


@app.get("/notes")
def list_notes():
    return {"notes": sorted(p.stem for p in NOTES.glob("*.txt"))}


@app.put("/notes/<name>")
def put_note(name):
    note_path(name).write_text(request.get_data(as_text=True))
    return {"saved": name}, 201


@app.get("/notes/<name>")
def get_note(name):
    path = note_path(name)
    if not path.exists():
        abort(404)
    return path.read_text(), 200, {"Content-Type": "text/plain; charset=utf-8"}

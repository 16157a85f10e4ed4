"""The classroom's progress page: a JupyterHub service at ``/services/progress/`` (the hub starts it).

- The instructor (a hub admin) sees the room: per learner and lesson the latest status and checks passed, and per
  check line how many learners fail it now and the most common reason (:mod:`dockerlab.ops.room`).
- A learner sees only their own progress (the page ``dockerlab report`` writes, from their records only).

It reads the same records ``dockerlab report`` reads: each learner's ``<homes>/<name>/.dockerlab/progress.json``
(``DOCKERLAB_PROGRESS`` in their server), read-only, as they are now (no copy, nothing cached).
Sign-in is the hub's (OAuth); a token in an ``Authorization: token …`` header works as well (scripts, tests).

    GET /services/progress/          the page (the room for admins, your own for learners)
    GET /services/progress/api/room  the room as JSON (admins only: 403 otherwise)
    GET /services/progress/api/me    your own report as JSON
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import ioloop, web

from dockerlab.ops import room as classroom
from dockerlab.grading.report import summarize

HOMES = Path(os.environ.get("CLASSROOM_HOMES", "/srv/classroom/homes"))
NOT_LEARNERS = {n for n in os.environ.get("CLASSROOM_NOT_LEARNERS", "").split(",") if n}
PROGRESS_FILE = "progress.json"  # in <home>/.dockerlab


def learner_progress(name: str) -> dict | None:
    """A learner's records, only from inside their own home folder: ``<homes>/<name>`` (the hub's link to their
    seat's home), then ``.dockerlab`` and ``progress.json`` opened one at a time without following a symlink, so a
    learner's symlink pointing elsewhere (another learner's records, the hub's secrets) is refused."""
    if "/" in name or name.startswith("."):
        return None
    fds = []
    try:
        fds.append(os.open(HOMES / name, os.O_RDONLY | os.O_DIRECTORY))
        fds.append(os.open(".dockerlab", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fds[-1]))
        fds.append(os.open(PROGRESS_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fds[-1]))
        if not stat.S_ISREG(os.fstat(fds[-1]).st_mode):
            return None
        with os.fdopen(os.dup(fds[-1]), "rb") as f:
            text = f.read(32 * 2**20)
    except OSError:
        return None
    finally:
        for fd in fds:
            os.close(fd)
    return _parse(text)


def _parse(text: bytes) -> dict | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("attempts", []), list):
        return None
    data.setdefault("attempts", [])
    return data


def room() -> dict:
    names = sorted(p.name for p in HOMES.iterdir() if p.is_dir() and not p.name.startswith(".")) if HOMES.is_dir() else []
    names = [n for n in names if n not in NOT_LEARNERS]
    records = {n: learner_progress(n) or {"namespace": n, "attempts": []} for n in names}
    return classroom.room_summary(records)


class Base(HubOAuthenticated, web.RequestHandler):
    def who(self) -> tuple[str, bool]:
        user = self.current_user
        return user["name"], bool(user.get("admin"))

    def prepare(self):
        self.set_header("Cache-Control", "no-store")


class PageHandler(Base):
    @web.authenticated
    def get(self):
        name, admin = self.who()
        if admin:
            self.write(classroom.render_room_html(room(), title="Classroom progress: the room"))
        else:
            self.write(classroom.render_learner_html(name, learner_progress(name)))


class RoomAPIHandler(Base):
    @web.authenticated
    def get(self):
        name, admin = self.who()
        if not admin:
            raise web.HTTPError(403, "the room's progress is for the instructor")
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(room(), ensure_ascii=False))


class MeAPIHandler(Base):
    @web.authenticated
    def get(self):
        name, _ = self.who()
        report = summarize(learner_progress(name) or {"namespace": name, "attempts": []})
        report["namespace"] = name
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(report, ensure_ascii=False))


def make_app() -> web.Application:
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/progress/")
    return web.Application([
        (prefix, PageHandler),
        (url_path_join(prefix, "api/room"), RoomAPIHandler),
        (url_path_join(prefix, "api/me"), MeAPIHandler),
        (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        (prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}),
    ], cookie_secret=os.urandom(32))


def main() -> None:
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    make_app().listen(url.port, url.hostname)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()

"""Lesson 07 exercise: a non-root service keeps its data across containers (``sample_apps/notes_api``).

The lesson kept the counter's count in a named volume. ``notes_api`` runs as uid 10001 and writes
``/data/notes``: a new volume (or a folder of the host) belongs to root unless something says otherwise, and the
service cannot write it. The learner edits the Dockerfile and writes ``start(image, port)``, their own
``client.containers.run`` call. The check builds the image and calls ``start`` twice, removing the first container
in between (``docker rm -f -v``), and judges what it observes (:data:`CRITERIA`, by id):

* ``l07.builds``: the image builds;
* ``l07.writes-data``: the service starts and can write /data (else: the uid it runs as, and the owner and mode of
  /data as the container saw it, read by a helper that mounts the same volumes);
* ``l07.non-root``: it runs as a non-root user (PID 1's uid);
* ``l07.notes-kept``: three notes saved in the first container are listed by the second (else: what was mounted);
* ``l07.data-owner``: /data belongs to the service's user and is not writable by every user;
* ``l07.labelled-volumes``: every named volume it used carries the course labels (``lab.cleanup()`` removes it).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import urllib.request
from pathlib import Path

from docker.errors import DockerException, NotFound

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import (Checker, NotEvaluated, Verdict, criterion, failed, needed, needed_ok,
    passed)
from dockerlab.grading.rebuild import build_answer
from dockerlab.grading.learner import ANONYMOUS, START_FIX, call_start, gone, mount_kind, mounts, published, volume_name
from dockerlab.grading.probes import helper, pid1_info
from dockerlab.namespace import LABEL_NAMESPACE
from dockerlab.run import ContainerExited, WaitTimeout, host_address, http_get, logs_tail, remove
from dockerlab.show import short
from dockerlab.grading.lessons import lesson_hints

LESSON = "07_volumes_and_dev_workflow"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
APP = "notes_api"
TARGET = "/data"
NOTES = ("first", "second", "third")


# --- what is mounted at /data --------------------------------------------------------------------------------

MOUNTED = {"none": "nothing is mounted at /data (it is part of the container's own writable layer)",
           "anonymous": "/data is an anonymous volume (docker rm -v removes it with its container)",
           "volume": "/data is the named volume {name}", "bind": "/data is the host folder {source} (a bind mount)"}


def describe_mount(mount: dict | None) -> str:
    kind = mount_kind(mount)
    return MOUNTED.get(kind, f"/data is a {kind} mount").format(name=volume_name(mount or {}),
                                                                  source=(mount or {}).get("Source"))


def data_dir_stat(lab, image: str, container) -> tuple[int, int, int] | None:
    """(uid, gid, mode) of /data as ``container`` saw it, read as root by a helper with ``--volumes-from`` (works on a
    stopped container too). None: there is no /data; NotEvaluated: the helper could not run (the container is gone)."""
    res = helper(lab, image, ["stat", "-c", "%u %g %a", TARGET], thing="check-stat", system_path=True,
                 volumes_from=[container.id], timeout=30)
    if res.exit_code is None:
        raise NotEvaluated(f"could not read the owner of /data (a helper with --volumes-from {container.name}): "
                           f"{short(res.output, 160)}")
    m = re.match(r"^(\d+) (\d+) ([0-7]+)\s*$", res.output.strip().splitlines()[-1] if res.output.strip() else "")
    return (int(m.group(1)), int(m.group(2)), int(m.group(3), 8)) if m else None


# --- the learner's start(), called by the check --------------------------------------------------------------

@dataclasses.dataclass
class Run:
    """One container of the learner's ``start``: where it answers, and why it is not usable (a failed verdict)."""

    container: object | None
    port: int
    problem: Verdict | None = None
    mount: dict | None = None
    notes: list = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def why_not_started(lab, image: str, run: Run, exc: Exception) -> Verdict:
    """The service did not answer: its exit code and log, and for a permission error who owns /data."""
    c = run.container
    logs = logs_tail(c, 40)
    c.reload()
    code, status = c.attrs["State"].get("ExitCode"), c.status
    denied = re.search(r"PermissionError: \[Errno 13\] Permission denied: '([^']+)'", logs)
    if not denied:
        line = next((l.strip() for l in reversed(logs.splitlines()) if l.strip()), "(no log output)")
        if status in ("exited", "dead"):
            return failed("exited", f"the service exited with code {code}; last log line: {short(line, 160)}",
                          "read its log (container.logs())", exit_code=code)
        if status == "created":
            return failed("exited", f"{c.name} was created but never started", START_FIX, status=status)
        return failed("not-answering", f"no answer on host port {run.port} ({short(exc, 100)}); the container "
                      f"publishes {', '.join(published(c)) or 'no port'}", "start(image, port) must publish container "
                      "port 8000 on `port`: ports={'8000/tcp': port}", port=run.port, published=published(c))
    mount = mounts(c).get(TARGET)
    user = c.attrs["Config"].get("User") or "root"
    seen = (f"the service (user {user}) exited with code {code}: Permission denied: '{denied.group(1)}'. "
            f"{describe_mount(mount)}; ")
    values = dict(exit_code=code, user=user, denied=denied.group(1), mount=mount_kind(mount))
    try:
        st = data_dir_stat(lab, image, c)
    except NotEvaluated as why:
        return failed("exited", seen + str(why), "read its log (container.logs())", **values)
    if st is None:
        return failed("missing", seen + "the image has no /data, and / belongs to root",
                      "/data must exist and belong to the service's user before it starts: create it in the "
                      "Dockerfile, as root (before USER), owned by uid 10001", data_dir=None, **values)
    return failed("wrong-value", seen + f"/data belongs to uid {st[0]} (mode {st[2]:o})",
                  "a new, empty named volume takes the owner and mode of the image's /data: give the image a /data "
                  "that belongs to uid 10001 (in the Dockerfile, before USER); a host folder needs that owner too",
                  owner=st[0], mode=f"{st[2]:o}", **values)


def _put(port: int, name: str) -> None:
    req = urllib.request.Request(f"http://{host_address()}:{port}/notes/{name}", data=name.encode(), method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        if r.status != 201:
            raise WaitTimeout(f"PUT /notes/{name} answered HTTP {r.status}")


def _notes(port: int, container, timeout: float) -> list:
    return json.loads(http_get(port, "/notes", timeout=timeout, container=container)[1])["notes"]


ANSWER_ERRORS = (WaitTimeout, ContainerExited, OSError, ValueError, KeyError, TypeError)


# --- what the criteria share: the image, and the two containers of start() -----------------------------------

@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    start: object
    image: str | None = None
    uid: int | None = None  # PID 1's uid in the first container
    volumes: set = dataclasses.field(default_factory=set)
    _first: Run | None = None
    _second: Run | None = None

    def need_image(self) -> str:
        return needed(self.image)

    def _seen(self, run: Run) -> None:
        run.mount = mounts(run.container).get(TARGET)
        if mount_kind(run.mount) in ("volume", "anonymous"):
            self.volumes.add(volume_name(run.mount))

    def _ask(self, run: Run, ask, doing: str) -> None:
        """Ask the container (``ask()``); on no answer, record why (the container's own cause, or that it vanished)."""
        try:
            try:
                ask()
            except NotFound:
                raise
            except ANSWER_ERRORS as exc:  # (NotFound is an OSError too: asked first)
                run.problem = why_not_started(self.lab, self.image, run, exc)
            self._seen(run)
        except NotFound:
            run.problem = gone(run.container, doing)
        except Exception as exc:  # noqa: BLE001 - recorded for the later lines, then the line fails with check-error
            run.problem = failed("check-error", f"the check could not finish while it {doing}: {type(exc).__name__}: "
                                 f"{short(exc, 200)}", "run the check again", error=type(exc).__name__)
            raise

    def _start(self, ask, doing: str) -> Run:
        """The learner's start() called once more, then ``ask(run)`` of the container it started."""
        run = Run(*call_start(self.lab, self.start, self.need_image(), self.lab.name("notes")))
        if run.container is not None:
            self._ask(run, lambda: ask(run), doing)
        return run

    @staticmethod
    def _save_notes(run: Run) -> None:
        http_get(run.port, "/health", timeout=30, container=run.container)
        for name in NOTES:
            _put(run.port, name)
        run.notes = _notes(run.port, run.container, 10)

    def first(self) -> Run:
        """start() once: /health answers, three notes saved and listed."""
        if self._first is None:
            self._first = self._start(self._save_notes, "asked /health and saved notes")
        return self._first

    def running_first(self) -> Run:
        return needed_ok(self.first(), "the service did not start (line 2)")

    def second(self) -> Run:
        """The first container removed (docker rm -f -v), start() again: the notes it lists."""
        if self._second is None:
            first = self.running_first()
            remove(first.container, client=self.lab.client, quiet=True)  # its anonymous volumes go with it
            self._second = self._start(lambda run: setattr(run, "notes", _notes(run.port, run.container, 30)),
                                       "asked the replacement container for its notes")
        return self._second

    def running_second(self) -> Run:
        return needed_ok(self.second(), "the replacement container did not answer (line 4)")

    def remove_containers(self) -> None:
        for run in (self._first, self._second):
            if run is not None and run.container is not None:
                remove(run.container, client=self.lab.client, quiet=True)
        remove(self.lab.name("notes"), client=self.lab.client, quiet=True)


# --- the criteria ----------------------------------------------------------------------------------------------

def _build_fix(exc: BuildFailed) -> tuple[str, dict]:
    denied = "Permission denied" in exc.error or any("Permission denied" in l for l in exc.log_tail)
    return ("a step after USER runs as that user, who may not write there: do it as root, before USER" if denied
            else "read the build log (lab.build(app, 'notes'))"), {"permission_denied": denied}


@criterion("l07.builds", "the image builds")
def builds(g: Grading):
    result, problem = build_answer(g.lab, g.app, "notes", "keep the Dockerfile of notes_api in the folder", _build_fix,
                                   width=160, quiet=True)
    if problem:
        return problem
    g.image = result.tag
    user = (g.lab.client.images.get(g.image).attrs.get("Config") or {}).get("User") or "root"
    return passed(f"{g.image} (USER {user})", user=user)


@criterion("l07.writes-data", "the service starts and writes /data")
def writes_data(g: Grading):
    run = g.first()  # a run that did not answer carries its failed line (why_not_started)
    return run.problem or passed(f"answered /health and lists the {len(run.notes)} notes it saved under /data/notes",
                                 notes=run.notes, mount=mount_kind(run.mount))


@criterion("l07.non-root", "runs as a non-root user")
def non_root(g: Grading):
    run = g.running_first()
    g.uid = uid = pid1_info(run.container, g.lab).uid
    if uid is None:
        try:
            run.container.reload()
        except NotFound:
            return gone(run.container, "read PID 1's uid")
        raise NotEvaluated(f"could not read PID 1's uid (/proc/1/status) in {run.container.name}, "
                           f"{run.container.status} (exit code {run.container.attrs['State'].get('ExitCode')})")
    if uid == 0:
        return failed("unsafe", f"PID 1 runs as uid {uid}: root in the container",
                      "keep the image's USER 10001: do not run it as root (no user= / --user 0); fix /data's owner "
                      "instead", uid=uid)
    return passed(f"PID 1 runs as uid {uid}", uid=uid)


@criterion("l07.notes-kept", "notes survive replacing the container")
def notes_kept(g: Grading):
    run = g.second()
    if run.problem is not None:
        return run.problem
    kept = [n for n in NOTES if n in run.notes]
    where, kind = describe_mount(run.mount), mount_kind(run.mount)
    if len(kept) < len(NOTES):
        return failed("missing", f"the replacement container lists {run.notes or 'no notes'} instead of {list(NOTES)}: "
                      f"{where}", "mount storage the engine keeps at /data, the same in every container: a named volume "
                      "(created with the course labels) or a host folder", notes=run.notes, mount=kind)
    return passed(f"the replacement container lists {kept}: {where}", notes=kept, mount=kind)


@criterion("l07.data-owner", "/data belongs to the service's user, not to everyone")
def data_owner(g: Grading):
    run = g.running_second()
    st = data_dir_stat(g.lab, g.image, run.container)
    uid = pid1_info(run.container, g.lab).uid
    uid = g.uid if uid is None else uid
    if st is None:
        return failed("missing", "the container has no /data", "keep the notes in /data (the image's DATA_DIR)",
                      path=TARGET)
    owner, mode = st[0], f"{st[2]:o}"
    if st[2] & 0o002:
        return failed("unsafe", f"/data has mode {mode}: every user of every container that mounts it may write there",
                      "make uid 10001 the owner of /data (chown), and leave it 755 or 700", owner=owner, mode=mode)
    if uid is None:
        raise NotEvaluated(f"/data belongs to uid {owner} (mode {mode}); the service's uid could not be read")
    if owner != uid:
        return failed("wrong-value", f"/data belongs to uid {owner}, the service runs as uid {uid}",
                      "make the service's user the owner of /data", owner=owner, uid=uid, mode=mode)
    return passed(f"/data belongs to uid {owner} (the service), mode {mode}", owner=owner, uid=uid, mode=mode)


@criterion("l07.labelled-volumes", "volumes carry the course labels")
def labelled_volumes(g: Grading):
    if g._first is None or g._first.container is None:
        raise NotEvaluated("no container of start() ran (line 2)")
    g.remove_containers()  # a volume in use cannot be removed
    named = sorted(v for v in g.volumes if v and not ANONYMOUS.fullmatch(v))
    unlabelled = []
    for name in named:
        try:
            vol = g.lab.client.volumes.get(name)
        except NotFound:
            continue
        if (vol.attrs.get("Labels") or {}).get(LABEL_NAMESPACE) != g.lab.ns:
            unlabelled.append(name)
            with contextlib.suppress(DockerException):
                vol.remove()
    if unlabelled:
        return failed("missing", f"volume {', '.join(unlabelled)} has no course labels: lab.cleanup() would never "
                      "remove it (the check removed it; on a shared engine another learner could mount it too)",
                      "create the volume before starting: client.volumes.create(lab.name('notes-data'), "
                      "labels=lab.labels)", volumes=named, unlabelled=unlabelled)
    return passed(f"{', '.join(named)}: labelled for namespace {g.lab.ns}" if named else "no named volume used",
                  volumes=named)


CRITERIA = [builds, writes_data, non_root, notes_kept, data_owner, labelled_volumes]


def grade(lab, app, start, *, only=None) -> Checker:
    """Build ``app`` (notes_api), start it twice with ``start(image, port)`` and grade :data:`CRITERIA`; the filled
    table, recorded in the progress file (never raises). ``only``: the ids to grade (the rest: not evaluated)."""
    g = Grading(lab, Path(app), start)
    card = Checker(LESSON, "notes that survive, as a non-root user")
    return card.run(CRITERIA, g, numbered=False, only=only, cleanup=g.remove_containers)


def check(lab, app, start) -> Checker:
    """Grade, and raise CheckFailed unless every line passed."""
    return grade(lab, app, start).raise_unless_passed()

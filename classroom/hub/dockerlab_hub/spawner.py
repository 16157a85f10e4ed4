"""Every learner's server: a seat of their own (dockerlab_hub/seats.py), handed out warm from a pool.

A seat is a sandbox on the host with its own Docker engine and no privileged container: a Unix user with
subordinate ids, a user namespace where the engine runs as root *of that namespace*, a PID and a mount namespace
whose root is built from read-only pieces of the host plus the seat's own disk, a network namespace on a bridge of
its own, cgroups with the seat's memory, CPU and pids limits (classroom/README.md, "What is isolated").

:class:`CourseSpawner` gives learner NAME, at their first sign-in, a *warm* seat of the pool (its engine already
runs and has the course images: :class:`Pool` keeps ``CLASSROOM_POOL`` of them ready), or a new one when the pool
is empty; the seat is theirs from then on. Starting their server is then: the seat's init copies the course into
``~/course`` (once) and starts ``jupyterhub-singleuser`` as uid 1000 of the seat, in the seat's network namespace,
where their engine's socket is ``/var/run/docker.sock`` and every port their containers publish (``-p
127.0.0.1:PORT:…`` too) is on 127.0.0.1, as on a Linux laptop. The hub reaches the server at the seat's address;
the server reaches the hub's API at the classroom's front address (``CLASSROOM_HUB_IP``), never the host's
loopback. Stopping the server (sign-out, admin page, idle culler) stops the whole seat (server, engine, the
learner's containers); the seat's disk keeps their files, images and volumes, and the next start takes a few
seconds.
"""
from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyterhub.spawner import Spawner
from traitlets import Dict, Unicode, default

from .seats import SERVER_PORT, Seat, SeatError, Seats, Settings

REFILL_AFTER = 20  # seconds after a learner's server answers before the pool warms a seat to replace theirs


def classroom_settings() -> Settings:
    """The seats' settings, from the hub's environment (classroom.py sets every CLASSROOM_* variable)."""
    env = os.environ.get
    course = env("CLASSROOM_COURSE", "/srv/course")
    paths = ["README.md", "pyproject.toml", "notebooks", "exercises", "sample_apps", "src"]
    if env("CLASSROOM_SOLUTIONS", "0") == "1":
        paths.append("solutions")
    return Settings(
        ns=env("CLASSROOM_NAMESPACE", "classroom"), data=Path(env("CLASSROOM_DATA", "/srv/classroom")),
        venv=env("CLASSROOM_LEARNER_ENV", ""), course_source=course, course_paths=paths,
        images_first=env("CLASSROOM_IMAGES_FIRST", "python python-full uv postgres redis registry").split(),
        images_later=env("CLASSROOM_IMAGES_LATER", "").split(),
        disk_size=env("CLASSROOM_SEAT_DISK", "20G"), mem=env("CLASSROOM_SEAT_MEM", "3G"),
        cpus=float(env("CLASSROOM_SEAT_CPUS", "2")), pids=int(env("CLASSROOM_SEAT_PIDS", "4096")),
        subnet_pool=env("CLASSROOM_SUBNET_POOL", "10.213.0.0/16"),
        hub_api=(env("CLASSROOM_HUB_IP", ""), int(env("CLASSROOM_HUB_API_PORT", "8081"))),
        containerd_store=env("CLASSROOM_ENGINE_STORE", "classic") == "containerd",
    )


class Pool:
    """The hub's seats, and ``size`` warm ones nobody has yet: engine started, the first course images loaded.

    One per hub process. Filling runs one seat at a time in the background (preparing a seat copies about 2 GB
    of images with every course image: several at once would only share the disk), and starts again whenever a
    learner takes a warm seat."""

    _instance: "Pool | None" = None

    def __init__(self, settings: Settings, size: int, log=None):
        self.settings = settings
        self.size = size
        self.log = log
        self.seats = Seats(settings, log=self._say)
        self.lock = threading.Lock()
        self.preparing: set[str] = set()
        self._task: asyncio.Task | None = None
        self.figures: dict[str, float] = {}

    def _say(self, msg: str) -> None:
        (self.log or logging.getLogger("JupyterHub")).info(msg)

    @classmethod
    def get(cls, log=None) -> "Pool":
        if cls._instance is None:
            cls._instance = cls(classroom_settings(), int(os.environ.get("CLASSROOM_POOL", "2")), log)
            atexit.register(cls._instance.shutdown)
        return cls._instance

    def warm(self) -> list[Seat]:
        return [s for s in self.seats.all().values() if s.learner is None and s.slot not in self.preparing
                and self.seats.alive(s)]

    def kick(self) -> None:
        """Fill the pool in the background (when it is not filling already)."""
        if self.size <= 0:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._fill())

    async def _fill(self) -> None:
        while True:
            with self.lock:
                unassigned = [s for s in self.seats.all().values() if s.learner is None]
                if len(self.warm()) + len(self.preparing) >= self.size:
                    return
                cold = next((s for s in unassigned if s.slot not in self.preparing and not self.seats.alive(s)), None)
                slot = cold.slot if cold else self.seats.new_slot()
                self.preparing.add(slot)
            try:
                t0 = time.monotonic()
                await asyncio.to_thread(self.prepare, slot)
                self._say(f"pool: seat {slot} is warm ({time.monotonic() - t0:.1f} s: engine, "
                          f"{' '.join(self.settings.images_first) or 'no images'})")
            except Exception as exc:  # noqa: BLE001 - the pool keeps going; a learner then gets a cold seat
                self._say(f"pool: preparing seat {slot} failed: {exc}")
                await asyncio.sleep(30)
            finally:
                with self.lock:
                    self.preparing.discard(slot)

    def prepare(self, slot: str | None = None, learner: str | None = None) -> Seat:
        """A started seat with the first course images (made when it does not exist)."""
        seat = self.seats.all().get(slot) if slot else None
        if seat is None:
            seat = self.seats.create(slot)
        if learner:
            seat.learner = learner
            self.seats.save(seat)
        self.seats.start(seat)
        if self.seats.load_images(seat, self.settings.images_first):
            self.seats.cgroups(seat).reclaim()
        return seat

    def claim(self, learner: str) -> Seat | None:
        """Give ``learner`` a warm seat, or None when the pool has none."""
        with self.lock:
            for seat in self.warm():
                seat = self.seats.all()[seat.slot]
                if seat.learner is None:
                    seat.learner = learner
                    self.seats.save(seat)
                    return seat
        return None

    def shutdown(self) -> None:
        """Stop the seats nobody has (the hub is stopping; learners' seats are stopped by their spawners)."""
        idle = [s for s in self.seats.all().values() if s.learner is None and self.seats.alive(s)]
        if idle:
            with ThreadPoolExecutor(4) as ex:
                list(ex.map(self.seats.stop, idle))


def start_pool_when_the_hub_runs() -> None:
    """Called by jupyterhub_config.py: fill the pool once the hub's event loop runs."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # not the hub (e.g. `jupyterhub --help`)
    loop.call_later(1, lambda: Pool.get().kick())


class CourseSpawner(Spawner):
    """The learner's seat and their server in it (see the module's docstring)."""

    hub_connect_url = Unicode(config=True, help="Where the servers in seats reach the hub (its front address).")
    extra_env = Dict(config=True, help="More environment for every learner's server.")

    @default("env_keep")
    def _env_keep_default(self):
        return []  # nothing of the hub's environment: the seat has its own PATH and Python

    @default("ip")
    def _ip_default(self):
        return "0.0.0.0"  # in the seat's network namespace: reached at the seat's address only

    @default("port")
    def _port_default(self):
        return SERVER_PORT

    slot = Unicode("", help="The learner's seat.")

    @property
    def pool(self) -> Pool:
        return Pool.get(self.log)

    def load_state(self, state):
        super().load_state(state)
        self.slot = state.get("slot", "")

    def get_state(self):
        state = super().get_state()
        if self.slot:
            state["slot"] = self.slot
        return state

    def clear_state(self):
        super().clear_state()  # the seat stays the learner's (the registry says whose it is)

    def _seat(self) -> Seat | None:
        seats = self.pool.seats.all()
        return seats.get(self.slot) if self.slot else self.pool.seats.of(self.user.name)

    # progress shown on the hub's spawn page
    def _emit(self, progress: int, message: str) -> None:
        self.log.info("%s: %s", self.user.name, message)
        self._events.append({"progress": progress, "message": message})

    async def progress(self):
        seen = 0
        while True:
            events = getattr(self, "_events", [])
            while seen < len(events):
                yield events[seen]
                seen += 1
            await asyncio.sleep(0.5)

    def get_env(self):
        env = super().get_env()
        env.update({
            "DOCKER_HOST": "unix:///var/run/docker.sock",  # their engine, in their seat
            "DOCKERLAB_HOST_ADDR": "127.0.0.1",           # where the ports their containers publish are
            "DOCKERLAB_ROOT": "/home/learner/course",
            "DOCKERLAB_NAMESPACE": self.user.name,
            "DOCKERLAB_PROGRESS": "/home/learner/.dockerlab/progress.json",
            "DOCKERLAB_CLASSROOM_SEAT": "1",
            **self.extra_env,
        })
        return env

    async def start(self):
        self._events = []
        t0 = time.monotonic()
        pool, name = self.pool, self.user.name
        seat = self._seat()
        how = "their seat"
        if seat is None:
            seat = pool.claim(name)
            how = "a warm seat of the pool"
            if seat is None:
                self._emit(10, "preparing a seat for you (a Docker engine of your own, the course images)")
                how = "a new seat (the pool was empty)"
                seat = await asyncio.to_thread(pool.prepare, None, name)
        self.slot = seat.slot
        loaded = []
        if not pool.seats.alive(seat):
            self._emit(30, "starting your Docker engine")
            await asyncio.to_thread(pool.seats.start, seat)
            loaded = await asyncio.to_thread(pool.seats.load_images, seat, pool.settings.images_first)
        pool.seats.link_home(seat)
        engine_s = time.monotonic() - t0
        self._emit(60, "starting your notebook server")
        cmd = [*self.cmd, *self.get_args()]
        await asyncio.to_thread(pool.seats.give, seat, name, cmd, self.get_env())
        self.timings = {"seat": round(engine_s, 1), "how": how}
        self.log.info("%s: %s (%s) ready in %.1f s, %s; the server starts", name, how, seat.slot, engine_s,
                      f"loaded {', '.join(loaded)}" if loaded else "no image to load")
        # answer JupyterHub's first look: it waits with a growing back-off (up to seconds) after start() returns
        await self._wait_http(seat.ip, self.port, self.server.base_url if self.server else "/")
        self.log.info("%s: the server answers %.1f s after the seat was ready", name, time.monotonic() - t0 - engine_s)
        # refill the pool, once this learner's first kernel has had the CPU (warming a seat copies images)
        asyncio.get_running_loop().call_later(REFILL_AFTER, pool.kick)
        if pool.settings.images_later:
            self._later = asyncio.ensure_future(asyncio.to_thread(pool.seats.load_images, seat,
                                                                  pool.settings.images_later))
        return seat.ip, self.port

    async def _wait_http(self, ip: str, port: int, prefix: str) -> None:
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        client = AsyncHTTPClient()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                await client.fetch(f"http://{ip}:{port}{prefix}api", request_timeout=2, follow_redirects=False)
                return
            except HTTPClientError:
                return  # it answers (an HTTP error is an answer)
            except Exception:  # noqa: BLE001 - not listening yet
                await asyncio.sleep(0.1)
            seat = self._seat()
            if seat is not None and await asyncio.to_thread(self.pool.seats.server_state, seat) == "exited":
                return  # JupyterHub's poll() will say it died

    async def poll(self):
        seat = self._seat()
        if seat is None or not self.pool.seats.alive(seat):
            return 0
        state = await asyncio.to_thread(self.pool.seats.server_state, seat)
        return 1 if state == "exited" else None

    async def stop(self, now=False):
        later = getattr(self, "_later", None)
        if later is not None and not later.done():
            later.cancel()
        seat = self._seat()
        if seat is not None:
            await asyncio.to_thread(self.pool.seats.stop, seat)

    async def delete_forever(self):
        """The learner is deleted from the hub: their seat goes (their files and images with it)."""
        seat = self.pool.seats.of(self.user.name)
        if seat is not None:
            await asyncio.to_thread(self.pool.seats.destroy, seat)
        self.pool.kick()


__all__ = ["CourseSpawner", "Pool", "SeatError", "classroom_settings", "start_pool_when_the_hub_runs"]

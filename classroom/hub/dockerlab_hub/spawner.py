"""Every learner's server: the course container, plus the learner's own Docker engine, on a network of their own.

For learner NAME, :class:`CourseSpawner` (a DockerSpawner) makes, in this order, and names and labels each with
the course's labels in the classroom's namespace (``dl-<ns>-classroom-…``):

1. ``<data>/homes/NAME``: their home folder (a host folder, uid 1000), with their own copy of the course
   (``course/``: notebooks, exercises, sample apps, the ``dockerlab`` package) made at the first sign-in;
2. ``dl-<ns>-classroom-net-NAME``: a bridge network of their own, with a small subnet from the classroom's
   pool (Docker's default pools hold about 30 bridge networks: too few for a room); the hub joins it;
3. ``dl-<ns>-classroom-engine-NAME``: their engine (:class:`dockerlab.dind.Engine`), privileged Docker-in-Docker
   on that network, CPU and memory limited, /var/lib/docker on the volume ``dl-<ns>-classroom-engine-NAME``
   (their images and volumes survive a stop), their home folder mounted at the same path as in the notebook
   container (``/home/learner``: bind mounts that lessons make work against it);
4. the course images loaded into that engine from the host's (:meth:`Engine.load`, ``docker save | docker
   load``): ``images_first`` while the notebook container starts (the server is ready when both are),
   ``images_later`` in the background afterwards; only what the engine lacks (after the first sign-in they are
   already on its volume);
5. ``dl-<ns>-classroom-nb-NAME``: the learner image (the course container + jupyterhub-singleuser), CPU and
   memory limited, in the **network namespace of their engine** (``--network container:<engine>``), as the two
   containers of a Kubernetes pod share one: the engine's API is at ``tcp://127.0.0.1:2375`` and every port the
   learner's containers publish is at 127.0.0.1, ``-p 127.0.0.1:PORT:…`` included, exactly as with the course
   container on a Linux laptop (``--network host``). The hub reaches the server at the engine's address.

A learner's containers can reach their own engine and the hub, nothing of another learner's (other networks;
no Docker socket). Stopping the server (sign-out with shutdown, the admin page, the idle culler) removes the
notebook container, the engine container and the network; the home folder and the engine's volume stay, and
the next start brings everything back.
"""
from __future__ import annotations

import asyncio
import ipaddress
import os
import shutil
import threading
import time
from pathlib import Path

import docker
from docker.errors import APIError, NotFound
from dockerspawner import DockerSpawner
from traitlets import Float, Int, List, Unicode, default

from dockerlab.cleanup import remove_network
from dockerlab.dind import API_PORT, Engine
from dockerlab.namespace import labels as course_labels
from dockerlab.namespace import resource_name

LESSON = "classroom"
LABEL_USER = "org.dockerlab.classroom.user"
LABEL_ROLE = "org.dockerlab.classroom.role"
PROGRESS = ".dockerlab/progress.json"
_network_lock = threading.Lock()  # two learners signing in at once must not pick the same subnet


def object_name(ns: str, thing: str, user: str) -> str:
    """``dl-<ns>-classroom-<thing>-<user>``: the name of a learner's network, engine, volume, notebook container."""
    return resource_name(LESSON, f"{thing}-{user}", ns)


def free_subnets(client, pool: str, prefix: int):
    """Subnets of ``pool`` (``/prefix`` each) that overlap no network of this engine, in order."""
    used = []
    for net in client.api.networks():
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            try:
                used.append(ipaddress.ip_network(cfg.get("Subnet", ""), strict=False))
            except ValueError:
                pass
    for candidate in ipaddress.ip_network(pool).subnets(new_prefix=prefix):
        if not any(candidate.overlaps(u) for u in used if u.version == candidate.version):
            yield candidate


class CourseSpawner(DockerSpawner):
    """The course container with the learner's own Docker engine (see the module's docstring)."""

    course_namespace = Unicode("classroom", config=True,
                               help="The dockerlab namespace every classroom object is labelled and named with.")
    data_dir = Unicode(config=True, help="The classroom's data folder on the host (same path in the hub container).")
    course_source = Unicode(config=True, help="The course folder the learners' copies are made from.")
    course_paths = List(["README.md", "pyproject.toml", "notebooks", "exercises", "sample_apps", "src"], config=True,
                        help="What each learner's copy of the course holds (add 'solutions' to hand them out).")
    learner_home = Unicode("/home/learner", config=True,
                           help="The home folder's path in the notebook container and in the engine (the same).")
    learner_uid = Int(1000, config=True)
    learner_gid = Int(1000, config=True)
    engine_cpus = Float(2.0, config=True, help="CPU limit of a learner's engine (and everything it runs).")
    engine_mem_limit = Unicode("2G", config=True, help="Memory limit of a learner's engine (and everything it runs).")
    engine_timeout = Float(180, config=True, help="Seconds a learner's engine may take to answer.")
    images_first = List(["python", "python-full", "uv", "postgres", "redis", "registry"], config=True,
                        help="Course images (images.toml keys or references) in the engine before the server is ready.")
    images_later = List([], config=True, help="Course images loaded in the background once the server runs.")
    subnet_pool = Unicode("10.213.0.0/16", config=True, help="Where learners' networks take their subnets from.")
    subnet_prefix = Int(28, config=True, help="Size of a learner's network (/28: 14 addresses, 3 are used).")
    hub_container = Unicode("", config=True, help="The hub's container, joined to each learner's network.")

    @default("name_template")
    def _name_template_default(self):
        # the same name object_name() gives (user names are already valid Docker names: auth.NAME_RE)
        return object_name(self.course_namespace, "nb", "user").removesuffix("user") + "{raw_username}"

    @default("remove")
    def _remove_default(self):
        return True  # a stopped server's container goes; the learner's files are in their home folder

    @default("pull_policy")
    def _pull_policy_default(self):
        return "never"  # images are built on this machine (no registry on the day)

    # names and places
    @property
    def learner(self) -> str:
        return self.user.name

    def _name(self, thing: str) -> str:
        return object_name(self.course_namespace, thing, self.learner)

    @property
    def home_dir(self) -> Path:
        return Path(self.data_dir) / "homes" / self.learner

    def _labels(self, role: str) -> dict:
        return {**course_labels(LESSON, self.course_namespace), LABEL_USER: self.learner, LABEL_ROLE: role}

    @property
    def docker_client(self) -> docker.DockerClient:
        if getattr(self, "_docker_client", None) is None:
            self._docker_client = docker.from_env(timeout=300)  # the host's engine, through the mounted socket
        return self._docker_client

    def engine(self) -> Engine:
        return Engine(self._name("engine"), labels=self._labels("engine"), volume=self._name("engine"),
                      binds={str(self.home_dir): self.learner_home}, network=self._name("net"),
                      cpus=self.engine_cpus or None, mem_limit=self.engine_mem_limit or None,
                      client=self.docker_client)

    # progress shown on the hub's spawn page
    def _emit(self, progress: int, message: str) -> None:
        self.log.info("%s: %s", self.learner, message)
        self._events.append({"progress": progress, "message": message})

    async def progress(self):
        seen = 0
        while True:
            events = getattr(self, "_events", [])
            while seen < len(events):
                yield events[seen]
                seen += 1
            await asyncio.sleep(0.5)

    # the steps
    def ensure_home(self) -> bool:
        """The learner's home folder and their copy of the course (made once). True when the copy was made now."""
        home = self.home_dir
        home.mkdir(parents=True, exist_ok=True)
        os.chown(home, self.learner_uid, self.learner_gid)
        for sub in (".dockerlab",):
            (home / sub).mkdir(exist_ok=True)
            os.chown(home / sub, self.learner_uid, self.learner_gid)
        course = home / "course"
        if course.exists():
            return False
        staging = home / ".course-copy"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        src = Path(self.course_source)
        skip = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", ".pytest_cache", "*.pyc")
        for rel in self.course_paths:
            s = src / rel
            if s.is_dir():
                shutil.copytree(s, staging / rel, symlinks=True, ignore=skip)
            elif s.is_file():
                shutil.copy2(s, staging / rel)
        for root, dirs, files in os.walk(staging):
            for n in [root, *(os.path.join(root, x) for x in dirs + files)]:
                os.lchown(n, self.learner_uid, self.learner_gid)
        staging.rename(course)
        return True

    def ensure_network(self) -> str:
        """The learner's bridge network (a free subnet of the pool), with the hub joined to it."""
        name = self._name("net")
        client = self.docker_client
        with _network_lock:
            try:
                net = client.networks.get(name)
            except NotFound:
                net = None
                for subnet in free_subnets(client, self.subnet_pool, self.subnet_prefix):
                    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet))])
                    try:
                        net = client.networks.create(name, driver="bridge", ipam=ipam, labels=self._labels("network"))
                        break
                    except APIError as exc:  # another engine user took it since the listing: try the next
                        if "overlap" not in str(exc).lower():
                            raise
                if net is None:
                    raise RuntimeError(f"no free /{self.subnet_prefix} subnet left in {self.subnet_pool}: "
                                       "set a larger CLASSROOM_SUBNET_POOL")
        if self.hub_container:
            net.reload()
            hub = client.containers.get(self.hub_container)
            if hub.id not in (net.attrs.get("Containers") or {}):
                try:
                    net.connect(hub)
                except APIError as exc:
                    if "already exists" not in str(exc):
                        raise
        return name

    def missing_images(self, engine: Engine, wanted: list[str]) -> list[str]:
        from dockerlab import images

        refs = []
        for item in wanted:
            try:
                refs.append(images.ref(item))
            except KeyError:
                refs.append(item)  # a reference, not a key
        inner = engine.client()
        missing = []
        for ref in refs:
            try:
                inner.images.get(ref)
            except NotFound:
                missing.append(ref)
        return missing

    def load_images(self, engine: Engine, wanted: list[str]) -> list[str]:
        missing = self.missing_images(engine, wanted)
        if missing:
            engine.load(missing, quiet=True)
        return missing

    def teardown(self) -> None:
        """Remove the engine container (its volume stays) and the learner's network."""
        try:
            self.engine().remove(volumes=False)
        except Exception as exc:  # noqa: BLE001 - keep tearing down
            self.log.warning("%s: removing the engine failed: %s", self.learner, exc)
        try:
            remove_network(self.docker_client.networks.get(self._name("net")))
        except NotFound:
            pass
        except APIError as exc:
            self.log.warning("%s: removing the network failed: %s", self.learner, exc)

    # the spawner's life cycle
    async def start(self):
        self._events = []
        t0 = time.monotonic()
        timings = {}
        self._emit(5, "preparing your home folder")
        copied = await asyncio.to_thread(self.ensure_home)
        timings["home"] = time.monotonic() - t0
        self._emit(15, "making your private network")
        await asyncio.to_thread(self.ensure_network)
        self._emit(25, "starting your Docker engine")
        loading = None
        try:
            t = time.monotonic()
            engine = self.engine()
            await asyncio.to_thread(engine.start, self.engine_timeout, True)
            timings["engine"] = time.monotonic() - t
            # the course images go into the engine while the notebook container starts; ready means both
            self._emit(50, "loading the course images into your engine, starting your notebook server")
            t = time.monotonic()
            loading = asyncio.ensure_future(asyncio.to_thread(self.load_images, engine, list(self.images_first)))
            ip_port = await super().start()
            timings["notebook"] = time.monotonic() - t
            loaded = await loading
            timings["images"] = time.monotonic() - t
        except BaseException:
            if loading is not None and not loading.done():
                await asyncio.wait([loading], timeout=self.engine_timeout)
            await asyncio.to_thread(self.teardown)
            raise
        timings["total"] = time.monotonic() - t0
        self.timings = {k: round(v, 1) for k, v in timings.items()}
        self.log.info("%s: server started in %.1f s (home %s, engine %.1f s, images %.1f s loading %s, notebook "
                      "container %.1f s, side by side)", self.learner, timings["total"],
                      "copied" if copied else "kept", timings["engine"], timings["images"], ", ".join(loaded) or "none",
                      timings["notebook"])
        if self.images_later:
            self._later = asyncio.ensure_future(self._load_later(engine))
        return ip_port

    async def _load_later(self, engine: Engine) -> None:
        t = time.monotonic()
        try:
            loaded = await asyncio.to_thread(self.load_images, engine, list(self.images_later))
            self.log.info("%s: background images loaded in %.1f s: %s", self.learner, time.monotonic() - t,
                          ", ".join(loaded) or "none missing")
        except Exception as exc:  # noqa: BLE001 - the server runs; a lesson will say an image is missing
            self.log.warning("%s: loading %s in the background failed: %s", self.learner, self.images_later, exc)

    def get_env(self):
        env = super().get_env()
        env.update({
            "DOCKER_HOST": f"tcp://127.0.0.1:{API_PORT}",  # their engine, in the same network namespace
            "DOCKERLAB_HOST_ADDR": "127.0.0.1",           # where the ports their containers publish are
            "DOCKERLAB_ROOT": f"{self.learner_home}/course",
            "DOCKERLAB_NAMESPACE": self.learner,
            "DOCKERLAB_PROGRESS": f"{self.learner_home}/{PROGRESS}",
        })
        return env

    async def create_object(self):
        """The notebook container, in the engine's network namespace (no network, no ports of its own)."""
        self.volumes = {str(self.home_dir): {"bind": self.learner_home, "mode": "rw"}}
        cpu = {"cpu_period": 100_000, "cpu_quota": int(self.cpu_limit * 100_000)} if self.cpu_limit else {}
        host_config = self.client.create_host_config(
            binds=self.volume_binds, auto_remove=self.remove, mem_limit=self.mem_limit,
            network_mode=f"container:{self._name('engine')}", **cpu)
        return await self.docker("create_container", image=self.image, name=self.container_name,
                                 command=await self.get_command(), environment=self.get_env(),
                                 volumes=self.volume_mount_points, labels=self._labels("notebook"),
                                 host_config=host_config)

    async def get_ip_and_port(self):
        """The server listens in the engine's network namespace: at the engine's address on the learner's network."""
        net = self.docker_client.networks.get(self._name("net"))
        engine = self.docker_client.containers.get(self._name("engine"))
        ip = engine.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
        return ip, self.port

    async def stop(self, now=False):
        later = getattr(self, "_later", None)
        if later is not None and not later.done():
            later.cancel()
        try:
            await super().stop(now=now)
        finally:
            await asyncio.to_thread(self.teardown)

    async def delete_forever(self):
        """The learner is deleted from the hub: their engine's volume goes too (their home folder stays)."""
        await asyncio.to_thread(self.engine().remove, True)

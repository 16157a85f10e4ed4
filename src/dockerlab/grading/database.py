"""A Postgres for an app to start against while it is graded (the capstone): a container on a lab network, asked
with ``pg_isready`` until it answers."""
from __future__ import annotations

import contextlib

from dockerlab.errors import ContainerExited
from dockerlab.images import ref as image_ref
from dockerlab.run import remove
from dockerlab.waiting import wait_until

DB_USER = DB_PASSWORD = DB_NAME = "app"
# Where the official image keeps its data (docker-library/docs postgres/content.md, "PGDATA"; docker-library/postgres#1259):
PGDATA_17 = "/var/lib/postgresql/data"  # PGDATA and VOLUME of postgres 17 and older
PG_VOLUME_18 = "/var/lib/postgresql"  # the VOLUME of 18+, PGDATA under it: /var/lib/postgresql/18/docker


class Database:
    """A Postgres container on a lab network, for the app to start against (reusable across gradings).

    Its readiness is asked with ``pg_isready`` in the container until it answers, once: not with a Docker health
    check, which would go on running every interval for the container's whole life (each check a ``docker exec``
    of about 0.1 s of CPU; the Docker SDK for Python cannot set ``--health-start-interval``, docker/docker-py#3157).
    """

    def __init__(self, lab, thing: str = "capstone-db"):
        self.lab, self.network = lab, lab.network("capstone-net")
        self.container = lab.run(
            image_ref("postgres"), thing, network=self.network.name,
            environment={"POSTGRES_USER": DB_USER, "POSTGRES_PASSWORD": DB_PASSWORD, "POSTGRES_DB": DB_NAME})
        self.url = f"postgresql://{DB_USER}:{DB_PASSWORD}@{self.container.name}:5432/{DB_NAME}"
        self.ready = False

    def wait(self, timeout: float = 60) -> None:
        """``docker exec NAME pg_isready -h 127.0.0.1`` until it answers (TCP: the init phase listens on the socket
        only). Raises WaitTimeout, or ContainerExited with the log lines."""
        if self.ready:
            return
        said = ""

        def accepts() -> bool:
            nonlocal said
            self.container.reload()
            if self.container.status not in ("created", "running"):
                logs = self.container.logs(tail=20).decode(errors="replace")
                raise ContainerExited(f"{self.container.name} stopped ({self.container.status}):\n{logs}")
            res = self.container.exec_run(["pg_isready", "-h", "127.0.0.1", "-U", DB_USER, "-d", DB_NAME])
            said = res.output.decode(errors="replace").strip()
            return res.exit_code == 0

        wait_until(accepts, timeout=timeout, interval=0.5, describe=f"{self.container.name}: pg_isready never said yes",
                   seen=lambda: f"pg_isready says {said!r}")
        self.ready = True

    def remove(self) -> None:
        remove(self.container, client=self.lab.client, quiet=True)
        with contextlib.suppress(Exception):
            self.network.remove()


def pgdata_mount(container) -> tuple[str, dict | None]:
    """PGDATA as a Postgres container has it, and the mount that holds it (the deepest one whose destination contains
    it, from ``docker inspect``'s Mounts). A 17-style image declares VOLUME /var/lib/postgresql/data, so a named volume
    mounted at /var/lib/postgresql alone leaves PGDATA in that anonymous volume."""
    env = dict(e.split("=", 1) for e in (container.attrs.get("Config") or {}).get("Env") or [] if "=" in e)
    pgdata = env.get("PGDATA") or PGDATA_17
    holding = [m for m in container.attrs.get("Mounts") or []
               if pgdata == m.get("Destination") or pgdata.startswith(m.get("Destination", "").rstrip("/") + "/")]
    return pgdata, max(holding, key=lambda m: len(m.get("Destination", "")), default=None)

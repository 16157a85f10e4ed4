"""What the service does on SIGTERM. Nothing yet: as PID 1 without a handler, python ignores SIGTERM."""


def install(server) -> None:
    pass

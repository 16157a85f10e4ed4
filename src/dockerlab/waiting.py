"""One way to wait for something: ask again every ``interval`` s until it is there or ``timeout`` s have passed.

Every poll of the course (a container that exits, a health status, an HTTP answer, an engine that starts, a
database that accepts connections) goes through :func:`wait_until`; tenacity does the asking and the timing.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from dockerlab.errors import WaitTimeout

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float, interval: float = 0.5, describe: str = "not there",
               ignore: tuple[type[BaseException], ...] = (), seen: Callable[[], object] | None = None,
               on_wait: Callable[[float], None] | None = None) -> T:
    """Call ``predicate()`` until it returns something true, and return that; the first call is at once.

    After ``timeout`` s (counted from the first call, checked after each) it raises :class:`WaitTimeout`:
    ``"{describe} after {timeout} s (last: {what was seen})"``, so ``describe`` says what did not happen
    ("no answer from http://…", "web did not exit"). What was seen is ``seen()`` when given, else the last
    exception of ``ignore`` or the last value. An exception that is not in ``ignore`` ends the wait at once: a
    container that exits while waited on raises ContainerExited, not a timeout. ``on_wait(seconds)`` runs before
    each pause (a progress line). The WaitTimeout carries ``.last`` (what was seen) and ``.seconds``.
    """
    import tenacity  # 80 ms to import, for the waits only

    last: list[object] = ["nothing yet"]

    def attempt():
        try:
            value = predicate()
        except ignore as exc:
            last[0] = exc
            return None
        last[0] = value
        return value

    def timed_out(state: tenacity.RetryCallState):
        what = seen() if seen is not None else last[0]
        err = WaitTimeout(f"{describe} after {timeout:.0f} s (last: {what})")
        err.last, err.seconds = what, state.seconds_since_start
        raise err

    return tenacity.Retrying(
        stop=tenacity.stop_after_delay(timeout), wait=tenacity.wait_fixed(interval),
        retry=tenacity.retry_if_result(lambda value: not value), retry_error_callback=timed_out,
        before_sleep=(lambda state: on_wait(state.seconds_since_start)) if on_wait else None,
    )(attempt)

"""wait_until and the waits built on it, without an engine: fake containers, a closed port, a clock of a few seconds."""
from __future__ import annotations

import time

import pytest

from dockerlab.errors import ContainerExited, WaitTimeout
from dockerlab.health import poll_health
from dockerlab.run import free_port, http_get, wait_exit
from dockerlab.waiting import wait_until


def test_returns_the_first_true_value_and_asks_at_once():
    answers = iter([None, "", {"ready": True}])
    t0 = time.monotonic()
    assert wait_until(lambda: next(answers), timeout=5, interval=0.05) == {"ready": True}
    assert time.monotonic() - t0 < 1


def test_timeout_says_what_it_waited_for_and_what_it_saw_last():
    seen = iter(range(100))
    describe, last = "no negative number", "a count of 5"
    with pytest.raises(WaitTimeout) as info:
        wait_until(lambda: next(seen) < 0, timeout=0.3, interval=0.05, describe=describe, seen=lambda: last)
    assert info.value.last == last and 0.3 <= info.value.seconds < 1
    msg = str(info.value)  # "{describe} after {timeout} s (last: {seen})"
    assert msg.startswith(describe) and msg.endswith(f"(last: {last})") and "0 s" in msg


def test_an_exception_it_was_not_told_to_ignore_ends_the_wait_at_once():
    calls = []

    def exits():
        calls.append(1)
        if len(calls) == 2:
            raise ContainerExited("web exited (1)")
        return None

    t0 = time.monotonic()
    with pytest.raises(ContainerExited):
        wait_until(exits, timeout=30, interval=0.05)
    assert len(calls) == 2 and time.monotonic() - t0 < 1


def test_ignored_exceptions_count_as_not_yet_and_are_what_was_seen():
    def refused():
        raise ConnectionRefusedError("connection refused")

    with pytest.raises(WaitTimeout, match=r"^no answer after 0 s \(last: connection refused\)$"):
        wait_until(refused, timeout=0.2, interval=0.05, describe="no answer", ignore=(OSError,))


def test_on_wait_runs_before_each_pause_with_the_seconds_waited():
    waited: list[float] = []
    with pytest.raises(WaitTimeout):
        wait_until(lambda: False, timeout=0.25, interval=0.1, on_wait=waited.append)
    assert 2 <= len(waited) <= 3 and waited == sorted(waited) and waited[0] < 0.1


class FakeContainer:
    """What the waits read of a container: reload(), status, attrs["State"], logs()."""

    def __init__(self, states: list[dict], name: str = "web"):
        self.name, self._states, self.attrs = name, list(states), {"State": states[0]}

    def reload(self):
        if len(self._states) > 1:
            self._states.pop(0)
        self.attrs = {"State": self._states[0]}

    @property
    def status(self):
        return self.attrs["State"]["Status"]

    def logs(self, tail=20):
        return b"Traceback: boom\n"


def test_http_get_raises_container_exited_at_once_not_a_timeout():
    gone = FakeContainer([{"Status": "exited", "ExitCode": 1}])
    t0 = time.monotonic()
    with pytest.raises(ContainerExited, match=r"web exited \(1\) while http://127\.0\.0\.1:\d+/ was asked"):
        http_get(free_port(), "/", timeout=30, container=gone)
    assert time.monotonic() - t0 < 2


def test_http_get_gives_up_with_the_url_and_the_last_error():
    port = free_port()
    with pytest.raises(WaitTimeout, match=rf"^no answer from http://127\.0\.0\.1:{port}/ after 1 s \(last: .*refused"):
        http_get(port, "/", timeout=1)


def test_wait_exit_returns_the_state_or_says_the_status_it_saw():
    running, exited = {"Status": "running"}, {"Status": "exited", "ExitCode": 0}
    assert wait_exit(FakeContainer([running, running, exited]), timeout=10) == exited
    with pytest.raises(WaitTimeout, match=r"^web did not exit after 1 s \(last: status running\)$"):
        wait_exit(FakeContainer([running]), timeout=0.6)


def test_poll_health_never_raises_and_keeps_the_timeline():
    output = "refused"

    def health(status):
        return {"Status": "running", "Health": {"Status": status, "Log": [{"ExitCode": 1, "Output": output}]}}

    c = FakeContainer([health("starting"), health("starting"), health("healthy")])
    wait = poll_health(c, "healthy", timeout=10, interval=0.05)
    assert wait.reached and [s for _, s in wait.timeline] == ["starting", "healthy"]
    stuck = poll_health(FakeContainer([health("starting")]), "healthy", timeout=0.3, interval=0.05)
    assert not stuck.reached and stuck.status == "starting" and stuck.seconds >= 0.3
    assert stuck.last_check == f"exit 1: {output}"  # the last check's exit code and output
    died = poll_health(FakeContainer([health("starting"), {"Status": "exited", "ExitCode": 3}]), timeout=10,
                       interval=0.05)
    assert died.status == "exited" and died.exit_code == 3 and "boom" in died.logs


def test_remove_of_a_container_the_engine_is_removing_already_waits_for_it(monkeypatch):
    """`docker rm -f` on a container whose removal is in progress (an auto-remove, the reaper) answers 409: that is
    a removal, not an error (ci9: lesson 01's test teardown failed on it). Any other 409 still raises."""
    from docker.errors import APIError, NotFound

    from dockerlab import run as run_module

    monkeypatch.setattr(run_module.time, "sleep", lambda s: None)

    class Response:
        status_code = 409

    class Busy:
        id, name = "c1", "dl-test-01-web"

        def __init__(self, message):
            self.message = message

        def remove(self, **kwargs):
            raise APIError("409 Client Error", response=Response(), explanation=self.message)

    lookups = []

    class Containers:
        @staticmethod
        def get(cid):
            lookups.append(cid)
            if len(lookups) > 2:  # gone on the third look
                raise NotFound("gone")
            return object()

    client = type("Client", (), {"containers": Containers})()
    busy = Busy("removal of container c1 is already in progress")
    assert run_module.remove(busy, client=client, quiet=True) is True and lookups == ["c1"] * 3
    with pytest.raises(APIError):
        run_module.remove(Busy("conflict: unable to remove repository reference"), client=client, quiet=True)

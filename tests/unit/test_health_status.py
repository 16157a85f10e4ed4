"""health_status without an engine: the last health check is shown by its last line (a traceback's cause)."""
from dockerlab.health import health_status


class FakeContainer:
    def __init__(self, log, status="running", health="unhealthy"):
        self.attrs = {"State": {"Status": status, "Health": {"Status": health, "Log": log}}}

    def reload(self):
        pass


TRACEBACK = ("Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n"
             "    import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)\n"
             "    ~~~~~~~~~~~~~~~~~~~~~~^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
             + "  File \"/usr/local/lib/python3.13/urllib/request.py\", line 189, in urlopen\n" * 6
             + "urllib.error.HTTPError: HTTP Error 503: SERVICE UNAVAILABLE\n")


def test_a_failing_check_shows_its_last_line():
    status, check = health_status(FakeContainer([{"ExitCode": 1, "Output": TRACEBACK}]))
    assert status == "unhealthy"
    assert check == "exit 1: urllib.error.HTTPError: HTTP Error 503: SERVICE UNAVAILABLE"


def test_a_check_without_output_has_no_dangling_colon():
    assert health_status(FakeContainer([{"ExitCode": 0, "Output": ""}], health="healthy")) == ("healthy", "exit 0")


def test_no_check_yet_and_exited():
    assert health_status(FakeContainer([], health="starting")) == ("starting", "no check ran yet")
    assert health_status(FakeContainer([{"ExitCode": 1, "Output": "a\nb\n"}], status="exited"))[0] == "exited"

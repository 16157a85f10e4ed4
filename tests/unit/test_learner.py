"""Calling the learner's start(image, port) without an engine: whatever it raises or returns is a verdict."""
import pytest
from docker.errors import APIError, NotFound

from dockerlab.grading import learner


class Containers:
    def get(self, name):
        raise NotFound("no such container")


class Lab:
    client = type("Client", (), {"containers": Containers()})()


class Started:
    name = "dl-test-07-notes"

    def reload(self):
        pass


TAKEN = ("failed to set up container networking: driver failed programming external connectivity on endpoint "
         "dl-test-07-notes (299af0467998dcf1cbf6035e071b86a3ebdb7594d2388712861bc924b24b90f5): failed to bind host "
         "port for 0.0.0.0:{port}:172.17.0.4:8000/tcp: address already in use")


@pytest.mark.parametrize("message, port", [
    (TAKEN.format(port=48381), 48381),
    ("Bind for 0.0.0.0:8000 failed: port is already allocated", 8000),
    ("Error starting userland proxy: listen tcp6 [::]:8001: bind: address already in use", 8001),
    ("a host port asked for is taken (…)", 0),
    ("No such image: notes", None),
])
def test_taken_port(message, port):
    assert learner.taken_port(message) == port


def call(start, ports=(41000, 41001)):
    it = iter(ports)
    orig = learner.free_port
    learner.free_port = lambda: next(it)
    try:
        return learner.call_start(Lab(), start, "img", "dl-test-07-notes")
    finally:
        learner.free_port = orig


def test_a_container_is_returned_with_its_port():
    c = Started()
    assert call(lambda image, port: c) == (c, 41000, None)


@pytest.mark.parametrize("start, cause, observed", [
    (lambda image, port: None, "wrong-value", {"returned": "NoneType"}),
    (lambda image: None, "wrong-value", {"error": "TypeError"}),
    (lambda image, port: (_ for _ in ()).throw(APIError("500", explanation="no such image")), "exited",
     {"error": "APIError"}),
], ids=["returns-nothing", "wrong-signature", "engine-refuses"])
def test_what_start_does_wrong_is_a_failed_verdict(start, cause, observed):
    container, port, verdict = call(start)
    assert container is None and verdict.cause == cause and verdict.observed == observed


def test_the_checks_port_taken_in_between_is_asked_again_on_another():
    seen = []

    def start(image, port):
        seen.append(port)
        if len(seen) == 1:
            raise APIError("500", explanation=TAKEN.format(port=port))
        return Started()

    container, port, verdict = call(start)
    assert seen == [41000, 41001] and port == 41001 and verdict is None


def test_a_fixed_port_that_is_taken_is_the_answers():
    def start(image, port):
        raise APIError("500", explanation=TAKEN.format(port=8000))

    container, port, verdict = call(start)
    assert verdict.cause == "wrong-value" and verdict.observed == {"port": 41000, "port_taken": 8000}

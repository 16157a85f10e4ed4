from dockerlab.build import BuildFailed, parse_buildkit_log

PLAIN = """#0 building with "default" instance using docker driver
#1 [internal] load build definition from Dockerfile
#1 transferring dockerfile: 136B done
#1 DONE 0.0s
#3 [internal] load build context
#3 transferring context: 2.50MB done
#3 DONE 0.1s
#4 [builder 1/3] FROM docker.io/library/python:3.13.5-slim
#4 CACHED
#5 [builder 2/3] RUN pip install -r requirements.txt
#5 CACHED
#6 [stage-1 3/3] COPY app.py .
#6 DONE 0.2s
#7 [builder 3/3] RUN false
#7 0.118 something went wrong
#7 ERROR: process "/bin/sh -c false" did not complete successfully: exit code: 1
""".splitlines()


def test_steps_cached_seconds_and_stages():
    steps, error, ctx = parse_buildkit_log(PLAIN)
    assert [(s.stage, s.number, s.keyword, s.cached) for s in steps] == [
        ("builder", 1, "FROM", True), ("builder", 2, "RUN", True), ("stage-1", 3, "COPY", False), ("builder", 3, "RUN", False)]
    assert steps[2].seconds == 0.2
    assert ctx == 2_500_000


def test_error_names_the_failing_step_and_its_log():
    _, error, _ = parse_buildkit_log(PLAIN)
    assert error["step"] == "RUN false"
    assert "exit code: 1" in error["message"]
    assert error["log"] == ["something went wrong"]


def test_build_failed_message_shows_step_and_tail():
    e = BuildFailed("t:1", "RUN false", "exit code: 1", ["a", "b"], ["a", "b"])
    assert "failed at step: RUN false" in str(e) and "  | b" in str(e)
    assert e._render_traceback_()[0].startswith("BuildFailed:")

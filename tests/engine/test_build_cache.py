"""BuildKit's build cache outlives a lesson's cleanup: running a lesson again takes its steps from the cache."""
from __future__ import annotations

import uuid

import pytest

from dockerlab import Lesson
from dockerlab.cleanup import course_objects

pytestmark = pytest.mark.engine
LESSON = "92_build_cache"


def test_second_run_after_cleanup_takes_its_steps_from_the_cache():
    with Lesson(LESSON, quiet=True) as lab:
        app = lab.workspace("cache_demo")
        # A step no other build shares, so this test's cache entries are its own.
        df = (app / "Dockerfile").read_text().replace("WORKDIR /app", f"WORKDIR /app\nRUN echo {uuid.uuid4().hex} > /tmp/run-id", 1)
        (app / "Dockerfile").write_text(df)
        first = lab.build(app, "cached", quiet=True)
        assert [s for s in first.steps if s.keyword == "RUN" and not s.cached], "the first build should run its steps"
        for attempt in range(2):  # BuildKit may re-run a step while another build shares the base (moby/buildkit#4674)
            removed = lab.cleanup(quiet=True)
            assert removed["images"] >= 1
            assert not course_objects(LESSON, kinds=("images",))["images"], "cleanup must remove the lesson's images"
            again = lab.build(app, "cached", quiet=True)
            rebuilt = [s.instruction for s in again.steps if not s.cached]
            if not rebuilt:
                break
        assert not rebuilt, f"after cleanup these steps ran again instead of coming from the cache: {rebuilt}"
        assert again.image.id == first.image.id  # the same image, rebuilt from the cache

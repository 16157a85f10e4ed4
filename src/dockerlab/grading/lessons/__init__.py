"""Exercise checks: one module per lesson (``lNN_topic.check``), on one shared toolkit.

* :mod:`.probes`: what a running image does (helper containers, /proc: listeners, PID 1, its uid and signal
  handler; serving with the observed cause; stopping once ready; health checks that must be able to fail);
* :mod:`.contents`: what an image contains, in every layer and stage (named files, package caches, a size
  budget, secrets);
* :mod:`.dockerfile`: the one Dockerfile parser (stages, final base, external images, pins);
* :mod:`.common`: the dependency-install steps, rebuild-after-code-change, builds reused by their inputs.

Every check returns a :class:`dockerlab.grading.checker.Checker` and raises :class:`dockerlab.CheckFailed` unless each
line passed.
"""

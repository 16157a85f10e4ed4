"""Grading: the pass/fail model, the probes every check shares, the lessons' checks, the learner's report."""

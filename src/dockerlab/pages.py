"""The course's HTML pages, from Jinja2 templates with autoescape (``dockerlab/templates``): a learner's progress
report (``dockerlab report``), the classroom's room and learner pages, and ``dockerlab run-all``'s report.

Every value a page shows is escaped by Jinja2 unless a template says otherwise; each page is self-contained (inline
CSS, no scripts, no external resources).
"""
from __future__ import annotations

import functools


@functools.cache
def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("dockerlab", "templates"),
                              autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render(template: str, **context) -> str:
    """``templates/<template>`` rendered with ``context``."""
    return _environment().get_template(template).render(**context)

"""Reading an image's layers: the history as a table of instruction, size and created-by."""
from __future__ import annotations

import re

from .engine import get_client
from .show import Table, cli, human_size


def instruction_of(created_by: str) -> str:
    """The Dockerfile keyword behind a history entry's CreatedBy."""
    s = (created_by or "").strip()
    m = re.search(r"#\(nop\)\s+([A-Z]+)", s)
    if m:
        return m.group(1)
    m = re.match(r"^([A-Z]+)\s", s)  # BuildKit writes "RUN /bin/sh -c …", "COPY … # buildkit"
    if m:
        return m.group(1)
    if "/bin/sh -c" in s or s.startswith("|"):
        return "RUN"
    return "FROM" if not s else "?"


def layers(image, client=None) -> Table:
    """``docker history IMAGE`` as a table, oldest layer first: instruction, size, created by.

    ``image`` is an Image or a reference.
    """
    client = client or get_client()
    if isinstance(image, str):
        ref = image
        image = client.images.get(image)
    else:
        ref = (image.tags or [image.short_id])[0]
    cli("docker", "history", "--no-trunc", ref)
    rows = []
    for i, h in enumerate(reversed(image.history())):
        created_by = h.get("CreatedBy") or ""
        rows.append({
            "#": i,
            "instruction": instruction_of(created_by),
            "size": human_size(h.get("Size", 0)),
            "bytes": h.get("Size", 0),
            "created by": _clean(created_by)[:90],
        })
    return Table(rows, columns=["#", "instruction", "size", "created by"],
                 title=f"{ref}: {len(rows)} history entries, {human_size(image.attrs.get('Size'))}")


def _clean(created_by: str) -> str:
    s = re.sub(r"^/bin/sh -c #\(nop\)\s+", "", created_by)
    s = re.sub(r"^/bin/sh -c ", "RUN ", s)
    s = s.replace(" # buildkit", "")
    return " ".join(s.split())

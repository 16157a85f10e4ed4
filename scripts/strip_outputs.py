#!/usr/bin/env python3
"""Strip outputs and execution counts from notebooks (they are committed clean)."""
import json
import sys

for path in sys.argv[1:]:
    try:
        nb = json.load(open(path))
    except FileNotFoundError:
        continue
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    nb.get("metadata", {}).pop("papermill", None)
    with open(path, "w") as f:
        f.write(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n")

#!/usr/bin/env python3
"""Generate exercises/ from solutions/: the generator lives in the package (dockerlab.ops.authoring)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from dockerlab.ops.authoring import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

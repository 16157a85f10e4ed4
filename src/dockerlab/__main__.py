"""``python -m dockerlab …`` is the ``dockerlab`` command (:mod:`dockerlab.ops.commands`): e.g. under sudo, where the
virtual environment's ``bin/`` is not on the PATH (``sudo .venv/bin/python -m dockerlab platforms register arm64``)."""
import sys

from dockerlab.ops.commands import main

if __name__ == "__main__":
    sys.exit(main())

"""nativedemo: a web service whose package ships a compiled C extension (lesson 04, multi-stage builds)."""
from ._fast import fib

__all__ = ["fib"]
__version__ = "1.0.0"

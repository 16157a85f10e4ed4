"""acme_private: stands in for a package only a private index (behind a token) serves."""
__version__ = "1.4.0"


def hello() -> str:
    return f"acme_private {__version__} installed from the private index"

"""slug_api: titles to URL slugs over HTTP (lesson 05's exercise)."""
__version__ = "1.0.0"

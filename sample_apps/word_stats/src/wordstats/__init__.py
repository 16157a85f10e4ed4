"""wordstats: word statistics over HTTP (the lesson 03 exercise's packaged service)."""
__version__ = "1.0.0"

"""newstag: named entities and quote attribution in news text."""
__version__ = "0.1.0"

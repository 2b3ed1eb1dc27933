"""newstag: named entities and quote attribution in news text."""
__version__ = "0.1.0"


def __getattr__(name):
    # Imported lazily: `newstag data check` should not pay for loading torch.
    if name == "Tagger":
        from .tagger import Tagger

        return Tagger
    if name in ("Document", "read_jsonl", "write_jsonl"):
        from . import document

        return getattr(document, name)
    raise AttributeError(name)

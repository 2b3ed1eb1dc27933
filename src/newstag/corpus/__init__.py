"""The project's own corpus: its inline markup (markup.py), the train/dev/test build
(build.py) and the checker behind ``newstag data check`` (check.py)."""

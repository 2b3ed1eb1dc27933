"""Entry point: ``python infer.py --model models/newswire article.txt`` (same as ``newstag predict``)."""
import sys

from newstag.cli import app

if __name__ == "__main__":
    app(["predict", *sys.argv[1:]])

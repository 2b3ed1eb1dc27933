"""Entry point: ``python train.py --config configs/default.yaml`` (same as ``newstag train``)."""
import sys

from newstag.cli import app

if __name__ == "__main__":
    app(["train", *sys.argv[1:]])

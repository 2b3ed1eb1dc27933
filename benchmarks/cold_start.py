"""Cold start: `newstag predict` on one short article, end to end, as a shell user runs it.

    python benchmarks/cold_start.py --model models/newswire [--backend onnx-int8] [--repeats 3]

Times, best of ``--repeats`` fresh processes each: ``newstag --help`` (the CLI's own
imports), ``python -c "import torch, transformers"`` (what any model costs before its
weights), and ``newstag predict`` on a 16-word article for each backend given. Also lists the heaviest imports of ``newstag --help``
(``python -X importtime``) so that an import the command does not need shows up.
"""
from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emit import emit

ARTICLE = "The minister said on Monday that the bridge would reopen. “We are ready,” she told reporters.\n"


def best_of(cmd: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        best = min(best, time.perf_counter() - started)
    return round(best, 2)


def heaviest_imports(cmd: list[str], n: int = 8) -> list[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", *cmd], capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m and len(m.group(3)) <= 3:  # top-level and first-level imports
            rows.append((int(m.group(2)), m.group(4)))
    return [f"{name} {us / 1e6:.2f} s" for us, name in sorted(rows, reverse=True)[:n]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--backend", action="append", default=None, help="torch or onnx-int8 (repeatable)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cli = [sys.executable, "-m", "newstag.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        article = Path(tmp) / "one.txt"
        article.write_text(ARTICLE, encoding="utf-8")
        result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.processor() or platform.machine(),
                  "seconds": {"newstag --help": best_of([*cli, "--help"], args.repeats),
                              "import torch, transformers": best_of(
                                  [sys.executable, "-c", "import torch, transformers"], args.repeats)},
                  "heaviest imports of newstag --help": heaviest_imports(["-m", "newstag.cli", "--help"])}
        for backend in args.backend or ["torch"]:
            cmd = [*cli, "predict", "--model", str(args.model), str(article), "--backend", backend]
            result["seconds"][f"predict one article ({backend})"] = best_of(cmd, args.repeats)
    emit(result, args.out)


if __name__ == "__main__":
    main()

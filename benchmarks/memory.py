"""Peak memory over a long `newstag predict` run: flat, not growing with the articles done.

    python benchmarks/memory.py --model DIR --articles 20000 [--backend torch] [--out FILE]

Writes ``--articles`` articles (newswire test articles, cycled, each with its own id)
to a JSONL file, runs ``newstag predict`` over it in a child process, and samples the
child's resident memory (VmRSS) and how many articles it has written, twice a second.
Reports the resident memory when 10 %, 20 % ... 100 % of the articles were written and
the growth from 20 % to 100 % (the first batches allocate the model's working memory;
after that a run that keeps nothing per article stays flat). Any model directory works:
with the tiny config's model (configs/tiny.yaml) the run takes minutes and measures
what the pipeline around the encoder keeps (reading, windows, decoding, linking,
writing); the encoder's own memory is per batch and does not grow with the run.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emit import emit

REPO = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def lines_in(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return 0


def write_articles(path: Path, n: int) -> int:
    texts = [json.loads(line)["text"] for line in (REPO / "data" / "newswire" / "test.jsonl").open(encoding="utf-8")]
    words = 0
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            text = texts[i % len(texts)]
            words += len(text.split())
            fh.write(json.dumps({"id": f"a{i}", "text": text}) + "\n")
    return words


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--articles", type=int, default=20000)
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        inputs, output = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        words = write_articles(inputs, args.articles)
        cmd = [sys.executable, "-m", "newstag.cli", "predict", "--model", str(args.model), str(inputs), "--output",
               str(output), "--backend", args.backend, "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
        started = time.time()
        child = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        samples = []  # (seconds, articles written, resident MB)
        while child.poll() is None:
            mb = rss_mb(child.pid)
            if mb is not None:
                samples.append((time.time() - started, lines_in(output.with_name(output.name + ".partial")), mb))
            time.sleep(0.5)
        stderr = child.stderr.read()
        if child.returncode:
            sys.exit(f"predict failed ({child.returncode}):\n{stderr[-2000:]}")
    seconds = time.time() - started
    import resource

    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    at = {}
    for tenth in range(1, 11):
        done = [mb for _, n, mb in samples if n >= args.articles * tenth / 10]
        if done:
            at[f"{tenth * 10}%"] = round(done[0], 1)
    at.setdefault("100%", round(samples[-1][2], 1))  # the output is renamed when done: the last sample
    peak = max(child_peak, *(mb for _, _, mb in samples))
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.processor() or platform.machine(),
              "model": str(args.model), "backend": args.backend, "articles": args.articles, "words": words,
              "seconds": round(seconds, 1), "rss_mb_when_done": at, "peak_rss_mb": round(peak, 1),
              "growth_20_to_100_mb": round(at.get("100%", peak) - at.get("20%", peak), 1) if at else None}
    emit(result, args.out)


if __name__ == "__main__":
    main()

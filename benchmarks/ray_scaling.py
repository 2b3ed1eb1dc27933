"""Scaling of `newstag predict --engine ray`: words per second of the local engine (one
process, every core) against Ray with 1 and 2 workers, side by side in one run on the
same articles.

    python benchmarks/ray_scaling.py --model models/newswire [--articles 2000] [--shards 8] [--save]

The articles are data/newswire/test.jsonl repeated under new ids until there are
``--articles``, written as ``--shards`` JSONL shards. Each engine runs as a user runs it,
as its own `newstag predict` process (Ray starting its own local instance, the model
loaded once per worker); the wall-clock seconds include that start-up, which is also
measured alone (each engine on one article) and taken off for the steady figure. The
local engine gets ``--threads`` = the cores; each Ray worker gets cores // workers. Every
run's output is checked to hold every article. Prints JSON; ``--save`` also writes it to
benchmarks/results/ (measure on a quiet machine: another job on the cores skews the ratio).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def articles(source: Path, n: int) -> list[dict]:
    """``n`` articles from ``source`` in order, repeated under new ids when it has fewer."""
    base = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = []
    for i in range(n):
        record = dict(base[i % len(base)])
        if i >= len(base):
            record["id"] = f"{record['id']}-r{i // len(base)}"
        out.append(record)
    return out


def write_shards(records: list[dict], folder: Path, shards: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"part-{k:03d}.jsonl" for k in range(min(shards, len(records)))]
    per = -(-len(records) // len(paths))
    for k, path in enumerate(paths):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[k * per:(k + 1) * per]),
                        encoding="utf-8")
    return [p for p in paths if p.stat().st_size]


def run(engine: str, workers: int, model: Path, inputs: list[Path], out: Path, cores: int, batch_size: int,
        backend: str) -> float:
    """Seconds one `newstag predict` took; its output checked to hold every input record."""
    command = [sys.executable, "-m", "newstag.cli", "predict", "--model", str(model), *map(str, inputs),
               "-o", str(out), "--batch-size", str(batch_size), "--backend", backend]
    command += ["--threads", str(cores)] if engine == "local" else ["--engine", "ray", "--workers", str(workers)]
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    files = [out] if engine == "local" else sorted(out.glob("*.jsonl"))
    expected = sum(1 for p in inputs for line in p.open(encoding="utf-8") if line.strip())
    written = sum(1 for f in files for line in f.open(encoding="utf-8") if line.strip())
    if written != expected:
        sys.exit(f"{engine} with {workers} workers wrote {written} documents of {expected}")
    return seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="a trained model directory")
    ap.add_argument("--articles", type=int, default=2000)
    ap.add_argument("--data", type=Path, default=REPO / "data" / "newswire" / "test.jsonl")
    ap.add_argument("--shards", type=int, default=8, help="input shards the articles are written as")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--backend", default="torch", help="torch or onnx-int8 (the same for every engine)")
    ap.add_argument("--save", action="store_true", help="also write the JSON to benchmarks/results/")
    args = ap.parse_args()
    if not (args.model / "manifest.json").is_file():
        sys.exit(f"--model {args.model}: not a finished newstag model directory")
    if args.articles < 1:
        sys.exit("--articles must be at least 1")

    cores = os.cpu_count() or 1
    records = articles(args.data, args.articles)
    words = sum(len(r["text"].split()) for r in records)
    runs = [("local", 1), ("ray", 1), ("ray", 2)]
    with tempfile.TemporaryDirectory(prefix="ray-scaling-") as tmp:
        tmp = Path(tmp)
        inputs = write_shards(records, tmp / "in", args.shards)
        one = write_shards(records[:1], tmp / "one", 1)
        results = []
        for engine, workers in runs:
            name, target = f"{engine}-{workers}", "out.jsonl" if engine == "local" else "out"
            startup = run(engine, workers, args.model, one, tmp / f"startup-{name}" / target, cores, args.batch_size,
                          args.backend)
            seconds = run(engine, workers, args.model, inputs, tmp / name / target, cores, args.batch_size, args.backend)
            results.append({"engine": engine, "workers": workers,
                            "threads_per_worker": cores if engine == "local" else max(1, cores // workers),
                            "seconds": round(seconds, 2), "words_per_second": round(words / seconds, 1),
                            "startup_seconds": round(startup, 2),
                            "steady_words_per_second": round(words / max(seconds - startup, 1e-9), 1)})
    local = results[0]
    for r in results:
        r["ratio_to_local"] = round(r["words_per_second"] / local["words_per_second"], 3)
        r["steady_ratio_to_local"] = round(r["steady_words_per_second"] / local["steady_words_per_second"], 3)
    report = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
              "cores": cores, "model": str(args.model), "articles": len(records), "shards": len(inputs),
              "words": words, "batch_size": args.batch_size, "backend": args.backend, "runs": results}
    text = json.dumps(report, indent=2)
    print(text)
    if args.save:
        path = REPO / "benchmarks" / "results" / f"ray-scaling-{len(records)}-{args.backend}.json"
        path.write_text(text + "\n", encoding="utf-8")
        print(f"written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

